import Foundation

/// Named values visible to expressions: file parameters, template parameters, loop variables and
/// the builder's `in_channels`/`in_height`/`in_width`.
public struct Scope: Sendable {
    public private(set) var values: [String: Value]
    /// The file's `functions:`, callable from every expression.
    public private(set) var functions: [String: FunctionDecl]
    /// How deeply user functions are being called (bounded by `FunctionDecl.maxDepth`).
    var callDepth = 0

    public init(_ values: [String: Value] = [:], functions: [String: FunctionDecl] = [:]) {
        self.values = values
        self.functions = functions
    }

    /// A scope with `more` added on top (inner names shadow outer ones).
    public func adding(_ more: [String: Value]) -> Scope {
        var s = self
        s.values.merge(more) { _, new in new }
        return s
    }

    public subscript(name: String) -> Value? { values[name] }
}

/// Evaluates expressions and scalars. Errors are located at the scalar that holds the expression.
public enum Evaluator {
    /// The value of a scalar: its expression's value, its interpolated string, or its literal value.
    public static func value(of s: YScalar, in scope: Scope) throws -> Value {
        switch try ScalarForm.of(s) {
        case .literal: return try ScalarReading.untyped(s)
        case let .expression(e): return try evaluate(e, in: scope, at: s.location, source: s.text)
        case let .interpolation(parts):
            var out = ""
            for part in parts {
                switch part {
                case let .text(t): out += t
                case let .expr(e): out += try evaluate(e, in: scope, at: s.location, source: s.text).description
                }
            }
            return .string(out)
        }
    }

    /// The value of a node: scalars evaluated, lists and mappings evaluated element by element.
    public static func value(of node: YNode, in scope: Scope) throws -> Value {
        switch node {
        case let .scalar(s): return try value(of: s, in: scope)
        case let .list(items, _): return .list(try items.map { try value(of: $0, in: scope) })
        case let .map(entries, _): return .map(try entries.map { ($0.key.text, try value(of: $0.value, in: scope)) })
        }
    }

    public static func evaluate(_ e: Expr, in scope: Scope, at location: SourceLocation, source: String) throws -> Value {
        func fail(_ message: String) -> SpecError {
            SpecError("in '\(source)': \(message)", at: location)
        }
        func eval(_ e: Expr) throws -> Value { try evaluate(e, in: scope, at: location, source: source) }
        func number(_ v: Value, _ what: String) throws -> Double {
            switch v {
            case let .int(i): return Double(i)
            case let .float(f): return f
            default: throw fail("\(what) must be a number, found \(v.typeName) \(v.quotedDescription)")
            }
        }
        func bool(_ v: Value, _ what: String) throws -> Bool {
            guard case let .bool(b) = v else { throw fail("\(what) must be true or false, found \(v.typeName) \(v.quotedDescription)") }
            return b
        }
        switch e {
        case let .literal(v): return v
        case let .name(n):
            guard let v = scope[n] else {
                throw fail("unknown name '\(n)'\(Suggestion.didYouMean(n, in: Array(scope.values.keys)))")
            }
            return v
        case let .member(base, key):
            let b = try eval(base)
            if case let .map(entries) = b {
                if let v = entries.first(where: { $0.key == key })?.value { return v }
                throw fail("no key '\(key)'\(Suggestion.didYouMean(key, in: entries.map(\.key))) (keys: \(entries.map(\.key).joined(separator: ", ")))")
            }
            if case let .list(items) = b, let i = Int(key), items.indices.contains(i) { return items[i] }
            throw fail("cannot take '.\(key)' of \(b.typeName) \(b.quotedDescription)")
        case let .index(base, index):
            let b = try eval(base), i = try eval(index)
            switch (b, i) {
            case let (.list(items), .int(k)):
                let j = k < 0 ? items.count + k : k
                guard items.indices.contains(j) else { throw fail("index \(k) is out of range for a list of \(items.count)") }
                return items[j]
            case let (.map(entries), .string(k)):
                guard let v = entries.first(where: { $0.key == k })?.value else { throw fail("no key '\(k)'") }
                return v
            default: throw fail("cannot index \(b.typeName) with \(i.typeName)")
            }
        case let .slice(base, lower, upper):
            return try slice(try eval(base), lower.map(eval), upper.map(eval), fail: fail)
        case let .list(items): return .list(try items.map(eval))
        case let .comprehension(element, variable, list):
            return try comprehension(element, variable, try eval(list), in: scope, at: location, source: source, fail: fail)
        case let .unary(op, x):
            let v = try eval(x)
            if op == "not" { return .bool(!(try bool(v, "the operand of 'not'"))) }
            if case let .int(i) = v { return .int(-i) }
            return .float(-(try number(v, "the operand of '-'")))
        case let .conditional(c, a, b):
            return try bool(try eval(c), "the condition") ? try eval(a) : try eval(b)
        case let .binary(op, l, r):
            if op == "and" { return .bool(try bool(try eval(l), "'and'") && (try bool(try eval(r), "'and'"))) }
            if op == "or" { return .bool(try bool(try eval(l), "'or'") || (try bool(try eval(r), "'or'"))) }
            let a = try eval(l), b = try eval(r)
            switch op {
            case "==": return .bool(a == b)
            case "!=": return .bool(a != b)
            case "<", "<=", ">", ">=":
                if case let (.string(x), .string(y)) = (a, b) {
                    return .bool(op == "<" ? x < y : op == "<=" ? x <= y : op == ">" ? x > y : x >= y)
                }
                let x = try number(a, "'\(op)'"), y = try number(b, "'\(op)'")
                return .bool(op == "<" ? x < y : op == "<=" ? x <= y : op == ">" ? x > y : x >= y)
            case "+":
                if case let (.string(x), .string(y)) = (a, b) { return .string(x + y) }
                if case let (.list(x), .list(y)) = (a, b) { return .list(x + y) }
                fallthrough
            default:
                return try arithmetic(op, a, b, fail: fail, number: number)
            }
        case let .call(name, args):
            let values = try args.map(eval)
            guard let f = scope.functions[name] else { return try call(name, values, fail: fail, number: number) }
            return try callFile(f, values, scope: scope, fail: fail)
        }
    }

    // Kept out of `evaluate` so that its stack frame stays small: expressions nest.
    private static func callFile(_ f: FunctionDecl, _ values: [Value], scope: Scope, fail: (String) -> SpecError) throws -> Value {
        guard values.count == f.arguments.count else {
            throw fail("\(f.name)() takes \(f.arguments.count) argument(s) (\(f.arguments.joined(separator: ", "))), found \(values.count)")
        }
        guard scope.callDepth < FunctionDecl.maxDepth else {
            throw fail("\(f.name)(): calls nest deeper than \(FunctionDecl.maxDepth) (does a function call itself?)")
        }
        var inner = Scope(Dictionary(zip(f.arguments, values), uniquingKeysWith: { $1 }), functions: scope.functions)
        inner.callDepth = scope.callDepth + 1
        return try evaluate(f.body, in: inner, at: f.location, source: f.source)
    }

    private static func slice(_ base: Value, _ lower: Value?, _ upper: Value?, fail: (String) -> SpecError) throws -> Value {
        guard case let .list(items) = base else { throw fail("only lists can be sliced") }
        func bound(_ v: Value?, _ fallback: Int) throws -> Int {
            guard let v else { return fallback }
            guard case let .int(k) = v else { throw fail("slice bounds must be integers") }
            return min(max(k < 0 ? items.count + k : k, 0), items.count) // Python's clamping
        }
        let lo = try bound(lower, 0), hi = try bound(upper, items.count)
        return .list(lo < hi ? Array(items[lo..<hi]) : [])
    }

    private static func comprehension(_ element: Expr, _ variable: String, _ list: Value, in scope: Scope, at location: SourceLocation,
                                      source: String, fail: (String) -> SpecError) throws -> Value {
        guard case let .list(items) = list else { throw fail("'for \(variable) in' needs a list") }
        return .list(try items.map { try evaluate(element, in: scope.adding([variable: $0]), at: location, source: source) })
    }

    private static func arithmetic(_ op: String, _ a: Value, _ b: Value, fail: (String) -> SpecError,
                                   number: (Value, String) throws -> Double) throws -> Value {
        if case let (.int(x), .int(y)) = (a, b), op != "/" {
            switch op {
            case "+": return .int(x &+ y)
            case "-": return .int(x &- y)
            case "*":
                let (p, overflow) = x.multipliedReportingOverflow(by: y)
                if overflow { throw fail("integer overflow in \(x) * \(y)") }
                return .int(p)
            case "//", "%":
                guard y != 0 else { throw fail("division by zero") }
                let q = Int((Double(x) / Double(y)).rounded(.down))
                return .int(op == "//" ? q : x - q * y)
            default: break
            }
        }
        let x = try number(a, "'\(op)'"), y = try number(b, "'\(op)'")
        switch op {
        case "+": return .float(x + y)
        case "-": return .float(x - y)
        case "*": return .float(x * y)
        case "/":
            guard y != 0 else { throw fail("division by zero") }
            return .float(x / y)
        case "//": guard y != 0 else { throw fail("division by zero") }; return .float((x / y).rounded(.down))
        case "%": guard y != 0 else { throw fail("division by zero") }; return .float(x - (x / y).rounded(.down) * y)
        default: throw fail("unknown operator '\(op)'")
        }
    }

    static let functions = ["round", "int", "float", "min", "max", "sum", "len", "keys", "values", "unique", "count", "log", "exp", "pow", "range", "ceil", "floor", "str"]

    private static func call(_ name: String, _ args: [Value], fail: (String) -> SpecError,
                             number: (Value, String) throws -> Double) throws -> Value {
        func arity(_ n: ClosedRange<Int>) throws {
            guard n.contains(args.count) else {
                throw fail("\(name)() takes \(n.lowerBound == n.upperBound ? "\(n.lowerBound)" : "\(n.lowerBound) to \(n.upperBound)") argument(s), found \(args.count)")
            }
        }
        func toInt(_ d: Double) throws -> Value {
            guard d.isFinite, abs(d) < 9e18 else { throw fail("\(name)() of \(d) is not a finite integer") }
            return .int(Int(d))
        }
        switch name {
        case "round":
            try arity(1...1); return try toInt(try number(args[0], "round()'s argument").rounded(.toNearestOrEven))
        case "int":
            try arity(1...1); return try toInt(try number(args[0], "int()'s argument").rounded(.towardZero))
        case "ceil":
            try arity(1...1); return try toInt(try number(args[0], "ceil()'s argument").rounded(.up))
        case "floor":
            try arity(1...1); return try toInt(try number(args[0], "floor()'s argument").rounded(.down))
        case "float":
            try arity(1...1); return .float(try number(args[0], "float()'s argument"))
        case "str":
            try arity(1...1); return .string(args[0].description)
        case "min", "max":
            let items: [Value]
            if args.count == 1, case let .list(l) = args[0] { items = l } else { items = args }
            guard !items.isEmpty else { throw fail("\(name)() of nothing") }
            var best = items[0]
            for v in items.dropFirst() {
                let better = name == "min" ? try number(v, "\(name)()") < number(best, "\(name)()")
                                           : try number(v, "\(name)()") > number(best, "\(name)()")
                if better { best = v }
            }
            return best
        case "sum":
            try arity(1...1)
            guard case let .list(items) = args[0] else { throw fail("sum() takes a list, found \(args[0].typeName)") }
            if items.allSatisfy({ if case .int = $0 { return true } else { return false } }) {
                return .int(items.reduce(0) { total, v in if case let .int(i) = v { return total &+ i }; return total })
            }
            return .float(try items.reduce(0.0) { $0 + (try number($1, "sum()'s items")) })
        case "log", "exp":
            try arity(1...1)
            let x = try number(args[0], "\(name)()'s argument")
            guard name == "exp" || x > 0 else { throw fail("log() of \(x), which is not positive") }
            return .float(name == "log" ? Foundation.log(x) : Foundation.exp(x))
        case "pow":
            try arity(2...2)
            let v = Foundation.pow(try number(args[0], "pow()'s base"), try number(args[1], "pow()'s exponent"))
            guard v.isFinite else { throw fail("pow() is not finite") }
            return .float(v)
        case "unique":  // the distinct items, in first-seen order
            try arity(1...1)
            guard case let .list(items) = args[0] else { throw fail("unique() takes a list, found \(args[0].typeName)") }
            var seen: [Value] = []
            for v in items where !seen.contains(v) { seen.append(v) }
            return .list(seen)
        case "count":  // how many items equal the value
            try arity(2...2)
            guard case let .list(items) = args[0] else { throw fail("count() takes a list, found \(args[0].typeName)") }
            return .int(items.filter { $0 == args[1] }.count)
        case "keys", "values":  // a mapping's (a table's rows') keys or values, in order
            try arity(1...1)
            guard case let .map(entries) = args[0] else { throw fail("\(name)() takes a mapping (such as a table), found \(args[0].typeName)") }
            return .list(entries.map { name == "keys" ? .string($0.key) : $0.value })
        case "len":
            try arity(1...1)
            switch args[0] {
            case let .list(l): return .int(l.count)
            case let .map(m): return .int(m.count)
            case let .string(s): return .int(s.count)
            default: throw fail("len() of \(args[0].typeName)")
            }
        case "range":
            try arity(1...2)
            var bounds: [Int] = []
            for a in args {
                guard case let .int(i) = a else { throw fail("range() takes integers, found \(a.typeName)") }
                bounds.append(i)
            }
            let (lo, hi) = bounds.count == 1 ? (0, bounds[0]) : (bounds[0], bounds[1])
            guard hi - lo <= 100_000 else { throw fail("range() of more than 100000 values") }
            return .list(lo < hi ? (lo..<hi).map { .int($0) } : [])
        default:
            throw fail("unknown function '\(name)'\(Suggestion.didYouMean(name, in: functions)) (built-in functions: \(functions.joined(separator: ", ")); a file may declare more under functions:)")
        }
    }
}
