import ArchSpec

/// Instantiates a resolved architecture: expands templates, loops and conditions, lets each op
/// decode its node, infers every shape and counts every parameter, all before any tensor exists.
///
/// Layer nodes (in `layers:`, a template's `layers:` or a branch):
///
///     - {op: conv2d, name: conv1, out: 64, kernel: 7}     # a primitive op or a template
///     - {name: features, layers: [...]}                     # a named sequence (nn.Sequential)
///     - {for: v, in: $cfg, layers: [...]}                   # a loop, spliced into the enclosing list
///
/// Keys every node may carry: `name` (else its position in the list, as nn.Sequential numbers its
/// children), `when` (a condition; false drops the node and its position), `with` (a mapping of
/// template arguments, e.g. a table row), `aux_loss_weight` (marks an auxiliary head), `doc`.
/// Expressions see the file's parameters, the template's parameters, loop variables and the node's
/// input as `in_channels`, `in_height`, `in_width` (`in_features` for flat inputs).
public struct Builder: Sendable {
    public var maxLayers = 100_000
    public var maxTemplateDepth = 64

    public init() {}

    /// Keys that belong to the node rather than to its op.
    public static let nodeKeys = ["name", "op", "when", "with", "aux_loss_weight", "doc", "layers", "branches", "for", "in"]

    public func build(_ architecture: ResolvedArchitecture) throws -> Network {
        let input = Shape(architecture.input)
        let state = BuildState(architecture: architecture, limits: self)
        for name in architecture.document.templateOrder where OpRegistry.names.contains(name) {
            throw SpecError("template '\(name)' has the name of a built-in op; choose another name",
                            at: architecture.document.templates[name]?.location)
        }
        let context = BuildContext(prefix: "", scope: architecture.scope, isAux: false, notes: [])
        let (nodes, _) = try state.buildList(architecture.document.layers.items ?? [], input: input, context: context)
        try state.checkModuleOverridesUsed(nodes)
        let network = Network(name: architecture.document.name, file: architecture.document.file, input: input,
                              nodes: nodes, architecture: architecture)
        try Self.checkUniqueTensorNames(network)
        return network
    }

    static func checkUniqueTensorNames(_ network: Network) throws {
        var seen: [String: SourceLocation] = [:]
        for layer in network.layers {
            for tensor in layer.tensors {
                let name = layer.stateName(tensor)
                if let first = seen[name] {
                    throw SpecError("\(layer.path): duplicate tensor name '\(name)' (first at line \(first.line), column \(first.column)); give the layer another name",
                                    at: layer.location)
                }
                seen[name] = layer.location
            }
        }
    }
}

struct BuildContext {
    var prefix: String
    var scope: Scope
    var isAux: Bool
    var notes: [String]

    func path(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }
}

final class BuildState {
    let architecture: ResolvedArchitecture
    let limits: Builder
    var layerCount = 0
    var templateStack: [String] = []

    init(architecture: ResolvedArchitecture, limits: Builder) {
        self.architecture = architecture
        self.limits = limits
    }

    var networkInput: String { Shape(architecture.input).description }

    /// Indices of `architecture.moduleOverrides` that reached a module.
    var usedModuleOverrides: Set<Int> = []

    /// `entries` of the layer or template instance at `path` with the module-path overrides
    /// addressed to it (`path.argument`) replacing or adding that argument.
    func applyingModuleOverrides(_ entries: [YEntry], path: String) -> [YEntry] {
        var result = entries
        for (i, o) in architecture.moduleOverrides.enumerated() where o.path.dropLast().joined(separator: ".") == path {
            usedModuleOverrides.insert(i)
            guard let last = o.path.last else { continue }  // (an override names at least one key)
            let key = YScalar(last, at: o.location)
            if let j = result.firstIndex(where: { $0.key.text == key.text }) {
                result[j] = YEntry(key: result[j].key, value: o.value)
            } else {
                result.append(YEntry(key: key, value: o.value))
            }
        }
        return result
    }

    /// A module-path override that reached nothing is an error naming the closest module path.
    func checkModuleOverridesUsed(_ nodes: [GraphNode]) throws {
        guard let i = architecture.moduleOverrides.indices.first(where: { !usedModuleOverrides.contains($0) }) else { return }
        let o = architecture.moduleOverrides[i]
        var paths: [String] = []
        func collect(_ node: GraphNode) {
            switch node {
            case let .layer(l): paths.append(l.path)
            case let .scope(m, children): if m.template != nil { paths.append(m.path) }; children.forEach(collect)
            case let .combine(_, branches): branches.forEach(collect)
            case let .aux(_, n): collect(n)
            }
        }
        nodes.forEach(collect)
        let module = o.path.dropLast().joined(separator: ".")
        let declared = architecture.document.params.map(\.name)
        throw SpecError("unknown parameter '\(o.path[0])' and no layer or template instance at '\(module)'\(Suggestion.didYouMean(module, in: paths)) (a parameter: \(declared.joined(separator: ", ")); or a path that `archlab summary` prints, then the argument: conv1.kernel=5)",
                        at: o.location)
    }

    func buildList(_ items: [YNode], input: Shape, context: BuildContext) throws -> ([GraphNode], Shape) {
        var shape = input
        var index = 0
        var nodes: [GraphNode] = []
        for item in items {
            try expand(item, shape: &shape, index: &index, nodes: &nodes, context: context, inBranches: false)
        }
        return (nodes, shape)
    }

    /// Scope for a node: the context's names plus the node's input shape.
    func scope(_ context: BuildContext, input: Shape) -> Scope { context.scope.adding(Self.inputValues(input)) }

    /// `in_channels`, `in_height`, `in_width` (and `in_features` for flat inputs).
    static func inputValues(_ input: Shape) -> [String: Value] {
        var values: [String: Value] = ["in_channels": .int(input.channels), "in_height": .int(input.height), "in_width": .int(input.width)]
        if !input.isSpatial { values["in_features"] = .int(input.elementCount) }
        return values
    }

    func expand(_ item: YNode, shape: inout Shape, index: inout Int, nodes: inout [GraphNode],
                context: BuildContext, inBranches: Bool) throws {
        guard case let .map(entries, location) = item else {
            throw SpecError("a layer must be a mapping such as {op: relu}, found \(item.kindDescription)", at: item.location)
                .prefixed(context.prefix)
        }
        let scope = self.scope(context, input: shape)
        if let when = item["when"] {
            let v = try Self.evaluate(when, as: .bool, what: "'when'", scope: scope).prefixed(context.prefix)
            guard case .bool(true) = v else { return }
        }
        if let loopVariable = item.entry("for") {
            try expandLoop(item, variable: loopVariable, entries: entries, shape: &shape, index: &index, nodes: &nodes, context: context)
            return
        }
        for e in entries where e.key.text == "in" {
            throw SpecError("'in' belongs to a loop: {for: name, in: list, layers: [...]}", at: e.key.location).prefixed(context.prefix)
        }
        var name: String?
        if let nameNode = item["name"] {
            let v = try Self.evaluate(nameNode, as: .string, what: "'name'", scope: scope).prefixed(context.prefix)
            guard case let .string(s) = v, !s.isEmpty, !s.contains("."), !s.contains(" ") else {
                throw SpecError("'name' must be a non-empty name without dots or spaces, found '\(v)'", at: nameNode.location)
                    .prefixed(context.prefix)
            }
            name = s
        }
        var auxWeight: Double?
        if let w = item["aux_loss_weight"] {
            guard case let .float(d) = try Self.evaluate(w, as: .float, what: "'aux_loss_weight'", scope: scope).prefixed(context.prefix),
                  d >= 0, d.isFinite else {
                throw SpecError("'aux_loss_weight' must be a non-negative number", at: w.location).prefixed(context.prefix)
            }
            auxWeight = d
        }
        let nodeContext = auxWeight == nil ? context : BuildContext(prefix: context.prefix, scope: context.scope, isAux: true, notes: context.notes)
        let node: GraphNode
        if let opNode = item["op"] {
            guard case let .string(opName) = try Self.evaluate(opNode, as: .string, what: "'op'", scope: scope).prefixed(context.prefix) else {
                throw SpecError("'op' must name an op or a template", at: opNode.location)
            }
            if let combiner = OpRegistry.combiners[opName] {
                node = try buildCombination(combiner, item: item, entries: entries, name: name, index: &index, input: shape,
                                            scope: scope, context: nodeContext, location: location)
            } else {
                let childName = name ?? String(index)
                index += 1
                let path = context.path(childName)
                for key in ["layers", "branches"] where item[key] != nil {
                    throw SpecError("'\(key)' does not go with op '\(opName)' (only with concat and add, or on a sequence without 'op')",
                                    at: item.entry(key)?.key.location ?? item.location).prefixed(path)
                }
                if let layerType = OpRegistry.layers[opName] {
                    node = try buildLayer(layerType, entries: entries, path: path, input: shape, scope: scope, context: nodeContext, location: location)
                } else if let template = architecture.document.templates[opName] {
                    node = try instantiate(template, entries: entries, path: path, input: shape, scope: scope,
                                           context: nodeContext, location: location)
                } else {
                    let known = OpRegistry.names + architecture.document.templateOrder
                    throw SpecError("unknown op or template '\(opName)'\(Suggestion.didYouMean(opName, in: known)) (`archlab ops` lists the \(OpRegistry.names.count) ops; templates: \(architecture.document.templateOrder.isEmpty ? "none" : architecture.document.templateOrder.joined(separator: ", ")))",
                                    at: opNode.location).prefixed(path)
                }
            }
        } else if let layers = item["layers"] {
            try checkKeys(entries, allowed: ["name", "when", "layers", "aux_loss_weight", "doc"], what: "a sequence", prefix: context.prefix)
            guard let list = layers.items else {
                throw SpecError("'layers' must be a list, found \(layers.kindDescription)", at: layers.location).prefixed(context.prefix)
            }
            let transparent = inBranches && name == nil
            let path: String
            if transparent { path = context.prefix } else { path = context.path(name ?? String(index)); index += 1 }
            let inner = BuildContext(prefix: path, scope: context.scope, isAux: nodeContext.isAux, notes: context.notes)
            let (children, output) = try buildList(list, input: shape, context: inner)
            node = .scope(Module(path: path, template: nil, label: nil, input: shape, output: output, report: [], location: location), children)
        } else {
            throw SpecError("a layer needs 'op' (an op or template), 'layers' (a sequence) or 'for' (a loop); found keys \(entries.map(\.key.text).joined(separator: ", "))",
                            at: location).prefixed(context.prefix)
        }
        if let auxWeight {
            nodes.append(.aux(weight: auxWeight, node))
        } else {
            nodes.append(node)
            shape = node.output
        }
    }

    func expandLoop(_ item: YNode, variable: YEntry, entries: [YEntry], shape: inout Shape, index: inout Int,
                    nodes: inout [GraphNode], context: BuildContext) throws {
        try checkKeys(entries, allowed: ["for", "in", "layers", "when", "doc"], what: "a loop", prefix: context.prefix)
        guard let v = variable.value.scalar, ParamDecl.isIdentifier(v.text) else {
            throw SpecError("'for' names the loop variable, found \(variable.value.kindDescription)", at: variable.value.location).prefixed(context.prefix)
        }
        guard let inNode = item["in"] else {
            throw SpecError("a loop needs 'in', the list to iterate over", at: variable.key.location).prefixed(context.prefix)
        }
        guard let body = item["layers"]?.items else {
            throw SpecError("a loop needs 'layers', the list to repeat", at: variable.key.location).prefixed(context.prefix)
        }
        let values = try withPath(context.prefix) { try Evaluator.value(of: inNode, in: scope(context, input: shape)) }
        guard case let .list(list) = values else {
            throw SpecError("a loop's 'in' must be a list, found \(values.typeName) \(values.quotedDescription)", at: inNode.location).prefixed(context.prefix)
        }
        for value in list {
            var inner = context
            inner.scope = context.scope.adding([v.text: value])
            for element in body {
                try expand(element, shape: &shape, index: &index, nodes: &nodes, context: inner, inBranches: false)
            }
        }
    }

    func checkKeys(_ entries: [YEntry], allowed: [String], what: String, prefix: String) throws {
        for e in entries where !allowed.contains(e.key.text) {
            throw SpecError("unknown key '\(e.key.text)' in \(what)\(Suggestion.didYouMean(e.key.text, in: allowed)) (keys: \(allowed.joined(separator: ", ")))",
                            at: e.key.location).prefixed(prefix)
        }
    }

    func countLayer(at location: SourceLocation) throws {
        layerCount += 1
        if layerCount > limits.maxLayers {
            throw SpecError("the network has more than \(limits.maxLayers) layers", at: location)
        }
    }

    func opArguments(_ opName: String, entries: [YEntry], scope: Scope, location: SourceLocation) -> OpArguments {
        OpArguments(opName: opName, entries: entries.filter { !Builder.nodeKeys.contains($0.key.text) }, scope: scope, location: location)
    }

    func buildLayer(_ type: any LayerOp.Type, entries: [YEntry], path: String, input: Shape, scope: Scope,
                    context: BuildContext, location: SourceLocation) throws -> GraphNode {
        try countLayer(at: location)
        var args = opArguments(type.name, entries: applyingModuleOverrides(entries, path: path), scope: scope, location: location)
        do {
            let op = try type.init(&args)
            if let problem = Limits.problem(with: input) { throw ShapeError("input too large: \(problem)") }
            let cost = try op.bind(input: input)
            if let problem = Limits.problem(with: cost.output) { throw ShapeError("output too large: \(problem)") }
            if let t = cost.parameters.first(where: { $0.count > Limits.elements }) {
                throw ShapeError("parameter '\(t.name)' of shape \(t.shape.map(String.init).joined(separator: "x")) holds more than \(Limits.elements) values")
            }
            if cost.macs > Limits.operations || cost.otherOps > Limits.operations {
                throw ShapeError("the layer's operation count exceeds \(Limits.operations); the sizes are too large")
            }
            return .layer(Layer(path: path, op: op, input: input, output: cost.output, tensors: cost.parameters, macs: cost.macs,
                                otherOps: cost.otherOps, attentionMACs: cost.attentionMACs, isAux: context.isAux, location: location))
        } catch let error as SpecError {
            throw error.prefixed(path)
        } catch let error as ShapeError {
            throw SpecError("\(path): \(error.message) (network input \(networkInput))", at: location)
        }
    }

    func buildCombination(_ type: any CombineOp.Type, item: YNode, entries: [YEntry], name: String?, index: inout Int,
                          input: Shape, scope: Scope, context: BuildContext, location: SourceLocation) throws -> GraphNode {
        try countLayer(at: location)
        let path: String
        if let name { path = context.path(name); index += 1 } else { path = context.prefix }
        let display = path.isEmpty ? type.name : path
        var args = opArguments(type.name, entries: entries, scope: scope, location: location)
        let op: any CombineOp
        do { op = try type.init(&args) } catch let error as SpecError { throw error.prefixed(display) }
        guard let branchNode = item["branches"], let branchItems = branchNode.items, !branchItems.isEmpty else {
            throw SpecError("\(type.name) needs 'branches', a non-empty list of parallel branches", at: location).prefixed(display)
        }
        let inner = BuildContext(prefix: path, scope: context.scope, isAux: context.isAux, notes: context.notes)
        var branches: [GraphNode] = []
        var outputs: [(name: String, shape: Shape)] = []
        var branchIndex = 0
        for (i, branch) in branchItems.enumerated() {
            var produced: [GraphNode] = []
            var branchShape = input
            try expand(branch, shape: &branchShape, index: &branchIndex, nodes: &produced, context: inner, inBranches: true)
            guard !produced.isEmpty else { continue }
            let node = produced.count == 1 ? produced[0]
                : .scope(Module(path: path, template: nil, label: nil, input: input, output: branchShape, report: [], location: branch.location), produced)
            branches.append(node)
            let label: String
            if case let .scope(m, _) = node, m.path != path { label = String(m.path.split(separator: ".").last ?? "") }
            else if case let .layer(l) = node { label = String(l.path.split(separator: ".").last ?? "") }
            else { label = "branch \(i + 1)" }
            outputs.append((label, branchShape))
        }
        guard !branches.isEmpty else {
            throw SpecError("\(type.name): every branch was dropped by its 'when'", at: location).prefixed(display)
        }
        do {
            let cost = try op.combine(input: input, branches: outputs)
            return .combine(Combination(path: display, op: op, input: input, output: cost.output, otherOps: cost.otherOps,
                                        isAux: context.isAux, location: location), branches)
        } catch let error as ShapeError {
            throw SpecError("\(display): \(error.message) (network input \(networkInput))", at: location, notes: context.notes)
        }
    }

    func instantiate(_ template: TemplateDecl, entries: [YEntry], path: String, input: Shape, scope: Scope,
                     context: BuildContext, location: SourceLocation) throws -> GraphNode {
        if templateStack.contains(template.name) || templateStack.count >= limits.maxTemplateDepth {
            throw SpecError("template '\(template.name)' instantiates itself (\((templateStack + [template.name]).joined(separator: " -> ")))",
                            at: location).prefixed(path)
        }
        let entries = applyingModuleOverrides(entries, path: path)
        var spread: [(key: String, value: Value)] = []
        if let withNode = entries.first(where: { $0.key.text == "with" })?.value {
            let v = try withPath(path) { try Evaluator.value(of: withNode, in: scope) }
            guard case let .map(m) = v else {
                throw SpecError("'with' must give a mapping of template arguments (such as a table row), found \(v.typeName)", at: withNode.location).prefixed(path)
            }
            spread = m
        }
        let args = entries.filter { !Builder.nodeKeys.contains($0.key.text) }
        let names = template.params.map(\.name)
        for a in args where !names.contains(a.key.text) {
            throw SpecError("template '\(template.name)' has no parameter '\(a.key.text)'\(Suggestion.didYouMean(a.key.text, in: names + Builder.nodeKeys)) (parameters: \(names.joined(separator: ", ")))",
                            at: a.key.location).prefixed(path)
        }
        for s in spread where !names.contains(s.key) {
            throw SpecError("'with' gives '\(s.key)', which template '\(template.name)' does not take (parameters: \(names.joined(separator: ", ")))",
                            at: entries.first { $0.key.text == "with" }!.value.location).prefixed(path)
        }
        var bound: [String: Value] = [:]
        var report: [(String, Value)] = []
        for decl in template.params {
            if let arg = args.first(where: { $0.key.text == decl.name }) {
                bound[decl.name] = try withPath(path) { try Self.evaluateArgument(arg.value, decl: decl, scope: scope) }
            } else if let s = spread.first(where: { $0.key == decl.name }) {
                bound[decl.name] = try withPath(path) { try decl.coerce(s.value, at: location) }
            } else if let d = decl.defaultValue {
                bound[decl.name] = d
            } else {
                throw SpecError("template '\(template.name)': missing parameter '\(decl.name)' (\(decl.type.rawValue))", at: location).prefixed(path)
            }
        }
        var bodyScope = architecture.scope.adding(bound)
        for binding in template.bindings {  // a let sees the template's input too
            let v = try withPath(path) { try Evaluator.value(of: binding.value, in: bodyScope.adding(Self.inputValues(input))) }
            bodyScope = bodyScope.adding([binding.key.text: v])
        }
        for requirement in template.requirements {
            let holds = try Self.evaluate(requirement.value, as: .bool, what: "require '\(requirement.key.text)'",
                                          scope: bodyScope.adding(Self.inputValues(input))).prefixed(path)
            guard holds == .bool(true) else {
                let given = template.params.map { "\($0.name)=\(bound[$0.name]?.description ?? "?")" }.joined(separator: ", ")
                throw SpecError("template '\(template.name)' requires \(requirement.key.text); found \(given), input \(input)", at: location).prefixed(path)
            }
        }
        let note = "in template '\(template.name)' instantiated as '\(path)' at \(location)"
        let inner = BuildContext(prefix: path, scope: bodyScope, isAux: context.isAux, notes: [note] + context.notes)
        templateStack.append(template.name)
        defer { templateStack.removeLast() }
        let children: [GraphNode], output: Shape
        do {
            (children, output) = try buildList(template.layers.items ?? [], input: input, context: inner)
            for entry in template.report {
                report.append((entry.key.text, try Evaluator.value(of: entry.value, in: bodyScope)))
            }
        } catch var error as SpecError {
            if !error.notes.contains(note) { error.notes.append(note) }
            throw error
        }
        return .scope(Module(path: path, template: template.name, label: template.label ?? template.name, input: input,
                             output: output, report: report, location: location), children)
    }

    static func evaluateArgument(_ node: YNode, decl: ParamDecl, scope: Scope) throws -> Value {
        if case let .scalar(s) = node, case .literal = try ScalarForm.of(s) { return try decl.read(node) }
        return try decl.coerce(try Evaluator.value(of: node, in: scope), at: node.location)
    }

    static func evaluate(_ node: YNode, as type: ParamType, what: String, scope: Scope) -> Result<Value, SpecError> {
        do {
            if case let .scalar(s) = node, case .literal = try ScalarForm.of(s) {
                return .success(try TypedReading.read(node, as: type, what: what))
            }
            return .success(try TypedReading.coerce(try Evaluator.value(of: node, in: scope), to: type, what: what, at: node.location))
        } catch let e as SpecError {
            return .failure(e)
        } catch {
            return .failure(SpecError("\(error)", at: node.location))
        }
    }
}

extension Result where Failure == SpecError {
    /// The value, or the error with a path prefix.
    func prefixed(_ prefix: String) throws -> Success {
        switch self {
        case let .success(v): return v
        case let .failure(e): throw e.prefixed(prefix)
        }
    }
}

/// Runs `body`, adding `prefix` (a layer path) to any `SpecError` it throws.
func withPath<T>(_ prefix: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as SpecError { throw error.prefixed(prefix) }
}
