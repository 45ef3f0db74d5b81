import Foundation
import Synchronization

/// The first stop signal received while `StopSignals` is installed (0: none). A global so that the
/// C signal handler can reach it without capturing anything; an atomic store is async-signal-safe.
private let firstStopSignal = Atomic<Int32>(0)

/// SIGINT and SIGTERM caught for the duration of a sweep's trial loop (the previous actions are
/// restored after: a signal during the report just ends the process; report files are atomic).
///
/// A real `sigaction` handler, not a dispatch signal source: on Linux a dispatch source needs the
/// signal set to `SIG_IGN`, and the kernel discards an ignored signal before the source can read it
/// unless every thread blocks it, so a runner started in the background (`nohup archlab sweep ... &`)
/// never saw `kill -TERM`. The handler also overrides a `SIG_IGN` inherited from the shell (a
/// non-interactive shell starts `&` jobs with SIGINT ignored): an explicit signal to the runner stops it.
final class StopSignals: Sendable {
    private static let numbers = [SIGINT, SIGTERM]
    private nonisolated(unsafe) var previous: [sigaction] = []

    init() {
        firstStopSignal.store(0, ordering: .relaxed)
        // a mask inherited from the parent (a test harness, a job launcher) would hold them back
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for number in Self.numbers {
            sigaddset(&unblock, number)
            var action = sigaction()
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            #if canImport(Darwin)
            action.__sigaction_u.__sa_handler = { number in _ = firstStopSignal.compareExchange(expected: 0, desired: number, ordering: .relaxed) }
            #else
            action.__sigaction_handler.sa_handler = { number in _ = firstStopSignal.compareExchange(expected: 0, desired: number, ordering: .relaxed) }
            #endif
            var old = sigaction()
            sigaction(number, &action, &old)
            previous.append(old)
        }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }

    /// The first signal received, if any.
    var received: Int32? {
        let number = firstStopSignal.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    /// Puts back the actions found at `init` (the default ones, or those a shell set).
    func restore() {
        for (number, old) in zip(Self.numbers, previous) {
            var old = old
            sigaction(number, &old, nil)
        }
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

