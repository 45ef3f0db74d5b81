import ArchSpec
@testable import ArchSweep
import ArchTrain
import ArchTestSupport
import Foundation
import Testing


/// Loading the experiment at `path` must fail with an error that contains `message` and is
/// located in that file.
func expectLocatedError(_ path: String, _ message: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    do {
        _ = try Experiment.load(path)
        Issue.record("accepted: \(path)", sourceLocation: sourceLocation)
    } catch let e as SpecError {
        #expect(e.description.contains(message) && e.description.hasPrefix(path + ":"), "\(e.description)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(error)", sourceLocation: sourceLocation)
    }
}

/// Writes an experiment next to the repository's architectures (so relative paths resolve).
func experiment(_ name: String, _ text: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-sweep-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent(name).path
    try? text.replacingOccurrences(of: "ARCH/", with: repositoryRoot.path + "/architectures/").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

let header = """
architecture: ARCH/lenet.yaml
training: {data: fashion-mnist, epochs: 1, limit_train: 200, limit_test: 100}

"""

@Suite struct ExperimentTests {
    @Test func gridIsTheCartesianProductTimesSeeds() throws {
        let e = try Experiment.load(experiment("g.yaml", header + "seeds: [0, 1]\naxes:\n  layers.fc1.out: [60, 120]\n  training.lr: [0.01, 0.1]\n"))
        #expect(e.configurations.map(\.label) == ["layers.fc1.out=60, training.lr=0.01", "layers.fc1.out=60, training.lr=0.1",
                                                   "layers.fc1.out=120, training.lr=0.01", "layers.fc1.out=120, training.lr=0.1"])
        let trials = try e.trials()
        #expect(trials.count == 8)
        #expect(Set(trials.map(\.id)).count == 8)
        #expect(trials[0].training.lr == 0.01 && trials[2].training.lr == 0.1)
        #expect(trials.first { $0.configuration.label.hasPrefix("layers.fc1.out=60") }?.params == 50_002 - 1_206 + 1_206)
    }

    @Test func zipVariantsAndAblation() throws {
        let z = try Experiment.load(experiment("z.yaml", header + "strategy: zip\naxes:\n  layers.fc1.out: [60, 120]\n  layers.fc2.out: [42, 84]\n"))
        #expect(z.configurations.map(\.label) == ["layers.fc1.out=60, layers.fc2.out=42", "layers.fc1.out=120, layers.fc2.out=84"])
        let v = try Experiment.load(experiment("v.yaml", header + "strategy: variants\nvariants:\n  - {name: small, set: {layers.fc1.out: 30}}\n  - {name: lr, training: {lr: 0.1}}\n"))
        #expect(v.configurations.allSatisfy { !$0.isBaseline })
        let named = try Experiment.load(experiment("vb.yaml", header + "strategy: variants\nbaseline: lr\nvariants:\n  - {name: small, set: {layers.fc1.out: 30}}\n  - {name: lr, training: {lr: 0.1}}\n"))
        #expect(named.configurations.map(\.isBaseline) == [false, true], "baseline: names the variant")
        #expect(throws: SpecError.self) {
            try Experiment.load(experiment("vx.yaml", header + "strategy: variants\nbaseline: big\nvariants:\n  - {name: small, set: {layers.fc1.out: 30}}\n"))
        }
        #expect(v.configurations.map(\.label) == ["small", "lr"])
        let a = try Experiment.load(experiment("a.yaml", header + "strategy: ablation\nbaseline: {layers.fc1.out: 120}\naxes:\n  layers.fc1.out: [60, 120]\n  training.lr: [0.1]\n"))
        #expect(a.configurations.map(\.label) == ["baseline", "layers.fc1.out=60", "training.lr=0.1"])
        #expect(a.configurations[0].isBaseline)
    }

    @Test func idsAreStableAndIgnoreThreads() throws {
        let text = header + "axes:\n  layers.fc1.out: [60]\n"
        let one = try Experiment.load(experiment("s.yaml", text)).trials()
        let two = try Experiment.load(experiment("s.yaml", text.replacingOccurrences(of: "limit_test: 100}", with: "limit_test: 100, threads: 1}"))).trials()
        #expect(one.map(\.id) == two.map(\.id))
        let three = try Experiment.load(experiment("s.yaml", text.replacingOccurrences(of: "epochs: 1", with: "epochs: 2"))).trials()
        #expect(one.map(\.id) != three.map(\.id))
    }

    @Test(arguments: [
        ("strategy: gird\n", "3:11: strategy: expected one of grid, zip, variants, ablation, random; found 'gird'"),
        ("axes:\n  layers.fc1.out: []\n", "4:19: axis 'layers.fc1.out': expected a non-empty list of values, found a list"),
        ("axes:\n  training.lrr: [0.1]\n", "4:3: axis 'training.lrr': unknown training setting 'lrr'; did you mean 'lr'?"),
        ("axes:\n  layers.fc1.out: [0]\n", "4:20: fc1: linear 'out': expected a positive integer, found 0"),
        ("axes:\n  num_clases: [3]\n", "4:3: unknown parameter 'num_clases'; did you mean 'num_classes'? (parameters: num_classes; document keys: input, layers, templates, name)"),
        ("seeds: [0, 0]\n", "3:8: seeds: duplicate seed"),
        ("axes:\n  training.threads: [lots]\n", "4:22: training.threads: expected a number of threads (at least 1) or auto, found 'lots'"),
        ("axes:\n  training.threads: [0]\n", "4:22: training.threads: expected a number of threads (at least 1) or auto, found '0'"),
        ("strategy: zip\naxes:\n  layers.fc1.out: [1, 2]\n  layers.fc2.out: [3]\n", "6:3: zip: axis 'layers.fc2.out' has 1 values, 'layers.fc1.out' has 2; zipped axes need equal lengths"),
        ("axes:\n  training.init_from: [missing.safetensors]\n", "4:24: training.init_from: no readable weights file at 'DIR/missing.safetensors'"),
        ("axes:\n  training.freeze_loaded: [true]\n", "4:28: training.freeze_loaded: needs init_from (the weights whose tensors it freezes)"),
        ("trainig: {}\n", "3:1: unknown key 'trainig'; did you mean 'training'? (experiment keys: name, doc, extends, architecture, set, training, seeds, strategy, axes, variants, baseline, samples, sample_seed, halving, tensorboard)"),
    ])
    func locatedErrors(tail: String, message: String) {
        let path = experiment("bad.yaml", header + tail)
        do {
            _ = try Experiment.load(path).trials()
            Issue.record("expected an error")
        } catch let error as SpecError {
            let expected = message.hasPrefix("ARCH") ? message.replacingOccurrences(of: "ARCH", with: repositoryRoot.path + "/architectures/")
                                                     : "\(path):" + message.replacingOccurrences(of: "DIR", with: (path as NSString).deletingLastPathComponent)
            #expect(error.description == expected)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func startingWeightsCountByContentNotPath() throws {
        let path = experiment("w.yaml", "")
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir + "/weights", withIntermediateDirectories: true)
        try Data("first".utf8).write(to: URL(fileURLWithPath: dir + "/weights/start.safetensors"))
        func id(_ initFrom: String) throws -> String {
            let file = experiment("w.yaml", "")  // a fresh directory each time; point back at the shared file
            let text = header.replacingOccurrences(of: "training: {", with: "training: {init_from: \(initFrom), ") + "seeds: [0]\n"
            try text.replacingOccurrences(of: "ARCH/", with: repositoryRoot.path + "/architectures/").write(toFile: file, atomically: true, encoding: .utf8)
            return try #require(try Experiment.load(file).trials().first).id
        }
        let direct = try id(dir + "/weights/start.safetensors")
        #expect(try id(dir + "/weights/../weights/start.safetensors") == direct)
        try Data("second".utf8).write(to: URL(fileURLWithPath: dir + "/weights/start.safetensors"))
        #expect(try id(dir + "/weights/start.safetensors") != direct)
    }

    @Test func extendsMergesTrainingAndCatchesCycles() throws {
        let base = experiment("base.yaml", header + "seeds: [0]\n")
        let dir = URL(fileURLWithPath: base).deletingLastPathComponent().path
        try "extends: base.yaml\nname: child\ntraining: {epochs: 3}\n".write(toFile: dir + "/child.yaml", atomically: true, encoding: .utf8)
        let child = try Experiment.load(dir + "/child.yaml")
        let t = try child.trials()[0]
        #expect(t.training.epochs == 3 && t.training.limitTrain == 200)
        try "extends: b.yaml\n".write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        try "extends: a.yaml\n".write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        #expect(throws: SpecError.self) { try Experiment.load(dir + "/a.yaml") }
    }
}

@Suite struct JournalTests {
    static func trials() throws -> [Trial] {
        try Experiment.load(experiment("j.yaml", header + "seeds: [0, 1]\naxes:\n  layers.fc1.out: [60, 120]\n")).trials()
    }

    @Test func resumeSemantics() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let trials = try Self.trials()
        let journal = try Journal(path: dir + "/results.sqlite")
        #expect(try journal.sync(trials).new.count == 4)
        try journal.markRunning(trials[0].id)
        let metrics = RunMetrics(testAccuracy: 0.5, bestEpoch: 1, epochs: [], seconds: 1, imagesPerSecond: 10, diverged: false, divergedAt: nil,
                                 params: 1, macs: 1, input: [1, 28, 28])
        try journal.finish(trials[0].id, status: .completed, metrics: metrics, error: nil)
        try journal.markRunning(trials[1].id)
        // a new runner: the running trial goes back to pending, the completed one stays
        let again = try Journal(path: dir + "/results.sqlite")
        #expect(try again.sync(trials).new.isEmpty)
        #expect(try again.recoverInterrupted() == [trials[1].id])
        #expect(try again.status(trials[0].id) == .completed)
        #expect(try again.status(trials[1].id) == .pending)
        // the experiment changes: two trials are new, two recorded ones no longer belong
        let changed = try Experiment.load(experiment("j.yaml", header + "seeds: [0, 1]\naxes:\n  layers.fc1.out: [60, 30]\n")).trials()
        let (new, stale) = try again.sync(changed)
        #expect(new.count == 2 && stale.count == 2)
        #expect(try again.trials().count == 4)
        let integrity = try again.database.query("PRAGMA integrity_check").first?["integrity_check"]?.string
        #expect(integrity == "ok")
    }

    @Test(arguments: [
        // the error the trial reported wins over the progress lines before it in the log
        ("epoch 1/3  10/94 loss 2.3\nepoch 1/3  20/94 loss 2.1\nroot/train/dots/x.jpg: empty file (0 bytes), not a JPEG image\n",
         "root/train/dots/x.jpg: empty file (0 bytes), not a JPEG image\n", "root/train/dots/x.jpg: empty file (0 bytes), not a JPEG image"),
        ("a.yaml:3:5: layers.fc1.out: expected an integer, found 'x'\n  out: x\n      ^\n", "a.yaml:3:5: layers.fc1.out: expected an integer, found 'x'\n  out: x\n      ^\n",
         "a.yaml:3:5: layers.fc1.out: expected an integer, found 'x' |   out: x |       ^"),
        // no error file (killed, or an error not reported through it): the last three lines, progress-bar redraws split apart
        ("lenet: input 1x28x28\n\r[##..] epoch 1/1 3/9\r[####] epoch 1/1 9/9\nsweep runner 42 is gone: stopping this trial\n", nil,
         "[##..] epoch 1/1 3/9 | [####] epoch 1/1 9/9 | sweep runner 42 is gone: stopping this trial"),
        ("", nil, ""),
    ] as [(String, String?, String)])
    func failedTrialReason(log: String, errors: String?, expected: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-trial-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try log.write(toFile: dir + "/log.txt", atomically: true, encoding: .utf8)
        try errors?.write(toFile: dir + "/error.txt", atomically: true, encoding: .utf8)
        #expect(SweepRunner.failureText(trialDirectory: dir) == expected)
    }

    @Test func secondRunnerIsRefusedWhileTheFirstHoldsTheLock() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-lock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let first = try DirectoryLock(directory: dir)
        // flock is per open file description: a second open in the same process conflicts too
        #expect(throws: DirectoryLock.Busy.self) { try DirectoryLock(directory: dir) }
        first.release()
        let second = try DirectoryLock(directory: dir)
        second.release()
    }

    @Test func reportComesFromTheJournal() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-report-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let trials = try Self.trials()
        let journal = try Journal(path: dir + "/results.sqlite")
        _ = try journal.sync(trials)
        for (i, t) in trials.enumerated() {
            let e = EpochMetrics(epoch: 1, lr: 0.01, trainLoss: 1, trainAccuracy: 0.5, validationAccuracy: nil, testLoss: 1,
                                 testAccuracy: 0.6 + 0.1 * Double(i), seconds: 1)
            let m = RunMetrics(testAccuracy: 0.6 + 0.1 * Double(i), bestEpoch: 1, epochs: [e], seconds: 2, imagesPerSecond: 100,
                               diverged: false, divergedAt: nil, params: t.params, macs: t.macs, input: t.input)
            try journal.finish(t.id, status: .completed, metrics: m, error: nil)
        }
        let results = try SweepResults.load(directory: dir)
        #expect(results.configurations.count == 2)
        let wide = try #require(results.configurations.first { $0.label == "layers.fc1.out=120" })
        #expect(abs(wide.mean! - 0.85) < 1e-9)                // seeds: 0.8 and 0.9
        #expect(abs(wide.std! - 0.0707106781) < 1e-6)
        #expect(abs(results.delta(wide)!.mean - 0.2) < 1e-9)  // paired by seed against fc1=60 (0.6, 0.7)
        // n = 2 per configuration: the 95 % intervals (t with 1 degree of freedom) overlap, but the
        // paired difference is the same -0.2 on both seeds, which the paired t-test resolves against
        // the reference (without a baseline, the most accurate configuration): the narrow network
        // ranks second, and both are on the Pareto front (the narrow one is cheaper)
        let narrow = try #require(results.configurations.first { $0.label == "layers.fc1.out=60" })
        #expect(narrow.pareto && wide.pareto)
        let comparison = Comparison(results)
        let row = try #require(comparison.row(narrow.index))
        #expect(comparison.reference == wide.index && row.rank == 2 && comparison.row(wide.index)?.rank == 1)
        #expect(row.verdict == .worse && row.test?.kind == .paired && (row.test?.p ?? 1) < 1e-6)
        let written = try ReportWriter.write(results, to: dir)
        #expect(written.contains(dir + "/report.md") && written.contains(dir + "/report.html") && written.contains(dir + "/results.csv"))
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(md.contains("| 1 | ★ | `layers.fc1.out=120` | 85.8K | 1.12M | 85.00 [21.47, 100.00] (n=2) | reference | – | reference (most accurate) | 2 |"))
        #expect(md.contains("| 2 | ★ | `layers.fc1.out=60` | 50K | 1.09M | 65.00 [1.47, 100.00] (n=2) | -20.00 [-20.00, -20.00] | <0.001 | worse | 2 |"))
        #expect(md.contains("| `fc1` | 30,780 → 61,560 | +30,780 |"))
        let csv = try String(contentsOfFile: dir + "/results.csv", encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 5)
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("<svg") && !html.contains("<script") && !html.contains("http://www.w3.org/2000/svg\" href"))
    }
}

@Suite struct RandomStrategyTests {
    static let axes = """
    strategy: random
    samples: 6
    sample_seed: 3
    axes:
      layers.fc1.out: {int: [40, 200]}
      training.lr: {log_uniform: [0.001, 0.1]}
      training.batch_size: [16, 32]

    """

    @Test func drawsAreDeterministicDistinctInRangeAndBuiltBeforeAnythingTrains() throws {
        let a = try Experiment.load(experiment("r.yaml", header + Self.axes))
        let b = try Experiment.load(experiment("r.yaml", header + Self.axes))
        #expect(a.configurations.map(\.label) == b.configurations.map(\.label), "the same file draws the same configurations")
        #expect(Set(a.configurations.map(\.label)).count == 6)
        for c in a.configurations {
            let width = try #require(Int(c.varied[0].value)), lr = try #require(Double(c.varied[1].value))
            #expect((40...200).contains(width) && lr >= 0.001 && lr <= 0.1 && ["16", "32"].contains(c.varied[2].value))
        }
        let other = try Experiment.load(experiment("r.yaml", header + Self.axes.replacingOccurrences(of: "sample_seed: 3", with: "sample_seed: 4")))
        #expect(other.configurations.map(\.label) != a.configurations.map(\.label), "another sweep seed, other draws")
        #expect(try a.trials().count == 6)  // every drawn network built and shape-checked
    }

    @Test(arguments: [
        ("strategy: random\naxes:\n  layers.fc1.out: [60, 120]\n", "strategy random needs 'samples'"),
        ("strategy: random\nsamples: 5\naxes:\n  layers.fc1.out: [60, 120]\n", "samples: 5 distinct configurations were asked for, the axes gave only 2"),
        ("strategy: random\nsamples: 2\naxes:\n  layers.fc1.out: {int: [60]}\n", "axis 'layers.fc1.out': int needs [lo, hi] with lo < hi"),
        ("strategy: random\nsamples: 2\naxes:\n  training.lr: {normal: [0, 1]}\n", "axis 'training.lr': expected a list of values or one of {int: [lo, hi]}"),
    ] as [(String, String)])
    func badRandomAxesAreLocatedErrors(_ text: String, _ message: String) {
        expectLocatedError(experiment("r.yaml", header + text), message)
    }
}

/// Every trial of a sweep writes TensorBoard events into a run folder named by its varied values
/// and seed, unless the experiment says `tensorboard: false`.
@Suite struct TensorBoardRunTests {
    func tensorBoardArgument(_ e: Experiment) throws -> [String?] {
        let runner = SweepRunner(experiment: e, trials: try e.trials(), options: .init(directory: "/out", executable: "archlab"), log: { _ in })
        return try e.trials().map { t in
            let a = try runner.trialCommand(t, threads: 1, out: temporaryDirectory() + "/x")
            return a.firstIndex(of: "--tensorboard").map { a[$0 + 1] }
        }
    }

    @Test func runFoldersAreNamedByVariedValuesAndSeed() throws {
        let grid = try Experiment.load(experiment("g.yaml", header + "seeds: [0, 3]\naxes:\n  architecture: [ARCH/lenet.yaml]\n  training.lr: [0.01]\n  layers.fc1.out: [60]\n"))
        #expect(try tensorBoardArgument(grid) == ["/out/tensorboard/architecture=lenet,training.lr=0.01,layers.fc1.out=60,seed=0",
                                                  "/out/tensorboard/architecture=lenet,training.lr=0.01,layers.fc1.out=60,seed=3"])
        let variants = try Experiment.load(experiment("v.yaml", header + "strategy: variants\nvariants:\n  - {name: small net, set: {layers.fc1.out: 30}}\n"))
        #expect(try tensorBoardArgument(variants).allSatisfy { $0?.hasPrefix("/out/tensorboard/") == true && !$0!.contains(" ") })
        let off = try Experiment.load(experiment("o.yaml", header + "tensorboard: false\naxes:\n  layers.fc1.out: [60]\n"))
        #expect(try tensorBoardArgument(off) == [nil])
        expectLocatedError(experiment("b.yaml", header + "tensorboard: sometimes\naxes:\n  layers.fc1.out: [60]\n"), "tensorboard: expected true or false")
    }
}

/// `archlab sweep --base ARCH --axis k=v1,v2 --seeds ... --training k=v`: the experiment file it
/// stands for loads like a written one.
@Suite struct MultirunTests {
    @Test func commandLineSweepBecomesAnExperimentFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-multirun-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let run = Multirun(base: repositoryRoot.path + "/architectures/lenet.yaml", axes: ["layers.fc1.out=30,60", "training.lr=0.01,0.1"],
                           seeds: ["0", "2"], training: ["epochs=1", "limit_train=100", "mean=[0.5]"], name: nil)
        let path = dir + "/experiment.yaml"
        try run.yaml(in: dir).write(toFile: path, atomically: true, encoding: .utf8)
        let e = try Experiment.load(path)
        #expect(e.name == "lenet-layers.fc1.out-training.lr")
        #expect(e.configurations.map(\.label) == ["layers.fc1.out=30, training.lr=0.01", "layers.fc1.out=30, training.lr=0.1",
                                                   "layers.fc1.out=60, training.lr=0.01", "layers.fc1.out=60, training.lr=0.1"])
        #expect(e.seeds == [0, 2])
        let trials = try e.trials()
        #expect(trials.count == 8 && trials.allSatisfy { $0.training.epochs == 1 && $0.training.limitTrain == 100 && $0.training.mean == [0.5] })
        #expect(Multirun.items("0.25, [64, 96],{a: 1, b: 2}") == ["0.25", "[64, 96]", "{a: 1, b: 2}"])
        #expect(Multirun.relativePath("/a/b/c.yaml", from: "/a/d/e") == "../../b/c.yaml")
        #expect(Multirun.relativePath("/a/b/c.yaml", from: "/x") == "/a/b/c.yaml")
        #expect(throws: Multirun.Invalid.self) { try Multirun(base: "a.yaml", axes: ["width"], seeds: [], training: [], name: nil).yaml(in: dir) }
        #expect(throws: Multirun.Invalid.self) { try Multirun(base: "a.yaml", axes: ["w=1"], seeds: [], training: ["lr: 3"], name: nil).yaml(in: dir) }
    }
}

/// Experiment files share the architecture files' `extends`: a missing base is reported at the
/// `extends` line, and a chain deeper than the limit is an error.
@Suite struct ExperimentExtendsTests {
    @Test func missingBaseAndDeepChainsAreLocatedErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-extends-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "name: a\nextends: nope.yaml\n".write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        expectLocatedError(dir + "/a.yaml", "extends 'nope.yaml': no such file (looked for \(dir)/nope.yaml)")
        for i in 0..<40 { try "extends: e\(i + 1).yaml\n".write(toFile: dir + "/e\(i).yaml", atomically: true, encoding: .utf8) }
        #expect {
            _ = try Experiment.load(dir + "/e0.yaml")
        } throws: { error in
            (error as? SpecError)?.description.hasPrefix(dir + "/e32.yaml:1:10: 'extends' chain longer than 32 files") == true
        }
    }
}
