import ArchGraph
import ArchSpec
import Foundation

/// `results.csv` (one row per trial, as journaled) and `comparison.csv` (one row per
/// configuration: accuracy with its interval, the difference to the reference, its test and verdict).
enum CSVReport {
    static func field(_ s: String) -> String { CSV.field(s) }

    static func number(_ v: Double?) -> String { v.map { $0.isFinite ? String($0) : ($0.isNaN ? "" : ($0 > 0 ? "inf" : "-inf")) } ?? "" }

    static func trials(_ results: SweepResults) -> String {
        let columns = ["id", "configuration", "seed", "status", "params", "macs", "test_accuracy", "best_epoch", "train_seconds",
                       "images_per_second", "started_at", "finished_at", "error"]
        func cell(_ v: SQLiteDatabase.Value?) -> String {
            switch v {
            case let .integer(i)?: return String(i)
            case let .real(d)?: return String(d)
            case let .text(s)?: return field(s)
            default: return ""
            }
        }
        let axes = results.axisKeys
        var lines = [(columns + axes).joined(separator: ",")]
        for t in results.trials {
            let varied = SweepResults.parseVaried(t.varied)
            let axisCells = axes.map { k in field(varied.first { $0.key == k }?.value ?? "") }
            lines.append((columns.map { cell(t.columns[$0]) } + axisCells).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func configurations(_ results: SweepResults, _ comparison: Comparison) -> String {
        let axes = results.axisKeys
        let columns = ["label", "rank", "tied", "pareto", "params", "macs", "seeds", "accuracy_mean", "accuracy_std", "accuracy_ci_low",
                       "accuracy_ci_high", "reference", "test", "difference", "difference_ci_low", "difference_ci_high", "t", "df", "p",
                       "p_holm", "verdict", "detectable_difference", "seeds_for_observed_difference", "train_seconds_mean", "busy_trials"] + axes
        var lines = [columns.joined(separator: ",")]
        let byIndex = Dictionary(uniqueKeysWithValues: results.configurations.map { ($0.index, $0) })
        for row in comparison.ordered {
            guard let configuration = byIndex[row.index] else { continue }  // (every row is a configuration)
            let summary = row.accuracy, test = row.test
            var cells = [field(row.label), row.rank.map(String.init) ?? "", String(comparison.tied(row)), String(row.pareto),
                         String(configuration.params), String(configuration.macs), String(summary.n), number(summary.n > 0 ? summary.mean : nil), number(summary.std),
                         number(summary.interval?.lowerBound), number(summary.interval?.upperBound), String(row.verdict == .reference),
                         test?.kind.rawValue ?? "", number(test?.difference), number(test?.interval?.lowerBound), number(test?.interval?.upperBound),
                         number(test?.t), number(test?.df), number(test?.p), number(row.adjustedP), field(comparison.verdictText(row)),
                         number(row.detectable), row.seedsForObserved.map(String.init) ?? "", number(configuration.meanTrainSeconds), String(configuration.busySeeds.count)]
            cells += axes.map { k in field(configuration.varied.first { $0.key == k }?.value ?? "") }
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
