import Foundation
import Synchronization

/// SIGINT and SIGTERM caught for the duration of a sweep's trial loop (the default actions are
/// restored after: a signal during the report just ends the process; report files are atomic).
final class StopSignals: Sendable {
    /// Set in `init`, cancelled in `restore()`, both on the runner's thread (dispatch sources
    /// are not Sendable, but these are never touched elsewhere).
    private nonisolated(unsafe) var sources: [any DispatchSourceSignal] = []
    private let first = Mutex<Int32?>(nil)

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in first.withLock { if $0 == nil { $0 = number } } }
            source.resume()
            sources.append(source)
        }
    }

    /// The first signal received, if any.
    var received: Int32? { first.withLock { $0 } }

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

