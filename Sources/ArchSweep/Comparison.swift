import ArchSpec
import Foundation

/// What a sweep's results support, configuration by configuration: each one's accuracy with its
/// 95 % interval, its difference to the reference (the baseline, or without one the most accurate
/// configuration) with a test, a Holm-corrected verdict, and a rank and Pareto front that order
/// only what the intervals resolve. Every report writer prints from this, so the markdown, CSV,
/// JSON and HTML say the same thing.
public struct Comparison: Sendable {
    public enum Verdict: String, Sendable {
        case reference, better, worse
        case noDetectableDifference = "no detectable difference"
        case notTested = "not tested"
    }

    public struct Row: Sendable {
        public var index: Int
        /// Short and distinct: the variant's name, else the axis values that differ between configurations.
        public var label: String
        public var accuracy: Statistics.Summary
        public var test: Statistics.Test?
        /// The test's p-value after Holm's correction over every comparison with the reference.
        public var adjustedP: Double?
        public var verdict: Verdict
        /// Why a row is not tested, or what a verdict rests on, in words.
        public var note: String
        /// Smallest true difference the recorded seeds detect with 80 % power at the 5 % level.
        public var detectable: Double?
        /// Seeds per configuration that would detect a true difference as large as the observed one.
        public var seedsForObserved: Int?
        /// 1 + the number of configurations resolved above this one (a 95 % interval wholly above
        /// this one's, or a decided test against the reference); rows that share a rank are tied.
        /// nil without an interval (n < 2).
        public var rank: Int?
        public var pareto: Bool
        /// The number of classes when the row's accuracy is at chance level (within 1.5x of 1 / classes).
        public var atChance: Int? = nil
    }

    public var reference: Int?
    /// True when the reference is the experiment's baseline; false when it is the most accurate row.
    public var referenceIsBaseline: Bool
    public var rows: [Row]
    /// Comparisons corrected together (Holm), for the report's explanation.
    public var family: Int
    /// The level a Holm-adjusted p must be below to decide: 5 %, or, where seeds were added
    /// until decided, the stricter sequential level α′ (see `Statistics.sequentialLevel`).
    public var decisionLevel: Double
    /// The adaptive seed policy whose repeated looks `decisionLevel` accounts for.
    public var sequentialPolicy: SeedPolicy?

    public func row(_ index: Int) -> Row? { rows.first { $0.index == index } }

    /// `level`: the decision level (default: α′ for a sweep that added seeds until decided, from
    /// its journal's policy, else 5 %).
    public init(_ r: SweepResults, level: Double? = nil) {
        let policy = SeedPolicy(meta: r.meta).flatMap { $0.until == .decided ? $0 : nil }
        sequentialPolicy = level == nil ? policy : nil
        decisionLevel = level ?? policy?.decisionLevel ?? Statistics.alpha
        let configs = r.configurations
        let labels = Self.shortLabels(configs)
        let baseline = configs.first(where: \.isBaseline)
        let best = configs.filter { $0.n > 0 }.max { ($0.mean ?? 0, -$0.macs) < ($1.mean ?? 0, -$1.macs) }
        let ref = baseline ?? best
        reference = ref?.index
        referenceIsBaseline = baseline != nil
        var rows: [Row] = configs.map { c in
            Row(index: c.index, label: labels[c.index] ?? c.label, accuracy: Statistics.Summary(c.accuracy.sorted { $0.key < $1.key }.map(\.value)),
                test: nil, adjustedP: nil, verdict: .notTested, note: "", detectable: nil, seedsForObserved: nil, rank: nil, pareto: false)
        }
        // tests against the reference: paired over shared seeds, Welch's otherwise
        for i in rows.indices {
            let c = configs[i]
            guard let ref else { continue }
            if c.index == ref.index { rows[i].verdict = .reference; rows[i].note = referenceIsBaseline ? "baseline" : "most accurate"; continue }
            let shared = c.accuracy.keys.filter { ref.accuracy[$0] != nil }.sorted()
            if shared.count >= 2, let test = Statistics.paired(shared.compactMap { c.accuracy[$0] }, shared.compactMap { ref.accuracy[$0] }) {
                rows[i].test = test
                rows[i].detectable = Statistics.detectableDifference(std: test.differenceStd ?? 0, n: test.n, level: decisionLevel)
                rows[i].seedsForObserved = Statistics.seedsNeeded(difference: test.difference, std: test.differenceStd ?? 0, level: decisionLevel)
                let missing = Set(c.accuracy.keys).symmetricDifference(ref.accuracy.keys).count
                rows[i].note = "paired over \(shared.count) seeds" + (missing > 0 ? " (\(missing) unshared left out)" : "")
            } else if let test = Statistics.welch(c.accuracyBySeed, ref.accuracyBySeed) {
                rows[i].test = test
                let sa = rows[i].accuracy.std ?? 0, sb = Statistics.Summary(ref.accuracyBySeed).std ?? 0
                let se = (sa * sa / Double(c.n) + sb * sb / Double(ref.n)).squareRoot()
                if test.df.isFinite {
                    rows[i].detectable = (Statistics.tQuantile(1 - decisionLevel / 2, df: test.df) + Statistics.tQuantile(Statistics.power, df: test.df)) * se
                }
                rows[i].seedsForObserved = Statistics.seedsNeeded(difference: test.difference, std: (sa * sa + sb * sb).squareRoot(), level: decisionLevel)
                rows[i].note = "Welch (seeds not shared)"
            } else if let stopped = c.stoppedAfterEpochs {
                rows[i].note = "stopped by successive halving after \(stopped) epoch\(stopped == 1 ? "" : "s")"
            } else {
                rows[i].note = c.n == 0 ? "no completed trial" : "needs 2 seeds shared with the reference, or 2 on each side"
            }
        }
        let tested = rows.indices.compactMap { i in rows[i].test.map { (i, $0) } }
        family = tested.count
        let adjusted = Statistics.holm(tested.map(\.1.p))
        for (k, (i, test)) in tested.enumerated() {
            rows[i].adjustedP = adjusted[k]
            if !adjusted[k].isNaN, adjusted[k] < decisionLevel {
                rows[i].verdict = test.difference > 0 ? .better : .worse
            } else {
                rows[i].verdict = .noDetectableDifference
            }
        }
        // rank and Pareto front from what the intervals resolve
        // a is resolved above b: against the reference, only the Holm-corrected test decides (the
        // verdict column: two uncorrected intervals that happen not to overlap must not rank a row
        // below a reference it shows no detectable difference to); between two other rows, a's
        // interval lies wholly above b's
        let referenceIndex = reference
        func above(_ a: Row, _ b: Row) -> Bool {
            if a.index == referenceIndex || b.index == referenceIndex {
                return a.verdict == .reference && b.verdict == .worse || b.verdict == .reference && a.verdict == .better
            }
            guard let x = a.accuracy.interval, let y = b.accuracy.interval else { return false }
            return x.lowerBound > y.upperBound
        }
        for i in rows.indices where rows[i].accuracy.interval != nil || rows[i].verdict == .better || rows[i].verdict == .worse {
            rows[i].rank = 1 + rows.filter { above($0, rows[i]) }.count
        }
        // a network at chance level is on no front, whatever it costs
        for i in rows.indices where rows[i].accuracy.n > 0 && !configs[i].atChance {
            let macs = configs[i].macs
            rows[i].pareto = !rows.indices.contains { j in
                guard j != i, rows[j].accuracy.n > 0, !configs[j].atChance else { return false }
                let cheaper = configs[j].macs < macs, noDearer = configs[j].macs <= macs
                return (noDearer && above(rows[j], rows[i])) || (cheaper && !above(rows[i], rows[j]))
            }
        }
        for i in rows.indices where configs[i].atChance {
            rows[i].atChance = configs[i].classes
        }
        self.rows = rows
    }

    /// How a rank is given, in words, for every report that prints one.
    public static let rankRule = "1 + the configurations resolved above it (against the reference, its decided test; between two other rows, "
        + "an interval wholly above); rows that share a rank are tied"

    /// Rows best first: by rank (unranked last), then mean accuracy.
    public var ordered: [Row] {
        rows.sorted { a, b in
            (a.rank ?? Int.max, -(a.accuracy.n > 0 ? a.accuracy.mean : -1)) < (b.rank ?? Int.max, -(b.accuracy.n > 0 ? b.accuracy.mean : -1))
        }
    }

    /// How many rows share `row`'s rank.
    public func tied(_ row: Row) -> Int { row.rank.map { r in rows.filter { $0.rank == r }.count } ?? 0 }

    /// The verdict in words, with the smallest detectable difference and the seeds that would
    /// resolve the observed one where nothing was detected.
    public func verdictText(_ row: Row) -> String {
        let text = verdictWords(row)
        guard let k = row.atChance else { return text }
        return "⚠ at chance level (1/\(k) = \(String(format: "%.1f", 100 / Double(k))) %): the network did not learn; " + text
    }

    func verdictWords(_ row: Row) -> String {
        switch row.verdict {
        case .reference: return referenceIsBaseline ? "baseline" : "reference (most accurate)"
        case .better, .worse: return row.verdict.rawValue
        case .notTested: return "not tested: " + row.note
        case .noDetectableDifference:
            var text = "no detectable difference"
            if let d = row.detectable, d.isFinite { text += String(format: "; could detect ≥ %.2f pp", d * 100) }
            if let t = row.test, t.difference != 0 {
                text += row.seedsForObserved.map { String(format: "; ~%d seeds would resolve %.2f pp", $0, abs(t.difference) * 100) }
                    ?? String(format: "; %.2f pp would need over 1000 seeds", abs(t.difference) * 100)
            }
            return text
        }
    }

    /// The variant's name, or the values of the axes that differ between configurations
    /// (`googlenet-torchvision · branch3_kernel=3`); the full label where that is not distinct.
    static func shortLabels(_ configs: [SweepResults.Configuration]) -> [Int: String] {
        var keys: [String] = []
        for c in configs { for (k, _) in c.varied where !keys.contains(k) { keys.append(k) } }
        let differing = keys.filter { k in Set(configs.map { c in c.varied.first { $0.key == k }?.value ?? "" }).count > 1 }
        var out: [Int: String] = [:]
        for c in configs {
            if !c.label.contains("=") { out[c.index] = c.label; continue }  // a variant's name, or "baseline"
            let parts = differing.compactMap { k -> String? in
                guard let v = c.varied.first(where: { $0.key == k })?.value else { return nil }
                return k == "architecture" ? fileStem(v) : "\(k)=\(v)"
            }
            out[c.index] = parts.isEmpty ? c.label : parts.joined(separator: " · ")
        }
        if Set(out.values).count < out.count { return Dictionary(uniqueKeysWithValues: configs.map { ($0.index, $0.label) }) }
        return out
    }
}
