import ArchGraph
import Foundation

/// A self-contained HTML report: inline SVG plots (no scripts, no network) and the tables.
enum HTMLReport {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// One point of a scatter plot: its 95 % interval (nil: one seed, no interval) and whether it
    /// is on the Pareto front.
    struct Point {
        var x: Double, y: Double, low: Double?, high: Double?
        var number: Int, label: String, marked: Bool
    }

    /// A scatter plot with 95 % interval bars. Points carry their number (the table's and the
    /// legend's), never a long label that could overlap or be cut; `front` joins the marked points.
    static func scatter(_ points: [Point], xLabel: String, yLabel: String, front: Bool) -> String {
        let width = 600.0, height = 360.0, left = 64.0, right = 20.0, top = 16.0, bottom = 52.0
        guard !points.isEmpty else { return "<p>No completed trials yet.</p>" }
        let xs = points.map { log10(max($0.x, 1)) }
        var (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1)
        if x1 - x0 < 1e-9 { x0 -= 0.5; x1 += 0.5 }
        let pad = (x1 - x0) * 0.1
        x0 -= pad; x1 += pad
        var y0 = points.map { $0.low ?? $0.y }.min() ?? 0, y1 = points.map { $0.high ?? $0.y }.max() ?? 1
        if y1 - y0 < 1e-4 { y0 -= 0.005; y1 += 0.005 }
        let ypad = (y1 - y0) * 0.12
        y0 -= ypad; y1 += ypad
        func px(_ v: Double) -> Double { left + (v - x0) / (x1 - x0) * (width - left - right) }
        func py(_ v: Double) -> Double { top + (1 - (v - y0) / (y1 - y0)) * (height - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        for tick in niceTicks(y0, y1, count: 5) {
            svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(py(tick))\" y2=\"\(py(tick))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(py(tick) + 4)\" text-anchor=\"end\">\(percentLabel(tick))</text>"
        }
        for tick in logTicks(x0, x1) {
            svg += "<line x1=\"\(px(tick))\" x2=\"\(px(tick))\" y1=\"\(top)\" y2=\"\(height - bottom)\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(px(tick))\" y=\"\(height - bottom + 16)\" text-anchor=\"middle\">\(Count.abbreviated(pow(10, tick)))</text>"
        }
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        svg += "<text x=\"14\" y=\"\((top + height - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 14 \((top + height - bottom) / 2))\">\(escape(yLabel))</text>"
        if front {
            let marked = zip(xs, points).filter { $0.1.marked }.sorted { $0.0 < $1.0 }
            if marked.count > 1 {
                let path = marked.map { "\(px($0.0)),\(py($0.1.y))" }.joined(separator: " ")
                svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>"
            }
        }
        var placed: [(x: Double, y: Double)] = []
        for (x, p) in zip(xs, points) {
            let color = palette[(p.number - 1) % palette.count]
            if let low = p.low, let high = p.high {
                svg += "<line x1=\"\(px(x))\" x2=\"\(px(x))\" y1=\"\(py(low))\" y2=\"\(py(high))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
                for v in [low, high] { svg += "<line x1=\"\(px(x) - 4)\" x2=\"\(px(x) + 4)\" y1=\"\(py(v))\" y2=\"\(py(v))\" stroke=\"\(color)\" stroke-width=\"2\"/>" }
            }
            svg += "<circle cx=\"\(px(x))\" cy=\"\(py(p.y))\" r=\"\(p.marked ? 6 : 4.5)\" fill=\"\(color)\" stroke=\"\(p.marked ? "#d62728" : "none")\" stroke-width=\"2\"><title>\(p.number): \(escape(p.label))</title></circle>"
            // the number beside the point, moved down until it clears the numbers already placed
            var ly = py(p.y) + 4, lx = px(x) + 9
            while placed.contains(where: { abs($0.x - lx) < 18 && abs($0.y - ly) < 13 }) { ly += 13 }
            if lx > width - right - 14 { lx = px(x) - 22 }
            placed.append((lx, ly))
            svg += "<text x=\"\(lx)\" y=\"\(ly)\" fill=\"#222\" font-weight=\"bold\">\(p.number)</text>"
        }
        return svg + "</svg>"
    }

    /// A tick's accuracy in percent with as many decimals as it has (at most two): `91.25`, `91.5`, `92`.
    static func percentLabel(_ v: Double) -> String {
        var text = String(format: "%.2f", v * 100)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// Round tick values between a and b: the finest step of 1, 2, 2.5 or 5 times a power of ten
    /// that gives at most `count` + 1 ticks.
    static func niceTicks(_ a: Double, _ b: Double, count: Int) -> [Double] {
        guard b > a else { return [a] }
        let magnitude = pow(10, floor(log10((b - a) / Double(count)))) / 10
        var step = magnitude
        for m in [1.0, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500] {
            step = m * magnitude
            if (b - a) / step <= Double(count) + 1 { break }
        }
        var ticks: [Double] = [], v = ceil(a / step) * step
        while v <= b + step * 1e-9 { ticks.append(v); v += step }
        return ticks
    }

    /// log10 positions of ticks between a and b (log10 values): 1, 2 and 5 times powers of ten,
    /// or, when the range is too narrow for two of those, round values within it.
    static func logTicks(_ a: Double, _ b: Double) -> [Double] {
        var ticks: [Double] = []
        for e in Int(floor(a))...Int(ceil(b)) {
            for m in (b - a > 2.5 ? [1.0] : [1.0, 2, 5]) {
                let v = log10(m) + Double(e)
                if v >= a && v <= b { ticks.append(v) }
            }
        }
        if ticks.count >= 2 { return ticks }
        return niceTicks(pow(10, a), pow(10, b), count: 4).filter { $0 > 0 }.map(log10)
    }

    /// Mean test accuracy per epoch for each configuration, with a band from the lowest to the
    /// highest seed; the legend is the table's numbers and labels.
    static func curves(_ results: SweepResults, _ numbers: [Int: (Int, String)]) -> String {
        let width = 600.0, height = 320.0, left = 56.0, right = 20.0, top = 16.0, bottom = 44.0
        let series = results.configurations.compactMap { configuration -> (Int, [(mean: Double, low: Double, high: Double)])? in
            let runs = configuration.curvesBySeed.filter { !$0.isEmpty }
            guard let n = runs.map(\.count).min(), n > 0, let number = numbers[configuration.index]?.0 else { return nil }
            return (number, (0..<n).map { e in
                let v = runs.map { $0[e] }
                return (v.reduce(0, +) / Double(v.count), v.min() ?? .nan, v.max() ?? .nan)
            })
        }
        guard !series.isEmpty else { return "<p>No epochs recorded yet.</p>" }
        let maxEpoch = series.map { $0.1.count }.max() ?? 1
        // the first epoch can sit far below the rest; the axis follows the later epochs when so
        let later = series.flatMap { $0.1.dropFirst(maxEpoch > 2 ? 1 : 0) }
        var y0 = later.map(\.low).min() ?? 0, y1 = later.map(\.high).max() ?? 1
        if y1 - y0 < 1e-4 { y0 -= 0.005; y1 += 0.005 }
        let ypad = (y1 - y0) * 0.08
        y0 -= ypad; y1 += ypad
        func px(_ e: Int) -> Double { left + (maxEpoch > 1 ? Double(e) / Double(maxEpoch - 1) : 0.5) * (width - left - right) }
        func py(_ v: Double) -> Double { top + (1 - (min(max(v, y0), y1) - y0) / (y1 - y0)) * (height - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        for tick in niceTicks(y0, y1, count: 5) {
            svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(py(tick))\" y2=\"\(py(tick))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(py(tick) + 4)\" text-anchor=\"end\">\(percentLabel(tick))</text>"
        }
        for e in 0..<maxEpoch { svg += "<text x=\"\(px(e))\" y=\"\(height - bottom + 16)\" text-anchor=\"middle\">\(e + 1)</text>" }
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">epoch</text>"
        svg += "<text x=\"14\" y=\"\((top + height - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 14 \((top + height - bottom) / 2))\">test accuracy %</text>"
        var placed: [Double] = []
        for (number, points) in series {
            let color = palette[(number - 1) % palette.count]
            if points.count > 1 {
                let upper = points.enumerated().map { "\(px($0.offset)),\(py($0.element.high))" }
                let lower = points.enumerated().reversed().map { "\(px($0.offset)),\(py($0.element.low))" }
                svg += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(color)\" fill-opacity=\"0.15\" stroke=\"none\"/>"
            }
            svg += "<polyline points=\"\(points.enumerated().map { "\(px($0.offset)),\(py($0.element.mean))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            if let last = points.last {
                var ly = py(last.mean) - 5
                while placed.contains(where: { abs($0 - ly) < 13 }) { ly -= 13 }
                placed.append(ly)
                svg += "<text x=\"\(px(points.count - 1) - 4)\" y=\"\(ly)\" text-anchor=\"end\" fill=\"\(color)\" font-weight=\"bold\">\(number)</text>"
            }
        }
        return svg + "</svg>"
    }

    static func render(_ results: SweepResults, _ comparison: Comparison) -> String {
        let ordered = comparison.ordered
        var numbers: [Int: (Int, String)] = [:]
        for (i, row) in ordered.enumerated() { numbers[row.index] = (i + 1, row.label) }
        let byIndex = Dictionary(uniqueKeysWithValues: results.configurations.map { ($0.index, $0) })
        func points(_ x: (SweepResults.Configuration) -> Int, marked: Bool) -> [Point] {
            ordered.compactMap { row in
                guard row.accuracy.n > 0, let configuration = byIndex[row.index], let number = numbers[row.index]?.0 else { return nil }
                return Point(x: Double(x(configuration)), y: row.accuracy.mean, low: row.accuracy.interval?.lowerBound, high: row.accuracy.interval?.upperBound,
                             number: number, label: row.label, marked: marked && row.pareto)
            }
        }
        var table = "<table><tr><th>#</th><th>rank</th><th></th><th>configuration</th><th>params</th><th>MACs</th><th>test accuracy % [95% CI]</th><th>Δ pp [95% CI]</th><th>p (Holm)</th><th>verdict</th><th>train s</th></tr>"
        for row in ordered {
            guard let configuration = byIndex[row.index], let number = numbers[row.index]?.0 else { continue }  // (every row is a configuration)
            let time = configuration.meanTrainSeconds.map { String(format: "%.0f", $0) + (configuration.busySeeds.isEmpty ? "" : " †") } ?? "–"
            table += "<tr><td style=\"color:\(palette[(number - 1) % palette.count]);font-weight:bold\">\(number)</td><td>\(MarkdownReport.rankText(comparison, row))</td><td>\(row.pareto ? "★" : "")</td>"
                + "<td>\(escape(row.label))</td><td>\(Count.abbreviated(configuration.params))</td><td>\(Count.abbreviated(configuration.macs))</td>"
                + "<td>\(MarkdownReport.accuracyText(row.accuracy))</td><td>\(escape(MarkdownReport.deltaText(row)))</td>"
                + "<td>\(MarkdownReport.pText(row.adjustedP))</td><td class=\"verdict\">\(escape(comparison.verdictText(row)))</td><td>\(time)</td></tr>"
        }
        table += "</table>"
        let markdown = MarkdownReport.render(results, comparison)
        return """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>\(escape(results.meta["experiment"] ?? "sweep"))</title>
        <style>body{font-family:sans-serif;max-width:1260px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:14px}
        td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:nth-child(4),td.verdict{text-align:left}td.verdict{max-width:330px}
        .plots{display:flex;flex-wrap:wrap;gap:24px}.plots h3{font-size:15px;margin:0.5em 0}
        pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}</style></head><body>
        <h1>\(escape(results.meta["experiment"] ?? "sweep"))</h1>
        <p>\(escape(results.meta["doc"] ?? ""))</p>
        <p>Generated from <code>results.sqlite</code> by <code>archlab report</code>; machine \(escape(results.meta["host"] ?? "?")), \(escape(results.meta["cores"] ?? "?")) cores, commit \(escape(results.meta["commit"] ?? "?"))\(results.meta["engine"].map { "; " + escape($0) } ?? "").</p>
        <h2>Comparison</h2>\(table)
        <p>Numbers (#) label the points and curves below. Bars and intervals are 95 % confidence intervals of the mean over seeds; rank: \(escape(Comparison.rankRule))\(escape(comparison.sequentialPolicy == nil ? "" : String(format: "; tests decide at α′ = %.4f (seeds were added until decided, so each round's test counts against the 5 %% error rate)", comparison.decisionLevel))). ★ and the dashed line: the Pareto front of what the intervals resolve.</p>
        <div class="plots">
        <div><h3>Test accuracy against MACs</h3>\(scatter(points({ $0.macs }, marked: true), xLabel: "MACs per image (log scale)", yLabel: "test accuracy %", front: true))</div>
        <div><h3>Test accuracy against parameters</h3>\(scatter(points({ $0.params }, marked: false), xLabel: "parameters (log scale)", yLabel: "test accuracy %", front: false))</div>
        <div><h3>Learning curves (mean over seeds; band: lowest to highest seed)</h3>\(curves(results, numbers))</div>
        </div>
        <h2>Full report</h2><pre>\(escape(markdown))</pre>
        </body></html>
        """
    }
}

/// The base network as a Graphviz graph of its top-level modules; modules whose cost changes in
/// some configuration are highlighted.
enum Diagram {
    static func dot(_ results: SweepResults) -> String {
        guard let base = results.baseline else { return "digraph sweep {}\n" }
        var changed = Set<String>()
        for configuration in results.configurations where configuration.architecture == base.architecture && configuration.modules.count == base.modules.count {
            for (x, y) in zip(base.modules, configuration.modules) where x.params != y.params || x.macs != y.macs { changed.insert(x.name) }
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
