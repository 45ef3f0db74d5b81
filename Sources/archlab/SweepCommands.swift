import ArchGraph
import ArchSpec
import ArchSweep
import ArgumentParser
import Foundation

/// `archlab sweep EXP.yaml`: runs (or lists, with --dry-run) every trial of an experiment.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run an experiment's trials (resuming a stopped sweep) and write the report.")

    @Argument(help: "Experiment file (YAML).") var file: String
    @Option(help: "Output directory (default: reports/<experiment name>).") var out: String?
    @Option(help: "Trials to run at once; the cores are split between them.") var jobs = 1
    @Flag(help: "List the trials with params, MACs and a measured time estimate; run nothing.") var dryRun = false
    @Flag(help: "Run failed and diverged trials again.") var retryFailed = false

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let experiment = try Diagnostics.run { try Experiment.load(file) }
        let trials = try Diagnostics.run { try experiment.trials() }
        let directory = out ?? "reports/\(experiment.name)"
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if dryRun {
            let estimates = try Diagnostics.run { try Calibration.estimate(trials, threads: max(1, cores / jobs)) }
            print("\(experiment.name): \(trials.count) trials (\(experiment.configurations.count) configurations x \(experiment.seeds.count) seeds), strategy \(experiment.strategy.rawValue), into \(directory)")
            print("  #  id            configuration                             seed        params            MACs   estimate")
            var total = 0.0
            for t in trials {
                let e = estimates[t.id]!
                total += e.trialSeconds
                let label = t.configuration.label.count > 40 ? String(t.configuration.label.prefix(39)) + "…" : t.configuration.label
                print(String(format: "%3d  %@  %@ %4d %13@ %15@ %10@", t.index + 1, String(t.id.prefix(12)), label.padding(toLength: 40, withPad: " ", startingAt: 0),
                             Int(t.seed), Count.grouped(t.params), Count.grouped(t.macs), SweepRunner.duration(e.trialSeconds)))
            }
            print("total estimate: \(SweepRunner.duration(total / Double(jobs))) with --jobs \(jobs) (measured: a few training steps of each network on this machine)")
            return
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var options = SweepRunner.Options(directory: directory, executable: executable)
        options.jobs = jobs
        options.retryFailed = retryFailed
        options.cores = cores
        options.echoTrialOutput = isatty(STDOUT_FILENO) != 0
        print("\(experiment.name): \(trials.count) trials into \(directory) (all \(experiment.configurations.count) networks built and shape-checked)")
        let runner = SweepRunner(experiment: experiment, trials: trials, options: options) { print($0); fflush(stdout) }
        let outcome: SweepRunner.Outcome
        do {
            outcome = try runner.run()
        } catch let busy as DirectoryLock.Busy {
            throw Diagnostics.fail(busy.description)
        } catch let failure as SQLiteDatabase.Failure {
            throw Diagnostics.fail(failure.description)
        } catch let stopped as SweepRunner.Interrupted {
            throw ExitCode(stopped.exitCode)
        }
        let written = try Diagnostics.file { try ReportWriter.write(try SweepResults.load(directory: directory), to: directory) }
        print("\(outcome.completed) completed, \(outcome.diverged) diverged, \(outcome.failed) failed, \(outcome.skipped) already recorded")
        print("report: \(written.first ?? directory)")
        if outcome.failed > 0 { throw ExitCode(1) }
    }
}

/// `archlab report DIR`: writes the report from `DIR/results.sqlite`.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Write a sweep's report from its results.sqlite.")

    @Argument(help: "Sweep directory (with results.sqlite).") var directory: String
    @Option(help: "Where to write the report (default: the sweep directory).") var out: String?

    func run() throws {
        do {
            let written = try ReportWriter.write(try SweepResults.load(directory: directory), to: out ?? directory)
            for w in written { print(w) }
        } catch let failure as SQLiteDatabase.Failure {
            throw Diagnostics.fail(failure.description)
        }
    }
}
