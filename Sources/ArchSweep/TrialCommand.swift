import ArchJSON
import ArchFiles
import ArchSpec
import ArchTrain
import Foundation

/// The trial's side of a sweep: the `archlab train` command line the runner gives each trial,
/// its environment, and what the trial process does when a runner started it.
extension SweepRunner {
    /// The trial's settings file in its directory, `archlab train --config` reads it.
    public static let settingsFile = "settings.json"

    /// Writes the trial's settings (its `TrainingConfig`, every setting spelled once, as
    /// config.json spells them) to `out/settings.json` and returns the arguments of `archlab train`
    /// that run it there: the settings file, plus what is the runner's to decide (threads, the
    /// run directory, resuming, TensorBoard, stopping at a rung).
    public func trialCommand(_ t: Trial, threads: Int, out: String, stopAfterEpoch: Int? = nil) throws -> [String] {
        var settings = t.training
        settings.seed = t.seed
        settings.threads = threads
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try AtomicFile.write(Data((settings.jsonValue.text(.pretty(indent: 2)) + "\n").utf8), to: out + "/" + Self.settingsFile)
        var a = ["train", t.architecture, "--config", out + "/" + Self.settingsFile, "--threads", threads == 0 ? "auto" : String(threads),
                 "--out", out, "--resume"]
        if let e = stopAfterEpoch { a += ["--stop-after-epoch", String(e)] }
        if experiment.tensorboard { a += ["--tensorboard", options.directory + "/tensorboard/" + Self.tensorBoardRun(t)] }
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

    /// A trial's environment: the runner's, plus the note that makes `archlab train` ignore SIGINT.
    /// A Ctrl-C on the terminal reaches the whole process group; the runner alone decides what
    /// happens to its trials (TERM, then KILL after `stopGrace`), so none dies half-recorded.
    ///
    /// A trial with a fixed count of several threads also gets `OMP_WAIT_POLICY=PASSIVE` unless
    /// the runner's environment sets a policy: it shares the machine with its other trials and
    /// with whatever else runs, and libgomp's default spin-waiting collapses a multi-threaded
    /// trial when another process holds a core (LeNet, 2 threads, both cores busy: 1.9-2.1k
    /// images/s spinning, 4.6-5.5k passive; idle: 12.7-15.0k and 11.5-12.1k). A trial with
    /// `--threads auto` (one job) does not: its thread governor leaves busy cores alone, and
    /// passive waiting only slowed it (a 1-epoch LeNet trial took about 1.3 s longer in a sweep
    /// than typed by hand, `bench/sweep_overhead.py`); nor does a one-thread trial, which has no
    /// team to wait for. The policy changes how threads wait, not what they compute.
    static func childEnvironment(arguments: [String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env[trialVariable] = String(getpid())
        let threads = arguments.firstIndex(of: "--threads").flatMap { i in i + 1 < arguments.count ? arguments[i + 1] : nil }
            .flatMap(TrainingSetting.Kind.threads) ?? 0
        if threads > 1, env["OMP_WAIT_POLICY"] == nil { env["OMP_WAIT_POLICY"] = "PASSIVE" }
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

}
