import Foundation

/// Successive halving judged against the full grid of the same configurations and seeds
/// (`halving: {grid: name}`): the configuration halving picks, the finalist with the best mean
/// validation accuracy at the last epoch (the rungs' own rule, applied once more; the test set
/// never picks), looked up in the grid's results beside the grid's reference (its most accurate
/// configuration, or its baseline), with the grid's own test of the one against the other and the
/// training each sweep spent. Built from the two journals only.
public struct HalvingAgainstGrid: Sendable {
    /// The grid experiment's name and the folder its results were read from.
    public var grid: String
    public var folder: String
    /// Why there is no comparison: the grid's results could not be read, no finalist has a
    /// validation accuracy yet, or the grid has no configuration of the pick's label.
    public var problem: String?
    /// Halving's pick (its configuration label, as both journals record it), among `finalists`.
    public var pick: String?
    public var finalists = 0
    /// The pick's mean validation accuracy at `finalEpoch`.
    public var pickValidation: Double?
    public var finalEpoch = 0
    /// The pick's row of the grid's comparison (its accuracy there and its test against the
    /// reference), and the grid's reference row.
    public var pickInGrid: Comparison.Row?
    public var reference: Comparison.Row?
    public var referenceIsBaseline = false
    /// The grid comparison's family (Holm) and decision level.
    public var family = 0
    public var decisionLevel = Statistics.alpha
    /// Configuration-epochs each sweep trained (every seed's trial counted).
    public var halvingEpochs = 0, gridEpochs = 0
    /// Whether every trial of the grid has finished (completed, failed or diverged).
    public var gridComplete = false

    /// Whether the pick's mean accuracy in the grid lies inside the reference's 95 % interval.
    public var withinReferenceInterval: Bool? {
        guard let pick = pickInGrid?.accuracy, pick.n > 0, let interval = reference?.accuracy.interval else { return nil }
        return interval.contains(pick.mean)
    }

    init(halving: SweepResults, grid: String, folder: String, results: Result<SweepResults, any Error>) {
        self.grid = grid
        self.folder = folder
        halvingEpochs = Self.epochsTrained(halving)
        // the finalists: configurations no rung stopped, with a validation accuracy at the last epoch
        let finals = halving.configurations.filter { $0.stoppedAfterEpochs == nil }
        finalEpoch = finals.flatMap { $0.validationCurves.values.map(\.count) }.max() ?? 0
        let scored: [(SweepResults.Configuration, Double)] = finals.compactMap { c in
            let last = c.validationCurves.sorted { $0.key < $1.key }.compactMap { $0.value.count == finalEpoch ? $0.value.last : nil }
            return last.isEmpty ? nil : (c, last.reduce(0, +) / Double(last.count))
        }
        finalists = scored.count
        // the journal's policy names the last rung ("...; rungs at epochs 1, 2, 4"): before it is
        // reached there are no finalists yet
        let lastRung = halving.meta["halving"]?.split(separator: ",").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        if let lastRung, finalEpoch < lastRung {
            problem = "halving has not reached its last rung (epoch \(lastRung)) yet"
            return
        }
        guard finalEpoch > 0, let best = scored.max(by: { ($0.1, -$0.0.index) < ($1.1, -$1.0.index) }) else {
            problem = "no finalist has a validation accuracy at its last epoch yet"
            return
        }
        pick = best.0.label
        pickValidation = best.1
        let gridResults: SweepResults
        switch results {
        case .success(let r): gridResults = r
        case .failure(let error):
            problem = "the grid's results could not be read from \(folder): \(error)"
            return
        }
        gridEpochs = Self.epochsTrained(gridResults)
        gridComplete = gridResults.trials.allSatisfy { [.completed, .failed, .diverged].contains($0.status) }
        guard let match = gridResults.configurations.first(where: { $0.label == best.0.label }) else {
            problem = "the grid has no configuration '\(best.0.label)'"
            return
        }
        let comparison = Comparison(gridResults)
        pickInGrid = comparison.row(match.index)
        reference = comparison.reference.flatMap { comparison.row($0) }
        referenceIsBaseline = comparison.referenceIsBaseline
        family = comparison.family
        decisionLevel = comparison.decisionLevel
    }

    /// The folder of experiment `grid` beside sweep folder `directory`, whatever form that took
    /// (`reports/x`, `reports/x/`, `.` from inside it; `NSString.deletingLastPathComponent` of
    /// "." crashed here).
    static func folder(of grid: String, beside directory: String) -> String {
        URL(fileURLWithPath: directory).standardizedFileURL.deletingLastPathComponent().appendingPathComponent(grid).path
    }

    static func epochsTrained(_ results: SweepResults) -> Int {
        results.configurations.reduce(0) { $0 + $1.curves.values.map(\.count).reduce(0, +) }
    }
}
