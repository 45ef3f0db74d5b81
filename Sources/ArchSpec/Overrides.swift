import Foundation

/// One `path=value` override, from `--set` on the command line or a file's `set:` section.
///
/// Paths are dotted: the first segment is either a declared parameter (`branch3_kernel`,
/// `inception.4a.n5x5`, a whole row `inception.4a`) or a top-level document key (`input`,
/// `layers.maxpool4.kernel`, `templates.inception_aux.params.dropout.default`). In document paths,
/// a list item is addressed by its index or by its `name:`.
public struct Override: Sendable {
    public var path: [String]
    public var value: YNode
    /// Where the override was written (for `--set`, a pseudo-location naming the argument).
    public var location: SourceLocation

    public init(path: [String], value: YNode, location: SourceLocation) {
        self.path = path
        self.value = value
        self.location = location
    }

    public var dottedPath: String { path.joined(separator: ".") }

    /// Parses a command-line `name=value`; the value is read as YAML (`64`, `true`, `[3, 96, 96]`).
    public static func parse(commandLine text: String) throws -> Override {
        let location = SourceLocation.commandLine("--set \(text)")
        guard let eq = text.firstIndex(of: "=") else {
            throw SpecError("expected name=value", at: location)
        }
        let name = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let path = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !name.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
            throw SpecError("expected name=value with a dotted name such as inception.4a.n5x5", at: location)
        }
        let valueText = String(text[text.index(after: eq)...])
        let value: YNode
        if valueText.trimmingCharacters(in: .whitespaces).isEmpty {
            value = .scalar(YScalar("", at: location))
        } else {
            var loader = YAMLLoader()
            loader.maxBytes = 1 << 16
            loader.maxDepth = 16
            value = try relocated(loader.parse(valueText, file: "--set \(text)"), to: location)
        }
        return Override(path: path, value: value, location: location)
    }

    /// The node with every location replaced (so errors name the `--set` argument).
    static func relocated(_ node: YNode, to location: SourceLocation) -> YNode {
        switch node {
        case var .scalar(s): s.location = location; return .scalar(s)
        case let .list(items, _): return .list(items.map { relocated($0, to: location) }, location)
        case let .map(entries, _):
            return .map(entries.map { YEntry(key: YScalar($0.key.text, quoted: $0.key.quoted, at: location), value: relocated($0.value, to: location)) }, location)
        }
    }

    /// Reads a file's `set:` mapping of `path: value`.
    public static func parse(setSection node: YNode) throws -> [Override] {
        guard let entries = node.entries else {
            throw SpecError("'set' must be a mapping of path: value, found \(node.kindDescription)", at: node.location)
        }
        return entries.map { e in
            Override(path: e.key.text.split(separator: ".", omittingEmptySubsequences: false).map(String.init),
                     value: e.value, location: e.key.location)
        }
    }

    /// Applies a document-path override to the tree.
    func apply(to root: YNode) throws -> YNode {
        try Override.set(path[...], in: root, to: value, override: self, walked: [])
    }

    private static func set(_ path: ArraySlice<String>, in node: YNode, to value: YNode, override: Override,
                            walked: [String]) throws -> YNode {
        guard let head = path.first else { return value }
        let here = (walked + [head]).joined(separator: ".")
        switch node {
        case let .map(entries, location):
            guard let i = entries.firstIndex(where: { $0.key.text == head }) else {
                if path.count == 1 {
                    return node.setting(head, to: value, keyLocation: override.location)
                }
                throw SpecError("set \(override.dottedPath): no key '\(head)' at '\(here)'\(Suggestion.didYouMean(head, in: entries.map(\.key.text)))",
                                at: override.location)
            }
            var copy = entries
            copy[i].value = try set(path.dropFirst(), in: entries[i].value, to: value, override: override, walked: walked + [head])
            return .map(copy, location)
        case let .list(items, location):
            let index: Int? = Int(head).flatMap { items.indices.contains($0) ? $0 : nil }
                ?? items.firstIndex { $0["name"]?.scalar?.text == head }
            guard let index else {
                let names = items.compactMap { $0["name"]?.scalar?.text }
                throw SpecError("set \(override.dottedPath): no item '\(head)' at '\(here)': use an index below \(items.count) or a layer name\(Suggestion.didYouMean(head, in: names))",
                                at: override.location)
            }
            var copy = items
            copy[index] = try set(path.dropFirst(), in: items[index], to: value, override: override, walked: walked + [head])
            return .list(copy, location)
        case .scalar:
            throw SpecError("set \(override.dottedPath): '\(walked.joined(separator: "."))' is a scalar, it has no '\(head)'", at: override.location)
        }
    }

    /// Applies a parameter-path override to a parameter's value, keeping the type of what it replaces.
    func apply(to value: Value, decl: ParamDecl) throws -> Value {
        if path.count == 1 { return try decl.read(self.value) }
        return try Override.set(path.dropFirst(), in: value, decl: decl, override: self, walked: [path[0]])
    }

    private static func set(_ path: ArraySlice<String>, in current: Value, decl: ParamDecl, override: Override,
                            walked: [String]) throws -> Value {
        guard let head = path.first else {
            let what = "set \(override.dottedPath)"
            if decl.type == .table, walked.count == 2 {
                return try TypedReading.readRow(override.value, columns: decl.columns, what: what)
            }
            let type = ParamType.inferred(from: current) ?? .string
            let v = try TypedReading.read(override.value, as: type, what: what)
            return v
        }
        let here = (walked + [head]).joined(separator: ".")
        switch current {
        case let .map(entries):
            let index = entries.firstIndex { $0.key == head } ?? Int(head).flatMap { entries.indices.contains($0) ? $0 : nil }
            guard let index else {
                throw SpecError("set \(override.dottedPath): no '\(head)' at '\(here)'\(Suggestion.didYouMean(head, in: entries.map(\.key))) (keys: \(entries.map(\.key).joined(separator: ", ")))",
                                at: override.location)
            }
            var copy = entries
            copy[index].value = try set(path.dropFirst(), in: entries[index].value, decl: decl, override: override, walked: walked + [head])
            return .map(copy)
        case let .list(items):
            guard let i = Int(head), items.indices.contains(i) else {
                throw SpecError("set \(override.dottedPath): '\(head)' is not an index below \(items.count)", at: override.location)
            }
            var copy = items
            copy[i] = try set(path.dropFirst(), in: items[i], decl: decl, override: override, walked: walked + [head])
            return .list(copy)
        default:
            throw SpecError("set \(override.dottedPath): '\(walked.joined(separator: "."))' is \(current.typeName) \(current.quotedDescription), it has no '\(head)'",
                            at: override.location)
        }
    }
}
