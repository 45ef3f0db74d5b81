/// The type of a declared parameter.
public enum ParamType: String, Sendable, CaseIterable {
    case int, float, bool, string, list, table, mapping

    /// The type a default value implies (`1000` is an int, `[64, M]` a list).
    static func inferred(from value: Value) -> ParamType? {
        switch value {
        case .int: return .int
        case .float: return .float
        case .bool: return .bool
        case .string: return .string
        case .list: return .list
        case .map: return .mapping
        case .null: return nil
        }
    }
}

/// A named, typed parameter of an architecture file or a template.
///
/// Written either as a default whose type is inferred (`num_classes: 1000`) or as a declaration:
///
///     branch3_kernel: {type: int, default: 5, min: 1, doc: "kernel of the inception's third branch"}
///     out: {type: int}                       # required (templates only)
///     inception:                             # a table: rows of named columns
///       type: table
///       columns: [n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj]
///       rows:
///         3a: [64, 96, 128, 16, 32, 32]
public struct ParamDecl: Sendable {
    public var name: String
    public var type: ParamType
    public var defaultValue: Value?
    public var choices: [Value]?
    public var min: Double?
    public var max: Double?
    public var doc: String?
    /// Column names of a table parameter.
    public var columns: [String]
    public var location: SourceLocation

    static let declarationKeys = ["type", "default", "choices", "min", "max", "doc", "columns", "rows"]

    /// Decodes one `name: ...` entry of a `params:` mapping.
    public static func decode(_ entry: YEntry) throws -> ParamDecl {
        let name = entry.key.text
        guard isIdentifier(name) else {
            throw SpecError("parameter name '\(name)' must be letters, digits and '_', not starting with a digit", at: entry.key.location)
        }
        var decl = ParamDecl(name: name, type: .int, defaultValue: nil, choices: nil, min: nil, max: nil, doc: nil,
                             columns: [], location: entry.key.location)
        guard case let .map(fields, _) = entry.value, fields.contains(where: { ["type", "default", "columns"].contains($0.key.text) }) else {
            if case .map = entry.value {
                throw SpecError("parameter '\(name)': a declaration mapping needs 'type', 'default' or 'columns' (keys: \(declarationKeys.joined(separator: ", ")))",
                                at: entry.value.location)
            }
            let value = try ScalarReading.untyped(entry.value)
            guard let type = ParamType.inferred(from: value) else {
                throw SpecError("parameter '\(name)' needs a default value or a declaration {type: ..., default: ...}", at: entry.value.location)
            }
            decl.type = type
            decl.defaultValue = value
            return decl
        }
        for field in fields where !declarationKeys.contains(field.key.text) {
            throw SpecError("parameter '\(name)': unknown key '\(field.key.text)'\(Suggestion.didYouMean(field.key.text, in: declarationKeys))",
                            at: field.key.location)
        }
        let typeNode = entry.value["type"]
        if let typeNode {
            guard let s = typeNode.scalar, let t = ParamType(rawValue: s.text) else {
                throw SpecError("parameter '\(name)': unknown type \(typeNode.kindDescription); expected one of \(ParamType.allCases.map(\.rawValue).joined(separator: ", "))",
                                at: typeNode.location)
            }
            decl.type = t
        }
        if let doc = entry.value["doc"] { decl.doc = doc.scalar?.text }
        if decl.type == .table || entry.value["columns"] != nil {
            decl.type = .table
            decl.columns = try decodeColumns(entry.value["columns"], name: name, at: entry.value.location)
            if let rows = entry.value["rows"] ?? entry.value["default"] {
                decl.defaultValue = try decl.read(rows)
            }
            return decl
        }
        if let d = entry.value["default"] {
            if typeNode == nil {
                let v = try ScalarReading.untyped(d)
                guard let t = ParamType.inferred(from: v) else {
                    throw SpecError("parameter '\(name)': a null default needs an explicit type", at: d.location)
                }
                decl.type = t
            }
            decl.defaultValue = try decl.read(d, checkBounds: false)
        }
        if let c = entry.value["choices"] {
            guard let items = c.items, !items.isEmpty else {
                throw SpecError("parameter '\(name)': 'choices' must be a non-empty list", at: c.location)
            }
            decl.choices = try items.map { try decl.read($0, checkBounds: false) }
        }
        for bound in ["min", "max"] {
            guard let node = entry.value[bound] else { continue }
            guard let s = node.scalar, let v = try ScalarReading.float(s) else {
                throw SpecError("parameter '\(name)': '\(bound)' must be a number, found \(node.kindDescription)", at: node.location)
            }
            if bound == "min" { decl.min = v } else { decl.max = v }
        }
        if let d = entry.value["default"] { _ = try decl.read(d) }
        return decl
    }

    private static func decodeColumns(_ node: YNode?, name: String, at location: SourceLocation) throws -> [String] {
        guard let node, let items = node.items, !items.isEmpty else {
            throw SpecError("table parameter '\(name)' needs 'columns', a list of column names", at: node?.location ?? location)
        }
        return try items.map {
            guard let s = $0.scalar, isIdentifier(s.text) else {
                throw SpecError("table parameter '\(name)': column names must be identifiers, found \($0.kindDescription)", at: $0.location)
            }
            return s.text
        }
    }

    /// Letters, digits and `_`, not starting with a digit.
    public static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.first, f.isLetter || f == "_" else { return false }
        return s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    /// Reads a YAML node as a value of this parameter's type, with bounds and choices checked.
    public func read(_ node: YNode, checkBounds: Bool = true) throws -> Value {
        let value = try TypedReading.read(node, as: type, columns: columns, what: "parameter '\(name)'")
        if checkBounds { try check(value, at: node.location) }
        return value
    }

    /// Checks `value`, already of this parameter's type, against choices and bounds.
    public func check(_ value: Value, at location: SourceLocation) throws {
        if let choices, !choices.contains(value) {
            throw SpecError("parameter '\(name)': expected one of \(choices.map(\.quotedDescription).joined(separator: ", ")); found \(value.quotedDescription)",
                            at: location)
        }
        let number: Double? = { if case let .int(i) = value { return Double(i) }; if case let .float(f) = value { return f }; return nil }()
        if let number, let min, number < min {
            throw SpecError("parameter '\(name)': must be at least \(Value.plainNumber(min)); found \(value)", at: location)
        }
        if let number, let max, number > max {
            throw SpecError("parameter '\(name)': must be at most \(Value.plainNumber(max)); found \(value)", at: location)
        }
    }

    /// Checks a computed value (for example a template argument from an expression) against the type.
    public func coerce(_ value: Value, at location: SourceLocation) throws -> Value {
        let v = try TypedReading.coerce(value, to: type, columns: columns, what: "parameter '\(name)'", at: location)
        try check(v, at: location)
        return v
    }
}

/// Type-directed reading of YAML nodes and computed values.
public enum TypedReading {
    public static func read(_ node: YNode, as type: ParamType, columns: [String] = [], what: String) throws -> Value {
        func mismatch(_ expected: String) -> SpecError {
            SpecError("\(what): expected \(expected), found \(node.kindDescription)", at: node.location)
        }
        switch type {
        case .int:
            guard let s = node.scalar, let v = try ScalarReading.int(s) else { throw mismatch("an integer") }
            return .int(v)
        case .float:
            guard let s = node.scalar, let v = try ScalarReading.float(s) else { throw mismatch("a number") }
            return .float(v)
        case .bool:
            guard let s = node.scalar, let v = try ScalarReading.bool(s) else { throw mismatch("true or false") }
            return .bool(v)
        case .string:
            guard let s = node.scalar, !s.isNull else { throw mismatch("a string") }
            return .string(s.text)
        case .list:
            guard node.items != nil else { throw mismatch("a list") }
            return try ScalarReading.untyped(node)
        case .mapping:
            guard node.entries != nil else { throw mismatch("a mapping") }
            return try ScalarReading.untyped(node)
        case .table:
            guard let rows = node.entries else { throw mismatch("a mapping of rows") }
            return .map(try rows.map { row in
                (row.key.text, try readRow(row.value, columns: columns, what: "\(what) row '\(row.key.text)'"))
            })
        }
    }

    /// One table row: a list with one cell per column, or a mapping of every column.
    public static func readRow(_ node: YNode, columns: [String], what: String) throws -> Value {
        switch node {
        case let .list(cells, location):
            guard cells.count == columns.count else {
                throw SpecError("\(what): expected \(columns.count) cells (\(columns.joined(separator: ", "))), found \(cells.count)", at: location)
            }
            return .map(try zip(columns, cells).map { ($0, try ScalarReading.untyped($1)) })
        case let .map(entries, location):
            for e in entries where !columns.contains(e.key.text) {
                throw SpecError("\(what): unknown column '\(e.key.text)'\(Suggestion.didYouMean(e.key.text, in: columns))", at: e.key.location)
            }
            return .map(try columns.map { column in
                guard let cell = entries.first(where: { $0.key.text == column }) else {
                    throw SpecError("\(what): missing column '\(column)'", at: location)
                }
                return (column, try ScalarReading.untyped(cell.value))
            })
        case .scalar:
            throw SpecError("\(what): expected a list of \(columns.count) cells, found \(node.kindDescription)", at: node.location)
        }
    }

    /// Checks that a computed value has the given type (ints are accepted as floats).
    public static func coerce(_ value: Value, to type: ParamType, columns: [String] = [], what: String,
                              at location: SourceLocation) throws -> Value {
        switch (type, value) {
        case (.int, .int), (.float, .float), (.bool, .bool), (.string, .string), (.list, .list), (.mapping, .map):
            return value
        case let (.float, .int(i)): return .float(Double(i))
        case let (.table, .map(rows)) where rows.allSatisfy({ $0.value[columns.first ?? ""] != nil }):
            return value
        default:
            throw SpecError("\(what): expected \(type.rawValue), found \(value.typeName) \(value.quotedDescription)", at: location)
        }
    }
}
