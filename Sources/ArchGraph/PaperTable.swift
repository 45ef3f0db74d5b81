import Foundation
import ArchSpec

/// The layout of Table 1 of "Going deeper with convolutions": one row per top-level module with
/// type, patch size/stride, output size, depth, template columns (#1x1 ... pool proj for
/// inception modules), params and ops (MACs). Activations and flatten are folded into their
/// neighbours as in the paper; aux heads are listed after the main rows.
struct PaperTable {
    let summary: NetworkSummary

    init(_ summary: NetworkSummary) { self.summary = summary }

    struct Row {
        var type: String
        var patch: String
        var output: String
        var depth: Int
        var columns: [String: String]
        var params: Int
        var macs: Int
    }

    static let hidden: Set<String> = ["relu", "flatten", "identity", "batchnorm2d"]

    func rows(_ nodes: [GraphNode]) -> [Row] {
        nodes.compactMap { node -> Row? in
            switch node {
            case let .layer(l):
                guard !Self.hidden.contains(l.op.name) else { return nil }
                return Row(type: Self.title(l.op.label, path: l.path, strip: false), patch: l.op.patch(input: l.input) ?? "", output: l.output.paperDescription,
                           depth: l.op.depth, columns: [:], params: l.parameterCount, macs: l.macs)
            case let .scope(m, _), let .aux(_, .scope(m, _)):
                let leaves = Self.layers(node)
                let windowed = leaves.filter { $0.op.patch(input: $0.input) != nil }
                let patch = windowed.count == 1 ? windowed[0].op.patch(input: windowed[0].input) ?? "" : ""
                var columns: [String: String] = [:]
                for (k, v) in m.report { columns[k] = v.description }
                return Row(type: Self.title(m.label, path: m.path), patch: patch, output: m.output.paperDescription, depth: Self.depth(node), columns: columns,
                           params: leaves.reduce(0) { $0 + $1.parameterCount }, macs: leaves.reduce(0) { $0 + $1.macs })
            case let .combine(c, _):
                let leaves = Self.layers(node)
                return Row(type: Swift.type(of: c.op).name, patch: "", output: c.output.paperDescription, depth: Self.depth(node),
                           columns: [:], params: leaves.reduce(0) { $0 + $1.parameterCount }, macs: leaves.reduce(0) { $0 + $1.macs })
            case let .aux(_, inner):
                return rows([inner]).first
            }
        }
    }

    /// `inception (3a)` for label inception and path inception3a; `max pool (maxpool1)` otherwise.
    static func title(_ label: String?, path: String, strip: Bool = true) -> String {
        let name = path.split(separator: ".").last.map(String.init) ?? path
        guard let label else { return name }
        let key = label.replacingOccurrences(of: " ", with: "")
        if strip, name.hasPrefix(key), name.count > key.count { return "\(label) (\(name.dropFirst(key.count)))" }
        let plainLabel = key.lowercased(), plainName = name.lowercased()
        if name.isEmpty || plainLabel.contains(plainName) { return label }
        return "\(label) (\(name))"
    }

    static func layers(_ node: GraphNode) -> [Layer] {
        var out: [Layer] = []
        node.forEachRow { if case let .layer(l) = $0 { out.append(l) } }
        return out
    }

    /// Conv and linear layers on the longest path (branches count their deepest one).
    static func depth(_ node: GraphNode) -> Int {
        switch node {
        case let .layer(l): return l.op.depth
        case let .scope(_, children): return children.reduce(0) { $0 + depth($1) }
        case let .combine(_, branches): return branches.map(depth).max() ?? 0
        case let .aux(_, inner): return depth(inner)
        }
    }

    func render() -> String {
        let main = rows(summary.network.nodes.filter { if case .aux = $0 { return false }; return true })
        let aux = rows(summary.network.nodes.filter { if case .aux = $0 { return true }; return false })
        var extra: [String] = []
        for row in main + aux { for key in row.columns.keys.sorted() where !extra.contains(key) { extra.append(key) } }
        extra = orderedColumns(extra)
        let headers = ["type", "patch size/stride", "output size", "depth"] + extra + ["params", "ops"]
        var t = TextTable(headers: headers, rightAligned: Set(3..<headers.count))
        func add(_ r: Row, suffix: String = "") {
            t.rows.append([r.type + suffix, r.patch, r.output, String(r.depth)] + extra.map { r.columns[$0] ?? "" }
                          + [Count.grouped(r.params), Count.grouped(r.macs)])
        }
        main.forEach { add($0) }
        if !aux.isEmpty {
            t.rows.append(headers.map { _ in "" })
            aux.forEach { add($0, suffix: ", training only") }
        }
        return ([summary.header, "", t.render(), ""] + summary.totalsLines).joined(separator: "\n")
    }

    /// Template columns in the order the templates declared them.
    func orderedColumns(_ keys: [String]) -> [String] {
        var order: [String] = []
        summary.network.nodes.forEach { node in
            func visit(_ n: GraphNode) {
                switch n {
                case let .scope(m, children):
                    for (k, _) in m.report where !order.contains(k) { order.append(k) }
                    children.forEach(visit)
                case let .combine(_, b): b.forEach(visit)
                case let .aux(_, i): visit(i)
                case .layer: break
                }
            }
            visit(node)
        }
        return order.filter(keys.contains) + keys.filter { !order.contains($0) }
    }
}
