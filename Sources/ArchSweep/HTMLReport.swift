import ArchGraph
import Foundation

/// A self-contained HTML report: inline SVG plots (no scripts, no network) and the tables.
enum HTMLReport {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// A scatter plot with error bars; `front` draws a step line through the marked points.
    static func scatter(_ points: [(x: Double, y: Double, err: Double, label: String, marked: Bool)], xLabel: String, yLabel: String,
                        logX: Bool, front: Bool) -> String {
        let w = 560.0, h = 340.0, left = 70.0, right = 20.0, top = 20.0, bottom = 50.0
        guard !points.isEmpty else { return "<p>No completed trials yet.</p>" }
        let xs = points.map { logX ? log10(max($0.x, 1)) : $0.x }
        var (x0, x1) = (xs.min()!, xs.max()!)
        if x1 - x0 < 1e-9 { x0 -= 1; x1 += 1 }
        let pad = (x1 - x0) * 0.08
        x0 -= pad; x1 += pad
        var y0 = points.map { $0.y - $0.err }.min()!, y1 = points.map { $0.y + $0.err }.max()!
        if y1 - y0 < 1e-6 { y0 -= 0.01; y1 += 0.01 }
        let ypad = (y1 - y0) * 0.1
        y0 -= ypad; y1 += ypad
        func px(_ v: Double) -> Double { left + (v - x0) / (x1 - x0) * (w - left - right) }
        func py(_ v: Double) -> Double { top + (1 - (v - y0) / (y1 - y0)) * (h - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(w - left - right)\" height=\"\(h - top - bottom)\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        for i in 0...4 {
            let yv = y0 + Double(i) / 4 * (y1 - y0), xv = x0 + Double(i) / 4 * (x1 - x0)
            svg += "<text x=\"\(left - 6)\" y=\"\(py(yv) + 4)\" text-anchor=\"end\">\(String(format: "%.1f", yv * 100))</text>"
            let xText = logX ? Count.grouped(Int(pow(10, xv))) : String(format: "%.3g", xv)
            svg += "<text x=\"\(px(xv))\" y=\"\(h - bottom + 16)\" text-anchor=\"middle\">\(xText)</text>"
        }
        svg += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 10)\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        svg += "<text x=\"14\" y=\"\((top + h - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 14 \((top + h - bottom) / 2))\">\(escape(yLabel))</text>"
        if front {
            let marked = zip(xs, points).filter { $0.1.marked }.sorted { $0.0 < $1.0 }
            if marked.count > 1 {
                let path = marked.map { "\(px($0.0)),\(py($0.1.y))" }.joined(separator: " ")
                svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>"
            }
        }
        for (i, (x, p)) in zip(xs, points).enumerated() {
            let color = palette[i % palette.count]
            if p.err > 0 {
                svg += "<line x1=\"\(px(x))\" x2=\"\(px(x))\" y1=\"\(py(p.y - p.err))\" y2=\"\(py(p.y + p.err))\" stroke=\"\(color)\"/>"
            }
            svg += "<circle cx=\"\(px(x))\" cy=\"\(py(p.y))\" r=\"\(p.marked ? 6 : 4)\" fill=\"\(color)\" stroke=\"\(p.marked ? "#d62728" : "none")\" stroke-width=\"2\"><title>\(escape(p.label))</title></circle>"
            let rightHalf = px(x) > (left + w - right) / 2
            svg += "<text x=\"\(px(x) + (rightHalf ? -8 : 8))\" y=\"\(py(p.y) - 6)\" text-anchor=\"\(rightHalf ? "end" : "start")\" fill=\"#333\">\(escape(String(p.label.prefix(28))))</text>"
        }
        return svg + "</svg>"
    }

    static func curves(_ r: SweepResults) -> String {
        let w = 560.0, h = 300.0, left = 60.0, right = 150.0, top = 20.0, bottom = 40.0
        let series = r.configurations.compactMap { c -> (String, [Double])? in
            let runs = c.curves.values.filter { !$0.isEmpty }
            guard let n = runs.map(\.count).min(), n > 0 else { return nil }
            return (c.label, (0..<n).map { e in runs.map { $0[e] }.reduce(0, +) / Double(runs.count) })
        }
        guard !series.isEmpty else { return "<p>No epochs recorded yet.</p>" }
        let maxEpoch = series.map { $0.1.count }.max()!
        let all = series.flatMap(\.1)
        var y0 = all.min()!, y1 = all.max()!
        if y1 - y0 < 1e-6 { y0 -= 0.01; y1 += 0.01 }
        func px(_ e: Int) -> Double { left + (maxEpoch > 1 ? Double(e) / Double(maxEpoch - 1) : 0.5) * (w - left - right) }
        func py(_ v: Double) -> Double { top + (1 - (v - y0) / (y1 - y0)) * (h - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(w - left - right)\" height=\"\(h - top - bottom)\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        for i in 0...4 {
            let v = y0 + Double(i) / 4 * (y1 - y0)
            svg += "<text x=\"\(left - 6)\" y=\"\(py(v) + 4)\" text-anchor=\"end\">\(String(format: "%.1f", v * 100))</text>"
        }
        for e in 0..<maxEpoch { svg += "<text x=\"\(px(e))\" y=\"\(h - bottom + 16)\" text-anchor=\"middle\">\(e + 1)</text>" }
        svg += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 6)\" text-anchor=\"middle\">epoch (test accuracy %, mean over seeds)</text>"
        for (i, (label, ys)) in series.enumerated() {
            let color = palette[i % palette.count]
            svg += "<polyline points=\"\(ys.enumerated().map { "\(px($0.offset)),\(py($0.element))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(w - right + 8)\" y=\"\(top + 14 * Double(i + 1))\" fill=\"\(color)\">\(escape(String(label.prefix(24))))</text>"
        }
        return svg + "</svg>"
    }

    static func render(_ r: SweepResults) -> String {
        let done = r.configurations.filter { $0.mean != nil }
        let points = done.map { (x: Double($0.macs), y: $0.mean!, err: $0.std ?? 0, label: $0.label, marked: $0.pareto) }
        let paramPoints = done.map { (x: Double($0.params), y: $0.mean!, err: $0.std ?? 0, label: $0.label, marked: false) }
        let markdown = ReportWriter.markdown(r)
        var table = "<table><tr><th></th><th>configuration</th><th>params</th><th>MACs</th><th>test accuracy %</th><th>Δ vs baseline</th></tr>"
        for c in r.ranked {
            table += "<tr><td>\(c.pareto ? "★" : "")</td><td>\(escape(c.label))</td><td>\(Count.grouped(c.params))</td><td>\(Count.grouped(c.macs))</td><td>\(ReportWriter.accuracyText(c))</td><td>\(ReportWriter.deltaText(r, c))</td></tr>"
        }
        table += "</table>"
        return """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>\(escape(r.meta["experiment"] ?? "sweep"))</title>
        <style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}
        td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:nth-child(2){text-align:left}.plots{display:flex;flex-wrap:wrap;gap:20px}
        pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}</style></head><body>
        <h1>\(escape(r.meta["experiment"] ?? "sweep"))</h1>
        <p>Generated from <code>results.sqlite</code> by <code>archlab report</code>; machine \(escape(r.meta["host"] ?? "?")), \(escape(r.meta["cores"] ?? "?")) cores, commit \(escape(r.meta["commit"] ?? "?"))\(r.meta["engine"].map { "; " + escape($0) } ?? "").</p>
        <div class="plots">
        <div><h3>Accuracy vs MACs (Pareto front dashed, error bars: std over seeds)</h3>\(scatter(points, xLabel: "MACs (log scale)", yLabel: "test accuracy %", logX: true, front: true))</div>
        <div><h3>Accuracy vs parameters</h3>\(scatter(paramPoints, xLabel: "parameters (log scale)", yLabel: "test accuracy %", logX: true, front: false))</div>
        <div><h3>Learning curves</h3>\(curves(r))</div>
        </div>
        <h2>Comparison</h2>\(table)
        <h2>Full report</h2><pre>\(escape(markdown))</pre>
        </body></html>
        """
    }
}

/// The base network as a Graphviz graph of its top-level modules; modules whose cost changes in
/// some configuration are highlighted.
enum Diagram {
    static func dot(_ r: SweepResults) -> String {
        guard let base = r.baseline else { return "digraph sweep {}\n" }
        var changed = Set<String>()
        for c in r.configurations where c.architecture == base.architecture && c.modules.count == base.modules.count {
            for (x, y) in zip(base.modules, c.modules) where x.params != y.params || x.macs != y.macs { changed.insert(x.name) }
        }
        var lines = ["digraph \"\(base.label)\" {", "  rankdir=TB; node [shape=box, fontname=\"sans-serif\", fontsize=10];",
                     "  label=\"\(base.architecture): top-level modules (red: changed by the sweep)\"; labelloc=t;"]
        for (i, m) in base.modules.enumerated() {
            let style = changed.contains(m.name) ? ", color=red, penwidth=2" : ""
            lines.append("  m\(i) [label=\"\(m.name)\\n\(Count.grouped(m.params)) params\\n\(Count.grouped(m.macs)) MACs\"\(style)];")
            if i > 0 { lines.append("  m\(i - 1) -> m\(i);") }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// SVG from Graphviz's `dot`, when it is installed.
    static func renderSVG(_ dot: String) -> String? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dot") else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/dot")
        p.arguments = ["-Tsvg"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        input.fileHandleForWriting.write(Data(dot.utf8))
        try? input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }
}
