import ArchJSON
import Foundation

/// A value in an architecture file after interpretation: what parameters hold and expressions compute.
public indirect enum Value: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case string(String)
    case list([Value])
    /// An ordered mapping (a table row maps column names to cells; a table maps row names to rows).
    case map([(key: String, value: Value)])
    case null

    public static func == (a: Value, b: Value) -> Bool {
        switch (a, b) {
        case let (.int(x), .int(y)): return x == y
        case let (.float(x), .float(y)): return x == y
        case let (.int(x), .float(y)), let (.float(y), .int(x)): return Double(x) == y
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.list(x), .list(y)): return x == y
        case let (.map(x), .map(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.null, .null): return true
        default: return false
        }
    }

    /// The value as written in YAML flow style (`[64, M]`, `{a: 1}`, `0.5`).
    public var description: String {
        switch self {
        case let .int(v): return String(v)
        case let .float(v): return Value.format(v)
        case let .bool(v): return v ? "true" : "false"
        case let .string(s): return s
        case let .list(items): return "[" + items.map(\.quotedDescription).joined(separator: ", ") + "]"
        case let .map(entries):
            return "{" + entries.map { "\($0.key): \($0.value.quotedDescription)" }.joined(separator: ", ") + "}"
        case .null: return "null"
        }
    }

    /// Like `description`, with strings in single quotes (for use inside lists and messages).
    public var quotedDescription: String {
        if case let .string(s) = self { return "'\(s)'" }
        return description
    }

    /// The name of the value's type as used in messages and parameter declarations.
    public var typeName: String {
        switch self {
        case .int: return "int"
        case .float: return "float"
        case .bool: return "bool"
        case .string: return "string"
        case .list: return "list"
        case .map: return "mapping"
        case .null: return "null"
        }
    }

    /// The value under `key` of a mapping.
    public subscript(key: String) -> Value? {
        if case let .map(entries) = self { return entries.first { $0.key == key }?.value }
        return nil
    }

    /// `3` for 3.0, `0.5` for 0.5: numbers in messages as a person writes them.
    public static func plainNumber(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)"
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(format: "%.1f", v) }
        return "\(v)"
    }

    /// The value as JSON text, one line (for resolved configurations and `--format json`).
    public var json: String { jsonValue.text(.spaced) }

    /// The value as JSON: maps keep their order, non-finite floats become null.
    public var jsonValue: JSONValue {
        switch self {
        case let .int(v): return .int(v)
        case let .float(v): return .double(v)
        case let .bool(v): return .bool(v)
        case let .string(s): return .string(s)
        case let .list(items): return .array(items.map(\.jsonValue))
        case let .map(entries): return .object(entries.map { ($0.key, $0.value.jsonValue) })
        case .null: return .null
        }
    }
}
