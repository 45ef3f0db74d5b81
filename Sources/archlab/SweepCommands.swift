import ArchFiles
import ArchGraph
import ArchSpec
import ArchSweep
import ArchTensor
import ArgumentParser
import Foundation

/// `archlab sweep EXP.yaml`: runs (or lists, with --dry-run) every trial of an experiment.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run an experiment's trials (resuming a stopped sweep) and write the report.")

    @Argument(help: "Experiment file (YAML).") var file: String?
    @Option(help: "Output directory (default: runs/<experiment name>; the project's own experiments go to reports/<name> through make sweeps).") var out: String?
    @Option(help: "Trials to run at once; the cores are split between them (default: one per core, which trained 1.3-1.6x more trials per hour than one job on 2 cores, bench/sweep_overhead.py; --jobs 1: each trial's threads are auto, the cores other processes leave idle).")
    var jobs: Int?
    @Flag(help: "Build and shape-check every trial's network and list the trials with params and MACs; run nothing.") var dryRun = false
    @Flag(help: "With --dry-run: also time a few training steps of each network here and estimate the sweep's cost (takes a while).")
    var estimate = false
    @Flag(help: "Run failed and diverged trials again.") var retryFailed = false
    @Option(help: ArgumentHelp("Run only shard K of N (trials with sweep index i, i % N == K - 1); its journal is DIR/shards/K/results.sqlite.",
                               valueName: "K/N"))
    var shard: String?
    @Option(help: ArgumentHelp("Summarize the progress of the sweep in DIR (every shard; squeue when available) and exit.", valueName: "DIR"))
    var status: String?
    @OptionGroup var slurm: SlurmOptions
    @Option(help: ArgumentHelp("Sweep without an experiment file: this architecture, with --axis, --seeds and --training; the experiment file it stands for is written to DIR/experiment.yaml.", valueName: "ARCH.yaml"))
    var base: String?
    @Option(help: ArgumentHelp("With --base: an axis of the grid, a parameter, --set path or training.<setting> and its values (repeatable).", valueName: "key=v1,v2,..."))
    var axis: [String] = []
    @Option(help: ArgumentHelp("With --base: the seeds (default 0).", valueName: "0,1,2")) var seeds: String?
    @Option(help: ArgumentHelp("With --base: a training setting for every trial (repeatable).", valueName: "setting=value"))
    var training: [String] = []
    @Option(help: "With --base: the experiment's name (default: the architecture's and the axes' names).") var name: String?
    @Option(help: ArgumentHelp("With --base: also save the experiment file here.", valueName: "FILE.yaml")) var save: String?

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if status != nil, file != nil { throw ValidationError("--status DIR takes no experiment file") }
        if base != nil, file != nil { throw ValidationError("give an experiment file or --base ARCH.yaml with --axis, not both") }
        if base == nil, !axis.isEmpty || seeds != nil || !training.isEmpty || name != nil || save != nil {
            throw ValidationError("--axis, --seeds, --training, --name and --save go with --base ARCH.yaml")
        }
        if status == nil, file == nil, base == nil { throw ValidationError("missing the experiment file (or --base ARCH.yaml --axis ..., or --status DIR)") }
        if let shard {
            do { _ = try Shard(parsing: shard) } catch let error as ShardError { throw ValidationError(error.message) }
        }
        if slurm.slurm, shard != nil { throw ValidationError("--slurm writes a job array that passes --shard to each task; give only one of them") }
        if slurm.submit, !slurm.slurm { throw ValidationError("--submit goes with --slurm") }
        if let n = slurm.shards, n < 1 { throw ValidationError("--shards must be at least 1") }
    }

    func run() throws {
        if let status {
            do { print(try SweepStatus.summary(directory: status)) } catch let failure as Slurm.Failure { throw Diagnostics.fail(failure.description) }
            return
        }
        let file = try self.file ?? writeMultirunExperiment()
        let experiment = try Diagnostics.run { try Experiment.load(file) }
        let trials = try Diagnostics.run { try experiment.trials() }
        let directory = out ?? "runs/\(experiment.name)"
        // on a Slurm node the job's allocation, not the machine's cores
        let cores = ProcessInfo.processInfo.environment["SLURM_CPUS_PER_TASK"].flatMap { Int($0) } ?? ProcessInfo.processInfo.activeProcessorCount
        let jobs = self.jobs ?? max(1, cores)
        if experiment.halving != nil, shard != nil || slurm.slurm {
            throw Diagnostics.fail("\(file): successive halving decides each rung from every configuration's results, which one shard does not have; run the sweep without --shard/--slurm")
        }
        if experiment.seedPolicy != nil, shard != nil || slurm.slurm {
            throw Diagnostics.fail("\(file): adaptive seeds (seeds: {min, max, until}) decide each round from every configuration's results, which one shard does not have; run the sweep without --shard/--slurm, or give a list of seeds")
        }
        if dryRun {
            let estimates = estimate ? try Diagnostics.run { try Calibration.estimate(trials, threads: max(1, cores / jobs)) } : [:]
            print("\(experiment.name): \(trials.count) trials (\(experiment.configurations.count) configurations x \(experiment.seeds.count) seeds), strategy \(experiment.strategy.rawValue), into \(directory)")
            var rows = [["#", "id", "configuration", "seed", "params", "MACs"] + (estimate ? ["estimate"] : [])]
            var total = 0.0, totalLow = 0.0, totalHigh = 0.0
            for t in trials {
                var row = [String(t.index + 1), String(t.id.prefix(12)), t.configuration.label, String(t.seed), Count.grouped(t.params), Count.grouped(t.macs)]
                if let e = estimates[t.id] {
                    total += e.trialSeconds
                    totalLow += e.trialSecondsRange.lowerBound
                    totalHigh += e.trialSecondsRange.upperBound
                    row.append(SweepRunner.duration(e.trialSeconds) + " (" + SweepRunner.duration(e.trialSecondsRange.lowerBound) + "–"
                               + SweepRunner.duration(e.trialSecondsRange.upperBound) + ")")
                }
                rows.append(row)
            }
            // columns as wide as their widest cell: numbers right-aligned under their headers
            let widths = rows[0].indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
            let left: Set<Int> = [1, 2]
            for row in rows {
                print("  " + row.enumerated().map { i, cell in
                    let pad = String(repeating: " ", count: widths[i] - cell.count)
                    return left.contains(i) ? cell + pad : pad + cell
                }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
            }
            if let policy = experiment.seedPolicy {
                let low = policy.min * experiment.configurations.count
                var line = "adaptive seeds: \(policy.description); between \(low) and \(trials.count) trials"
                if estimate, !trials.isEmpty {
                    line += ", about \(SweepRunner.duration(total * Double(low) / Double(trials.count) / Double(jobs))) to \(SweepRunner.duration(total / Double(jobs))) with --jobs \(jobs)"
                }
                print(line)
            }
            if let halving = experiment.halving {
                let epochs = trials.first?.training.epochs ?? 1
                let (trained, grid) = halving.budget(configurations: experiment.configurations.count, epochs: epochs)
                var line = "successive halving: rungs at \(halving.rungs(epochs: epochs).map(String.init).joined(separator: ", ")) epochs, eta \(halving.eta); "
                    + "\(trained) configuration-epochs against the full grid's \(grid) (\(Int((100 * Double(trained) / Double(max(grid, 1))).rounded())) %)"
                if estimate, !trials.isEmpty {
                    line += ", about \(SweepRunner.duration(total * Double(trained) / Double(grid) / Double(jobs))) with --jobs \(jobs)"
                }
                print(line)
            }
            if estimate {
                print("total estimate: \(SweepRunner.duration(total / Double(jobs))) (\(SweepRunner.duration(totalLow / Double(jobs)))–\(SweepRunner.duration(totalHigh / Double(jobs))) from the fastest and slowest of \(Calibration.measuredSteps) timed steps) with --jobs \(jobs) (measured here, each network's median step; a busy machine inflates it)")
            } else {
                print("every network builds; add --estimate to time a few training steps of each and estimate the cost")
            }
            return
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        if slurm.slurm {
            try slurm.writeAndSubmit(experiment: experiment, trials: trials, directory: directory, executable: executable)
            return
        }
        var options = SweepRunner.Options(directory: directory, executable: executable)
        options.jobs = jobs
        options.retryFailed = retryFailed
        options.cores = cores
        options.adaptiveThreads = ProcessInfo.processInfo.environment["SLURM_CPUS_PER_TASK"] == nil
        options.shard = try shard.map(Shard.init(parsing:))
        options.echoTrialOutput = isatty(STDOUT_FILENO) != 0
        print("\(experiment.name): \(trials.count) trials into \(directory) (all \(experiment.configurations.count) networks built and shape-checked)")
        if experiment.tensorboard { print("live curves: tensorboard --logdir \(directory)/tensorboard") }
        let runner = SweepRunner(experiment: experiment, trials: trials, options: options) { print($0); fflush(nil) }
        let outcome: SweepRunner.Outcome
        do {
            if let halving = experiment.halving {
                outcome = try runner.runHalving(halving)
            } else {
                outcome = try experiment.seedPolicy.map(runner.runAdaptive) ?? runner.run()
            }
        } catch let busy as DirectoryLock.Busy {
            throw Diagnostics.fail(busy.description)
        } catch let failure as SQLiteDatabase.Failure {
            throw Diagnostics.fail(failure.description)
        } catch let stopped as SweepRunner.Interrupted {
            throw ExitCode(stopped.exitCode)
        }
        if let shard = options.shard {
            // other shards may still be writing their journals (on other machines): merge later
            print("shard \(shard): \(outcome.summary)")
            print("when every shard is done: archlab report \(directory)   (progress: archlab sweep --status \(directory))")
            if outcome.failed + outcome.interrupted > 0 { throw ExitCode(1) }
            return
        }
        let written = try Diagnostics.file { try ReportWriter.write(try SweepResults.load(directory: directory), to: directory) }
        print(outcome.summary)
        if outcome.interrupted > 0 { print("interrupted trials run again when you rerun the same command") }
        print("report: \(written.first ?? directory)")
        if outcome.failed + outcome.interrupted > 0 { throw ExitCode(1) }
    }
}

extension SweepCommand {
    /// `--base`: writes the experiment file the options stand for into the sweep's directory (and
    /// `--save`), and returns its path.
    func writeMultirunExperiment() throws -> String {
        guard let base else { throw ValidationError("give an experiment file, or --base ARCH.yaml with --axis") }
        let multirun = Multirun(base: base, axes: axis, seeds: seeds.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? [],
                                training: training, name: name)
        let directory = out ?? "runs/\(multirun.experimentName)"
        do {
            for (folder, path) in [(directory, directory + "/experiment.yaml")] + (save.map { [((($0 as NSString).deletingLastPathComponent), $0)] } ?? []) {
                try FileManager.default.createDirectory(atPath: folder.isEmpty ? "." : folder, withIntermediateDirectories: true)
                try Diagnostics.file { try AtomicFile.write(Data(try multirun.yaml(in: folder.isEmpty ? "." : folder).utf8), to: path) }
            }
        } catch let invalid as Multirun.Invalid {
            throw ValidationError(invalid.description)
        }
        if let save { print("saved the experiment as \(save)") }
        return directory + "/experiment.yaml"
    }
}

/// `--slurm` and its settings: an sbatch job-array script in DIR/slurm, optionally submitted.
struct SlurmOptions: ParsableArguments {
    @Flag(help: "Write DIR/slurm/sweep.sbatch, a Slurm job array with one task per shard, instead of running.") var slurm = false
    @Option(help: "With --slurm: number of shards (array tasks); default: one per trial.") var shards: Int?
    @Option(help: "With --slurm: Slurm partition.") var partition: String?
    @Option(help: "With --slurm: time limit per task (Slurm syntax, e.g. 2:00:00).") var time: String?
    @Option(help: "With --slurm: CPUs per task (the trial's threads).") var cpusPerTask = 2
    @Option(help: "With --slurm: memory per task (e.g. 8G).") var mem: String?
    @Option(help: "With --slurm: at most this many tasks at once (%J of --array).") var arrayParallelism: Int?
    @Option(help: "With --slurm: Slurm account.") var account: String?
    @Flag(help: "With --slurm: submit the script with sbatch and print the job id.") var submit = false

    func writeAndSubmit(experiment: Experiment, trials: [Trial], directory: String, executable: String) throws {
        var o = Slurm.Options(shards: min(shards ?? trials.count, max(1, trials.count)))
        o.partition = partition; o.time = time; o.cpusPerTask = cpusPerTask; o.mem = mem
        o.arrayParallelism = arrayParallelism; o.account = account
        let plan = try Diagnostics.file { try Slurm.write(experiment: experiment, trials: trials, directory: directory, executable: executable, options: o) }
        print("\(experiment.name): \(trials.count) trials in \(o.shards) shard(s): wrote \(plan.script)")
        print("every task runs \(executable) on the shared file system; the output directory, the data set and the binary must be visible from the compute nodes")
        guard submit else {
            print("submit with: sbatch \(plan.script)   (or rerun with --submit)")
            return
        }
        do {
            let id = try Slurm.submit(plan, directory: URL(fileURLWithPath: directory).standardizedFileURL.path)
            print("submitted job \(id)")
            print("progress: archlab sweep --status \(directory)   merged report when done: archlab report \(directory)")
        } catch let failure as Slurm.Failure {
            throw Diagnostics.fail(failure.description)
        }
    }
}

/// `archlab report DIR`: writes the report from `DIR/results.sqlite`.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Write a sweep's report from its results.sqlite.")

    @Argument(help: "Sweep directory (with results.sqlite).") var directory: String?
    @Option(help: "Where to write the report (default: the sweep directory).") var out: String?
    @Option(help: ArgumentHelp("Write ROOT/README.md: what every sweep folder in ROOT found, from their journals.", valueName: "ROOT"))
    var index: String?

    func validate() throws {
        if (directory == nil) == (index == nil) { throw ValidationError("give a sweep directory, or --index ROOT") }
    }

    func run() throws {
        if let index {
            let text = try Diagnostics.file { try ReportIndex.render(root: index) }
            try Diagnostics.file { try AtomicFile.write(Data(text.utf8), to: index + "/README.md") }
            print(index + "/README.md")
            return
        }
        guard let directory else { throw ValidationError("give a sweep directory, or --index ROOT") }
        do {
            let written = try ReportWriter.write(try SweepResults.load(directory: directory), to: out ?? directory)
            for w in written { print(w) }
        } catch let failure as SQLiteDatabase.Failure {
            throw Diagnostics.fail(failure.description)
        }
    }
}
