import ArchSpec
import ArchTrain
import Foundation

/// Runs a sweep into a directory: validates every trial, records them in the journal, takes the
/// directory's lock, runs pending trials as `archlab train` processes (`jobs` at a time, the cores
/// split between them), records each outcome, and writes the report.
public final class SweepRunner {
    public struct Options: Sendable {
        public var directory: String
        public var jobs = 1
        public var retryFailed = false
        /// Cores to split between jobs.
        public var cores = ProcessInfo.processInfo.activeProcessorCount
        /// With one job, run each trial with `--threads auto` (the cores other processes leave
        /// idle, re-chosen as it trains) instead of a fixed count, so that a build or a second
        /// program slows it instead of stalling it. Off on a Slurm allocation: its node's other
        /// jobs show in the machine's load but not on the allocation's cores.
        public var adaptiveThreads = false
        /// The `archlab` executable that runs a trial.
        public var executable: String
        /// Show the running trial's own progress below the sweep's lines (one job at a time).
        public var echoTrialOutput = false
        /// Run only shard `index` (1-based) of `count`: the trials whose sweep index i has
        /// i % count == index - 1, journaled in DIR/shards/<index>/ (one journal per machine).
        public var shard: Shard?
        public init(directory: String, executable: String) {
            self.directory = directory
            self.executable = executable
        }

        /// Each trial's `--threads`: the cores split between the jobs, or 0 (auto) with
        /// `adaptiveThreads` and one job.
        public var threadsPerTrial: Int { threadsPerTrial(queued: jobs) }

        /// Threads for each trial when `queued` trials are left to run: fewer trials than jobs
        /// share the cores among those that run (the last trial of a sweep is not left with one core).
        public func threadsPerTrial(queued: Int) -> Int {
            let running = max(1, min(jobs, queued))
            return adaptiveThreads && running == 1 ? 0 : max(1, cores / running)
        }
    }

    public let experiment: Experiment
    public let trials: [Trial]
    public let options: Options
    public let log: (String) -> Void
    /// Starts the trials: `ProcessLauncher` (an `archlab train` process each) unless a test sets another.
    public var launcher: any TrialLauncher

    public init(experiment: Experiment, trials: [Trial], options: Options, log: @escaping (String) -> Void) {
        self.experiment = experiment
        self.trials = trials
        self.options = options
        self.log = log
        launcher = ProcessLauncher(executable: options.executable)
    }

    public struct Outcome: Sendable {
        public var completed = 0, failed = 0, diverged = 0, skipped = 0
        /// Trials whose process was stopped by a signal (they run again on the next start).
        public var interrupted = 0

        /// `3 completed, 0 diverged, 1 failed, 0 interrupted, 2 already recorded`.
        public var summary: String {
            "\(completed) completed, \(diverged) diverged, \(failed) failed, \(interrupted) interrupted, \(skipped) already recorded"
        }
        public var stale: [String] = []

        /// Adds a round's counts (adaptive seeds and halving run the sweep in rounds).
        mutating func add(_ round: Outcome) {
            completed += round.completed; failed += round.failed; diverged += round.diverged
            interrupted += round.interrupted; stale = round.stale
        }

        /// Trials of the last round recorded before this run: those it has less those it ran.
        mutating func setSkipped(lastRound count: Int) {
            skipped = max(0, count - completed - failed - diverged - interrupted)
        }
    }

    /// The runner stopped on SIGINT (Ctrl-C) or SIGTERM (a scheduler's notice): the trials it was
    /// running are recorded `interrupted` and run again by the next runner.
    public struct Interrupted: Error, CustomStringConvertible {
        public var signal: Int32
        public var trials: [String]
        public var description: String {
            "\(signal == SIGINT ? "interrupted (SIGINT)" : "stopped by signal \(signal)"): \(trials.count) running trial(s) marked interrupted; run the same command again to continue the sweep"
        }
        /// The shell's convention: 128 + the signal.
        public var exitCode: Int32 { 128 + signal }
    }

    /// Seconds a stopping runner gives its trials after SIGTERM before it kills them.
    static let stopGrace = 5.0

    /// Where this runner's journal and lock live: DIR, or DIR/shards/K for a shard.
    public var journalDirectory: String { options.shard.map { Shard.directory(of: options.directory, index: $0.index) } ?? options.directory }

    public func run() throws -> Outcome { try run(self.trials) }

    /// Runs `subset` of the sweep's trials (adaptive seeds run one round at a time); recorded
    /// trials outside it leave the report until a later round includes them again, silently
    /// when `replaying` (a later round's trials are expected then).
    ///
    /// `journaled` (default: `subset`) are the trials the journal and the report count as the
    /// experiment's; successive halving journals every configuration while it runs fewer.
    public func run(_ subset: [Trial], replaying: Bool = false, stopAfterEpoch: Int? = nil, journaled: [Trial]? = nil) throws -> Outcome {
        let fm = FileManager.default
        try fm.createDirectory(atPath: options.directory + "/trials", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: journalDirectory, withIntermediateDirectories: true)
        let lock = try DirectoryLock(directory: journalDirectory)
        defer { lock.release() }
        let journal = try Journal(path: journalDirectory + "/results.sqlite")
        let trials = options.shard.map { shard in subset.filter { shard.contains($0.index) } } ?? subset
        if let shard = options.shard {
            log("shard \(shard.index)/\(shard.count): \(trials.count) of \(self.trials.count) trials, journal \(journalDirectory)/results.sqlite")
        }
        let progress = ShardProgress(directory: journalDirectory, shard: options.shard, journal: journal)
        var outcome = Outcome()
        let members = options.shard.map { shard in (journaled ?? subset).filter { shard.contains($0.index) } } ?? (journaled ?? subset)
        let (new, stale) = try journal.sync(members)
        outcome.stale = stale
        let recorded = members.count - new.count
        if recorded > 0 && !new.isEmpty { log("\(new.count) new trial(s) added to the \(recorded) already recorded: \(new.map { String($0.prefix(12)) }.joined(separator: ", "))") }
        if !stale.isEmpty && !replaying && experiment.seedPolicy == nil && experiment.halving == nil {
            log("\(stale.count) recorded trial(s) no longer belong to \(experiment.file) and stay out of the report: \(stale.map { String($0.prefix(12)) }.joined(separator: ", "))")
        }
        let restarted = try journal.recoverInterrupted()
        if !restarted.isEmpty { log("restarting \(restarted.count) trial(s) left running or interrupted by a stopped runner") }
        progress.write(running: [])
        defer { progress.write(running: []) }
        var queue: [Trial] = []
        for t in trials {
            let status = try journal.status(t.id) ?? .pending
            if status == .pending || (options.retryFailed && (status == .failed || status == .diverged)) { queue.append(t) }
            else { outcome.skipped += 1 }
        }
        if outcome.skipped > 0 { log("\(outcome.skipped) of \(trials.count) trials already recorded; \(queue.count) to run") }
        // the report's header describes the runner that trains: a resume with nothing to run
        // (on another machine, or after an upgrade) leaves the recorded machine and versions alone
        if try !queue.isEmpty || journal.meta().isEmpty {
            var meta = SweepMetadata.current(experiment: experiment, options: options, queued: queue.count)
            if let shard = options.shard { meta["shard"] = "\(shard.index)/\(shard.count)" }
            try journal.setMeta(meta)
        }
        let threads = options.threadsPerTrial(queued: queue.count)
        var running: [(Trial, any TrialHandle, Date)] = []
        var durations: [Double] = []
        var done = 0
        let total = queue.count
        func eta() -> String {
            guard !durations.isEmpty else { return "unknown" }
            let mean = durations.reduce(0, +) / Double(durations.count)
            let remaining = Double(total - done) * mean / Double(max(1, options.jobs))
            return Self.duration(remaining)
        }
        func collect(_ t: Trial, _ p: any TrialHandle, _ start: Date) throws {
            let dir = options.directory + "/trials/" + t.id
            // Stopped by a signal meant for the whole job (Slurm's requeue or time limit TERMs every
            // process of the job at once, so the trial may die before the runner sees its own
            // signal): not a failure of the trial. It runs again next time.
            if case let .signal(number) = p.exit, [SIGTERM, SIGINT, SIGHUP].contains(number) {
                try journal.interrupt(t.id, reason: "stopped by signal \(number) at \(Journal.now())")
                done += 1
                outcome.interrupted += 1
                log("[\(done)/\(total)] interrupted: \(t.configuration.label), seed \(t.seed) (\(t.id.prefix(12))) stopped by signal \(number); it runs again on the next start")
                progress.write(running: running.map(\.0.id).filter { $0 != t.id })
                return
            }
            let metrics = try? JSONDecoder().decode(RunMetrics.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.json")))
            let status: TrialStatus, error: String?
            switch p.exit {
            case .status(0) where metrics != nil: (status, error) = (.completed, nil)
            case .status(2) where metrics?.diverged == true: (status, error) = (.diverged, metrics?.divergedAt)
            case let .signal(number): (status, error) = (.failed, "killed by signal \(number): " + Self.failureText(trialDirectory: dir))
            case let .status(code): (status, error) = (.failed, "exit code \(code): " + Self.failureText(trialDirectory: dir))
            }
            try journal.finish(t.id, status: status, metrics: status == .failed ? nil : metrics, error: error)
            done += 1
            durations.append(Date().timeIntervalSince(start))
            switch status {
            case .completed: outcome.completed += 1
            case .diverged: outcome.diverged += 1
            default: outcome.failed += 1
            }
            progress.write(running: running.map(\.0.id).filter { $0 != t.id })
            let accuracy = metrics?.testAccuracy.map { String(format: "test accuracy %.4f", $0) } ?? (error ?? "")
            log("[\(done)/\(total)] \(status): \(t.configuration.label), seed \(t.seed) (\(t.id.prefix(12))) \(accuracy); sweep ETA \(eta())")
        }
        let stop = StopSignals()
        defer { stop.restore() }
        var next = 0
        while next < queue.count || !running.isEmpty {
            if let signal = stop.received {
                // Trials ignore SIGINT (see `actAsTrial`): stop them ourselves, TERM first.
                for entry in running where entry.1.isRunning { entry.1.terminate() }
                let deadline = Date().addingTimeInterval(Self.stopGrace)
                while running.contains(where: { $0.1.isRunning }), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
                for entry in running where entry.1.isRunning { entry.1.kill() }
                let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
                for entry in running { try journal.interrupt(entry.0.id, reason: "interrupted by \(name) at \(Journal.now())") }
                let stopped = Interrupted(signal: signal, trials: running.map(\.0.id))
                log(stopped.description)
                throw stopped
            }
            while next < queue.count, running.count < options.jobs {
                let t = queue[next]
                next += 1
                let dir = options.directory + "/trials/" + t.id
                try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let args = try trialCommand(t, threads: threads, out: dir, stopAfterEpoch: stopAfterEpoch)
                try (([options.executable] + args).map(Self.shellQuote).joined(separator: " ") + "\n").write(toFile: dir + "/command.txt", atomically: true, encoding: .utf8)
                try journal.markRunning(t.id)
                log("[\(done + running.count + 1)/\(total)] running: \(t.configuration.label), seed \(t.seed) (\(t.id.prefix(12))), \(threads == 0 ? "threads auto" : "\(threads) thread(s)"); log \(dir)/log.txt; sweep ETA \(eta())")
                running.append((t, try launcher.launch(arguments: args, directory: dir, echo: options.echoTrialOutput && options.jobs == 1), Date()))
                progress.write(running: running.map(\.0.id))
            }
            Thread.sleep(forTimeInterval: 0.2)
            var still: [(Trial, any TrialHandle, Date)] = []
            for entry in running {
                if entry.1.isRunning { still.append(entry) } else { try collect(entry.0, entry.1, entry.2) }
            }
            running = still
        }
        return outcome
    }

    /// `4m05s` or `1h12m`.
    public static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, t / 60 % 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}

