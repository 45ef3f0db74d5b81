import ArchSpec

/// The arguments of one op node, read by the op itself: each accessor evaluates expressions in the
/// node's scope, checks the type and range, and records the key as known so that `finish()` can
/// report any other key as a typo.
public struct OpArguments {
    public let opName: String
    /// Where the node stands in its file.
    public let location: SourceLocation
    let entries: [YEntry]
    let scope: Scope
    private(set) var known: [String] = []

    init(opName: String, entries: [YEntry], scope: Scope, location: SourceLocation) {
        self.opName = opName
        self.entries = entries
        self.scope = scope
        self.location = location
    }

    private func node(_ key: String) -> YNode? { entries.first { $0.key.text == key }?.value }

    private mutating func value(_ key: String, as type: ParamType) throws -> (Value, SourceLocation)? {
        known.append(key)
        guard let node = node(key) else { return nil }
        let what = "\(opName) '\(key)'"
        if case let .scalar(s) = node, case .literal = try ScalarForm.of(s) {
            return (try TypedReading.read(node, as: type, what: what), node.location)
        }
        let v = try Evaluator.value(of: node, in: scope)
        return (try TypedReading.coerce(v, to: type, what: what, at: node.location), node.location)
    }

    /// The error for a missing required key: a misspelling of it if the node has one, else "missing".
    private func missing(_ key: String) -> SpecError {
        if let typo = entries.first(where: { !known.contains($0.key.text) && Suggestion.closest(to: $0.key.text, in: [key]) != nil }) {
            return SpecError("\(opName) has no argument '\(typo.key.text)'; did you mean '\(key)'?", at: typo.key.location)
        }
        return SpecError("\(opName): missing '\(key)'", at: location)
    }

    private func rangeError(_ key: String, _ expected: String, _ found: Value, _ at: SourceLocation) -> SpecError {
        SpecError("\(opName) '\(key)': expected \(expected), found \(found)", at: at)
    }

    /// An integer argument, at least `min`.
    public mutating func int(_ key: String, default fallback: Int? = nil, min: Int = 1) throws -> Int {
        guard let (v, at) = try value(key, as: .int) else {
            guard let fallback else { throw missing(key) }
            return fallback
        }
        guard case let .int(i) = v, i >= min else {
            throw rangeError(key, min == 1 ? "a positive integer" : "an integer of at least \(min)", v, at)
        }
        guard i <= Limits.dimension else { throw rangeError(key, "at most \(Limits.dimension)", v, at) }
        return i
    }

    /// An integer or `[height, width]` pair, each at least `min`.
    public mutating func pair(_ key: String, default fallback: (Int, Int)? = nil, min: Int = 1) throws -> (Int, Int) {
        known.append(key)
        guard let node = node(key) else {
            guard let fallback else { throw missing(key) }
            return fallback
        }
        let v: Value
        if case let .scalar(s) = node, case .literal = try ScalarForm.of(s) {
            v = .int(try TypedReading.read(node, as: .int, what: "\(opName) '\(key)'").intValue)
        } else {
            v = try Evaluator.value(of: node, in: scope)
        }
        let expected = min == 1 ? "a positive integer or [height, width]" : "an integer of at least \(min) or [height, width]"
        switch v {
        case let .int(i) where i >= min && i <= Limits.dimension: return (i, i)
        case let .int(i) where i > Limits.dimension: throw rangeError(key, "at most \(Limits.dimension)", v, node.location)
        case let .list(items) where items.count == 2:
            if case let .int(h) = items[0], case let .int(w) = items[1], h >= min, w >= min, h <= Limits.dimension, w <= Limits.dimension {
                return (h, w)
            }
            throw rangeError(key, expected, v, node.location)
        default:
            throw rangeError(key, expected, v, node.location)
        }
    }

    /// A number in `range`.
    public mutating func double(_ key: String, default fallback: Double, in range: ClosedRange<Double> = -.infinity ... .infinity,
                                excludingUpper: Bool = false) throws -> Double {
        guard let (v, at) = try value(key, as: .float) else { return fallback }
        guard case let .float(d) = v, range.contains(d), !(excludingUpper && d == range.upperBound) else {
            let upper = excludingUpper ? "below \(Value.plainNumber(range.upperBound))" : "at most \(Value.plainNumber(range.upperBound))"
            throw rangeError(key, "a number from \(Value.plainNumber(range.lowerBound)) \(range.upperBound.isFinite ? upper : "up")", v, at)
        }
        return d
    }

    /// A boolean.
    public mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let (v, _) = try value(key, as: .bool) else { return fallback }
        guard case let .bool(b) = v else { return fallback }
        return b
    }

    /// Reports the first key no accessor asked for, with a suggestion.
    public func finish() throws {
        for e in entries where !known.contains(e.key.text) {
            throw SpecError("\(opName) has no argument '\(e.key.text)'\(Suggestion.didYouMean(e.key.text, in: known)) (arguments: \(known.joined(separator: ", ")))",
                            at: e.key.location)
        }
    }
}

extension Value {
    var intValue: Int { if case let .int(i) = self { return i }; return 0 }
}
