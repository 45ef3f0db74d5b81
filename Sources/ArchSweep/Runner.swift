import ArchSpec
import ArchTensor
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
    }

    public let experiment: Experiment
    public let trials: [Trial]
    public let options: Options
    public let log: (String) -> Void

    public init(experiment: Experiment, trials: [Trial], options: Options, log: @escaping (String) -> Void) {
        self.experiment = experiment
        self.trials = trials
        self.options = options
        self.log = log
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

    /// The arguments of `archlab train` for a trial.
    public func arguments(_ t: Trial, threads: Int, out: String, stopAfterEpoch: Int? = nil) -> [String] {
        let c = t.training
        var a = ["train", t.architecture]
        for o in t.overrides { a += ["--set", o] }
        a += ["--data", c.data, "--epochs", String(c.epochs), "--batch-size", String(c.batchSize), "--optimizer", c.optimizer.kind.rawValue,
              "--lr", String(c.lr), "--momentum", String(c.optimizer.momentum), "--weight-decay", String(c.optimizer.weightDecay),
              "--schedule", c.schedule.kind.rawValue, "--step-size", String(c.schedule.stepSize), "--gamma", String(c.schedule.gamma),
              "--warmup", String(c.schedule.warmupEpochs), "--label-smoothing", String(c.labelSmoothing),
              "--validation", String(c.validationFraction), "--pad-crop", String(c.padCrop), "--seed", String(t.seed),
              "--threads", String(threads), "--out", out, "--resume"]
        if c.optimizer.nesterov { a.append("--nesterov") }
        if c.optimizer.decayNormsAndBiases == false { a.append("--no-decay-norms-and-biases") }
        if c.horizontalFlip { a.append("--flip") }
        if c.randomResizedCrop { a.append("--random-resized-crop") }
        if c.skipBadImages { a.append("--skip-bad-images") }
        if let n = c.resizeShorter { a += ["--resize-shorter", String(n)] }
        if let path = c.initFrom { a += ["--init-from", path] }
        if c.freezeLoaded { a.append("--freeze-loaded") }
        if let r = c.resize { a += ["--resize", String(r)] }
        if let e = stopAfterEpoch { a += ["--stop-after-epoch", String(e)] }
        if experiment.tensorboard { a += ["--tensorboard", options.directory + "/tensorboard/" + Self.tensorBoardRun(t)] }
        if let n = c.limitTrain { a += ["--limit-train", String(n)] }
        if let n = c.limitTest { a += ["--limit-test", String(n)] }
        if !c.mean.isEmpty { a += ["--mean", c.mean.map { String($0) }.joined(separator: ",")] }
        if !c.std.isEmpty { a += ["--std", c.std.map { String($0) }.joined(separator: ",")] }
        return a
    }

    /// A trial's TensorBoard run name: its varied values and seed, `key=value,...,seed=N`, with
    /// paths shortened to their file stem and characters other than letters, digits and `._=-+`
    /// replaced by `_` (a folder name that shells and TensorBoard's run selector show as is).
    static func tensorBoardRun(_ t: Trial) -> String {
        let varied = t.configuration.varied.map { v -> String in
            let value = v.value.contains("/") ? URL(fileURLWithPath: v.value).deletingPathExtension().lastPathComponent : v.value
            return "\(v.key)=\(value)"
        }
        let name = (varied.isEmpty ? [t.configuration.label] : varied) + ["seed=\(t.seed)"]
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=-+")
        return String(name.joined(separator: ",").map { allowed.contains($0) || $0 == "," ? $0 : "_" })
    }

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
            let status = try journal.status(t.id) ?? "pending"
            if status == "pending" || (options.retryFailed && (status == "failed" || status == "diverged")) { queue.append(t) }
            else { outcome.skipped += 1 }
        }
        if outcome.skipped > 0 { log("\(outcome.skipped) of \(trials.count) trials already recorded; \(queue.count) to run") }
        // the report's header describes the runner that trains: a resume with nothing to run
        // (on another machine, or after an upgrade) leaves the recorded machine and versions alone
        if try !queue.isEmpty || journal.meta().isEmpty {
            var meta = SweepMetadata.current(experiment: experiment, jobs: options.jobs, cores: options.cores)
            if let shard = options.shard { meta["shard"] = "\(shard.index)/\(shard.count)" }
            try journal.setMeta(meta)
        }
        let threads = max(1, options.cores / max(1, options.jobs))
        var running: [(Trial, Process, Date)] = []
        var durations: [Double] = []
        var done = 0
        let total = queue.count
        func eta() -> String {
            guard !durations.isEmpty else { return "unknown" }
            let mean = durations.reduce(0, +) / Double(durations.count)
            let remaining = Double(total - done) * mean / Double(max(1, options.jobs))
            return Self.duration(remaining)
        }
        func collect(_ t: Trial, _ p: Process, _ start: Date) throws {
            let dir = options.directory + "/trials/" + t.id
            // Stopped by a signal meant for the whole job (Slurm's requeue or time limit TERMs every
            // process of the job at once, so the trial may die before the runner sees its own
            // signal): not a failure of the trial. It runs again next time.
            if p.terminationReason == .uncaughtSignal, [SIGTERM, SIGINT, SIGHUP].contains(p.terminationStatus) {
                try journal.interrupt(t.id, reason: "stopped by signal \(p.terminationStatus) at \(Journal.now())")
                done += 1
                outcome.interrupted += 1
                log("[\(done)/\(total)] interrupted: \(t.configuration.label), seed \(t.seed) (\(t.id.prefix(12))) stopped by signal \(p.terminationStatus); it runs again on the next start")
                progress.write(running: running.map(\.0.id).filter { $0 != t.id })
                return
            }
            let metrics = try? JSONDecoder().decode(RunMetrics.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.json")))
            let status: String, error: String?
            switch p.terminationStatus {
            case 0 where metrics != nil: (status, error) = ("completed", nil)
            case 2 where metrics?.diverged == true: (status, error) = ("diverged", metrics?.divergedAt)
            default:
                status = "failed"
                let reason = p.terminationReason == .uncaughtSignal ? "killed by signal \(p.terminationStatus)" : "exit code \(p.terminationStatus)"
                error = "\(reason): " + Self.failureText(trialDirectory: dir)
            }
            try journal.finish(t.id, status: status, metrics: status == "failed" ? nil : metrics, error: error)
            done += 1
            durations.append(Date().timeIntervalSince(start))
            switch status {
            case "completed": outcome.completed += 1
            case "diverged": outcome.diverged += 1
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
                for entry in running where entry.1.isRunning { kill(entry.1.processIdentifier, SIGKILL); entry.1.waitUntilExit() }
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
                let args = arguments(t, threads: threads, out: dir, stopAfterEpoch: stopAfterEpoch)
                try (([options.executable] + args).map(Self.shellQuote).joined(separator: " ") + "\n").write(toFile: dir + "/command.txt", atomically: true, encoding: .utf8)
                _ = fm.createFile(atPath: dir + "/log.txt", contents: nil)
                let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/log.txt"))
                let process = Process()
                process.executableURL = URL(fileURLWithPath: options.executable)
                process.arguments = args
                var environment = Self.childEnvironment
                environment[Self.errorFileVariable] = dir + "/error.txt"
                try? fm.removeItem(atPath: dir + "/error.txt")  // a previous attempt's
                process.environment = environment
                process.standardError = logHandle
                if options.echoTrialOutput && options.jobs == 1 {
                    // the trial's progress bar on the terminal, and its lines in the log
                    let pipe = Pipe()
                    process.standardOutput = pipe
                    pipe.fileHandleForReading.readabilityHandler = { handle in
                        let data = handle.availableData
                        guard !data.isEmpty else { handle.readabilityHandler = nil; return }
                        logHandle.write(data)
                        FileHandle.standardOutput.write(data)
                    }
                } else {
                    process.standardOutput = logHandle
                }
                try journal.markRunning(t.id)
                log("[\(done + running.count + 1)/\(total)] running: \(t.configuration.label), seed \(t.seed) (\(t.id.prefix(12))), \(threads) thread(s); log \(dir)/log.txt; sweep ETA \(eta())")
                try process.run()
                running.append((t, process, Date()))
                progress.write(running: running.map(\.0.id))
            }
            Thread.sleep(forTimeInterval: 0.2)
            var still: [(Trial, Process, Date)] = []
            for entry in running {
                if entry.1.isRunning { still.append(entry) } else { try collect(entry.0, entry.1, entry.2) }
            }
            running = still
        }
        return outcome
    }

    /// A trial's environment: the runner's, plus the note that makes `archlab train` ignore SIGINT.
    /// A Ctrl-C on the terminal reaches the whole process group; the runner alone decides what
    /// happens to its trials (TERM, then KILL after `stopGrace`), so none dies half-recorded.
    static var childEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env[trialVariable] = String(getpid())
        return env
    }

    /// The file (set per trial) where `archlab train` also writes the errors it reports, so that a
    /// failed trial's recorded reason is the error itself and not the progress lines before it.
    public static let errorFileVariable = "ARCHLAB_TRIAL_ERROR_FILE"

    /// A failed trial's reason: the errors it wrote to `error.txt`, else the last lines of its log.
    public static func failureText(trialDirectory dir: String) -> String {
        func lines(_ file: String) -> [Substring] {
            ((try? String(contentsOfFile: dir + "/" + file, encoding: .utf8)) ?? "")
                .split(whereSeparator: { $0 == "\n" || $0 == "\r" }).filter { !$0.allSatisfy(\.isWhitespace) }
        }
        let errors = lines("error.txt")
        return (errors.isEmpty ? lines("log.txt").suffix(3) : errors.prefix(6)).joined(separator: " | ")
    }

    /// Set (to the runner's pid) for trials started by a sweep runner.
    public static let trialVariable = "ARCHLAB_SWEEP_TRIAL"

    /// Called by `archlab train` first thing: when started by a sweep runner, ignore SIGINT (the
    /// runner stops its trials itself) and exit as soon as the runner is gone (kill -9 of the
    /// runner must not leave a trial writing into a directory the next runner reuses).
    public static func actAsTrial(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let value = environment[trialVariable], let runner = Int32(value) else { return }
        signal(SIGINT, SIG_IGN)
        let watch = Thread {
            while getppid() == runner { Thread.sleep(forTimeInterval: 0.25) }
            FileHandle.standardError.write(Data("sweep runner \(runner) is gone: stopping this trial\n".utf8))
            _exit(3)
        }
        watch.start()
    }

    static func shellQuote(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=,:".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `4m05s` or `1h12m`.
    public static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, t / 60 % 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}

/// SIGINT and SIGTERM caught for the duration of a sweep's trial loop (the default actions are
/// restored after: a signal during the report just ends the process; report files are atomic).
final class StopSignals: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var first: Int32?

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in self.lock.withLock { if self.first == nil { self.first = number } } }
            source.resume()
            sources.append(source)
        }
    }

    /// The first signal received, if any.
    var received: Int32? { lock.withLock { first } }

    func restore() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// One runner per directory: an exclusive `flock` on `DIR/lock`, released by the kernel when the
/// process dies (a lock left by a dead runner is simply taken over).
public final class DirectoryLock {
    let fd: Int32

    public struct Busy: Error, CustomStringConvertible {
        public var directory: String, holder: String
        public var description: String { "\(directory): another sweep runner (\(holder)) is working in this directory; wait for it or stop it" }
    }

    public init(directory: String) throws {
        let path = directory + "/lock"
        fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw SQLiteDatabase.Failure(message: "\(path): cannot open the lock file") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
            close(fd)
            throw Busy(directory: directory, holder: holder.isEmpty ? "unknown" : holder)
        }
        ftruncate(fd, 0)
        let text = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName)\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
    }

    public func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

/// What the report header records about where a sweep ran.
public enum SweepMetadata {
    public static func current(experiment: Experiment, jobs: Int, cores: Int) -> [String: String] {
        var meta = ["experiment": experiment.name, "experiment_file": experiment.file, "host": ProcessInfo.processInfo.hostName,
                    "cores": String(cores), "jobs": String(jobs), "os": ProcessInfo.processInfo.operatingSystemVersionString,
                    "threads_per_trial": String(max(1, cores / max(1, jobs))), "strategy": experiment.strategy.rawValue]
        if let doc = experiment.doc { meta["doc"] = doc }
        // the working directory's repository, when it is ArchLab's own checkout
        if let top = shell("git rev-parse --show-toplevel 2>/dev/null"), FileManager.default.fileExists(atPath: top + "/Sources/ArchSweep/Runner.swift"),
           let commit = shell("git rev-parse --short HEAD 2>/dev/null") {
            // tracked files changed since that commit: the commit alone does not say what ran
            let modified = shell("git status --porcelain --untracked-files=no -- ':/Sources' ':/Package.swift' 2>/dev/null") != nil
            meta["commit"] = commit + (modified ? " with uncommitted changes to Sources" : "")
        } else {
            meta["commit"] = "unknown"
        }
        meta["engine"] = ComputeLibraries.description
        meta["swift"] = shell("swift --version 2>/dev/null | head -n 1") ?? "unknown"
        meta["cpu"] = shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2") ?? "unknown"
        return meta
    }

    static func shell(_ command: String) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
