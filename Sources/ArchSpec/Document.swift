/// A reusable block written in YAML: named, typed parameters and a body of layers.
public struct TemplateDecl: Sendable {
    public var name: String
    public var doc: String?
    /// The row type shown by `summary --format paper` (for example `inception`, `convolution`).
    public var label: String?
    public var params: [ParamDecl]
    /// Extra columns for `summary --format paper`: column title -> expression over the parameters.
    public var report: [YEntry]
    /// Values computed from the parameters, in order, visible to the body (`let: {c1: "${n1x1 * 2}"}`).
    public var bindings: [YEntry]
    /// Conditions every instantiation must meet, each with what it means: `require: {"out is even": "${out % 2 == 0}"}`.
    public var requirements: [YEntry] = []
    public var layers: YNode
    public var location: SourceLocation

    static let keys = ["doc", "label", "params", "let", "require", "report", "layers"]
}

/// An architecture file after `extends` and document overrides: still YAML nodes for the layers
/// (each op decodes its own node when the builder instantiates it), typed declarations elsewhere.
public struct ArchitectureDocument: Sendable {
    /// The file the user named.
    public var file: String
    public var name: String
    public var doc: String?
    /// The paper the architecture comes from.
    public var paper: String?
    public var params: [ParamDecl]
    /// Default input shape [C, H, W].
    public var input: [Int]
    public var inputLocation: SourceLocation
    public var templates: [String: TemplateDecl]
    public var templateOrder: [String]
    public var layers: YNode
    /// Weight initialization per op (`init:`), decoded by the graph module.
    public var initialization: YNode?
    /// Functions for expressions (`functions:`), by name.
    public var functions: [String: FunctionDecl] = [:]

    /// The top-level keys an architecture file may use.
    public static let keys = ["name", "doc", "paper", "extends", "use", "set", "params", "functions", "input", "templates", "layers", "init"]

    /// Decodes a merged document tree (see `ArchitectureLoader`).
    public static func decode(_ root: YNode, file: String) throws -> ArchitectureDocument {
        guard case let .map(entries, rootLocation) = root else {
            throw SpecError("expected a mapping with \(keys.filter { $0 != "set" && $0 != "extends" }.joined(separator: ", ")); found \(root.kindDescription)",
                            at: root.location)
        }
        for e in entries where !keys.contains(e.key.text) {
            throw SpecError("unknown key '\(e.key.text)'\(Suggestion.didYouMean(e.key.text, in: keys)) (top-level keys: \(keys.joined(separator: ", ")))",
                            at: e.key.location)
        }
        func string(_ key: String) throws -> String? {
            guard let node = root[key] else { return nil }
            guard let s = node.scalar, !s.isNull else {
                throw SpecError("'\(key)' must be a string, found \(node.kindDescription)", at: node.location)
            }
            return s.text
        }
        let name = try string("name") ?? fileStem(file)
        var params: [ParamDecl] = []
        if let p = root["params"] {
            guard let pe = p.entries else { throw SpecError("'params' must be a mapping of name: default, found \(p.kindDescription)", at: p.location) }
            params = try pe.map(ParamDecl.decode)
            for decl in params where decl.defaultValue == nil {
                throw SpecError("parameter '\(decl.name)' of an architecture file needs a default value", at: decl.location)
            }
        }
        guard params.contains(where: { $0.name == "num_classes" }) else {
            throw SpecError("params: missing 'num_classes' (every architecture file declares it, e.g. num_classes: 1000)",
                            at: root.entry("params")?.key.location ?? rootLocation)
        }
        guard let inputNode = root["input"] else {
            throw SpecError("missing 'input', the default input shape [channels, height, width], e.g. input: [3, 224, 224]", at: rootLocation)
        }
        let input = try readShape(inputNode)
        var templates: [String: TemplateDecl] = [:]
        var order: [String] = []
        if let t = root["templates"] {
            guard let te = t.entries else { throw SpecError("'templates' must be a mapping of name: template, found \(t.kindDescription)", at: t.location) }
            for entry in te {
                templates[entry.key.text] = try decodeTemplate(entry)
                order.append(entry.key.text)
            }
        }
        guard let layers = root["layers"] else {
            throw SpecError("missing 'layers', the list of the network's layers", at: rootLocation)
        }
        guard layers.items != nil else {
            throw SpecError("'layers' must be a list, found \(layers.kindDescription)", at: layers.location)
        }
        var functions: [String: FunctionDecl] = [:]
        if let f = root["functions"] {
            guard let fe = f.entries else { throw SpecError("'functions' must be a mapping of name: {args, value}, found \(f.kindDescription)", at: f.location) }
            for entry in fe { functions[entry.key.text] = try FunctionDecl.decode(entry) }
        }
        var document = ArchitectureDocument(file: file, name: name, doc: try string("doc"), paper: try string("paper"), params: params,
                                            input: input, inputLocation: inputNode.location, templates: templates,
                                            templateOrder: order, layers: layers, initialization: root["init"])
        document.functions = functions
        return document
    }

    /// Reads `[C, H, W]` (or `CxHxW` text) with every dimension positive.
    public static func readShape(_ node: YNode) throws -> [Int] {
        if let s = node.scalar, !s.quoted, s.text.contains("x") {
            return try parseShape(s.text, at: s.location)
        }
        guard let items = node.items, items.count == 3 else {
            throw SpecError("input: expected [channels, height, width], found \(node.kindDescription)", at: node.location)
        }
        return try items.map { item in
            guard let s = item.scalar, let v = try ScalarReading.int(s), v > 0 else {
                throw SpecError("input: dimensions must be positive integers, found \(item.kindDescription)", at: item.location)
            }
            return v
        }
    }

    /// Parses `3x224x224`.
    public static func parseShape(_ text: String, at location: SourceLocation) throws -> [Int] {
        let parts = text.split(separator: "x", omittingEmptySubsequences: false)
        let dims = parts.compactMap { Int($0) }
        guard parts.count == 3, dims.count == 3, dims.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }) else {
            throw SpecError("input shape '\(text)': expected CxHxW with positive integers, e.g. 3x224x224", at: location)
        }
        return dims
    }

    static func decodeTemplate(_ entry: YEntry) throws -> TemplateDecl {
        let name = entry.key.text
        guard ParamDecl.isIdentifier(name) || name.contains("-") else {
            throw SpecError("template name '\(name)' must be an identifier", at: entry.key.location)
        }
        guard case let .map(fields, location) = entry.value else {
            throw SpecError("template '\(name)': expected a mapping with params and layers, found \(entry.value.kindDescription)", at: entry.value.location)
        }
        for f in fields where !TemplateDecl.keys.contains(f.key.text) {
            throw SpecError("template '\(name)': unknown key '\(f.key.text)'\(Suggestion.didYouMean(f.key.text, in: TemplateDecl.keys)) (keys: \(TemplateDecl.keys.joined(separator: ", ")))",
                            at: f.key.location)
        }
        var params: [ParamDecl] = []
        if let p = entry.value["params"] {
            guard let pe = p.entries else { throw SpecError("template '\(name)': 'params' must be a mapping", at: p.location) }
            params = try pe.map(ParamDecl.decode)
        }
        guard let layers = entry.value["layers"], layers.items != nil else {
            throw SpecError("template '\(name)': missing 'layers', a list", at: entry.value["layers"]?.location ?? location)
        }
        func mapping(_ key: String) throws -> [YEntry] {
            guard let node = entry.value[key] else { return [] }
            guard let entries = node.entries else {
                throw SpecError("template '\(name)': '\(key)' must be a mapping, found \(node.kindDescription)", at: node.location)
            }
            return entries
        }
        var template = TemplateDecl(name: name, doc: entry.value["doc"]?.scalar?.text, label: entry.value["label"]?.scalar?.text,
                                    params: params, report: try mapping("report"), bindings: try mapping("let"), layers: layers,
                                    location: entry.key.location)
        template.requirements = try mapping("require")
        return template
    }
}

/// `googlenet` for `architectures/googlenet.yaml`.
public func fileStem(_ path: String) -> String {
    let last = path.split(separator: "/").last.map(String.init) ?? path
    if let dot = last.lastIndex(of: "."), dot != last.startIndex { return String(last[..<dot]) }
    return last
}
