/// A JSON value that keeps its objects' key order: what ArchLab writes (configurations, trial
/// identities, file headers, `--format json`) is built as a `JSONValue` and rendered by `text(_:)`,
/// and what it reads where order or duplicate keys matter (safetensors headers, journal columns) is
/// parsed by `parse(_:)`, which refuses duplicate keys (Foundation's parser silently keeps one).
public indirect enum JSONValue: Sendable, Equatable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case int(Int)
    /// Written as Swift's shortest round-trip form (`0.0003`, `1e-05`); non-finite values as `null`.
    case double(Double)
    case bool(Bool)
    case null
    /// JSON text made elsewhere (Foundation's encoder, a recorded column), written as it is: an
    /// identity's text must not change when the code around it does.
    case verbatim(String)
    /// A part written in its own style whatever the whole's (identity texts that mix them).
    case styled(JSONValue, Style)

    /// How the text is laid out.
    public enum Style: Sendable {
        /// `{"a":1,"b":[1,2]}`: file headers.
        case compact
        /// `{"a": 1, "b": [1, 2]}`: one line for people and for identities.
        case spaced
        /// Indented by `indent` spaces per level, one member per line (arrays of scalars on one line).
        case pretty(indent: Int)
    }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.array(x), .array(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.int(x), .double(y)), let (.double(y), .int(x)): return Double(x) == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        case let (.verbatim(x), .verbatim(y)): return x == y
        case let (.styled(x, _), .styled(y, _)): return x == y
        default: return false
        }
    }

    /// The member `key` of an object.
    public subscript(key: String) -> JSONValue? {
        if case let .object(members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    public var string: String? { if case let .string(s) = self { return s }; return nil }
    public var number: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }
    /// An integer, also from a double with no fraction.
    public var int: Int? {
        switch self {
        case let .int(i): return i
        case let .double(d) where d == d.rounded() && abs(d) < 9e15: return Int(d)
        default: return nil
        }
    }
    /// An array of non-negative integers (shapes, offsets), or nil.
    public var intArray: [Int]? {
        guard case let .array(items) = self else { return nil }
        var out: [Int] = []
        for item in items {
            guard let i = item.int, i >= 0 else { return nil }
            out.append(i)
        }
        return out
    }

    var isScalar: Bool {
        switch self {
        case .object, .array: return false
        case let .styled(value, _): return value.isScalar
        default: return true
        }
    }

    /// The JSON text.
    public func text(_ style: Style = .spaced) -> String {
        var out = ""
        write(into: &out, style: style, level: 0)
        return out
    }

    private func write(into out: inout String, style: Style, level: Int) {
        switch self {
        case let .string(s): out += JSONText.quote(s)
        case let .int(i): out += String(i)
        case let .double(d): out += d.isFinite ? "\(d)" : "null"
        case let .bool(b): out += b ? "true" : "false"
        case .null: out += "null"
        case let .verbatim(text): out += text
        case let .styled(value, own): value.write(into: &out, style: own, level: level)
        case let .array(items):
            // in the pretty style, an array of numbers, strings and literals stays on one line
            if case .pretty = style, items.allSatisfy(\.isScalar) {
                writeMembers(items.map { (nil, $0) }, open: "[", close: "]", into: &out, style: .spaced, level: level)
            } else {
                writeMembers(items.map { (nil, $0) }, open: "[", close: "]", into: &out, style: style, level: level)
            }
        case let .object(members):
            writeMembers(members.map { ($0.key, $0.value) }, open: "{", close: "}", into: &out, style: style, level: level)
        }
    }

    private func writeMembers(_ members: [(String?, JSONValue)], open: String, close: String, into out: inout String, style: Style, level: Int) {
        out += open
        guard !members.isEmpty else { return out += close }
        for (i, (key, value)) in members.enumerated() {
            switch style {
            case .compact: if i > 0 { out += "," }
            case .spaced: if i > 0 { out += ", " }
            case let .pretty(indent):
                out += (i > 0 ? ",\n" : "\n") + String(repeating: " ", count: indent * (level + 1))
            }
            if let key {
                out += JSONText.quote(key)
                if case .compact = style { out += ":" } else { out += ": " }
            }
            value.write(into: &out, style: style, level: level + 1)
        }
        if case let .pretty(indent) = style { out += "\n" + String(repeating: " ", count: indent * level) }
        out += close
    }
}

extension JSONValue {
    /// What is wrong with a JSON text, and where.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses JSON strictly: one value and nothing after it but whitespace, objects in their order,
    /// a duplicate key an error, nesting at most `maxDepth` deep. Numbers without a fraction or
    /// exponent that fit an `Int` are `.int`, others `.double`.
    public static func parse<Bytes: Collection>(_ bytes: Bytes, maxDepth: Int = 64) throws -> JSONValue where Bytes.Element == UInt8 {
        var p = Parser(bytes: Array(bytes), maxDepth: maxDepth)
        let value = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.bytes.count else { throw ParseError(message: "trailing characters at byte \(p.i)") }
        return value
    }

    public static func parse(_ text: String) throws -> JSONValue { try parse(Array(text.utf8)) }

    struct Parser {
        let bytes: [UInt8]
        let maxDepth: Int
        var i = 0

        init(bytes: [UInt8], maxDepth: Int) { self.bytes = bytes; self.maxDepth = maxDepth }

        mutating func skipSpace() { while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 } }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth < maxDepth else { throw ParseError(message: "nesting deeper than \(maxDepth)") }
            skipSpace()
            guard i < bytes.count else { throw ParseError(message: "unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(key: String, value: JSONValue)] = []
                var seen = Set<String>()
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object([]) }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw ParseError(message: "expected a key at byte \(i)") }
                    let key = try string()
                    guard seen.insert(key).inserted else { throw ParseError(message: "duplicate key '\(key)'") }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw ParseError(message: "expected ':' at byte \(i)") }
                    i += 1
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < bytes.count else { throw ParseError(message: "unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                    throw ParseError(message: "expected ',' or '}' at byte \(i)")
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [JSONValue] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array([]) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw ParseError(message: "unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    throw ParseError(message: "expected ',' or ']' at byte \(i)")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                for (word, v) in [("true", JSONValue.bool(true)), ("false", .bool(false)), ("null", .null)] {
                    let w = Array(word.utf8)
                    if i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w { i += w.count; return v }
                }
                throw ParseError(message: "unexpected literal at byte \(i)")
            default:
                let start = i
                while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
                let literal = String(decoding: bytes[start..<i], as: UTF8.self)
                if !literal.contains(where: { ".eE".contains($0) }), let n = Int(literal) { return .int(n) }
                guard i > start, let d = Double(literal) else { throw ParseError(message: "unexpected character at byte \(start)") }
                return .double(d)
            }
        }

        /// A string literal starting at `i` (the opening quote).
        mutating func string() throws -> String {
            i += 1
            var out: [UInt8] = []
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") {
                    i += 1
                    guard i < bytes.count else { break }
                    switch bytes[i] {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard i + 4 < bytes.count, let code = UInt32(String(decoding: bytes[(i + 1)...(i + 4)], as: UTF8.self), radix: 16) else {
                            throw ParseError(message: "bad \\u escape at byte \(i)")
                        }
                        i += 4
                        var scalar = Unicode.Scalar(code)
                        // a UTF-16 surrogate pair: \uD83D\uDE00
                        if (0xD800..<0xDC00).contains(code), i + 6 < bytes.count, bytes[i + 1] == UInt8(ascii: "\\"), bytes[i + 2] == UInt8(ascii: "u"),
                           let low = UInt32(String(decoding: bytes[(i + 3)...(i + 6)], as: UTF8.self), radix: 16), (0xDC00..<0xE000).contains(low) {
                            scalar = Unicode.Scalar(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
                            i += 6
                        }
                        guard let scalar else { throw ParseError(message: "bad \\u escape at byte \(i)") }
                        out += Array(String(Character(scalar)).utf8)
                    default: out.append(bytes[i])
                    }
                } else {
                    out.append(bytes[i])
                }
                i += 1
            }
            guard i < bytes.count else { throw ParseError(message: "unterminated string") }
            i += 1
            return String(decoding: out, as: UTF8.self)
        }
    }
}
