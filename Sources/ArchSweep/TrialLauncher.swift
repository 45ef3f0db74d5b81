import Foundation

/// How a trial's process ended.
public enum TrialExit: Sendable, Equatable {
    /// It exited with this status.
    case status(Int32)
    /// A signal stopped it.
    case signal(Int32)
}

/// One running trial as the scheduler sees it.
public protocol TrialHandle: AnyObject {
    var isRunning: Bool { get }
    /// How it ended; read once `isRunning` is false.
    var exit: TrialExit { get }
    /// Asks it to stop (SIGTERM).
    func terminate()
    /// Stops it now (SIGKILL) and waits for the end.
    func kill()
}

/// Starts trials. The runner talks to trials only through this, so that the scheduling (jobs at
/// a time, recording outcomes, stopping on a signal) is tested with a launcher that starts no
/// process; `ProcessLauncher` is the real one.
public protocol TrialLauncher {
    /// Starts `archlab train` with `arguments` for the trial whose directory is `directory`
    /// (which holds its log); `echo` also copies its output to the terminal.
    func launch(arguments: [String], directory: String, echo: Bool) throws -> any TrialHandle
}

/// Runs each trial as an `archlab train` child process: output and errors into `DIR/log.txt`, the
/// errors it reports also into `DIR/error.txt`, and the runner's pid in its environment.
public struct ProcessLauncher: TrialLauncher {
    public var executable: String

    public init(executable: String) { self.executable = executable }

    public func launch(arguments: [String], directory dir: String, echo: Bool) throws -> any TrialHandle {
        let fm = FileManager.default
        _ = fm.createFile(atPath: dir + "/log.txt", contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/log.txt"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = SweepRunner.childEnvironment(arguments: arguments)
        environment[SweepRunner.errorFileVariable] = dir + "/error.txt"
        try? fm.removeItem(atPath: dir + "/error.txt")  // a previous attempt's
        process.environment = environment
        process.standardError = logHandle
        if echo {
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
        try process.run()
        return ProcessHandle(process: process)
    }
}

/// A `Process` as a `TrialHandle`.
final class ProcessHandle: TrialHandle {
    let process: Process
    init(process: Process) { self.process = process }
    var isRunning: Bool { process.isRunning }
    var exit: TrialExit {
        process.terminationReason == .uncaughtSignal ? .signal(process.terminationStatus) : .status(process.terminationStatus)
    }
    func terminate() { process.terminate() }
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
