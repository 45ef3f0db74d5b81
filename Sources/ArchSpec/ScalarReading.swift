/// Reads YAML scalars by the type the reader expects, with YAML 1.1 surprises reported, not guessed.
///
/// ArchLab reads YAML 1.2's core schema: booleans are `true`/`false`, integers are decimal
/// (`0x`/`0o` prefixes allowed). Plain scalars that YAML 1.1 reads differently, `yes`/`no`/`on`/`off`
/// as booleans and `010` as octal 8, are errors wherever a boolean or a number is expected, and
/// an error in an untyped position, so that no file means something other than it says.
public enum ScalarReading {
    static let yaml11Booleans: Set<String> = ["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                               "on", "On", "ON", "off", "Off", "OFF"]

    /// An integer, or nil when the text is not one. Throws for leading-zero octal look-alikes.
    public static func int(_ s: YScalar) throws -> Int? {
        guard !s.quoted else { return nil }
        var t = Substring(s.text)
        var sign = 1
        if t.first == "-" || t.first == "+" { sign = t.first == "-" ? -1 : 1; t = t.dropFirst() }
        guard !t.isEmpty else { return nil }
        if t.hasPrefix("0x") || t.hasPrefix("0X") {
            guard let v = Int(t.dropFirst(2), radix: 16) else { return nil }
            return sign * v
        }
        if t.hasPrefix("0o") || t.hasPrefix("0O") {
            guard let v = Int(t.dropFirst(2), radix: 8) else { return nil }
            return sign * v
        }
        guard t.allSatisfy(\.isASCIIDigit) else { return nil }
        if t.count > 1, t.first == "0" {
            let decimal = Int(t) ?? 0
            let octal = Int(t, radix: 8).map { "YAML 1.1 reads it as octal \($0), " } ?? "YAML 1.1 reads a leading zero as octal, "
            throw SpecError("ambiguous number '\(s.text)': \(octal)YAML 1.2 as decimal \(decimal); write \(decimal), or 0o\(t.drop { $0 == "0" }) for octal",
                            at: s.location)
        }
        guard let v = Int(t) else {
            throw SpecError("integer '\(s.text)' is out of range", at: s.location)
        }
        return sign * v
    }

    /// A floating-point number (integers accepted), or nil.
    public static func float(_ s: YScalar) throws -> Double? {
        if let i = try int(s) { return Double(i) }
        guard !s.quoted else { return nil }
        switch s.text {
        case ".inf", ".Inf", ".INF", "+.inf": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        let t = s.text
        guard t.contains(where: { $0.isASCIIDigit }),
              t.allSatisfy({ $0.isASCIIDigit || "+-.eE".contains($0) }) else { return nil }
        return Double(t)
    }

    /// A boolean, or nil. Throws for YAML 1.1 booleans such as `no`.
    public static func bool(_ s: YScalar) throws -> Bool? {
        guard !s.quoted else { return nil }
        switch s.text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            if yaml11Booleans.contains(s.text) {
                let meant = ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"].contains(s.text)
                throw SpecError("'\(s.text)' is a boolean only in YAML 1.1; write \(meant ? "true" : "false")", at: s.location)
            }
            return nil
        }
    }

    /// The value of a scalar in a position with no expected type: null, bool, int, float or string.
    /// Plain `no`/`yes`/`on`/`off` and leading-zero numbers are errors here (quote them for strings).
    public static func untyped(_ s: YScalar) throws -> Value {
        if s.quoted { return .string(s.text) }
        if s.isNull { return .null }
        if yaml11Booleans.contains(s.text) {
            throw SpecError("'\(s.text)' is ambiguous: a boolean in YAML 1.1, a string in YAML 1.2; write true/false, or quote it for a string",
                            at: s.location)
        }
        if let b = try bool(s) { return .bool(b) }
        if let i = try int(s) { return .int(i) }
        if let f = try float(s) { return .float(f) }
        return .string(s.text)
    }

    /// Converts a whole YAML node with no expected type into a value (lists and mappings too).
    public static func untyped(_ node: YNode) throws -> Value {
        switch node {
        case let .scalar(s): return try untyped(s)
        case let .list(items, _): return .list(try items.map { try untyped($0) })
        case let .map(entries, _): return .map(try entries.map { ($0.key.text, try untyped($0.value)) })
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
