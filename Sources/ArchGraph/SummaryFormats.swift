import ArchJSON
import Foundation
import ArchSpec

/// The output formats of `archlab summary`.
public enum SummaryFormat: String, CaseIterable, Sendable {
    case table, paper, markdown, csv, json
}

extension NetworkSummary {
    /// Renders the summary in a format.
    public func render(_ format: SummaryFormat) -> String {
        switch format {
        case .table: return table()
        case .paper: return PaperTable(self).render()
        case .markdown: return markdown()
        case .csv: return csv()
        case .json: return json()
        }
    }

    func typeLabel(_ row: GraphRow) -> String { row.isAux ? "\(row.type) (aux)" : row.type }

    var header: String {
        "\(network.name) (\(network.file)), input \(network.input)"
    }

    var totalsLines: [String] {
        var lines = [
            "total params: \(Count.grouped(totalParams))   trainable: \(Count.grouped(trainableParams))"
                + (auxParams > 0 ? "   in aux heads (training only): \(Count.grouped(auxParams))" : ""),
            "MACs: \(Count.grouped(macs))   FLOPs (2 x MACs): \(Count.grouped(flops))   other ops: \(Count.grouped(otherOps))",
        ]
        if attentionMACs > 0 {
            lines.append("attention products (QKᵀ and PV, part of the MACs): \(Count.grouped(attentionMACs))")
        }
        if bufferValues > 0 { lines.append("buffers (running statistics, index tables; not trained): \(Count.grouped(bufferValues)) values") }
        lines.append("per sample, inference forward; MACs count conv and linear layers" + (attentionMACs > 0 ? " and the attention products" : "")
                     + ", aux heads excluded; output \(network.output)")
        return lines
    }

    func table() -> String {
        let attention = attentionMACs > 0
        var t = TextTable(headers: ["path", "type", "output", "params", "MACs"] + (attention ? ["attention MACs"] : []) + ["other ops"],
                          rightAligned: attention ? [3, 4, 5, 6] : [3, 4, 5])
        for row in rows {
            t.rows.append([row.path, typeLabel(row), row.output.description, Count.grouped(row.parameters), Count.grouped(row.macs)]
                          + (attention ? [Count.grouped(row.attentionMACs)] : []) + [Count.grouped(row.otherOps)])
        }
        return ([header, "", t.render(), ""] + totalsLines).joined(separator: "\n")
    }

    func markdown() -> String {
        let attention = attentionMACs > 0
        var lines = ["## \(network.name)", "", "Input \(network.input), from `\(network.file)`.", "",
                     "| path | type | output | params | MACs | " + (attention ? "attention MACs | " : "") + "other ops |",
                     "|---|---|---|--:|--:|--:|" + (attention ? "--:|" : "")]
        for row in rows {
            lines.append("| `\(row.path)` | \(typeLabel(row)) | \(row.output) | \(Count.grouped(row.parameters)) | \(Count.grouped(row.macs)) | "
                         + (attention ? "\(Count.grouped(row.attentionMACs)) | " : "") + "\(Count.grouped(row.otherOps)) |")
        }
        lines += ["", "| total params | trainable | aux params | MACs | FLOPs | other ops |", "|--:|--:|--:|--:|--:|--:|",
                  "| \(Count.grouped(totalParams)) | \(Count.grouped(trainableParams)) | \(Count.grouped(auxParams)) | \(Count.grouped(macs)) | \(Count.grouped(flops)) | \(Count.grouped(otherOps)) |"]
        return lines.joined(separator: "\n")
    }

    func csv() -> String {
        let field = CSV.field
        let attention = attentionMACs > 0
        var lines = ["path,type,output,params,macs," + (attention ? "attention_macs," : "") + "other_ops,aux"]
        for row in rows {
            lines.append(([field(row.path), row.type, row.output.description, String(row.parameters), String(row.macs)]
                          + (attention ? [String(row.attentionMACs)] : []) + [String(row.otherOps), row.isAux ? "true" : "false"]).joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object: name, input, totals and the leaf layers in forward order.
    func json() -> String {
        func shape(_ s: Shape) -> JSONValue { .styled(.array(s.dims.map { .int($0) }), .spaced) }
        let attention = attentionMACs > 0  // (the key only where there is attention: other summaries stay as they were)
        let layers: [JSONValue] = rows.map { row in
            .styled(.object([("path", .string(row.path)), ("type", .string(row.type)), ("output_shape", shape(row.output)),
                             ("params", .int(row.parameters)), ("macs", .int(row.macs))]
                            + (attention ? [("attention_macs", .int(row.attentionMACs))] : [])
                            + [("other_ops", .int(row.otherOps)), ("aux", .bool(row.isAux))]),
                    .spaced)
        }
        return JSONValue.object([
            ("name", .string(network.name)), ("file", .string(network.file)), ("input", shape(network.input)), ("output", shape(network.output)),
            ("parameters", .styled(network.architecture.parametersJSONValue, .spaced)), ("total_params", .int(totalParams)),
            ("trainable_params", .int(trainableParams)), ("aux_params", .int(auxParams)), ("buffer_values", .int(bufferValues)),
            ("macs", .int(macs)), ("flops", .int(flops))] + (attention ? [("attention_macs", .int(attentionMACs))] : []) + [
            ("other_ops", .int(otherOps)), ("layers", .array(layers)),
        ]).text(.pretty(indent: 2))
    }
}

/// CSV as RFC 4180 writes it, for every CSV file ArchLab writes (summaries, sweep results).
public enum CSV {
    /// The field as is, or quoted (quotes doubled) when it holds a comma, quote, CR or LF.
    public static func field(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
