import ArchSpec
@testable import ArchSweep
import ArchTestSupport
import Foundation
import Testing

/// Statistics.swift against SciPy 1.17: Tests/Fixtures/statistics.json, written by
/// scripts/reference/statistics_fixtures.py. Quantiles, CDFs and p-values agree to 1e-9
/// (relative); SciPy's infinite t statistics (zero variance, nonzero difference) may be finite
/// but huge here, where the differences carry rounding noise.
@Suite struct StatisticsTests {
    static var fixture: [String: Any] {
        let path = repositoryRoot.appendingPathComponent("Tests/Fixtures/statistics.json").path
        guard let data = FileManager.default.contents(atPath: path),
              let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return o
    }

    static func cases(_ key: String) -> [[String: Any]] { fixture[key] as? [[String: Any]] ?? [] }

    /// nil (SciPy's NaN), "inf", "-inf" or a number.
    static func value(_ any: Any?) -> Double {
        switch any {
        case let d as Double: return d
        case let i as Int: return Double(i)
        case let s as String: return s == "inf" ? .infinity : -.infinity
        default: return .nan
        }
    }

    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool {
        if b.isNaN { return a.isNaN }
        if b.isInfinite { return a.isInfinite ? a == b : abs(a) > 1e10 && a.sign == b.sign }
        return abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test func fixtureHasEveryKindOfCase() {
        for key in ["t_quantiles", "t_cdfs", "summaries", "paired", "welch", "holm"] { #expect(!Self.cases(key).isEmpty, "\(key)") }
    }

    @Test func studentTQuantilesAndCDFMatchSciPy() {
        for c in Self.cases("t_quantiles") {
            let p = Self.value(c["p"]), df = Self.value(c["df"]), t = Self.value(c["t"])
            #expect(Self.close(Statistics.tQuantile(p, df: df), t), "t.ppf(\(p), \(df))")
        }
        for c in Self.cases("t_cdfs") {
            let t = Self.value(c["t"]), df = Self.value(c["df"]), cdf = Self.value(c["cdf"])
            #expect(Self.close(Statistics.tCDF(t, df: df), cdf, 1e-10), "t.cdf(\(t), \(df))")
        }
    }

    @Test func meansStandardDeviationsAndIntervalsMatchSciPy() {
        for c in Self.cases("summaries") {
            let values = (c["values"] as? [Double]) ?? []
            let s = Statistics.Summary(values)
            #expect(s.n == values.count)
            #expect(Self.close(s.mean, Self.value(c["mean"])))
            if values.count > 1 {
                #expect(Self.close(s.std ?? .nan, Self.value(c["std"])))
                #expect(Self.close(s.interval?.lowerBound ?? .nan, Self.value(c["low"])))
                #expect(Self.close(s.interval?.upperBound ?? .nan, Self.value(c["high"])))
            } else {
                #expect(s.std == nil && s.interval == nil, "one value has no interval")
            }
        }
    }

    @Test func pairedTTestMatchesSciPy() throws {
        for c in Self.cases("paired") {
            let a = c["a"] as! [Double], b = c["b"] as! [Double]
            let test = try #require(Statistics.paired(a, b))
            #expect(Self.close(test.t, Self.value(c["t"])), "t of \(a) vs \(b)")
            #expect(Self.close(test.p, Self.value(c["p"])), "p of \(a) vs \(b): \(test.p)")
            #expect(test.df == Self.value(c["df"]))
            #expect(Self.close(test.difference, Self.value(c["difference"])))
            if let low = c["low"] {
                #expect(Self.close(test.interval?.lowerBound ?? .nan, Self.value(low)))
                #expect(Self.close(test.interval?.upperBound ?? .nan, Self.value(c["high"])))
            }
        }
        #expect(Statistics.paired([0.9], [0.8]) == nil, "one pair: no test")
    }

    @Test func welchTTestMatchesSciPy() throws {
        for c in Self.cases("welch") {
            let a = c["a"] as! [Double], b = c["b"] as! [Double]
            let test = try #require(Statistics.welch(a, b))
            #expect(Self.close(test.t, Self.value(c["t"])), "t of \(a) vs \(b)")
            #expect(Self.close(test.p, Self.value(c["p"])), "p of \(a) vs \(b)")
            if test.t.isFinite { #expect(Self.close(test.df, Self.value(c["df"]))) }
            if let low = c["low"] {
                #expect(Self.close(test.interval?.lowerBound ?? .nan, Self.value(low)))
                #expect(Self.close(test.interval?.upperBound ?? .nan, Self.value(c["high"])))
            }
        }
    }

    @Test func holmAdjustmentMatchesTheDefinition() {
        for c in Self.cases("holm") {
            let p = c["p"] as! [Double], expected = c["adjusted"] as! [Double]
            let adjusted = Statistics.holm(p)
            for (x, y) in zip(adjusted, expected) { #expect(Self.close(x, y)) }
        }
        #expect(Statistics.holm([.nan, 0.01]).last == 0.01, "NaN takes no rank")
    }

    @Test func detectableDifferenceShrinksWithSeedsAndSeedsNeededInvertsIt() throws {
        let three = try #require(Statistics.detectableDifference(std: 0.01, n: 3))
        let ten = try #require(Statistics.detectableDifference(std: 0.01, n: 10))
        #expect(ten < three)
        // (t_0.975,2 + t_0.8,2) * 0.01 / sqrt(3) = (4.302653 + 1.060660) * 0.01 / 1.732051
        #expect(abs(three - 0.030966) < 1e-5)
        let needed = try #require(Statistics.seedsNeeded(difference: ten, std: 0.01))
        #expect(needed == 10)
        #expect(Statistics.seedsNeeded(difference: 0, std: 0.01) == nil)
    }
}

/// Adaptive seeds: the `seeds:` mapping and the round decisions (the end-to-end run, kill -9 mid-round
/// included, is in the session notes; a sweep of real trials is too slow for the test suite).
@Suite struct AdaptiveSeedTests {
    static func file(_ seeds: String) -> String {
        """
        name: adaptive
        architecture: ARCH/lenet.yaml
        training: {data: fashion-mnist, epochs: 1, limit_train: 100, limit_test: 50}
        seeds: \(seeds)
        axes:
          layers.fc1.out: [60, 120]
        """
    }

    @Test(arguments: [
        ("{min: 3, max: 10, until: decided}", nil),
        ("{min: 2, max: 4, until: {ci_halfwidth: 0.3}}", nil),
        ("{min: 4, max: 3, until: decided}", "seeds: min (4) is larger than max (3)"),
        ("{min: 1, max: 3, until: decided}", "seeds.min: a decision needs at least 2 seeds per configuration (a paired test), found 1"),
        ("{min: 3, max: 5, until: sure}", "seeds.until: expected 'decided' or {ci_halfwidth: points}"),
        ("{min: 3, max: 5}", "seeds: missing 'until'"),
        ("{min: 3, maximum: 5, until: decided}", "seeds: unknown key 'maximum'"),
    ] as [(String, String?)])
    func seedPolicyIsReadWithLocatedErrors(_ seeds: String, _ error: String?) throws {
        let path = experiment("adaptive.yaml", Self.file(seeds))
        do {
            let e = try Experiment.load(path)
            #expect(error == nil, "expected an error for \(seeds)")
            let policy = try #require(e.seedPolicy)
            #expect(e.seeds == (0..<UInt64(policy.max)).map { $0 })
        } catch let e as SpecError {
            let expected = try #require(error, "unexpected error \(e.description)")
            #expect(e.description.contains(expected), "\(e.description)")
            #expect(e.description.hasPrefix(path + ":4:"), "located at the seeds line: \(e.description)")
        }
    }

    static func results(_ accuracies: [[Double]]) -> SweepResults {
        let configs = accuracies.enumerated().map { i, values in
            var c = SweepResults.Configuration(index: i, label: "c=\(i)", varied: [("c", String(i))], isBaseline: i == 0,
                                               architecture: "a", params: 1, macs: 1 + i)
            for (seed, v) in values.enumerated() { c.accuracy[UInt64(seed)] = v }
            return c
        }
        return SweepResults(meta: [:], configurations: configs, trials: [])
    }

    @Test func undecidedRowsAndTheReferenceGetAnotherSeedUntilMax() {
        let policy = SeedPolicy(min: 3, max: 5, until: .decided)
        // c1 is clearly worse than the baseline c0 on every seed; c2 is noise around it
        let r = Self.results([[0.90, 0.91, 0.92, 0.90, 0.91], [0.80, 0.81, 0.815, 0.80, 0.81], [0.91, 0.89, 0.93, 0.88, 0.92]])
        let (next, reasons) = policy.nextRound(r, counts: [0: 3, 1: 3, 2: 3])
        #expect(next == [0: 4, 1: 3, 2: 4])
        #expect(reasons[1] == "decided (worse) at 3 seeds")
        #expect(reasons[2] == "still undecided")
        // at the maximum nothing grows and the reason says so
        let (last, why) = policy.nextRound(r, counts: [0: 5, 1: 3, 2: 5])
        #expect(last == [0: 5, 1: 3, 2: 5])
        #expect(why[2] == "still undecided; stopped at the maximum of 5 seeds")
    }

    /// Repeated looks: the sequential level approaches Pocock's tabulated constant levels for
    /// equally spaced looks with many seeds (Jennison & Turnbull, Table 2.1: 0.0294 for 2 looks,
    /// 0.0158 for 5), and keeps a whole adaptive run's false decisions at 5 %.
    @Test func sequentialLevelMatchesPocockAndHoldsTheErrorRate() {
        #expect(abs(Statistics.sequentialLevel(looks: [60, 120]) - 0.0294) < 0.002)
        #expect(abs(Statistics.sequentialLevel(looks: [30, 60, 90, 120, 150]) - 0.0158) < 0.002)
        #expect(Statistics.sequentialLevel(looks: [5]) == Statistics.alpha)
        // an independent stream: looks at 3, ..., 7 seeds under no difference
        let level = Statistics.sequentialLevel(looks: Array(3...7))
        var state: UInt64 = 12345
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
        var falseAtLevel = 0, falseAtFive = 0
        let runs = 20_000
        for _ in 0..<runs {
            var d: [Double] = []
            var decidedAtLevel = false, decidedAtFive = false
            for n in 1...7 {
                d.append(normal())
                guard n >= 3, let test = Statistics.paired(d, Array(repeating: 0, count: n)) else { continue }
                decidedAtLevel = decidedAtLevel || test.p < level
                decidedAtFive = decidedAtFive || test.p < 0.05
            }
            if decidedAtLevel { falseAtLevel += 1 }
            if decidedAtFive { falseAtFive += 1 }
        }
        #expect(abs(Double(falseAtLevel) / Double(runs) - 0.05) < 0.006, "\(falseAtLevel) of \(runs) at \(level)")
        #expect(Double(falseAtFive) / Double(runs) > 0.09, "testing at 5 % every round decides wrongly far more often: \(falseAtFive)")
    }

    /// A difference that a single 5 % test calls "worse" is not decided after adaptive seeds,
    /// whose report applies the sequential level of the journal's policy (also one recorded
    /// before the policy key existed).
    @Test func adaptiveSweepsDecideAtTheSequentialLevel() {
        // c1 - c0 over 5 seeds: mean -0.01, p = 0.0241 (scipy.stats.ttest_rel)
        var r = Self.results([[0.90, 0.91, 0.92, 0.90, 0.91], [0.894, 0.896, 0.91, 0.882, 0.908]])
        let plain = Comparison(r)
        let p = try? #require(plain.row(1)?.adjustedP)
        #expect(p.map { abs($0 - 0.0241) < 0.0001 } == true, "\(String(describing: p))")
        #expect(plain.row(1)?.verdict == .worse && plain.decisionLevel == 0.05)
        r.meta = ["seed_policy": "3 7 decided"]
        let sequential = Comparison(r)
        #expect(sequential.row(1)?.verdict == .noDetectableDifference)
        #expect(sequential.decisionLevel == Statistics.sequentialLevel(looks: Array(3...7)) && sequential.decisionLevel < 0.03)
        r.meta = ["adaptive_seeds": SeedPolicy(min: 3, max: 7, until: .decided).description]
        #expect(Comparison(r).decisionLevel == sequential.decisionLevel)
        r.meta = ["seed_policy": "3 7 halfwidth 0.003"]
        #expect(Comparison(r).row(1)?.verdict == .worse, "stopping on the interval's width needs no correction")
    }

    /// The policy is in the journal from the start, so that the report of a sweep stopped in
    /// its first round decides at α′ too.
    @Test func theSweepRecordsItsPolicyBeforeTheFirstRound() throws {
        let e = try Experiment.load(experiment("adaptive.yaml", Self.file("{min: 3, max: 7, until: decided}")))
        let meta = SweepMetadata.current(experiment: e, options: SweepRunner.Options(directory: "unused", executable: "archlab"))
        #expect(meta["seed_policy"] == "3 7 decided")
        #expect(SeedPolicy(meta: meta) == SeedPolicy(min: 3, max: 7, until: .decided))
    }

    @Test func intervalPolicyStopsARowOnceItsIntervalIsNarrowEnough() {
        let policy = SeedPolicy(min: 2, max: 6, until: .halfWidth(0.01))
        let r = Self.results([[0.900, 0.901, 0.900], [0.80, 0.85, 0.90]])
        let (next, reasons) = policy.nextRound(r, counts: [0: 3, 1: 3])
        #expect(next == [0: 3, 1: 4])
        #expect(reasons[0]?.hasPrefix("interval ±0.") == true)
    }
}

@Suite struct RankTests {
    /// Against the reference only the Holm-corrected test ranks: c1's interval lies wholly below
    /// the baseline's (two tight seeds each), and its paired test alone gives p ≈ 0.014, but over
    /// 4 comparisons Holm leaves it undecided, so c1 shares the reference's rank instead of
    /// sitting below a reference its verdict shows no detectable difference to.
    @Test func uncorrectedIntervalsDoNotRankARowAgainstTheReference() throws {
        let r = AdaptiveSeedTests.results([[0.8860, 0.8867], [0.8745, 0.8747], [0.80, 0.97], [0.81, 0.96], [0.79, 0.98]])
        let comparison = Comparison(r)
        let c1 = try #require(comparison.row(1)), reference = try #require(comparison.row(0))
        let (x, y) = (try #require(reference.accuracy.interval), try #require(c1.accuracy.interval))
        #expect(x.lowerBound > y.upperBound, "the intervals do not overlap")
        #expect((c1.test?.p ?? 0) < 0.05 && (c1.adjustedP ?? 0) > 0.05 && c1.verdict == .noDetectableDifference)
        #expect(reference.rank == 1 && c1.rank == 1 && comparison.tied(c1) == 5)
    }
}

@Suite struct ReportIndexTests {
    /// reports/README.md says in one sentence what a sweep found: decided rows by name, more than
    /// four undecided ones as one group with the range of their differences, and configurations
    /// without a result as a count.
    @Test func theIndexNamesDecidedRowsAndGroupsTheRest() {
        let noise: [[Double]] = [[0.91, 0.89, 0.93], [0.905, 0.915, 0.90], [0.92, 0.90, 0.91], [0.90, 0.92, 0.905], [0.915, 0.905, 0.91]]
        let r = AdaptiveSeedTests.results([[0.90, 0.91, 0.92], [0.80, 0.81, 0.815]] + noise + [[]])
        let text = ReportIndex.summary("x", r, Comparison(r)).joined(separator: "\n")
        #expect(text.contains("Reference `c=0` (baseline): 91.00"))
        #expect(text.contains("`c=1` worse, -10.17 ["))
        #expect(text.contains("5 other configurations show no detectable difference, their Δ from "))
        #expect(text.contains("1 configuration without a completed trial yet."))
        #expect(!text.contains("`c=2`") && !text.contains("No difference is resolved"))
        // up to four undecided rows are named one by one
        let few = AdaptiveSeedTests.results([[0.90, 0.91, 0.92]] + noise.prefix(2))
        let fewText = ReportIndex.summary("x", few, Comparison(few)).joined(separator: "\n")
        #expect(fewText.contains("`c=1` no detectable difference, ") && fewText.contains("`c=2` no detectable difference, "))
        #expect(fewText.contains("**No difference is resolved at these seeds.**"))
    }
}

@Suite struct ChanceLevelTests {
    /// A network that did not learn (AlexNet at 9.4 % on 10 classes in an old families report)
    /// gets a warning and is on no Pareto front, however cheap it is.
    @Test func rowsAtChanceLevelAreFlaggedAndOffTheFront() throws {
        var r = AdaptiveSeedTests.results([[0.90, 0.91, 0.92], [0.094, 0.10, 0.098]])
        for i in r.configurations.indices { r.configurations[i].classes = 10; r.configurations[i].macs = i == 0 ? 100 : 10 }
        let comparison = Comparison(r)
        let stuck = try #require(comparison.row(1))
        #expect(stuck.atChance == 10 && !stuck.pareto)
        #expect(comparison.verdictText(stuck).hasPrefix("⚠ at chance level (1/10 = 10.0 %): the network did not learn; worse"))
        #expect(comparison.row(0)?.pareto == true && comparison.row(0)?.atChance == nil)
    }
}

/// Successive halving: rungs, promotions and the `halving:` mapping (the end-to-end run with a
/// kill -9 between rungs is in the session notes; a real sweep is too slow for the test suite).
@Suite struct HalvingTests {
    @Test func rungsGrowByEtaUpToTheTrainingEpochs() {
        #expect(Halving(minEpochs: 1, eta: 3).rungs(epochs: 9) == [1, 3, 9])
        #expect(Halving(minEpochs: 1, eta: 3).rungs(epochs: 10) == [1, 3, 9, 10])
        #expect(Halving(minEpochs: 2, eta: 2).rungs(epochs: 6) == [2, 4, 6])
        #expect(Halving(minEpochs: 5, eta: 2).rungs(epochs: 3) == [3])
    }

    /// What `--dry-run` reports: configuration-epochs with every rung full, against the grid's.
    @Test func budgetCountsEveryRungAgainstTheGrid() {
        #expect(Halving(minEpochs: 1, eta: 2).budget(configurations: 16, epochs: 4) == (32, 64))  // 16x1 + 8x1 + 4x2
        #expect(Halving(minEpochs: 1, eta: 3).budget(configurations: 27, epochs: 9) == (63, 243))  // 27x1 + 9x2 + 3x6
        #expect(Halving(minEpochs: 4, eta: 2).budget(configurations: 5, epochs: 4) == (20, 20))  // one rung: the grid
    }

    @Test func theBestThirdByMeanValidationAccuracyContinues() {
        let h = Halving(minEpochs: 1, eta: 3)
        let validation: [Int: [Double]] = [0: [0.80, 0.82], 1: [0.90, 0.70], 2: [0.85, 0.86], 3: [0.60], 5: [0.84, 0.84]]
        // means: 0 -> 0.81, 1 -> 0.80, 2 -> 0.855, 3 -> 0.60, 4 -> none, 5 -> 0.84; ceil(6 / 3) = 2 continue
        #expect(h.promote(validation, among: [0, 1, 2, 3, 4, 5]) == [2, 5])
        #expect(h.promote([:], among: [7]) == [7], "one configuration always continues")
    }

    /// Two finalists after halving (c=2 and c=3 stopped at rung 1): c=1 has the better validation
    /// accuracy at epoch 4, so it is the pick; in a grid of the same configurations c=0 is the most
    /// accurate, and c=1's test there is the grid's own comparison of the two.
    @Test func thePickIsLookedUpInTheGridBesideItsMostAccurateConfiguration() throws {
        var halving = AdaptiveSeedTests.results([[0.91, 0.92], [0.905, 0.915], [], []])
        for i in 0..<4 {
            for seed: UInt64 in [0, 1] {
                halving.configurations[i].curves[seed] = Array(repeating: 0.9, count: i < 2 ? 4 : 1)
                halving.configurations[i].validationCurves[seed] = i == 1 ? [0.8, 0.85, 0.88, 0.95] : Array(repeating: 0.9, count: i < 2 ? 4 : 1)
            }
            if i >= 2 { halving.configurations[i].stoppedAfterEpochs = 1 }
        }
        var grid = AdaptiveSeedTests.results([[0.92, 0.93, 0.925], [0.915, 0.925, 0.92], [0.80, 0.81, 0.80], [0.85, 0.86, 0.84]])
        for i in 0..<4 {
            grid.configurations[i].isBaseline = false  // a search: the reference is the most accurate
            for seed: UInt64 in [0, 1, 2] { grid.configurations[i].curves[seed] = Array(repeating: 0.9, count: 4) }
        }
        let g = HalvingAgainstGrid(halving: halving, grid: "search", folder: "/x/search", results: .success(grid))
        #expect(g.problem == nil && g.pick == "c=1" && g.finalists == 2 && g.finalEpoch == 4 && g.pickValidation == 0.95)
        #expect(g.pickInGrid?.index == 1 && g.reference?.index == 0 && !g.referenceIsBaseline && g.family == 3)
        #expect(abs((g.pickInGrid?.test?.difference ?? 0) - -0.005) < 1e-12, "paired over the grid's 3 seeds")
        #expect(g.withinReferenceInterval == true, "0.920 lies inside c=0's interval")
        #expect(g.halvingEpochs == 2 * 4 + 2 * 4 + 2 + 2 && g.gridEpochs == 4 * 3 * 4 && g.gridComplete)
        let text = MarkdownReport.gridParagraph(g).joined()
        #expect(text.contains("halving picks `c=1`") && text.contains("inside") && text.contains("20 by halving, 48 by the grid (42 %)"), "\(text)")
        // an unreadable grid is said, not skipped
        struct Missing: Error, CustomStringConvertible { var description: String { "no results" } }
        let missing = HalvingAgainstGrid(halving: halving, grid: "search", folder: "/x/search", results: .failure(Missing()))
        #expect(missing.pick == "c=1" && missing.problem == "the grid's results could not be read from /x/search: no results")
        #expect(MarkdownReport.gridParagraph(missing).joined().contains("could not be read"))
        // before the last rung there is no pick
        halving.meta["halving"] = "min_epochs 1, eta 2; rungs at epochs 1, 2, 4, 8"
        let early = HalvingAgainstGrid(halving: halving, grid: "search", folder: "/x/search", results: .success(grid))
        #expect(early.pick == nil && early.problem == "halving has not reached its last rung (epoch 8) yet")
    }

    @Test func theGridIsReadFromTheFolderBesideTheSweepsInAnyFormOfItsPath() {
        let cwd = FileManager.default.currentDirectoryPath
        let parent = URL(fileURLWithPath: cwd).deletingLastPathComponent().path
        #expect(HalvingAgainstGrid.folder(of: "grid", beside: "/r/halving") == "/r/grid")
        #expect(HalvingAgainstGrid.folder(of: "grid", beside: "/r/halving/") == "/r/grid")
        #expect(HalvingAgainstGrid.folder(of: "grid", beside: "r/halving") == cwd + "/r/grid")
        #expect(HalvingAgainstGrid.folder(of: "grid", beside: ".") == (parent == "/" ? "" : parent) + "/grid")
    }

    @Test func theGridKeyNamesAnExperimentBesideThisOne() {
        expectLocatedError(experiment("h.yaml", header + "seeds: [0]\naxes:\n  layers.fc1.out: [60, 120]\nhalving: {grid: ../elsewhere}\n"),
                           "halving.grid: expected the name of the experiment")
    }

    @Test(arguments: [
        ("halving: {min_epochs: 0, eta: 3}\n", "halving.min_epochs: expected an integer of at least 1"),
        ("halving: {min_epochs: 1, eta: 1}\n", "halving.eta: expected an integer of at least 2"),
        ("halving: {rungs: 3}\n", "halving: unknown key 'rungs'"),
        ("halving: 3\n", "halving: expected {min_epochs: N, eta: K}"),
    ] as [(String, String)])
    func badHalvingIsALocatedError(_ text: String, _ message: String) {
        expectLocatedError(experiment("h.yaml", header + "seeds: [0]\naxes:\n  layers.fc1.out: [60, 120]\n" + text), message)
    }
}
