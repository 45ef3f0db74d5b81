import ArchJSON
import ArchSpec
import ArchTrain
import Foundation

/// Where a trial stands in the journal: the one list of statuses (the table's CHECK constraint is
/// written from it).
public enum TrialStatus: String, CaseIterable, Sendable {
    case pending, running, completed, failed, diverged, interrupted

    /// The status recorded in a journal row (`pending` for a row without one).
    public init(row: [String: SQLiteDatabase.Value]) { self = row["status"]?.string.flatMap(TrialStatus.init(rawValue:)) ?? .pending }
}

/// One row of the journal's `trials` table, decoded once.
public struct TrialRecord: Sendable {
    public var id: String
    public var sweepIndex: Int
    public var configuration: String
    public var configurationIndex: Int
    /// The varied values as the journal wrote them (`{"key": "value", ...}`).
    public var varied: String
    public var isBaseline: Bool
    public var architecture: String
    public var status: TrialStatus
    public var seed: Int
    /// The resolved configuration as canonical JSON (what the id hashes).
    public var config: String
    public var params: Int?, macs: Int?
    public var testAccuracy: Double?, bestEpoch: Int?, trainSeconds: Double?
    public var startedAt: String?, finishedAt: String?, error: String?
    public var inExperiment: Bool
    public var resumedEpochs: Int?
    /// Every column as stored (`results.csv` writes them as they are).
    public var columns: [String: SQLiteDatabase.Value]

    public init(row: [String: SQLiteDatabase.Value]) {
        id = row["id"]?.string ?? ""
        sweepIndex = row["sweep_index"]?.int ?? 0
        configuration = row["configuration"]?.string ?? ""
        configurationIndex = row["configuration_index"]?.int ?? 0
        varied = row["varied"]?.string ?? "{}"
        isBaseline = row["is_baseline"]?.int == 1
        architecture = row["architecture"]?.string ?? ""
        status = TrialStatus(row: row)
        seed = row["seed"]?.int ?? 0
        config = row["config"]?.string ?? ""
        params = row["params"]?.int
        macs = row["macs"]?.int
        testAccuracy = row["test_accuracy"]?.double
        bestEpoch = row["best_epoch"]?.int
        trainSeconds = row["train_seconds"]?.double
        startedAt = row["started_at"]?.string
        finishedAt = row["finished_at"]?.string
        error = row["error"]?.string
        inExperiment = row["in_experiment"]?.int != 0
        resumedEpochs = row["resumed_epochs"]?.int
        columns = row
    }
}

/// The sweep's results in `DIR/results.sqlite`: table `trials` (one row per trial id) and table
/// `epochs` (per-epoch metrics), plus `meta` (experiment, machine, versions). Every change is one
/// transaction; SQLite's WAL journal with full synchronous writes keeps the file consistent when
/// the process is killed.
public final class Journal {
    public let database: SQLiteDatabase

    public static let schema = """
    CREATE TABLE IF NOT EXISTS trials(
      id TEXT PRIMARY KEY, sweep_index INTEGER NOT NULL, configuration TEXT NOT NULL, configuration_index INTEGER NOT NULL,
      varied TEXT NOT NULL, is_baseline INTEGER NOT NULL DEFAULT 0, architecture TEXT NOT NULL,
      status TEXT NOT NULL CHECK(status IN (\(TrialStatus.allCases.map { "'\($0.rawValue)'" }.joined(separator: ",")))),
      seed INTEGER NOT NULL, config TEXT NOT NULL, params INTEGER, macs INTEGER, input TEXT,
      test_accuracy REAL, best_epoch INTEGER, train_seconds REAL, images_per_second REAL,
      started_at TEXT, finished_at TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
      in_experiment INTEGER NOT NULL DEFAULT 1, resumed_epochs INTEGER);
    CREATE TABLE IF NOT EXISTS epochs(
      trial_id TEXT NOT NULL REFERENCES trials(id), epoch INTEGER NOT NULL, lr REAL, train_loss REAL, train_accuracy REAL,
      validation_accuracy REAL, test_loss REAL, test_accuracy REAL, seconds REAL, load_average REAL, cpu_share REAL,
      PRIMARY KEY(trial_id, epoch));
    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE IF NOT EXISTS layers(
      configuration_index INTEGER NOT NULL, position INTEGER NOT NULL, path TEXT NOT NULL, output TEXT NOT NULL,
      PRIMARY KEY(configuration_index, position));
    CREATE TABLE IF NOT EXISTS modules(
      configuration_index INTEGER NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL, params INTEGER NOT NULL, macs INTEGER NOT NULL,
      PRIMARY KEY(configuration_index, position));
    """

    public init(path: String) throws {
        database = try SQLiteDatabase(path: path)
        try database.execute(Self.schema)
        try migrate()
    }

    /// Journals written before the `interrupted` status existed get the current CHECK constraint
    /// (SQLite cannot alter one: the table is rebuilt in one transaction).
    func migrate() throws {
        // journals from before the machine's load was recorded get its columns (empty for old epochs)
        let epochColumns = Set(try database.query("PRAGMA table_info(epochs)").compactMap { $0["name"]?.string })
        for column in ["load_average", "cpu_share"] where !epochColumns.contains(column) {
            try database.execute("ALTER TABLE epochs ADD COLUMN \(column) REAL")
        }
        let trialColumns = Set(try database.query("PRAGMA table_info(trials)").compactMap { $0["name"]?.string })
        if !trialColumns.isEmpty, !trialColumns.contains("resumed_epochs") {
            try database.execute("ALTER TABLE trials ADD COLUMN resumed_epochs INTEGER")
        }
        let sql = try database.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'trials'").first?["sql"]?.string ?? ""
        guard !sql.contains("'interrupted'") else { return }
        // SQLite's procedure: create the new table, copy, drop the old one, rename the new one
        guard let end = Self.schema.range(of: ";")?.upperBound else { preconditionFailure("the journal schema starts with the trials table's CREATE statement") }
        let create = String(Self.schema[..<end])
            .replacingOccurrences(of: "CREATE TABLE IF NOT EXISTS trials(", with: "CREATE TABLE trials_new(")
        // (foreign keys off meanwhile: `epochs` references `trials`; they are checked again after)
        try database.execute("PRAGMA foreign_keys=OFF")
        defer { try? database.execute("PRAGMA foreign_keys=ON") }
        try database.transaction {
            try database.execute(create)
            try database.execute("INSERT INTO trials_new SELECT * FROM trials")
            try database.execute("DROP TABLE trials")
            try database.execute("ALTER TABLE trials_new RENAME TO trials")
            let broken = try database.query("PRAGMA foreign_key_check")
            if !broken.isEmpty { throw SQLiteDatabase.Failure(message: "\(database.path): \(broken.count) rows refer to missing trials after the migration") }
        }
    }

    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    public func setMeta(_ values: [String: String]) throws {
        try database.transaction {
            for (k, v) in values { try database.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", [.text(k), .text(v)]) }
        }
    }

    public func meta() throws -> [String: String] {
        var out: [String: String] = [:]
        for row in try database.query("SELECT key, value FROM meta") { out[row["key"]?.string ?? ""] = row["value"]?.string }
        return out
    }

    /// Inserts trials not yet recorded as pending; returns the new ids and the recorded ids that
    /// are not part of `trials` (the experiment changed).
    public func sync(_ trials: [Trial]) throws -> (new: [String], stale: [String]) {
        try database.transaction {
            let recorded = Set(try database.query("SELECT id FROM trials").compactMap { $0["id"]?.string })
            var new: [String] = []
            for t in trials where !recorded.contains(t.id) {
                let varied = JSONValue.object(t.configuration.varied.map { ($0.key, .string($0.value)) }).text(.spaced)
                try database.execute("""
                    INSERT INTO trials(id, sweep_index, configuration, configuration_index, varied, is_baseline, architecture, status, seed,
                                       config, params, macs, input)
                    VALUES(?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)
                    """, [.text(t.id), .integer(t.index), .text(t.configuration.label), .integer(t.configurationIndex), .text(varied),
                          .integer(t.configuration.isBaseline ? 1 : 0), .text(t.architecture), .integer(Int(t.seed)), .text(t.configJSON),
                          .integer(t.params), .integer(t.macs), .text(t.input.map(String.init).joined(separator: "x"))])
                new.append(t.id)
            }
            for t in trials where recorded.contains(t.id) {
                try database.execute("UPDATE trials SET sweep_index = ?, configuration = ?, configuration_index = ?, is_baseline = ? WHERE id = ?",
                                     [.integer(t.index), .text(t.configuration.label), .integer(t.configurationIndex),
                                      .integer(t.configuration.isBaseline ? 1 : 0), .text(t.id)])
            }
            let current = Set(trials.map(\.id))
            let stale = recorded.subtracting(current).sorted()
            try database.execute("UPDATE trials SET in_experiment = 1")
            for id in stale { try database.execute("UPDATE trials SET in_experiment = 0 WHERE id = ?", [.text(id)]) }
            try database.execute("DELETE FROM modules")
            try database.execute("DELETE FROM layers")
            var done = Set<Int>()
            for t in trials where done.insert(t.configurationIndex).inserted {
                for (position, l) in t.layers.enumerated() {
                    try database.execute("INSERT INTO layers(configuration_index, position, path, output) VALUES(?, ?, ?, ?)",
                                         [.integer(t.configurationIndex), .integer(position), .text(l.path),
                                          .text(l.output.map(String.init).joined(separator: "x"))])
                }
                for (position, m) in t.modules.enumerated() {
                    try database.execute("INSERT INTO modules(configuration_index, position, name, params, macs) VALUES(?, ?, ?, ?, ?)",
                                         [.integer(t.configurationIndex), .integer(position), .text(m.name), .integer(m.params), .integer(m.macs)])
                }
            }
            return (new, stale)
        }
    }

    /// Trials left `running` by a process that died, or `interrupted` by a signal, go back to
    /// `pending`; returns their ids.
    public func recoverInterrupted() throws -> [String] {
        try database.transaction {
            let ids = try database.query("SELECT id FROM trials WHERE status IN ('running', 'interrupted')").compactMap { $0["id"]?.string }
            try database.execute("UPDATE trials SET status = 'pending', started_at = NULL WHERE status IN ('running', 'interrupted')")
            return ids
        }
    }

    /// Trials among `ids` recorded `completed` with fewer than `epochs` epochs (stopped at an
    /// earlier rung of successive halving) go back to `pending`, to continue from their checkpoint.
    public func reopen(_ ids: [String], below epochs: Int) throws {
        try database.transaction {
            for id in ids {
                try database.execute("""
                    UPDATE trials SET status = 'pending', started_at = NULL
                    WHERE id = ? AND status = 'completed' AND (SELECT COUNT(*) FROM epochs WHERE trial_id = ?) < ?
                    """, [.text(id), .text(id), .integer(epochs)])
            }
        }
    }

    /// Validation accuracy at `epoch` (1-based) of each trial that recorded it.
    public func validationAccuracy(at epoch: Int) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for row in try database.query("SELECT trial_id, validation_accuracy FROM epochs WHERE epoch = ?", [.integer(epoch)]) {
            if let id = row["trial_id"]?.string, let v = row["validation_accuracy"]?.double { out[id] = v }
        }
        return out
    }

    /// A trial stopped by a signal to the runner (Ctrl-C, Slurm's SIGTERM): `interrupted`, run again
    /// by the next runner.
    public func interrupt(_ id: String, reason: String) throws {
        try database.execute("UPDATE trials SET status = 'interrupted', finished_at = NULL, error = ? WHERE id = ?", [.text(reason), .text(id)])
    }

    public func status(_ id: String) throws -> TrialStatus? {
        try database.query("SELECT status FROM trials WHERE id = ?", [.text(id)]).first.map(TrialStatus.init(row:))
    }

    public func markRunning(_ id: String) throws {
        try database.execute("UPDATE trials SET status = 'running', started_at = ?, finished_at = NULL, error = NULL, attempts = attempts + 1 WHERE id = ?",
                             [.text(Self.now()), .text(id)])
    }

    /// Records a finished trial and its epochs in one transaction.
    public func finish(_ id: String, status: TrialStatus, metrics: RunMetrics?, error: String?) throws {
        try database.transaction {
            try database.execute("DELETE FROM epochs WHERE trial_id = ?", [.text(id)])
            for e in metrics?.epochs ?? [] {
                try database.execute("""
                    INSERT INTO epochs(trial_id, epoch, lr, train_loss, train_accuracy, validation_accuracy, test_loss, test_accuracy, seconds,
                                       load_average, cpu_share)
                    VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(id), .integer(e.epoch), .real(e.lr), .real(e.trainLoss), .real(e.trainAccuracy),
                          e.validationAccuracy.map { .real($0) } ?? .null, .real(e.testLoss), .real(e.testAccuracy), .real(e.seconds),
                          e.load.map { .real($0.loadAverage) } ?? .null, e.load.map { .real($0.cpuShare) } ?? .null])
            }
            try database.execute("""
                UPDATE trials SET status = ?, test_accuracy = ?, best_epoch = ?, train_seconds = ?, images_per_second = ?, finished_at = ?, error = ?,
                                  resumed_epochs = ?
                WHERE id = ?
                """, [.text(status.rawValue), metrics?.testAccuracy.map { .real($0) } ?? .null, metrics?.bestEpoch.map { .integer($0) } ?? .null,
                      metrics.map { .real($0.seconds) } ?? .null, metrics.map { .real($0.imagesPerSecond) } ?? .null, .text(Self.now()),
                      error.map { .text($0) } ?? .null, metrics?.resumedEpochs.map { .integer($0) } ?? .null, .text(id)])
        }
    }

    /// Every trial row of the current experiment, in sweep order.
    public func trials() throws -> [TrialRecord] {
        try database.query("SELECT * FROM trials WHERE in_experiment = 1 ORDER BY sweep_index").map(TrialRecord.init(row:))
    }

    /// Every trial row, also those no longer in the experiment (merging shard journals needs them).
    public func allTrials() throws -> [TrialRecord] {
        try database.query("SELECT * FROM trials ORDER BY sweep_index").map(TrialRecord.init(row:))
    }

    /// How many of the experiment's trials are in each status.
    public func statusCounts() throws -> [TrialStatus: Int] {
        var counts: [TrialStatus: Int] = [:]
        for row in try database.query("SELECT status, COUNT(*) AS n FROM trials WHERE in_experiment = 1 GROUP BY status") {
            counts[TrialStatus(row: row), default: 0] += row["n"]?.int ?? 0
        }
        return counts
    }

    /// Every configuration's built layers and their output shapes (`CxHxW`), in forward order.
    public func layers() throws -> [[String: SQLiteDatabase.Value]] {
        try database.query("SELECT * FROM layers ORDER BY configuration_index, position")
    }

    public func modules() throws -> [[String: SQLiteDatabase.Value]] {
        try database.query("SELECT * FROM modules ORDER BY configuration_index, position")
    }

    public func epochs() throws -> [[String: SQLiteDatabase.Value]] {
        try database.query("SELECT * FROM epochs ORDER BY trial_id, epoch")
    }
}
