import ArchSpec

/// Totals and per-layer rows of a built network, in torchvision's counting convention:
/// parameters are trainable tensors (batch-norm running statistics are buffers, not parameters);
/// MACs are the multiply-accumulates of conv and linear layers in the inference forward, aux heads
/// excluded; FLOPs = 2 x MACs; other ops (normalization, activations, pooling, adds) are counted
/// apart, per sample.
public struct NetworkSummary: Sendable {
    public let network: Network
    public let rows: [GraphRow]

    public init(_ network: Network) {
        self.network = network
        self.rows = network.rows
    }

    /// Every parameter the file instantiates, aux heads included when they are enabled.
    public var totalParams: Int { rows.reduce(0) { $0 + $1.parameters } }
    /// Parameters that training updates (all of them; freezing comes with training).
    public var trainableParams: Int { totalParams }
    /// Parameters in auxiliary heads (training only).
    public var auxParams: Int { rows.filter(\.isAux).reduce(0) { $0 + $1.parameters } }
    /// Values in buffers such as batch-norm running statistics.
    public var bufferValues: Int {
        network.layers.reduce(0) { $0 + $1.tensors.filter { $0.kind == .buffer }.reduce(0) { $0 + $1.count } }
    }
    /// Inference multiply-accumulates of conv and linear layers, aux heads excluded.
    public var macs: Int { rows.filter { !$0.isAux }.reduce(0) { $0 + $1.macs } }
    public var flops: Int { 2 * macs }
    /// Inference arithmetic outside conv and linear layers, aux heads excluded.
    public var otherOps: Int { rows.filter { !$0.isAux }.reduce(0) { $0 + $1.otherOps } }
    /// The part of `macs` that is attention products (QKᵀ and PV); 0 for a network without attention,
    /// whose tables leave the column out.
    public var attentionMACs: Int { rows.filter { !$0.isAux }.reduce(0) { $0 + $1.attentionMACs } }
}

/// Integer formatting for tables: `61,100,840`.
public enum Count {
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    /// Three significant digits with a unit: `950`, `1.9K`, `121M`, `4.1G`.
    public static func abbreviated(_ n: Int) -> String { abbreviated(Double(n)) }

    public static func abbreviated(_ v: Double) -> String {
        let a = abs(v)
        for (limit, unit) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")] where a >= limit {
            let x = v / limit
            var text = abs(x) >= 100 ? String(format: "%.0f", x) : abs(x) >= 10 ? String(format: "%.1f", x) : String(format: "%.2f", x)
            if text.contains(".") {
                while text.hasSuffix("0") { text.removeLast() }
                if text.hasSuffix(".") { text.removeLast() }
            }
            return text + unit
        }
        return a >= 1 || a == 0 ? String(format: "%.0f", v) : String(format: "%.2g", v)
    }
}

/// Left- or right-aligned text columns.
struct TextTable {
    var headers: [String]
    var rightAligned: Set<Int>
    var rows: [[String]] = []

    func render(separator: String = "  ") -> String {
        var widths = headers.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }.joined(separator: separator).trimmingTrailingSpaces()
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: separator)
        return ([line(headers), rule] + rows.map(line)).joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
