import ArchSpec

/// A primitive layer bound to its input: path, op, shapes, tensors and cost.
public struct Layer: Sendable {
    /// Dotted PyTorch-style module path (`inception3a.branch2.1.conv`).
    public var path: String
    public var op: any LayerOp
    public var input: Shape
    public var output: Shape
    /// Tensors with names relative to the layer (`weight`, `running_mean`).
    public var tensors: [ParameterInfo]
    public var macs: Int
    public var otherOps: Int
    /// The part of `macs` that is attention products.
    public var attentionMACs: Int = 0
    /// True inside an auxiliary head (runs only in training, excluded from inference counts).
    public var isAux: Bool
    public var location: SourceLocation

    /// Trainable parameter count.
    public var parameterCount: Int { tensors.filter { $0.kind == .parameter }.reduce(0) { $0 + $1.count } }
    /// The tensor's state_dict name: `path.name`, or the path itself for a tensor named "" (a module
    /// attribute such as ConvNeXt's `layer_scale`).
    public func stateName(_ tensor: ParameterInfo) -> String {
        tensor.name.isEmpty ? path : path.isEmpty ? tensor.name : "\(path).\(tensor.name)"
    }
}

/// A combination of parallel branches (concat, add) bound to its input.
public struct Combination: Sendable {
    /// The enclosing module's path (`inception3a`), or the node's own name when it has one.
    public var path: String
    public var op: any CombineOp
    public var input: Shape
    public var output: Shape
    public var otherOps: Int
    public var isAux: Bool
    public var location: SourceLocation
}

/// A named scope: a template instance or a named sequence (PyTorch's submodule).
public struct Module: Sendable {
    public var path: String
    /// The template's name, or nil for a plain sequence (or a transparent branch).
    public var template: String?
    /// Row type for the paper layout.
    public var label: String?
    public var input: Shape
    public var output: Shape
    /// Template-declared columns for the paper layout.
    public var report: [(String, Value)]
    public var location: SourceLocation
}

/// The built network as a tree in forward order.
public indirect enum GraphNode: Sendable {
    case layer(Layer)
    /// Children run in order.
    case scope(Module, [GraphNode])
    /// Each branch runs on the same input; the op combines their outputs.
    case combine(Combination, [GraphNode])
    /// An auxiliary head: runs on the current tensor in training only, its output is an extra
    /// loss term with `weight`; the main stream continues with the head's input.
    case aux(weight: Double, GraphNode)

    public var output: Shape {
        switch self {
        case let .layer(l): return l.output
        case let .scope(m, _): return m.output
        case let .combine(c, _): return c.output
        case let .aux(_, n): return n.output
        }
    }

    /// Leaf rows in forward order (layers and combinations).
    public func forEachRow(_ body: (GraphRow) -> Void) {
        switch self {
        case let .layer(l): body(.layer(l))
        case let .scope(_, children): children.forEach { $0.forEachRow(body) }
        case let .combine(c, branches):
            branches.forEach { $0.forEachRow(body) }
            body(.combination(c))
        case let .aux(_, n): n.forEachRow(body)
        }
    }
}

/// One row of a per-layer summary.
public enum GraphRow: Sendable {
    case layer(Layer)
    case combination(Combination)

    public var path: String { switch self { case let .layer(l): l.path; case let .combination(c): c.path } }
    public var type: String { switch self { case let .layer(l): l.op.name; case let .combination(c): Swift.type(of: c.op).name } }
    public var output: Shape { switch self { case let .layer(l): l.output; case let .combination(c): c.output } }
    public var parameters: Int { if case let .layer(l) = self { return l.parameterCount }; return 0 }
    public var macs: Int { if case let .layer(l) = self { return l.macs }; return 0 }
    public var attentionMACs: Int { if case let .layer(l) = self { return l.attentionMACs }; return 0 }
    public var otherOps: Int { switch self { case let .layer(l): l.otherOps; case let .combination(c): c.otherOps } }
    public var isAux: Bool { switch self { case let .layer(l): l.isAux; case let .combination(c): c.isAux } }
}

/// A built network: the resolved architecture, its input shape and its graph.
public struct Network: Sendable {
    public var name: String
    public var file: String
    public var input: Shape
    public var nodes: [GraphNode]
    public var architecture: ResolvedArchitecture

    public var output: Shape { nodes.last?.output ?? input }

    /// Every row in forward order.
    public var rows: [GraphRow] {
        var rows: [GraphRow] = []
        nodes.forEach { $0.forEachRow { rows.append($0) } }
        return rows
    }

    /// Every primitive layer in forward order.
    public var layers: [Layer] { rows.compactMap { if case let .layer(l) = $0 { return l }; return nil } }
}
