import ArchSpec
import Foundation

/// `halving: {min_epochs: 1, eta: 3}`: successive halving (Jamieson & Talwalkar 2016; the rungs
/// of Li et al.'s Hyperband). Every configuration trains `min_epochs`; at each rung (`min_epochs`,
/// `min_epochs x eta`, ... below `training.epochs`, then `training.epochs`) the best 1/eta of the
/// configurations by **validation** accuracy (the held-out part of the training set, never the
/// test set), averaged over their seeds, continue from their checkpoint; the others stop there.
///
/// The rungs are synchronous: a rung's decision waits for all of its trials, so with `--jobs N`
/// the last trials of a rung run with fewer than N beside them. Asynchronous promotion (ASHA)
/// would keep every job busy but decides on partial rungs; with the few, long trials of a
/// 2-core machine the synchronous form wastes little and its decisions do not depend on which
/// trial happened to finish first. Decisions are recorded in the journal and replayed on resume.
public struct Halving: Sendable, Equatable {
    public var minEpochs: Int
    public var eta: Int
    /// `grid: name`: the experiment that trains the same configurations and seeds in full; the
    /// report reads its results from the folder beside this sweep's (`DIR/../name`) and says
    /// where halving's pick stands there (`HalvingAgainstGrid`).
    public var grid: String?

    public init(minEpochs: Int, eta: Int, grid: String? = nil) { self.minEpochs = minEpochs; self.eta = eta; self.grid = grid }

    init(_ node: YNode) throws {
        let keys = ["min_epochs", "eta", "grid"]
        guard let entries = node.entries else {
            throw SpecError("halving: expected {min_epochs: N, eta: K}, found \(node.kindDescription)", at: node.location)
        }
        for e in entries where !keys.contains(e.key.text) {
            throw SpecError("halving: unknown key '\(e.key.text)'\(Suggestion.didYouMean(e.key.text, in: keys)) (keys: \(keys.joined(separator: ", ")))",
                            at: e.key.location)
        }
        if let g = node["grid"] {
            guard let text = g.scalar?.text, !text.isEmpty, !text.contains("/") else {
                throw SpecError("halving.grid: expected the name of the experiment that trains the same configurations in full (its results folder beside this one's), found \(g.scalar.map { "'\($0.text)'" } ?? g.kindDescription)",
                                at: g.location)
            }
            grid = text
        }
        func int(_ key: String, min: Int, default value: Int) throws -> Int {
            guard let n = node[key] else { return value }
            guard let s = n.scalar, let v = try ScalarReading.int(s), v >= min else {
                throw SpecError("halving.\(key): expected an integer of at least \(min), found \(n.kindDescription)", at: n.location)
            }
            return v
        }
        minEpochs = try int("min_epochs", min: 1, default: 1)
        eta = try int("eta", min: 2, default: 3)
    }

    /// The epochs at which configurations are compared, the last being `epochs`.
    public func rungs(epochs: Int) -> [Int] {
        var out: [Int] = []
        var e = minEpochs
        while e < epochs { out.append(e); e *= eta }
        return out + [epochs]
    }

    /// Configuration-epochs successive halving trains for `configurations` configurations with
    /// every rung full (the most it can train; a configuration whose trials fail drops out early),
    /// against the grid's `configurations x epochs`.
    public func budget(configurations: Int, epochs: Int) -> (halving: Int, grid: Int) {
        var alive = configurations, trained = 0, previous = 0
        for rung in rungs(epochs: epochs) {
            trained += alive * (rung - previous)
            previous = rung
            alive = max(1, Int((Double(alive) / Double(eta)).rounded(.up)))
        }
        return (trained, configurations * epochs)
    }

    /// The configurations that continue: the best ceil(n / eta) by mean validation accuracy over
    /// their seeds (a configuration without any, e.g. every trial failed, ranks last; ties go to
    /// the earlier configuration).
    public func promote(_ validation: [Int: [Double]], among alive: [Int]) -> [Int] {
        let keep = max(1, Int((Double(alive.count) / Double(eta)).rounded(.up)))
        func score(_ c: Int) -> Double {
            guard let v = validation[c], !v.isEmpty else { return -.infinity }
            return v.reduce(0, +) / Double(v.count)
        }
        return alive.sorted { (score($0), -$0) > (score($1), -$1) }.prefix(keep).sorted()
    }
}

extension SweepRunner {
    /// Runs the sweep rung by rung under `halving` (see `Halving`). Trials of promoted
    /// configurations are reopened and continue from their checkpoints; the promotions are
    /// written to the journal's metadata as they are decided, and a resumed sweep uses the
    /// recorded ones.
    public func runHalving(_ halving: Halving) throws -> Outcome {
        let epochs = trials.map(\.training.epochs)
        guard let total = epochs.first, epochs.allSatisfy({ $0 == total }) else {
            throw SpecError("halving: every configuration needs the same training.epochs (the rungs are counted in them)",
                            at: SourceLocation(file: experiment.file, line: 1, column: 1))
        }
        let rungs = halving.rungs(epochs: total)
        try FileManager.default.createDirectory(atPath: journalDirectory, withIntermediateDirectories: true)
        let journal = try Journal(path: journalDirectory + "/results.sqlite")
        var recorded = Self.promotions(try journal.meta()["halving_promotions"] ?? "")
        if let grid = halving.grid { try journal.setMeta(["halving_grid": grid]) }
        var alive = Array(Set(trials.map(\.configurationIndex))).sorted()
        var outcome = Outcome()
        for (k, epoch) in rungs.enumerated() {
            let selected = trials.filter { alive.contains($0.configurationIndex) }
            try journal.reopen(selected.map(\.id), below: epoch)
            let round = try run(selected, replaying: k > 0, stopAfterEpoch: epoch == total ? nil : epoch, journaled: trials)
            outcome.add(round)
            guard k < rungs.count - 1 else { break }
            let next: [Int]
            if let decided = recorded[k] {
                next = decided
            } else {
                let validation = try journal.validationAccuracy(at: epoch)
                var byConfiguration: [Int: [Double]] = [:]
                for t in selected { if let v = validation[t.id] { byConfiguration[t.configurationIndex, default: []].append(v) } }
                next = halving.promote(byConfiguration, among: alive)
                recorded[k] = next
                let means = alive.map { c in
                    guard let v = byConfiguration[c], !v.isEmpty else { return "–" }
                    return String(format: "%.4f", v.reduce(0, +) / Double(v.count))
                }
                try journal.setMeta(["halving": "min_epochs \(halving.minEpochs), eta \(halving.eta); rungs at epochs " + rungs.map(String.init).joined(separator: ", "),
                                     "halving_promotions": Self.promotionsText(recorded),
                                     "halving_rung_\(k)": zip(alive, means).map { "\($0)\t\($1)" }.joined(separator: "\n")])
            }
            log("rung \(k + 1) (epoch \(epoch)): \(next.count) of \(alive.count) configurations continue")
            alive = next
        }
        outcome.setSkipped(lastRound: trials.filter { alive.contains($0.configurationIndex) }.count)
        return outcome
    }

    /// `0: 1,4,7` lines: the configurations promoted after each rung.
    static func promotionsText(_ p: [Int: [Int]]) -> String {
        p.sorted { $0.key < $1.key }.map { "\($0.key): " + $0.value.map(String.init).joined(separator: ",") }.joined(separator: "\n")
    }

    static func promotions(_ text: String) -> [Int: [Int]] {
        var out: [Int: [Int]] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let k = Int(parts[0]) else { continue }
            out[k] = parts[1].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
        return out
    }
}
