import ArchJSON
import Foundation

/// An architecture file with its parameters resolved: what the builder instantiates.
public struct ResolvedArchitecture: Sendable {
    public var document: ArchitectureDocument
    /// Every file parameter with its final value, in declaration order.
    public var parameters: [(name: String, value: Value)]
    /// The input shape [C, H, W] after `--input`.
    public var input: [Int]
    /// Overrides of one built layer's or template instance's argument by the module path
    /// `archlab summary` prints (`inception3a.branch3.1.conv.kernel=3`): applied by the builder,
    /// which reports any that reaches no module.
    public var moduleOverrides: [Override] = []

    /// The file parameters as a scope for expressions.
    public var scope: Scope {
        Scope(Dictionary(parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }), functions: document.functions)
    }

    public func parameter(_ name: String) -> Value? { parameters.first { $0.name == name }?.value }

    /// Every parameter's final value as a JSON object, in declaration order (config.json, trial
    /// identities, checkpoint identities).
    public var parametersJSON: String {
        parametersJSONValue.text(.spaced)
    }

    /// Every parameter's final value as an ordered JSON object.
    public var parametersJSONValue: JSONValue {
        .object(parameters.map { ($0.name, $0.value.jsonValue) })
    }
}

/// Loads architecture files: `extends` chains (cycles are errors), `set:` sections, `--set` overrides
/// and `--input`, producing a `ResolvedArchitecture`.
public struct ArchitectureLoader: Sendable {
    public var yaml = YAMLLoader()
    /// Longest `extends` chain accepted.
    public var maxExtendsDepth = 32

    public init() {}

    /// Loads `path`, applies the overrides in order, and resolves parameter values.
    public func load(_ path: String, overrides: [Override] = [], input: [Int]? = nil) throws -> ResolvedArchitecture {
        var parameterOverrides: [Override] = []
        var tree = try mergedTree(path, chain: [], parameterOverrides: &parameterOverrides)
        let declared = Set(tree["params"]?.entries?.map(\.key.text) ?? [])
        var moduleOverrides: [Override] = []
        for o in overrides {
            if declared.contains(o.path[0]) {
                parameterOverrides.append(o)
            } else if o.path.count >= 2, !ArchitectureDocument.keys.contains(o.path[0]) {
                moduleOverrides.append(o)  // a module path and an argument; the builder resolves it
            } else {
                guard ArchitectureDocument.keys.contains(o.path[0]), !["extends", "set"].contains(o.path[0]) else {
                    let candidates = Array(declared) + ["input", "layers", "templates", "name"]
                    throw SpecError("unknown parameter '\(o.path[0])'\(Suggestion.didYouMean(o.path[0], in: candidates)) (parameters: \(declared.sorted().joined(separator: ", ")); document keys: input, layers, templates, name)",
                                    at: o.location)
                }
                tree = try o.apply(to: tree)
            }
        }
        let document = try ArchitectureDocument.decode(tree, file: path)
        var values: [(name: String, value: Value)] = document.params.map { ($0.name, $0.defaultValue ?? .null) }
        for o in parameterOverrides {
            guard let i = values.firstIndex(where: { $0.name == o.path[0] }),
                  let decl = document.params.first(where: { $0.name == o.path[0] }) else {
                throw SpecError("unknown parameter '\(o.path[0])'", at: o.location)
            }
            values[i].value = try o.apply(to: values[i].value, decl: decl)
            try decl.check(values[i].value, at: o.location)
        }
        var resolved = ResolvedArchitecture(document: document, parameters: values, input: input ?? document.input)
        resolved.moduleOverrides = moduleOverrides
        return resolved
    }

    /// The document tree of `path` merged over its `extends` chain, with `set:` document paths applied.
    func mergedTree(_ path: String, chain: [String], parameterOverrides: inout [Override]) throws -> YNode {
        var collected: [Override] = []
        let chain = ExtendsChain(yaml: yaml, maxDepth: maxExtendsDepth, merge: Self.merge) { merged, own in
            guard case let .map(entries, _) = own else {
                throw SpecError("expected a mapping with name, params, input, templates and layers; found \(own.kindDescription)", at: own.location)
            }
            var result = Self.removing(["extends", "set", "use"], from: merged)
            if let useNode = entries.first(where: { $0.key.text == "use" })?.value {
                result = try Self.applyingUse(useNode, to: result)
            }
            // a file's `set:` applies to what it sees: its own keys merged over its bases
            if let setNode = entries.first(where: { $0.key.text == "set" })?.value {
                let declared = Set(result["params"]?.entries?.map(\.key.text) ?? [])
                for o in try Override.parse(setSection: setNode) {
                    if declared.contains(o.path[0]) {
                        collected.append(o)
                    } else {
                        result = try o.apply(to: result)
                    }
                }
            }
            return result
        }
        let tree = try chain.load(path)
        parameterOverrides += collected
        return tree
    }

    /// `path` as written in `file` (relative to its directory), normalized (`a/../b` is `b`).
    public static func resolve(_ path: String, relativeTo file: String) -> String {
        if path.hasPrefix("/") { return path }
        let dir = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let joined = dir.isEmpty ? path : dir + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/", omittingEmptySubsequences: false) {
            if part == "..", let last = parts.last, last != "..", !last.isEmpty { parts.removeLast() }
            else if part != "." { parts.append(part) }
        }
        return parts.joined(separator: "/")
    }

    /// The file's absolute path with symbolic links resolved (to detect `extends` cycles).
    public static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// `use: lib/rounding.yaml` (or a list): the functions and templates of those files, under the
    /// file's own (a definition in the file wins over a used one of the same name). A used file
    /// holds nothing else.
    static func applyingUse(_ node: YNode, to tree: YNode) throws -> YNode {
        let scalars: [YScalar]
        if let items = node.items { scalars = try items.map { item in
            guard let s = item.scalar, !s.isNull else { throw SpecError("use: expected a file path, found \(item.kindDescription)", at: item.location) }
            return s
        } } else if let s = node.scalar, !s.isNull { scalars = [s] } else {
            throw SpecError("use: expected a file path or a list of them, found \(node.kindDescription)", at: node.location)
        }
        var result = tree
        for s in scalars.reversed() {  // the first listed wins over later ones
            let path = resolve(s.text, relativeTo: s.location.file)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw SpecError("use '\(s.text)': no such file (looked for \(path))", at: s.location, notes: YAMLLoader.similarFiles(to: path))
            }
            let library = try YAMLLoader().load(file: path)
            guard let entries = library.entries else {
                throw SpecError("a file given to use: is a mapping of functions and templates; found \(library.kindDescription)", at: library.location)
            }
            for e in entries where !["doc", "functions", "templates"].contains(e.key.text) {
                throw SpecError("a file given to use: holds functions and templates only (and doc); found '\(e.key.text)'", at: e.key.location)
            }
            guard case .map(var members, let location) = result else { return result }
            for key in ["functions", "templates"] {
                guard let used = library[key] else { continue }
                if let i = members.firstIndex(where: { $0.key.text == key }) {
                    members[i].value = mergeEntries(base: used, child: members[i].value) { _, own in own }
                } else {
                    members.append(YEntry(key: YScalar(key, at: used.location), value: used))
                }
            }
            result = .map(members, location)
        }
        return result
    }

    static func removing(_ keys: [String], from node: YNode) -> YNode {
        guard case let .map(entries, location) = node else { return node }
        return .map(entries.filter { !keys.contains($0.key.text) }, location)
    }

    /// Child keys replace the base's; `params` and `templates` merge entry by entry. A child's plain
    /// value for a declared base parameter replaces only its default, keeping type, bounds and doc.
    static func merge(base: YNode, child: YNode) -> YNode {
        guard case .map(var result, let location) = base, case let .map(childEntries, _) = child else { return child }
        for entry in childEntries where entry.key.text != "extends" && entry.key.text != "set" {
            guard let i = result.firstIndex(where: { $0.key.text == entry.key.text }) else {
                result.append(entry)
                continue
            }
            switch entry.key.text {
            case "params":
                result[i].value = mergeParams(base: result[i].value, child: entry.value)
            case "templates", "functions":
                result[i].value = mergeEntries(base: result[i].value, child: entry.value) { _, new in new }
            default:
                result[i] = entry
            }
        }
        return .map(result, location)
    }

    static func mergeParams(base: YNode, child: YNode) -> YNode {
        mergeEntries(base: base, child: child) { old, new in
            let isDeclaration = new.entries?.contains { ["type", "default", "columns"].contains($0.key.text) } ?? false
            guard !isDeclaration, let oldFields = old.entries,
                  oldFields.contains(where: { ["type", "default", "columns"].contains($0.key.text) }) else { return new }
            let key = oldFields.contains { $0.key.text == "columns" } && new.entries != nil ? "rows" : "default"
            return old.setting(key, to: new, keyLocation: new.location)
        }
    }

    static func mergeEntries(base: YNode, child: YNode, combine: (YNode, YNode) -> YNode) -> YNode {
        guard case .map(var result, let location) = base, let childEntries = child.entries else { return child }
        for entry in childEntries {
            if let i = result.firstIndex(where: { $0.key.text == entry.key.text }) {
                result[i].value = combine(result[i].value, entry.value)
            } else {
                result.append(entry)
            }
        }
        return .map(result, location)
    }
}
