import Foundation

/// Writes a file so that a crash leaves either the old or the new contents: temporary file in the
/// same directory, fsync, rename, fsync of the directory.
public enum AtomicFile {
    /// A write that did not happen; the file at `path` is as it was.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var path: String, message: String
        public var description: String { "\(path): \(message)" }
    }

    /// The temporary file `write` uses for `path` in this process.
    static func temporaryPath(for path: String, pid: Int32 = getpid()) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".tmp-\(pid)"
    }

    /// Removes temporary files left in `directory` by writes whose process died between writing
    /// and renaming (the files they were to replace are intact). Files of live processes stay.
    /// Returns the names removed.
    @discardableResult
    public static func removeLeftovers(in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(".") {
            guard let marker = name.range(of: ".tmp-", options: .backwards), let pid = Int32(name[marker.upperBound...]) else { continue }
            let alive = pid == getpid() || kill(pid, 0) == 0 || errno == EPERM
            guard !alive else { continue }
            if (try? FileManager.default.removeItem(atPath: directory + "/" + name)) != nil { removed.append(name) }
        }
        return removed
    }

    /// Writes `data` to a temporary file beside `path`, fsyncs it, renames it over `path` and
    /// fsyncs the directory: a crash leaves either the old file or the new one, never a mix.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let temporary = temporaryPath(for: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw Failure(path: path, message: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        // write everything, then fsync; any failure (ENOSPC, EIO) removes the temporary file
        var failure: String?
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            guard let start = bytes.baseAddress else { return }  // (nothing to write)
            var offset = 0
            while offset < bytes.count {
                let n = Foundation.write(fd, start + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0, failure == nil { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw Failure(path: path, message: "write failed: \(failure)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(path: path, message: "rename failed: \(reason)")
        }
        let directory = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if directory >= 0 { fsync(directory); close(directory) }
    }
}
