import Foundation

/// `results.json`: the sweep's metadata, each configuration with its statistics, and each trial.
/// Encoded from Codable types; non-finite numbers (a t statistic of zero-variance samples) become null.
enum JSONReport {
    struct Interval: Codable { var low: Double, high: Double }

    struct TestRecord: Codable {
        var kind: String
        var difference: Double
        var interval: Interval?
        var t: Double?
        var df: Double?
        var p: Double?
        var pHolm: Double?
        enum CodingKeys: String, CodingKey { case kind, difference, interval, t, df, p, pHolm = "p_holm" }
    }

    struct ConfigurationRecord: Codable {
        var label: String
        var fullLabel: String
        var varied: [String: String]
        var baseline: Bool
        var reference: Bool
        var params: Int
        var macs: Int
        var flops: Int
        var seeds: Int
        var testAccuracyBySeed: [String: Double]
        var testAccuracyMean: Double?
        var testAccuracyStd: Double?
        var testAccuracyInterval: Interval?
        var comparison: TestRecord?
        var verdict: String
        var verdictText: String
        var detectableDifference: Double?
        var seedsForObservedDifference: Int?
        var rank: Int?
        var tied: Int
        var pareto: Bool
        var trainSecondsMean: Double?
        var busyTrials: Int
        /// Layers whose built output shape differs from the reference configuration's (`CxHxW`).
        var builtDifferences: [BuiltDifference]?

        enum CodingKeys: String, CodingKey {
            case label, varied, baseline, reference, params, macs, flops, seeds, comparison, verdict, rank, tied, pareto
            case fullLabel = "full_label", testAccuracyBySeed = "test_accuracy_by_seed", testAccuracyMean = "test_accuracy_mean"
            case testAccuracyStd = "test_accuracy_std", testAccuracyInterval = "test_accuracy_ci95", verdictText = "verdict_text"
            case detectableDifference = "detectable_difference", seedsForObservedDifference = "seeds_for_observed_difference"
            case trainSecondsMean = "train_seconds_mean", busyTrials = "busy_trials", builtDifferences = "built_differences"
        }
    }

    struct BuiltDifference: Codable { var path: String, reference: String, built: String }

    struct TrialEntry: Codable {
        var id: String, configuration: String, seed: Int, status: String
        var params: Int?, macs: Int?, testAccuracy: Double?, bestEpoch: Int?, trainSeconds: Double?
        var startedAt: String?, finishedAt: String?, error: String?
        enum CodingKeys: String, CodingKey {
            case id, configuration, seed, status, params, macs, error
            case testAccuracy = "test_accuracy", bestEpoch = "best_epoch", trainSeconds = "train_seconds"
            case startedAt = "started_at", finishedAt = "finished_at"
        }
    }

    struct Document: Codable {
        var meta: [String: String]
        var statistics: String
        /// The level a Holm-corrected p must be below for a verdict (0.05, or α′ after adaptive seeds).
        var decisionLevel: Double
        var configurations: [ConfigurationRecord]
        enum CodingKeys: String, CodingKey {
            case meta, statistics, configurations, trials
            case decisionLevel = "decision_level"
        }
        var trials: [TrialEntry]
    }

    static func finite(_ v: Double?) -> Double? { v.flatMap { $0.isFinite ? $0 : nil } }

    static func render(_ results: SweepResults, _ comparison: Comparison) throws -> String {
        let reference = comparison.reference.flatMap { i in results.configurations.first { $0.index == i } } ?? results.baseline
        let configurations = results.configurations.compactMap { configuration -> ConfigurationRecord? in
            guard let row = comparison.row(configuration.index) else { return nil }  // (every configuration has a row)
            let test = row.test
            return ConfigurationRecord(
                label: row.label, fullLabel: configuration.label, varied: Dictionary(configuration.varied.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }),
                baseline: configuration.isBaseline, reference: row.verdict == .reference, params: configuration.params, macs: configuration.macs, flops: 2 * configuration.macs, seeds: configuration.n,
                testAccuracyBySeed: Dictionary(uniqueKeysWithValues: configuration.accuracy.map { (String($0.key), $0.value) }),
                testAccuracyMean: configuration.mean, testAccuracyStd: row.accuracy.std,
                testAccuracyInterval: row.accuracy.interval.map { Interval(low: $0.lowerBound, high: $0.upperBound) },
                comparison: test.map { TestRecord(kind: $0.kind.rawValue, difference: $0.difference,
                                               interval: $0.interval.map { Interval(low: $0.lowerBound, high: $0.upperBound) },
                                               t: finite($0.t), df: finite($0.df), p: finite($0.p), pHolm: finite(row.adjustedP)) },
                verdict: row.verdict.rawValue, verdictText: comparison.verdictText(row), detectableDifference: finite(row.detectable),
                seedsForObservedDifference: row.seedsForObserved, rank: row.rank, tied: comparison.tied(row), pareto: row.pareto,
                trainSecondsMean: configuration.meanTrainSeconds, busyTrials: configuration.busySeeds.count,
                builtDifferences: reference.flatMap { ref in configuration.layers.isEmpty ? nil
                    : SweepResults.builtDifferences(configuration, from: ref).map { BuiltDifference(path: $0.path, reference: $0.from, built: $0.to) } })
        }
        let trials = results.trials.map { test in
            TrialEntry(id: test.id, configuration: test.configuration, seed: test.seed, status: test.status.rawValue, params: test.params, macs: test.macs,
                       testAccuracy: test.testAccuracy, bestEpoch: test.bestEpoch, trainSeconds: test.trainSeconds, startedAt: test.startedAt,
                       finishedAt: test.finishedAt, error: test.error)
        }
        let statistics = "accuracy: mean over seeds, 95% t interval; comparison: paired t-test over shared seeds (Welch where fewer than 2 are shared) against the "
            + (comparison.referenceIsBaseline ? "baseline" : "most accurate configuration") + ", p Holm-corrected over \(comparison.family) comparisons, decided below the decision level; rank: \(Comparison.rankRule)"
            + (comparison.sequentialPolicy.map { "; seeds were added until decided (\($0.min) to \($0.max)), so the decision level is the sequential α′ that keeps false decisions over all rounds at 5%" } ?? "")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(Document(meta: results.meta, statistics: statistics, decisionLevel: comparison.decisionLevel, configurations: configurations, trials: trials))
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
