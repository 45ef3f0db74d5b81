/// A function declared in a file's `functions:` section: named arguments and one expression,
/// callable from every expression of the file like the built-in ones.
///
///     functions:
///       make_divisible:                  # torchvision's _make_divisible
///         args: [v, divisor]
///         value: "${max(divisor, int(v + divisor / 2) // divisor * divisor)}"
///
/// The body sees only its arguments and the other functions (no parameters or loop variables), so
/// a call means the same wherever it stands. Calls may nest up to `FunctionDecl.maxDepth` deep.
public struct FunctionDecl: Sendable {
    public var name: String
    public var arguments: [String]
    public var body: Expr
    /// The body as written, for error messages.
    public var source: String
    public var location: SourceLocation

    public init(name: String, arguments: [String], body: Expr, source: String, location: SourceLocation) {
        self.name = name
        self.arguments = arguments
        self.body = body
        self.source = source
        self.location = location
    }

    public static let keys = ["doc", "args", "value"]
    public static let maxDepth = 32

    static func decode(_ entry: YEntry) throws -> FunctionDecl {
        let name = entry.key.text
        guard ParamDecl.isIdentifier(name) else {
            throw SpecError("function name '\(name)' must be an identifier", at: entry.key.location)
        }
        guard !Evaluator.functions.contains(name) else {
            throw SpecError("function '\(name)' would hide the built-in \(name)(); choose another name", at: entry.key.location)
        }
        guard case let .map(fields, location) = entry.value else {
            throw SpecError("function '\(name)': expected {args: [...], value: \"${...}\"}, found \(entry.value.kindDescription)", at: entry.value.location)
        }
        for f in fields where !keys.contains(f.key.text) {
            throw SpecError("function '\(name)': unknown key '\(f.key.text)'\(Suggestion.didYouMean(f.key.text, in: keys)) (keys: \(keys.joined(separator: ", ")))",
                            at: f.key.location)
        }
        let argsNode = entry.value["args"]
        let arguments = try (argsNode?.items ?? []).map { item -> String in
            guard let s = item.scalar, ParamDecl.isIdentifier(s.text) else {
                throw SpecError("function '\(name)': arguments must be identifiers, found \(item.kindDescription)", at: item.location)
            }
            return s.text
        }
        if let argsNode, argsNode.items == nil {
            throw SpecError("function '\(name)': 'args' must be a list of names, found \(argsNode.kindDescription)", at: argsNode.location)
        }
        if let duplicate = arguments.first(where: { a in arguments.filter { $0 == a }.count > 1 }) {
            throw SpecError("function '\(name)': argument '\(duplicate)' appears twice", at: argsNode?.location ?? location)
        }
        guard let valueNode = entry.value["value"], let scalar = valueNode.scalar else {
            throw SpecError("function '\(name)': missing 'value', an expression such as \"${a + b}\"", at: entry.value["value"]?.location ?? location)
        }
        guard case let .expression(body) = try ScalarForm.of(scalar) else {
            throw SpecError("function '\(name)': 'value' must be one expression \"${...}\", found '\(scalar.text)'", at: scalar.location)
        }
        return FunctionDecl(name: name, arguments: arguments, body: body, source: scalar.text, location: scalar.location)
    }
}
