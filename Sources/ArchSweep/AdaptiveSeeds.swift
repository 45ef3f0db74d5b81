import ArchSpec
import Foundation

/// `seeds: {min: 3, max: 10, until: decided}` or `until: {ci_halfwidth: 0.3}` (percentage points):
/// every configuration starts with seeds 0..<min; after each round, seeds are added (the next
/// one, deterministically) only where the question is still open, up to `max`.
///
/// - `decided`: a configuration gets another seed while its comparison with the reference
///   (`Comparison`: the baseline, or the most accurate configuration) shows no detectable
///   difference or cannot be tested yet; the reference gets every seed any other configuration
///   gets, since the paired test uses the seeds both ran.
/// - `ci_halfwidth: h`: while the 95 % interval of its mean accuracy is wider than ±h points.
public struct SeedPolicy: Sendable, Equatable {
    public enum Until: Sendable, Equatable {
        case decided
        /// Half-width of the 95 % interval, as a fraction (0.003 for 0.3 points).
        case halfWidth(Double)
    }

    public var min: Int
    public var max: Int
    public var until: Until

    public init(min: Int, max: Int, until: Until) {
        self.min = min; self.max = max; self.until = until
    }

    /// Reads the `seeds:` mapping, with located errors.
    init(_ node: YNode) throws {
        let keys = ["min", "max", "until"]
        for e in node.entries ?? [] where !keys.contains(e.key.text) {
            throw SpecError("seeds: unknown key '\(e.key.text)'\(Suggestion.didYouMean(e.key.text, in: keys)) (keys: min, max, until)", at: e.key.location)
        }
        func count(_ key: String) throws -> Int {
            guard let n = node[key] else { throw SpecError("seeds: missing '\(key)' (seeds: {min: 3, max: 10, until: decided})", at: node.location) }
            guard let s = n.scalar, let v = try ScalarReading.int(s), v >= 1, v <= 1000 else {
                throw SpecError("seeds.\(key): expected an integer from 1 to 1000, found \(n.kindDescription)", at: n.location)
            }
            return v
        }
        min = try count("min")
        max = try count("max")
        guard min <= max else { throw SpecError("seeds: min (\(min)) is larger than max (\(max))", at: node["min"]?.location ?? node.location) }
        guard let u = node["until"] else { throw SpecError("seeds: missing 'until' (decided, or {ci_halfwidth: points})", at: node.location) }
        if u.scalar?.text == "decided" {
            until = .decided
        } else if let h = u["ci_halfwidth"], let s = h.scalar, let v = try ScalarReading.float(s), v > 0, v.isFinite, u.entries?.count == 1 {
            until = .halfWidth(v / 100)
        } else {
            throw SpecError("seeds.until: expected 'decided' or {ci_halfwidth: points} with a positive number of percentage points, found \(u.kindDescription)", at: u.location)
        }
        if min < 2, until == .decided {
            throw SpecError("seeds.min: a decision needs at least 2 seeds per configuration (a paired test), found \(min)", at: node["min"]?.location ?? node.location)
        }
    }

    /// `min 3, max 10, until decided` or `until the 95 % interval is within ±0.30 points`.
    public var description: String {
        switch until {
        case .decided: return "\(min) to \(max) seeds per configuration, added until each comparison with the reference is decided"
        case .halfWidth(let h): return String(format: "%d to %d seeds per configuration, added until the 95 %% interval is within ±%.2f points", min, max, h * 100)
        }
    }

    /// Seeds per configuration for the next round, given the results of this one (only seeds
    /// below each configuration's current count are looked at), and why each configuration stops.
    public func nextRound(_ results: SweepResults, counts: [Int: Int]) -> (counts: [Int: Int], reasons: [Int: String]) {
        var r = results
        for i in r.configurations.indices {
            let n = counts[r.configurations[i].index] ?? min
            r.configurations[i].accuracy = r.configurations[i].accuracy.filter { $0.key < UInt64(n) }
        }
        let comparison = Comparison(r, level: decisionLevel)
        var next = counts, reasons: [Int: String] = [:]
        for row in comparison.rows {
            let n = counts[row.index] ?? min
            let open: Bool
            var reason: String
            switch until {
            case .decided:
                switch row.verdict {
                case .better, .worse:
                    open = false
                    reason = "decided (\(row.verdict.rawValue)) at \(n) seeds"
                case .reference:
                    open = false  // grows below with the rows that are still open
                    reason = "reference: runs every seed another configuration runs"
                default:
                    open = true
                    reason = "still undecided"
                }
            case .halfWidth(let h):
                let width = row.accuracy.halfWidth
                open = width.map { $0 > h } ?? true
                reason = width.map { String(format: "interval ±%.2f points at %d seeds", $0 * 100, n) } ?? "no interval yet"
            }
            if open && n < max { next[row.index] = n + 1 }
            if open && n >= max { reason += "; stopped at the maximum of \(max) seeds" }
            reasons[row.index] = reason
        }
        if until == .decided, let ref = comparison.reference {
            next[ref] = Swift.max(next[ref] ?? min, next.values.max() ?? min)
        }
        return (next, reasons)
    }
}

extension SweepRunner {
    /// Runs the sweep in rounds under `policy` (see `SeedPolicy`). Decisions are recomputed from
    /// the journal's recorded results round by round, so a resumed sweep (after kill -9 mid-round)
    /// replays the same rounds and goes on where it stopped. Each round waits for all of its
    /// trials (`--jobs` parallelism is within a round). The rounds and each configuration's reason
    /// to stop are recorded in the journal's metadata for the report.
    public func runAdaptive(_ policy: SeedPolicy) throws -> Outcome {
        let configurations = Set(trials.map(\.configurationIndex))
        var counts = Dictionary(uniqueKeysWithValues: configurations.map { ($0, policy.min) })
        var total = Outcome()
        var rounds: [String] = []
        var last = 0
        for round in 1...(policy.max - policy.min + 1) {
            let selected = trials.filter { $0.seed < UInt64(counts[$0.configurationIndex] ?? policy.min) }
            let outcome = try run(selected, replaying: round > 1)
            total.add(outcome)
            last = selected.count
            let (next, reasons) = policy.nextRound(try SweepResults.load(directory: options.directory), counts: counts)
            let added = next.filter { counts[$0.key] != $0.value }
            rounds.append("round \(round): \(selected.count) trials" + (added.isEmpty ? "; nothing left open" : "; another seed for \(added.count) configuration(s)"))
            try recordRounds(policy, rounds: rounds, reasons: reasons, counts: counts)
            if added.isEmpty { break }
            counts = next
        }
        total.setSkipped(lastRound: last)
        return total
    }

    private func recordRounds(_ policy: SeedPolicy, rounds: [String], reasons: [Int: String], counts: [Int: Int]) throws {
        let journal = try Journal(path: journalDirectory + "/results.sqlite")
        let labels = Dictionary(trials.map { ($0.configurationIndex, $0.configuration.label) }, uniquingKeysWith: { a, _ in a })
        let stops = reasons.sorted { $0.key < $1.key }.map { "\(labels[$0.key] ?? String($0.key))\t\(counts[$0.key] ?? policy.min)\t\($0.value)" }
        try journal.setMeta(["adaptive_seeds": policy.description, "seed_policy": policy.metaText, "seed_rounds": rounds.joined(separator: "\n"),
                             "seed_stops": stops.joined(separator: "\n")])
    }
}
