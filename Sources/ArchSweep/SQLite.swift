internal import CSQLite
import Foundation

/// A small, safe wrapper over SQLite's C API: statements with bound parameters, rows as values.
public final class SQLiteDatabase {
    public enum Value: Equatable, Sendable {
        case integer(Int), real(Double), text(String), null

        public var int: Int? { if case let .integer(i) = self { return i }; return nil }
        public var double: Double? {
            switch self { case let .real(d): return d; case let .integer(i): return Double(i); default: return nil }
        }
        public var string: String? { if case let .text(s) = self { return s }; return nil }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    private var handle: OpaquePointer?
    public let path: String

    /// Opens (creating) a database with a busy timeout, WAL journal and full synchronous writes.
    public init(path: String) throws {
        self.path = path
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw Failure(message: "\(path): \(message)")
        }
        sqlite3_busy_timeout(handle, 10_000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit { sqlite3_close(handle) }

    /// SQLite's message, with the operating system's reason where there is one ("disk I/O error"
    /// alone does not tell that the disk is full).
    private func error(_ context: String) -> Failure {
        var message = String(cString: sqlite3_errmsg(handle))
        let code = sqlite3_system_errno(handle)
        if code != 0 { message += " (\(String(cString: strerror(code))))" }
        return Failure(message: "\(path): \(context): \(message)")
    }

    /// Runs a statement (or several separated by semicolons, without parameters).
    public func execute(_ sql: String, _ parameters: [Value] = []) throws {
        if parameters.isEmpty, sql.contains(";") {
            guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw error("exec") }
            return
        }
        _ = try query(sql, parameters)
    }

    /// Runs a statement and returns its rows, each a column-name -> value mapping.
    @discardableResult
    public func query(_ sql: String, _ parameters: [Value] = []) throws -> [[String: Value]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw error("prepare \(sql.prefix(60))") }
        defer { sqlite3_finalize(statement) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, p) in parameters.enumerated() {
            let index = Int32(i + 1)
            switch p {
            case let .integer(v): sqlite3_bind_int64(statement, index, Int64(v))
            case let .real(v): sqlite3_bind_double(statement, index, v)
            case let .text(v): sqlite3_bind_text(statement, index, v, -1, transient)
            case .null: sqlite3_bind_null(statement, index)
            }
        }
        var rows: [[String: Value]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw error("step \(sql.prefix(60))") }
            var row: [String: Value] = [:]
            for c in 0..<sqlite3_column_count(statement) {
                let name = String(cString: sqlite3_column_name(statement, c))
                switch sqlite3_column_type(statement, c) {
                case SQLITE_INTEGER: row[name] = .integer(Int(sqlite3_column_int64(statement, c)))
                case SQLITE_FLOAT: row[name] = .real(sqlite3_column_double(statement, c))
                case SQLITE_TEXT: row[name] = .text(String(cString: sqlite3_column_text(statement, c)))
                default: row[name] = .null
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Runs `body` in an immediate transaction, committed when it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}
