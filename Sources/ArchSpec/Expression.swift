/// The small expression language used inside architecture files.
///
/// A scalar that is exactly `$name` or `${ expression }` is evaluated; a string with `${...}` parts
/// inside other text is interpolated (`name: "layer${s + 1}"`). Expressions are parsed into a tree
/// and evaluated against named values; nothing is ever executed as code.
///
///     expr   := cond
///     cond   := or ['if' or 'else' cond]          (Python's conditional expression)
///     or     := and {'or' and}      and := not {'and' not}      not := 'not' not | cmp
///     cmp    := sum [('=='|'!='|'<'|'<='|'>'|'>=') sum]
///     sum    := prod {('+'|'-') prod}      prod := unary {('*'|'/'|'//'|'%') unary}
///     unary  := '-' unary | post            post := atom {'.' key | '[' expr ']' | '(' args ')'}
///     atom   := number | 'string' | true | false | null | name | '(' expr ')' | '[' exprs ']'
///
/// Functions: `round`, `int`, `float`, `min`, `max`, `len`, `range`, `ceil`, `floor`, `str`.
public indirect enum Expr: Sendable, Equatable {
    case literal(Value)
    case name(String)
    case member(Expr, String)
    case index(Expr, Expr)
    case slice(Expr, Expr?, Expr?) // list[lower:upper], either bound optional
    case comprehension(Expr, String, Expr) // [element for variable in list]
    case call(String, [Expr])
    case list([Expr])
    case unary(String, Expr)
    case binary(String, Expr, Expr)
    case conditional(Expr, Expr, Expr) // value if condition else other
}

/// A scalar's meaning: a literal, a single expression, or an interpolated string.
public enum ScalarForm: Sendable, Equatable {
    case literal
    case expression(Expr)
    case interpolation([InterpolationPart])

    public enum InterpolationPart: Sendable, Equatable {
        case text(String)
        case expr(Expr)
    }

    /// Classifies and parses a scalar. Quoted scalars are expressions too when they use `$`.
    public static func of(_ s: YScalar) throws -> ScalarForm {
        let text = s.text
        guard text.contains("$") else { return .literal }
        if text.hasPrefix("$"), !text.hasPrefix("${") {
            let name = text.dropFirst()
            guard let first = name.first, first.isLetter || first == "_",
                  name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
                throw SpecError("'\(text)' is not a reference: write $name or ${expression}", at: s.location)
            }
            return .expression(try ExprParser.parse(String(name), at: s.location))
        }
        var parts: [InterpolationPart] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw SpecError("unterminated '${' in '\(text)': expected a closing '}'", at: s.location)
            }
            parts.append(.expr(try ExprParser.parse(String(rest[open.upperBound..<close]), at: s.location)))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        if parts.count == 1, case let .expr(e) = parts[0] { return .expression(e) }
        if !parts.contains(where: { if case .expr = $0 { return true } else { return false } }) { return .literal }
        return .interpolation(parts)
    }
}

/// Recursive-descent parser for `Expr`.
public struct ExprParser {
    enum Token: Equatable {
        case number(Value), string(String), name(String), symbol(String), end
    }

    private var tokens: [Token]
    private var position = 0
    private let source: String
    private let location: SourceLocation

    /// Parses `text`; errors are located at `location` (the scalar holding the expression).
    public static func parse(_ text: String, at location: SourceLocation) throws -> Expr {
        let tokens = try tokenize(text, at: location)
        // Evaluation recurses once per level of the tree, and a chain `a + b + ...` or `x.a.b...` is
        // as deep as it is long: bound the length so that no expression can exhaust the stack.
        guard tokens.count <= maxTokens else {
            throw SpecError("expression '\(text.prefix(40))...' has \(tokens.count - 1) tokens; at most \(maxTokens - 1) are allowed", at: location)
        }
        var parser = ExprParser(tokens: tokens, source: text, location: location)
        let expr = try parser.conditional()
        guard parser.peek == .end else { throw parser.error("unexpected \(parser.describe(parser.peek))") }
        return expr
    }

    /// The longest expression, in tokens (with the end marker).
    static let maxTokens = 401

    private init(tokens: [Token], source: String, location: SourceLocation) {
        self.tokens = tokens
        self.source = source
        self.location = location
    }

    private var peek: Token { tokens[position] }
    private mutating func advance() -> Token { defer { position += 1 }; return tokens[position] }
    private mutating func accept(_ symbol: String) -> Bool {
        if peek == .symbol(symbol) || peek == .name(symbol) { position += 1; return true }
        return false
    }
    private mutating func expect(_ symbol: String) throws {
        guard accept(symbol) else { throw error("expected '\(symbol)', found \(describe(peek))") }
    }
    private func error(_ message: String) -> SpecError {
        SpecError("in expression '\(source)': \(message)", at: location)
    }
    private func describe(_ t: Token) -> String {
        switch t {
        case let .number(v): return "'\(v)'"
        case let .string(s): return "'\(s)'"
        case let .name(n): return "'\(n)'"
        case let .symbol(s): return "'\(s)'"
        case .end: return "the end of the expression"
        }
    }

    private mutating func conditional() throws -> Expr {
        let value = try or()
        if accept("if") {
            let condition = try or()
            try expect("else")
            return .conditional(condition, value, try conditional())
        }
        return value
    }
    private mutating func or() throws -> Expr {
        var e = try and()
        while accept("or") { e = .binary("or", e, try and()) }
        return e
    }
    private mutating func and() throws -> Expr {
        var e = try not()
        while accept("and") { e = .binary("and", e, try not()) }
        return e
    }
    private mutating func not() throws -> Expr {
        if accept("not") { return .unary("not", try not()) }
        return try comparison()
    }
    private mutating func comparison() throws -> Expr {
        let e = try sum()
        for op in ["==", "!=", "<=", ">=", "<", ">"] where accept(op) {
            return .binary(op, e, try sum())
        }
        return e
    }
    private mutating func sum() throws -> Expr {
        var e = try product()
        while true {
            if accept("+") { e = .binary("+", e, try product()) }
            else if accept("-") { e = .binary("-", e, try product()) }
            else { return e }
        }
    }
    private mutating func product() throws -> Expr {
        var e = try unary()
        while true {
            if accept("*") { e = .binary("*", e, try unary()) }
            else if accept("//") { e = .binary("//", e, try unary()) }
            else if accept("/") { e = .binary("/", e, try unary()) }
            else if accept("%") { e = .binary("%", e, try unary()) }
            else { return e }
        }
    }
    private mutating func unary() throws -> Expr {
        if accept("-") { return .unary("-", try unary()) }
        return try postfix()
    }
    private mutating func postfix() throws -> Expr {
        var e = try atom()
        while true {
            if accept(".") {
                switch advance() {
                case let .name(n): e = .member(e, n)
                case let .number(.int(i)): e = .member(e, String(i))
                case let .symbol(s) where s.first?.isNumber == true: e = .member(e, s)
                case let t: throw error("expected a key after '.', found \(describe(t))")
                }
            } else if accept("[") {
                let lower = peek == .symbol(":") ? nil : try conditional()
                if accept(":") {
                    let upper = peek == .symbol("]") ? nil : try conditional()
                    try expect("]")
                    e = .slice(e, lower, upper)
                } else if let lower {
                    try expect("]")
                    e = .index(e, lower)
                } else {
                    throw error("expected an index or a slice inside '[]'")
                }
            } else if peek == .symbol("(") {
                guard case let .name(function) = e else { throw error("only named functions can be called") }
                position += 1
                var args: [Expr] = []
                if !accept(")") {
                    repeat { args.append(try conditional()) } while accept(",")
                    try expect(")")
                }
                e = .call(function, args)
            } else {
                return e
            }
        }
    }
    private mutating func atom() throws -> Expr {
        switch advance() {
        case let .number(v): return .literal(v)
        case let .string(s): return .literal(.string(s))
        case .name("true"): return .literal(.bool(true))
        case .name("false"): return .literal(.bool(false))
        case .name("null"): return .literal(.null)
        case let .name(n) where !["if", "else", "and", "or", "not", "for", "in"].contains(n): return .name(n)
        case .symbol("("):
            let e = try conditional()
            try expect(")")
            return e
        case .symbol("["):
            var items: [Expr] = []
            if !accept("]") {
                items.append(try conditional())
                if peek == .name("for") {  // [element for variable in list]
                    position += 1
                    guard case let .name(variable) = advance(), !["if", "else", "and", "or", "not", "for", "in"].contains(variable) else {
                        throw error("expected a variable name after 'for'")
                    }
                    guard advance() == .name("in") else { throw error("expected 'in' after 'for \(variable)'") }
                    let list = try conditional()
                    try expect("]")
                    return .comprehension(items[0], variable, list)
                }
                while accept(",") { items.append(try conditional()) }
                try expect("]")
            }
            return .list(items)
        case let t: throw error("expected a value, found \(describe(t))")
        }
    }

    static func tokenize(_ text: String, at location: SourceLocation) throws -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text)
        var i = 0
        var afterDot = false
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" { i += 1; continue }
            if afterDot, c.isLetter || c.isNumber || c == "_" {
                // Keys after '.' may start with digits: `inception.4a.n5x5`.
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                tokens.append(.name(String(chars[i..<j])))
                i = j
                afterDot = false
                continue
            }
            afterDot = false
            if c.isNumber {
                var j = i
                var isFloat = false
                while j < chars.count, chars[j].isNumber || chars[j] == "." || chars[j] == "e" || chars[j] == "E"
                    || ((chars[j] == "-" || chars[j] == "+") && (chars[j - 1] == "e" || chars[j - 1] == "E")) {
                    if !chars[j].isNumber { isFloat = true }
                    j += 1
                }
                let literal = String(chars[i..<j])
                if isFloat, let d = Double(literal) { tokens.append(.number(.float(d))) }
                else if !isFloat, let n = Int(literal) { tokens.append(.number(.int(n))) }
                else { throw SpecError("in expression '\(text)': bad number '\(literal)'", at: location) }
                i = j
            } else if c.isLetter || c == "_" {
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                tokens.append(.name(String(chars[i..<j])))
                i = j
            } else if c == "'" || c == "\"" {
                guard let end = chars[(i + 1)...].firstIndex(of: c) else {
                    throw SpecError("in expression '\(text)': unterminated string", at: location)
                }
                tokens.append(.string(String(chars[(i + 1)..<end])))
                i = end + 1
            } else {
                let two = i + 1 < chars.count ? String(chars[i...(i + 1)]) : ""
                if ["==", "!=", "<=", ">=", "//"].contains(two) {
                    tokens.append(.symbol(two))
                    i += 2
                } else if "+-*/%<>()[],.:".contains(c) {
                    tokens.append(.symbol(String(c)))
                    afterDot = c == "."
                    i += 1
                } else {
                    throw SpecError("in expression '\(text)': unexpected character '\(c)'", at: location)
                }
            }
        }
        tokens.append(.end)
        return tokens
    }
}
