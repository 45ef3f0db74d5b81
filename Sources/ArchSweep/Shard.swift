import ArchFiles
import ArchJSON
import Foundation

/// Shard `index` (1-based) of `count`: the trials whose stable sweep index i has
/// `i % count == index - 1`. Each shard keeps its own journal in DIR/shards/<index>/ so that no
/// SQLite file is written from two machines (SQLite over network file systems is unsafe).
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    /// Parses `K/N` (1 <= K <= N).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 1, k <= n else {
            throw ShardError(message: "--shard expects K/N with 1 <= K <= N (for example 2/4), found '\(text)'")
        }
        index = k
        count = n
    }

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public func contains(_ sweepIndex: Int) -> Bool { sweepIndex % count == index - 1 }

    public var description: String { "\(index)/\(count)" }

    public static func directory(of sweep: String, index: Int) -> String { sweep + "/shards/\(index)" }

    /// The shard journals present in a sweep directory, by shard index.
    public static func journals(in sweep: String) -> [(index: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sweep + "/shards")) ?? []
        return names.compactMap { name in Int(name).map { ($0, directory(of: sweep, index: $0) + "/results.sqlite") } }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
            .sorted { $0.index < $1.index }
    }
}

public struct ShardError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The contents of `progress.json`: written by the runner, read by `archlab sweep --status`.
struct SweepProgressFile: Codable {
    var shard: String?
    var host: String
    var pid: Int
    var updated_at: String
    var statuses: [String: Int]
    var running: [String]
}

/// `progress.json` beside a journal, rewritten atomically when a trial starts or ends: what
/// `archlab sweep --status` reads, so that a login node never opens a journal another machine is
/// writing (a plain file renamed into place is safe on a network file system; SQLite is not).
final class ShardProgress {
    let path: String
    let shard: Shard?
    let journal: Journal

    init(directory: String, shard: Shard?, journal: Journal) {
        path = directory + "/progress.json"
        self.shard = shard
        self.journal = journal
    }

    func write(running: [String]) {
        guard let counts = try? journal.statusCounts() else { return }
        let progress = SweepProgressFile(shard: shard.map { "\($0.index)/\($0.count)" }, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()),
                                         updated_at: Journal.now(),
                                         statuses: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
                                         running: running)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(progress) else { return }
        try? AtomicFile.write(data + Data("\n".utf8), to: path)
    }
}
