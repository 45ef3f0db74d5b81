import ArchJSON
import ArchSpec
import ArchSweep
import ArchTrain
import Foundation
import Testing

@Suite struct ShardTests {
    static func directory(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func metrics(_ accuracy: Double, _ t: Trial) -> RunMetrics {
        RunMetrics(testAccuracy: accuracy, bestEpoch: 1,
                   epochs: [EpochMetrics(epoch: 1, lr: 0.01, trainLoss: 1, trainAccuracy: 0.5, validationAccuracy: nil, testLoss: 1,
                                         testAccuracy: accuracy, seconds: 1)],
                   seconds: 1, imagesPerSecond: 10, diverged: false, divergedAt: nil, params: t.params, macs: t.macs, input: t.input)
    }

    @Test func parsesKOfNAndSplitsTheSweepIndexes() throws {
        let s = try Shard(parsing: "2/3")
        #expect(s.index == 2 && s.count == 3)
        #expect((0..<9).filter(s.contains) == [1, 4, 7])
        for bad in ["0/3", "4/3", "1/0", "2", "a/b", "1/2/3", "-1/2"] {
            #expect(throws: ShardError.self) { try Shard(parsing: bad) }
        }
        // every trial in exactly one shard
        let all = (1...4).map { Shard(index: $0, count: 4) }
        for i in 0..<20 { #expect(all.filter { $0.contains(i) }.count == 1) }
    }

    /// Shard journals merged into one report; a trial completed in two journals is counted once
    /// (the earliest completion) and listed as a duplicate.
    @Test func reportMergesShardJournalsAndCountsDuplicatesOnce() throws {
        let dir = try Self.directory("shards")
        let trials = try JournalTests.trials()
        for k in 1...2 {
            let shard = Shard(index: k, count: 2)
            try FileManager.default.createDirectory(atPath: Shard.directory(of: dir, index: k), withIntermediateDirectories: true)
            let journal = try Journal(path: Shard.directory(of: dir, index: k) + "/results.sqlite")
            let mine = trials.filter { shard.contains($0.index) }
            _ = try journal.sync(mine)
            try journal.setMeta(["experiment": "j", "host": "node\(k)"])
            for t in mine { try journal.finish(t.id, status: .completed, metrics: Self.metrics(0.5 + 0.1 * Double(t.index), t), error: nil) }
        }
        // shard 1 requeued elsewhere ran trial 0 a second time, into a single-machine journal
        let main = try Journal(path: dir + "/results.sqlite")
        _ = try main.sync([trials[0]])
        try main.setMeta(["experiment": "j", "host": "laptop"])
        Thread.sleep(forTimeInterval: 0.01)
        try main.finish(trials[0].id, status: .completed, metrics: Self.metrics(0.99, trials[0]), error: nil)
        let results = try SweepResults.load(directory: dir)
        #expect(results.trials.count == 4)
        #expect(results.trials.allSatisfy { $0.status == .completed })
        #expect(results.duplicates.count == 1 && results.duplicates[0].id == trials[0].id)
        #expect(Set(results.duplicates[0].journals) == ["main", "shard 1"])
        // the earlier completion (shard 1: 0.5) wins over the later one (0.99)
        #expect(results.trials.first { $0.id == trials[0].id }?.testAccuracy == 0.5)
        #expect(results.journals.map(\.name) == ["main", "shard 1", "shard 2"])
        let md = try ReportWriter.write(results, to: dir).first.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? ""
        #expect(md.contains("| journals merged | main (laptop), shard 1 (node1), shard 2 (node2) |"))
        #expect(md.contains("| duplicates | 1 trial(s) completed in more than one journal, counted once (earliest completion): `\(trials[0].id.prefix(12))`"))
    }

    /// A journal written before the `interrupted` status existed is migrated in place.
    @Test func oldJournalsGainTheInterruptedStatus() throws {
        let dir = try Self.directory("migrate")
        let trials = try JournalTests.trials()
        do {
            // an old journal with a completed trial and its epochs (epochs reference trials)
            let old = try SQLiteDatabase(path: dir + "/results.sqlite")
            try old.execute(Journal.schema.replacingOccurrences(of: ",'interrupted'", with: ""))
            try old.execute("""
                INSERT INTO trials(id, sweep_index, configuration, configuration_index, varied, architecture, status, seed, config, test_accuracy)
                VALUES('done', 9, 'c', 0, '{}', 'a.yaml', 'completed', 0, '{}', 0.75)
                """)
            try old.execute("INSERT INTO epochs(trial_id, epoch, test_accuracy) VALUES('done', 1, 0.75)")
        }
        let journal = try Journal(path: dir + "/results.sqlite")
        #expect(try journal.status("done") == .completed)
        #expect(try journal.epochs().count == 1)
        _ = try journal.sync(trials)
        try journal.markRunning(trials[0].id)
        try journal.interrupt(trials[0].id, reason: "interrupted by SIGINT")
        #expect(try journal.status(trials[0].id) == .interrupted)
        #expect(try journal.recoverInterrupted() == [trials[0].id])
        #expect(try journal.status(trials[0].id) == .pending)
        #expect(try journal.database.query("PRAGMA integrity_check").first?["integrity_check"]?.string == "ok")
    }

    @Test func sbatchScriptRunsOneShardPerArrayTask() {
        var o = Slurm.Options(shards: 4)
        o.partition = "gpu"; o.time = "1:00:00"; o.mem = "8G"; o.arrayParallelism = 2; o.cpusPerTask = 4
        let text = Slurm.script(name: "smoke", experiment: "/shared/exp/smoke.yaml", directory: "/shared/runs/smoke",
                                executable: "/shared/bin/archlab", workingDirectory: "/shared/archlab", options: o)
        for line in ["#SBATCH --array=1-4%2", "#SBATCH --cpus-per-task=4", "#SBATCH --partition=gpu", "#SBATCH --time=1:00:00", "#SBATCH --mem=8G",
                     "#SBATCH --output=/shared/runs/smoke/slurm/logs/%A_%a.out", "#SBATCH --requeue", "cd /shared/archlab",
                     "exec /shared/bin/archlab sweep /shared/exp/smoke.yaml --out /shared/runs/smoke --shard \"${SLURM_ARRAY_TASK_ID}/4\""] {
            #expect(text.contains(line + "\n"), "missing: \(line)")
        }
        #expect(text.hasPrefix("#!/bin/bash\n"))
    }
}

/// The report shows each configuration's built shapes against the reference's: a value as written
/// (here 30) next to what the network has.
@Suite struct BuiltShapesInReportTests {
    @Test func configurationsTableShowsTheBuiltLayers() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-built-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = experiment("b.yaml", header + "seeds: [0, 1]\nstrategy: ablation\naxes:\n  layers.fc1.out: [30]\n")
        let trials = try Experiment.load(file).trials()
        let journal = try Journal(path: dir + "/results.sqlite")
        _ = try journal.sync(trials)
        for t in trials { try journal.finish(t.id, status: .completed, metrics: ShardTests.metrics(0.5 + 0.01 * Double(t.seed), t), error: nil) }
        _ = try ReportWriter.write(try SweepResults.load(directory: dir), to: dir)
        let report = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(report.contains("| `baseline` |  | reference |"), "\(report)")
        #expect(report.contains("| `layers.fc1.out=30` | 30 | `fc1` (+1) 120 → 30 |"), "\(report)")
        let json = try JSONValue.parse(String(contentsOfFile: dir + "/results.json", encoding: .utf8))
        guard case let .array(configurations)? = json["configurations"] else { Issue.record("no configurations"); return }
        #expect(configurations[1]["built_differences"] == .array([
            .object([("built", .string("30")), ("path", .string("fc1")), ("reference", .string("120"))]),
            .object([("built", .string("30")), ("path", .string("relu3")), ("reference", .string("120"))]),
        ]))
    }
}
