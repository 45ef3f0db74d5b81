/// A YAML scalar as written: its text, whether it was quoted, and where it stands.
///
/// Scalars keep their source text; they are interpreted only where the expected type is known
/// (see `ScalarReading`), so that YAML 1.1 surprises such as `no` or `010` are reported instead of
/// silently becoming `false` or `8`.
public struct YScalar: Sendable, Equatable {
    public var text: String
    /// True for single- or double-quoted (and block) scalars: always strings, never numbers.
    public var quoted: Bool
    /// True for the plain scalars `~`, `null`, `Null`, `NULL` and the empty plain scalar.
    public var isNull: Bool { !quoted && ["", "~", "null", "Null", "NULL"].contains(text) }
    public var location: SourceLocation

    public init(_ text: String, quoted: Bool = false, at location: SourceLocation) {
        self.text = text
        self.quoted = quoted
        self.location = location
    }
}

/// One `key: value` pair of a mapping, with the key's own location.
public struct YEntry: Sendable, Equatable {
    public var key: YScalar
    public var value: YNode

    public init(key: YScalar, value: YNode) {
        self.key = key
        self.value = value
    }
}

/// A located YAML document tree: every node knows its `file:line:column`.
public indirect enum YNode: Sendable, Equatable {
    case scalar(YScalar)
    case list([YNode], SourceLocation)
    case map([YEntry], SourceLocation)

    public var location: SourceLocation {
        switch self {
        case let .scalar(s): return s.location
        case let .list(_, l), let .map(_, l): return l
        }
    }

    /// A short description of the node's kind for error messages: `a list`, `a mapping`, `'abc'`.
    public var kindDescription: String {
        switch self {
        case let .scalar(s): return s.isNull ? "nothing (null)" : "'\(s.text)'"
        case .list: return "a list"
        case .map: return "a mapping"
        }
    }

    public var scalar: YScalar? {
        if case let .scalar(s) = self { return s }
        return nil
    }

    public var entries: [YEntry]? {
        if case let .map(e, _) = self { return e }
        return nil
    }

    public var items: [YNode]? {
        if case let .list(i, _) = self { return i }
        return nil
    }

    /// The value under `key` in a mapping.
    public subscript(key: String) -> YNode? {
        entries?.first { $0.key.text == key }?.value
    }

    /// The entry for `key` in a mapping, with the key's location.
    public func entry(_ key: String) -> YEntry? {
        entries?.first { $0.key.text == key }
    }

    /// A mapping with `key` set to `value` (replaced in place, or appended).
    public func setting(_ key: String, to value: YNode, keyLocation: SourceLocation) -> YNode {
        guard case .map(var entries, let location) = self else { return self }
        if let i = entries.firstIndex(where: { $0.key.text == key }) {
            entries[i].value = value
        } else {
            entries.append(YEntry(key: YScalar(key, at: keyLocation), value: value))
        }
        return .map(entries, location)
    }

    /// Flow-style YAML text of this node, for messages and for recording resolved configurations.
    public var flowText: String {
        switch self {
        case let .scalar(s): return s.quoted ? "'\(s.text)'" : s.text
        case let .list(items, _): return "[" + items.map(\.flowText).joined(separator: ", ") + "]"
        case let .map(entries, _):
            return "{" + entries.map { "\($0.key.text): \($0.value.flowText)" }.joined(separator: ", ") + "}"
        }
    }
}
