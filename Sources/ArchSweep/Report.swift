import ArchGraph
import ArchJSON
import ArchSpec
import ArchTensor
import Foundation

/// A sweep's results aggregated per configuration, read only from `results.sqlite`.
public struct SweepResults: Sendable {
    public struct Configuration: Sendable {
        public var index: Int
        public var label: String
        public var varied: [(key: String, value: String)]
        public var isBaseline: Bool
        public var architecture: String
        public var params: Int
        public var macs: Int
        /// Test accuracy per seed (completed trials).
        public var accuracy: [UInt64: Double] = [:]
        public var trainSeconds: [Double] = []
        public var statuses: [String: Int] = [:]
        /// Test accuracy per epoch, per seed.
        public var curves: [UInt64: [Double]] = [:]
        public var modules: [(name: String, params: Int, macs: Int)] = []
        public var pareto = false

        public var n: Int { accuracy.count }
        public var mean: Double? { n > 0 ? accuracy.values.reduce(0, +) / Double(n) : nil }
        public var std: Double? {
            guard n > 1, let m = mean else { return n == 1 ? 0 : nil }
            return (accuracy.values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot()
        }
        public var meanTrainSeconds: Double? { trainSeconds.isEmpty ? nil : trainSeconds.reduce(0, +) / Double(trainSeconds.count) }
    }

    public var meta: [String: String]
    public var configurations: [Configuration]
    public var trials: [[String: SQLiteDatabase.Value]]
    /// The journals read: "main" (DIR/results.sqlite) and "shard K" (DIR/shards/K/results.sqlite), with their hosts.
    public var journals: [(name: String, host: String)] = []
    /// Trials completed in more than one journal (a requeued shard, a changed shard count, a
    /// single-machine run beside shards): counted once, the earliest completion kept.
    public var duplicates: [(id: String, journals: [String])] = []

    typealias Row = [String: SQLiteDatabase.Value]

    /// Preference when several journals hold a trial: a result beats a failure beats no result.
    static func rank(_ row: Row) -> Int {
        switch row["status"]?.string {
        case "completed": return 0
        case "diverged": return 1
        case "failed": return 2
        case "running", "interrupted": return 3
        default: return 4
        }
    }

    /// Reads every journal of `directory` (its own and its shards') and merges them by trial id.
    public static func load(directory: String) throws -> SweepResults {
        var sources: [(name: String, journal: Journal)] = []
        let main = directory + "/results.sqlite"
        if FileManager.default.fileExists(atPath: main) { sources.append(("main", try Journal(path: main))) }
        for shard in Shard.journals(in: directory) { sources.append(("shard \(shard.index)", try Journal(path: shard.path))) }
        guard !sources.isEmpty else {
            throw SQLiteDatabase.Failure(message: "\(main): no results (nor shard journals in \(directory)/shards); run archlab sweep first")
        }
        var candidates: [String: [(source: Int, row: Row)]] = [:]
        var members = Set<String>()
        for (i, source) in sources.enumerated() {
            for row in try source.journal.allTrials() {
                guard let id = row["id"]?.string else { continue }
                candidates[id, default: []].append((i, row))
                if row["in_experiment"]?.int == 1 { members.insert(id) }
            }
        }
        var trials: [Row] = [], winner: [String: Int] = [:], duplicates: [(id: String, journals: [String])] = []
        for (id, rows) in candidates where members.contains(id) {
            let completed = rows.filter { $0.row["status"]?.string == "completed" }
            if completed.count > 1 { duplicates.append((id, completed.map { sources[$0.source].name })) }
            let best = rows.min { a, b in
                (rank(a.row), a.row["finished_at"]?.string ?? "~", a.source) < (rank(b.row), b.row["finished_at"]?.string ?? "~", b.source)
            }!
            trials.append(best.row)
            winner[id] = best.source
        }
        trials.sort { ($0["sweep_index"]?.int ?? 0, $0["id"]?.string ?? "") < ($1["sweep_index"]?.int ?? 0, $1["id"]?.string ?? "") }
        duplicates.sort { $0.id < $1.id }
        var byIndex: [Int: Configuration] = [:]
        for row in trials {
            let index = row["configuration_index"]?.int ?? 0
            var c = byIndex[index] ?? Configuration(
                index: index, label: row["configuration"]?.string ?? "", varied: Self.parseVaried(row["varied"]?.string ?? "{}"),
                isBaseline: row["is_baseline"]?.int == 1, architecture: row["architecture"]?.string ?? "",
                params: row["params"]?.int ?? 0, macs: row["macs"]?.int ?? 0)
            let status = row["status"]?.string ?? "pending"
            c.statuses[status, default: 0] += 1
            if status == "completed", let acc = row["test_accuracy"]?.double, let seed = row["seed"]?.int {
                c.accuracy[UInt64(seed)] = acc
                if let s = row["train_seconds"]?.double { c.trainSeconds.append(s) }
            }
            byIndex[index] = c
        }
        let seedOf = Dictionary(trials.compactMap { r in r["id"]?.string.map { ($0, (r["configuration_index"]?.int ?? 0, UInt64(r["seed"]?.int ?? 0))) } },
                                uniquingKeysWith: { a, _ in a })
        var meta: [String: String] = [:], journals: [(name: String, host: String)] = []
        var modulesSeen = Set<Int>()
        for (i, source) in sources.enumerated() {
            for e in try source.journal.epochs() {
                guard let id = e["trial_id"]?.string, winner[id] == i, let (ci, seed) = seedOf[id], let acc = e["test_accuracy"]?.double else { continue }
                byIndex[ci]?.curves[seed, default: []].append(acc)
            }
            var added = Set<Int>()
            for m in try source.journal.modules() {
                guard let ci = m["configuration_index"]?.int, !modulesSeen.contains(ci) else { continue }
                added.insert(ci)
                byIndex[ci]?.modules.append((m["name"]?.string ?? "", m["params"]?.int ?? 0, m["macs"]?.int ?? 0))
            }
            modulesSeen.formUnion(added)
            let sourceMeta = try source.journal.meta()
            meta.merge(sourceMeta) { first, _ in first }
            journals.append((source.name, sourceMeta["host"] ?? "?"))
        }
        var configurations = byIndex.keys.sorted().map { byIndex[$0]! }
        for i in configurations.indices {
            guard let a = configurations[i].mean else { continue }
            let m = configurations[i].macs
            configurations[i].pareto = !configurations.contains { o in
                guard let b = o.mean else { return false }
                return o.macs <= m && b >= a && (o.macs < m || b > a)
            }
        }
        meta["shard"] = nil
        return SweepResults(meta: meta, configurations: configurations, trials: trials, journals: journals, duplicates: duplicates)
    }

    static func parseVaried(_ json: String) -> [(key: String, value: String)] {
        // {"key": "value", ...} as written by the journal, in order
        var out: [(String, String)] = []
        var strings: [String] = []
        var current = "", inString = false, escaped = false
        for ch in json {
            if inString {
                if escaped { current.append(ch); escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { inString = false; strings.append(current); current = "" } else { current.append(ch) }
            } else if ch == "\"" { inString = true }
        }
        var i = 0
        while i + 1 < strings.count { out.append((strings[i], strings[i + 1])); i += 2 }
        return out
    }

    /// The reference configuration: the ablation baseline, else the first one.
    public var baseline: Configuration? { configurations.first(where: \.isBaseline) ?? configurations.first }

    /// Mean and standard deviation of the per-seed accuracy differences to the baseline.
    public func delta(_ c: Configuration) -> (mean: Double, std: Double, n: Int)? {
        guard let b = baseline, b.index != c.index else { return nil }
        let diffs = c.accuracy.compactMap { seed, acc in b.accuracy[seed].map { acc - $0 } }
        guard !diffs.isEmpty else { return nil }
        let mean = diffs.reduce(0, +) / Double(diffs.count)
        let std = diffs.count > 1 ? (diffs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(diffs.count - 1)).squareRoot() : 0
        return (mean, std, diffs.count)
    }

    /// Configurations sorted by mean accuracy (best first), unfinished last.
    public var ranked: [Configuration] {
        configurations.sorted { ($0.mean ?? -1, -$0.macs) > ($1.mean ?? -1, -$1.macs) }
    }

    public var axisKeys: [String] {
        var keys: [String] = []
        for c in configurations { for (k, _) in c.varied where !keys.contains(k) { keys.append(k) } }
        return keys
    }
}

/// Writes `report.md`, `results.csv`, `results.json`, `report.html` and the architecture diagram.
public enum ReportWriter {
    public static func write(_ r: SweepResults, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        func save(_ name: String, _ text: String) throws {
            try AtomicFile.write(Data(text.utf8), to: directory + "/" + name)
            written.append(directory + "/" + name)
        }
        try save("report.md", markdown(r))
        try save("results.csv", csv(r))
        try save("results.json", json(r))
        try save("report.html", HTMLReport.render(r))
        let dot = Diagram.dot(r)
        try save("architecture.dot", dot)
        if let svg = Diagram.renderSVG(dot) { try save("architecture.svg", svg); }
        return written
    }

    static func percent(_ v: Double?) -> String { v.map { String(format: "%.2f", $0 * 100) } ?? "–" }

    static func accuracyText(_ c: SweepResults.Configuration) -> String {
        guard let m = c.mean else { return "–" }
        return c.n > 1 ? String(format: "%.2f ± %.2f (n=%d)", m * 100, (c.std ?? 0) * 100, c.n) : String(format: "%.2f (n=1)", m * 100)
    }

    static func deltaText(_ r: SweepResults, _ c: SweepResults.Configuration) -> String {
        if c.index == r.baseline?.index { return "baseline" }
        guard let d = r.delta(c) else { return "–" }
        return d.n > 1 ? String(format: "%+.2f ± %.2f", d.mean * 100, d.std * 100) : String(format: "%+.2f", d.mean * 100)
    }

    static func header(_ r: SweepResults) -> [String] {
        let m = r.meta
        var lines = ["# \(m["experiment"] ?? "sweep")", ""]
        if let doc = m["doc"] { lines += [doc, ""] }
        lines += ["Generated by `archlab report` from the sweep's journal\(r.journals.count > 1 ? "s" : "") (`results.sqlite`\(r.journals.contains { $0.name != "main" } ? ", `shards/*/results.sqlite`" : "")); nothing here is typed by hand.", "",
                  "| | |", "|---|---|",
                  "| experiment file | `\(m["experiment_file"] ?? "?")` (strategy \(m["strategy"] ?? "?")) |",
                  "| machine | \(m["host"] ?? "?"), \(m["cpu"] ?? "?"), \(m["cores"] ?? "?") cores |",
                  "| threads | \(m["threads_per_trial"] ?? "?") per trial, \(m["jobs"] ?? "?") trial(s) at a time |",
                  "| versions | \(m["swift"] ?? "?"); ArchLab commit \(m["commit"] ?? "?") |"]
        if let engine = m["engine"] { lines.append("| engine | \(engine) |") }
        let statuses = r.trials.reduce(into: [String: Int]()) { $0[$1["status"]?.string ?? "?", default: 0] += 1 }
        lines.append("| trials | " + statuses.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + " |")
        if r.journals.count > 1 || r.journals.first?.name != "main" {
            lines.append("| journals merged | " + r.journals.map { "\($0.name) (\($0.host))" }.joined(separator: ", ") + " |")
        }
        if !r.duplicates.isEmpty {
            lines.append("| duplicates | \(r.duplicates.count) trial(s) completed in more than one journal, counted once (earliest completion): "
                         + r.duplicates.map { "`\($0.id.prefix(12))` in \($0.journals.joined(separator: " and "))" }.joined(separator: "; ") + " |")
        }
        if let t = r.trials.first?["config"]?.string, let data = t.data(using: .utf8),
           let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let training = o["training"] as? [String: Any] {
            let keys = ["data", "resize", "epochs", "batch_size", "lr", "limit_train", "limit_test"]
            let settings = keys.compactMap { k in training[k].map { "\(k) \($0)" } }.joined(separator: ", ")
            lines.append("| settings | \(settings) (reduced for this 2-core machine where limits are set) |")
        }
        return lines + [""]
    }

    static func markdown(_ r: SweepResults) -> String {
        var lines = header(r)
        let axes = r.axisKeys
        lines += ["## Comparison", "",
                  "Test accuracy in %, mean ± standard deviation over seeds; Δ is the paired difference in percentage points to the baseline, `\(r.baseline?.label ?? "-")` (same seeds). ★ marks the Pareto front (no configuration is both cheaper in MACs and at least as accurate).", ""]
        let head = ["", "configuration"] + axes + ["params", "MACs", "FLOPs", "test accuracy %", "Δ vs baseline", "train s"]
        lines.append("| " + head.joined(separator: " | ") + " |")
        lines.append("|" + head.enumerated().map { i, _ in i >= 2 + axes.count ? "--:" : "---" }.joined(separator: "|") + "|")
        for c in r.ranked {
            let values = axes.map { k in c.varied.first { $0.key == k }?.value ?? "" }
            let row = [c.pareto ? "★" : "", c.label] + values + [Count.grouped(c.params), Count.grouped(c.macs), Count.grouped(2 * c.macs),
                       accuracyText(c), deltaText(r, c), c.meanTrainSeconds.map { String(format: "%.0f", $0) } ?? "–"]
            lines.append("| " + row.joined(separator: " | ") + " |")
        }
        lines.append("")
        if r.meta["strategy"] == "ablation", let b = r.baseline {
            lines += ["## Per-axis effects (one at a time from the baseline)", "", "| axis | value | Δ accuracy (pp) | Δ params | Δ MACs |", "|---|---|--:|--:|--:|"]
            for k in axes {
                for c in r.configurations where !c.isBaseline && c.varied.first?.key == k {
                    lines.append("| \(k) | \(c.varied.first?.value ?? "") | \(deltaText(r, c)) | \(signed(c.params - b.params)) | \(signed(c.macs - b.macs)) |")
                }
            }
            lines.append("")
        }
        if let b = r.baseline {
            var changed: [String] = []
            for c in r.configurations where c.index != b.index && c.architecture == b.architecture {
                let diffs = zip(b.modules, c.modules).filter { $0.name == $1.name && ($0.params != $1.params || $0.macs != $1.macs) }
                guard !diffs.isEmpty, b.modules.count == c.modules.count else { continue }
                changed.append("### \(c.label)")
                changed.append("")
                changed.append("| module | params (baseline → variant) | Δ params | MACs (baseline → variant) | Δ MACs |")
                changed.append("|---|--:|--:|--:|--:|")
                for (x, y) in diffs {
                    changed.append("| `\(x.name)` | \(Count.grouped(x.params)) → \(Count.grouped(y.params)) | \(signed(y.params - x.params)) | \(Count.grouped(x.macs)) → \(Count.grouped(y.macs)) | \(signed(y.macs - x.macs)) |")
                }
                changed.append("")
            }
            if !changed.isEmpty { lines += ["## Where the cost moved (per module, against the baseline)", ""] + changed }
        }
        let failed = r.trials.filter { ["failed", "diverged"].contains($0["status"]?.string ?? "") }
        if !failed.isEmpty {
            lines += ["## Failed and diverged trials", "", "| trial | configuration | seed | status | error |", "|---|---|--:|---|---|"]
            for t in failed {
                lines.append("| `\((t["id"]?.string ?? "").prefix(12))` | \(t["configuration"]?.string ?? "") | \(t["seed"]?.int ?? 0) | \(t["status"]?.string ?? "") | \((t["error"]?.string ?? "").replacingOccurrences(of: "|", with: "/")) |")
            }
            lines.append("")
        }
        lines += ["Also here: `results.csv`, `results.json`, `report.html` (plots), `architecture.dot`/`.svg`, and `trials/<id>/` (config, metrics, weights, log).", ""]
        return lines.joined(separator: "\n")
    }

    static func signed(_ v: Int) -> String { v == 0 ? "0" : (v > 0 ? "+" : "-") + Count.grouped(abs(v)) }

    static func csv(_ r: SweepResults) -> String {
        let columns = ["id", "configuration", "seed", "status", "params", "macs", "test_accuracy", "best_epoch", "train_seconds",
                       "images_per_second", "started_at", "finished_at", "error"]
        func cell(_ v: SQLiteDatabase.Value?) -> String {
            switch v {
            case let .integer(i)?: return String(i)
            case let .real(d)?: return String(d)
            case let .text(s)?: return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
            default: return ""
            }
        }
        let axes = r.axisKeys
        var lines = [(columns + axes).joined(separator: ",")]
        for t in r.trials {
            let varied = SweepResults.parseVaried(t["varied"]?.string ?? "{}")
            let axisCells = axes.map { k in cell(.text(varied.first { $0.key == k }?.value ?? "")) }
            lines.append((columns.map { cell(t[$0]) } + axisCells).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func json(_ r: SweepResults) -> String {
        func num(_ d: Double?) -> String { d.map { $0.isFinite ? String($0) : "null" } ?? "null" }
        let configs = r.configurations.map { c -> String in
            let varied = "{" + c.varied.map { "\(JSONText.quote($0.key)): \(JSONText.quote($0.value))" }.joined(separator: ", ") + "}"
            let acc = "{" + c.accuracy.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
            let d = r.delta(c)
            return "{\"label\": \(JSONText.quote(c.label)), \"varied\": \(varied), \"baseline\": \(c.index == r.baseline?.index), \"params\": \(c.params), \"macs\": \(c.macs), \"flops\": \(2 * c.macs), \"test_accuracy_mean\": \(num(c.mean)), \"test_accuracy_std\": \(num(c.std)), \"seeds\": \(c.n), \"test_accuracy_by_seed\": \(acc), \"delta_vs_baseline\": \(num(d?.mean)), \"delta_std\": \(num(d?.std)), \"pareto\": \(c.pareto), \"train_seconds_mean\": \(num(c.meanTrainSeconds))}"
        }
        let trials = r.trials.map { t -> String in
            let fields = ["id", "configuration", "seed", "status", "params", "macs", "test_accuracy", "best_epoch", "train_seconds", "started_at", "finished_at", "error"]
            return "{" + fields.map { k -> String in
                switch t[k] {
                case let .integer(i)?: return "\"\(k)\": \(i)"
                case let .real(d)?: return "\"\(k)\": \(num(d))"
                case let .text(s)?: return "\"\(k)\": \(JSONText.quote(s))"
                default: return "\"\(k)\": null"
                }
            }.joined(separator: ", ") + "}"
        }
        let meta = "{" + r.meta.sorted { $0.key < $1.key }.map { "\(JSONText.quote($0.key)): \(JSONText.quote($0.value))" }.joined(separator: ", ") + "}"
        return "{\n\"meta\": \(meta),\n\"configurations\": [\n" + configs.joined(separator: ",\n") + "\n],\n\"trials\": [\n" + trials.joined(separator: ",\n") + "\n]\n}\n"
    }
}
