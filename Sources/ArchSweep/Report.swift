import ArchFiles
import ArchGraph
import ArchJSON
import ArchSpec
import ArchTrain
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
        /// Validation accuracy per epoch, per seed (trials that held out a validation set).
        public var validationCurves: [UInt64: [Double]] = [:]
        public var modules: [(name: String, params: Int, macs: Int)] = []
        /// The built network's layers and output shapes (`CxHxW`); empty for journals written
        /// before they were recorded.
        public var layers: [(path: String, output: String)] = []
        /// On the Pareto front of what the intervals resolve (`Comparison`).
        public var pareto = false
        /// Seeds whose trial ran at least one epoch on a busy machine (`MachineLoad.isBusy`).
        public var busySeeds: Set<UInt64> = []
        /// Successive halving stopped this configuration after this many epochs (its accuracy
        /// is then in `stoppedAccuracy`, out of every comparison with the finalists).
        public var stoppedAfterEpochs: Int?
        public var stoppedAccuracy: [UInt64: Double] = [:]
        /// Classes the network tells apart (its `num_classes` parameter), when it has one.
        public var classes: Int?

        /// Mean accuracy within 1.5x of guessing (1 / classes): the network did not learn.
        public var atChance: Bool {
            guard let k = classes, k > 1, let m = mean else { return false }
            return m <= 1.5 / Double(k)
        }

        public var n: Int { accuracy.count }
        public var mean: Double? { n > 0 ? accuracyBySeed.reduce(0, +) / Double(n) : nil }
        /// The accuracies in seed order: sums over them come out the same in every process
        /// (a dictionary's order is not).
        public var accuracyBySeed: [Double] { accuracy.sorted { $0.key < $1.key }.map(\.value) }
        /// The learning curves in seed order.
        public var curvesBySeed: [[Double]] { curves.sorted { $0.key < $1.key }.map(\.value) }
        public var std: Double? {
            guard n > 1, let m = mean else { return n == 1 ? 0 : nil }
            return (accuracyBySeed.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot()
        }
        public var meanTrainSeconds: Double? { trainSeconds.isEmpty ? nil : trainSeconds.reduce(0, +) / Double(trainSeconds.count) }
    }

    public var meta: [String: String]
    public var configurations: [Configuration]
    public var trials: [TrialRecord]
    /// The journals read: "main" (DIR/results.sqlite) and "shard K" (DIR/shards/K/results.sqlite), with their hosts.
    public var journals: [(name: String, host: String)] = []
    /// Trials completed in more than one journal (a requeued shard, a changed shard count, a
    /// single-machine run beside shards): counted once, the earliest completion kept.
    public var duplicates: [(id: String, journals: [String])] = []
    /// A halving sweep with `halving: {grid: name}`: its pick in the grid's results.
    public var againstGrid: HalvingAgainstGrid?

    /// Preference when several journals hold a trial: a result beats a failure beats no result.
    static func rank(_ row: TrialRecord) -> Int {
        switch row.status {
        case .completed: return 0
        case .diverged: return 1
        case .failed: return 2
        case .running, .interrupted: return 3
        case .pending: return 4
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
        var candidates: [String: [(source: Int, row: TrialRecord)]] = [:]
        var members = Set<String>()
        for (i, source) in sources.enumerated() {
            for row in try source.journal.allTrials() {
                let id = row.id
                candidates[id, default: []].append((i, row))
                if row.inExperiment { members.insert(id) }
            }
        }
        var trials: [TrialRecord] = [], winner: [String: Int] = [:], duplicates: [(id: String, journals: [String])] = []
        for (id, rows) in candidates where members.contains(id) {
            let completed = rows.filter { $0.row.status == .completed }
            if completed.count > 1 { duplicates.append((id, completed.map { sources[$0.source].name })) }
            let best = rows.min { a, b in
                (rank(a.row), a.row.finishedAt ?? "~", a.source) < (rank(b.row), b.row.finishedAt ?? "~", b.source)
            }!
            trials.append(best.row)
            winner[id] = best.source
        }
        trials.sort { ($0.sweepIndex, $0.id) < ($1.sweepIndex, $1.id) }
        duplicates.sort { $0.id < $1.id }
        var byIndex: [Int: Configuration] = [:]
        for row in trials {
            let index = row.configurationIndex
            var configuration = byIndex[index] ?? Configuration(
                index: index, label: row.configuration, varied: Self.parseVaried(row.varied),
                isBaseline: row.isBaseline, architecture: row.architecture, params: row.params ?? 0, macs: row.macs ?? 0)
            configuration.statuses[row.status.rawValue, default: 0] += 1
            if configuration.classes == nil, let parameters = try? JSONValue.parse(row.config)["parameters"] {
                configuration.classes = parameters["num_classes"]?.int
            }
            if row.status == .completed, let acc = row.testAccuracy {
                configuration.accuracy[UInt64(row.seed)] = acc
                if let seconds = row.trainSeconds { configuration.trainSeconds.append(seconds) }
            }
            byIndex[index] = configuration
        }
        let seedOf = Dictionary(trials.map { ($0.id, ($0.configurationIndex, UInt64($0.seed))) }, uniquingKeysWith: { a, _ in a })
        var meta: [String: String] = [:], journals: [(name: String, host: String)] = []
        var modulesSeen = Set<Int>()
        for (i, source) in sources.enumerated() {
            let cores = Int(try source.journal.meta()["cores"] ?? "") ?? ProcessInfo.processInfo.activeProcessorCount
            for epoch in try source.journal.epochs() {
                guard let id = epoch["trial_id"]?.string, winner[id] == i, let (ci, seed) = seedOf[id], let acc = epoch["test_accuracy"]?.double else { continue }
                byIndex[ci]?.curves[seed, default: []].append(acc)
                if let v = epoch["validation_accuracy"]?.double { byIndex[ci]?.validationCurves[seed, default: []].append(v) }
                if let load = epoch["load_average"]?.double, let share = epoch["cpu_share"]?.double,
                   MachineLoad(loadAverage: load, cores: cores, threads: 1, cpuShare: share).isBusy {
                    byIndex[ci]?.busySeeds.insert(seed)
                }
            }
            var added = Set<Int>()
            for module in try source.journal.modules() {
                guard let ci = module["configuration_index"]?.int, !modulesSeen.contains(ci) else { continue }
                added.insert(ci)
                byIndex[ci]?.modules.append((module["name"]?.string ?? "", module["params"]?.int ?? 0, module["macs"]?.int ?? 0))
            }
            for layer in try source.journal.layers() {
                guard let ci = layer["configuration_index"]?.int, !modulesSeen.contains(ci) else { continue }
                byIndex[ci]?.layers.append((layer["path"]?.string ?? "", layer["output"]?.string ?? ""))
            }
            modulesSeen.formUnion(added)
            let sourceMeta = try source.journal.meta()
            meta.merge(sourceMeta) { first, _ in first }
            journals.append((source.name, sourceMeta["host"] ?? "?"))
        }
        var configurations = byIndex.sorted { $0.key < $1.key }.map(\.value)
        if meta["halving"] != nil {
            // configurations stopped at a rung trained fewer epochs than the finalists: their
            // accuracy is not comparable, so it stays out of the comparison
            let final = configurations.flatMap { $0.curves.values.map(\.count) }.max() ?? 0
            for i in configurations.indices {
                let reached = configurations[i].curves.values.map(\.count).max() ?? 0
                if reached < final {
                    configurations[i].stoppedAfterEpochs = reached
                    configurations[i].stoppedAccuracy = configurations[i].accuracy
                    configurations[i].accuracy = [:]
                }
            }
        }
        let front = Comparison(SweepResults(meta: [:], configurations: configurations, trials: [])).rows.filter(\.pareto).map(\.index)
        for i in configurations.indices { configurations[i].pareto = front.contains(configurations[i].index) }
        meta["shard"] = nil
        var results = SweepResults(meta: meta, configurations: configurations, trials: trials, journals: journals, duplicates: duplicates)
        if let grid = meta["halving_grid"] {
            let folder = HalvingAgainstGrid.folder(of: grid, beside: directory)
            results.againstGrid = HalvingAgainstGrid(halving: results, grid: grid, folder: folder,
                                                     results: Result { try SweepResults.load(directory: folder) })
        }
        return results
    }

    static func parseVaried(_ json: String) -> [(key: String, value: String)] {
        // {"key": "value", ...} as written by the journal, in order
        guard case let .object(members)? = try? JSONValue.parse(json) else { return [] }
        return members.map { ($0.key, $0.value.string ?? $0.value.text()) }
    }

    /// The reference configuration: the ablation baseline, else the first one.
    /// The layers of `configuration`'s built network whose output differs from `reference`'s (same path), in
    /// forward order: the channels a configuration really has, whatever its written values.
    public static func builtDifferences(_ configuration: Configuration, from reference: Configuration) -> [(path: String, from: String, to: String)] {
        guard !configuration.layers.isEmpty, !reference.layers.isEmpty else { return [] }
        let before = Dictionary(reference.layers.map { ($0.path, $0.output) }, uniquingKeysWith: { a, _ in a })
        return configuration.layers.compactMap { l in
            guard let old = before[l.path], old != l.output else { return nil }
            return (l.path, old, l.output)
        }
    }

    public var baseline: Configuration? { configurations.first(where: \.isBaseline) ?? configurations.first }

    /// Mean and standard deviation of the per-seed accuracy differences to the baseline.
    public func delta(_ configuration: Configuration) -> (mean: Double, std: Double, n: Int)? {
        guard let base = baseline, base.index != configuration.index else { return nil }
        let diffs = configuration.accuracy.compactMap { seed, acc in base.accuracy[seed].map { acc - $0 } }
        guard !diffs.isEmpty else { return nil }
        let mean = diffs.reduce(0, +) / Double(diffs.count)
        let std = diffs.count > 1 ? (diffs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(diffs.count - 1)).squareRoot() : 0
        return (mean, std, diffs.count)
    }

    public var axisKeys: [String] {
        var keys: [String] = []
        for configuration in configurations { for (k, _) in configuration.varied where !keys.contains(k) { keys.append(k) } }
        return keys
    }
}

/// Writes `report.md`, `results.csv` (per trial), `comparison.csv` (per configuration), `results.json`,
/// `report.html` and the architecture diagram.
public enum ReportWriter {
    public static func write(_ results: SweepResults, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        func save(_ name: String, _ text: String) throws {
            try AtomicFile.write(Data(text.utf8), to: directory + "/" + name)
            written.append(directory + "/" + name)
        }
        let comparison = Comparison(results)
        try save("report.md", MarkdownReport.render(results, comparison))
        try save("results.csv", CSVReport.trials(results))
        try save("comparison.csv", CSVReport.configurations(results, comparison))
        try save("results.json", try JSONReport.render(results, comparison))
        try save("report.html", HTMLReport.render(results, comparison))
        let dot = Diagram.dot(results)
        try save("architecture.dot", dot)
        if let svg = Diagram.renderSVG(dot) { try save("architecture.svg", svg); }
        return written
    }
}
