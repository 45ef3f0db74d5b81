import ArchSpec
import ArchTensor

/// A network's inference graph in ONNX's terms: nodes over named values, and initializers (the
/// weights, by their state_dict names, and small constants). Each op adds its own nodes in its
/// `exportONNX`; the `ArchONNX` module writes the result as a model file.
///
/// The graph's input is `input` `[batch, C, H, W]` (the batch dimension symbolic), its output
/// `logits`. Training-only parts are left out: auxiliary heads, dropout, stochastic depth.
public struct ONNXGraph {
    /// The opset the nodes are written for (ONNX 1.12, 2022: HardSwish, LayerNormalization).
    public static let opset = 17

    public enum Attribute: Sendable {
        case int(Int), float(Float), ints([Int]), floats([Float]), string(String)
    }

    public struct Node: Sendable {
        public var opType: String
        public var name: String
        public var inputs: [String]
        public var outputs: [String]
        public var attributes: [(name: String, value: Attribute)]
    }

    public struct Initializer: Sendable {
        public enum Values: Sendable { case float([Float]), int64([Int64]) }
        public var name: String
        public var dims: [Int]
        public var values: Values
    }

    /// An op that cannot be written as ONNX (the message names the layer).
    public struct ExportError: Error, CustomStringConvertible {
        public var description: String
    }

    public private(set) var nodes: [Node] = []
    public private(set) var initializers: [Initializer] = []
    public let inputShape: Shape
    public private(set) var outputShape: Shape
    public static let inputName = "input", outputName = "logits"
    private let weights: (String) -> Tensor?
    private var names: Set<String> = [ONNXGraph.inputName]

    /// Builds the inference graph of `network`, reading every tensor through `weights` (by state_dict name).
    public init(network: Network, weights: @escaping (String) -> Tensor?) throws {
        inputShape = network.input
        outputShape = network.output
        self.weights = weights
        var value = Self.inputName
        for node in network.nodes { value = try export(node, input: value) }
        // the last value gets the graph output's name
        if let i = nodes.lastIndex(where: { $0.outputs.contains(value) }) {
            nodes[i].outputs = nodes[i].outputs.map { $0 == value ? Self.outputName : $0 }
            for j in nodes.indices { nodes[j].inputs = nodes[j].inputs.map { $0 == value ? Self.outputName : $0 } }
        } else {
            add("Identity", [value], name: Self.outputName, output: Self.outputName)
        }
    }

    private mutating func export(_ node: GraphNode, input: String) throws -> String {
        switch node {
        case let .layer(layer):
            do {
                return try layer.op.exportONNX(&self, layer: layer, input: input)
            } catch let e as ExportError {
                throw ExportError(description: "\(layer.location): layer \(layer.path) (\(layer.op.name)): \(e.description)")
            }
        case let .scope(_, children):
            var value = input
            for child in children { value = try export(child, input: value) }
            return value
        case let .combine(combination, branches):
            var operands = try branches.map { try export($0, input: input) }
            if branches.count == 1 && combination.op.addsInputToSingleBranch { operands.append(input) }
            do {
                return try combination.op.exportONNX(&self, operands: operands, combination: combination)
            } catch let e as ExportError {
                throw ExportError(description: "\(combination.location): \(combination.path) (\(type(of: combination.op).name)): \(e.description)")
            }
        case .aux:
            return input  // training only; the main stream continues with the head's input
        }
    }

    /// A fresh value name from `hint` (a layer path), unique in the graph.
    public mutating func fresh(_ hint: String) -> String {
        var name = hint.isEmpty ? "value" : hint, n = 1
        while names.contains(name) { n += 1; name = "\(hint)_\(n)" }
        names.insert(name)
        return name
    }

    /// Adds a node with one output named after `name`; returns the output's name.
    @discardableResult
    public mutating func add(_ opType: String, _ inputs: [String], _ attributes: [(name: String, value: Attribute)] = [],
                             name: String, output: String? = nil) -> String {
        let out = output ?? fresh(name)
        if output != nil { names.insert(out) }
        nodes.append(Node(opType: opType, name: fresh("node:" + name), inputs: inputs, outputs: [out], attributes: attributes))
        return out
    }

    /// Adds a node with `count` outputs (`Split`), named after `name`; returns their names.
    public mutating func add(_ opType: String, _ inputs: [String], _ attributes: [(name: String, value: Attribute)] = [],
                             name: String, outputs count: Int) -> [String] {
        let outs = (0..<count).map { fresh(name + "/\($0)") }
        nodes.append(Node(opType: opType, name: fresh("node:" + name), inputs: inputs, outputs: outs, attributes: attributes))
        return outs
    }

    /// The layer's tensor `tensor` (`weight`, `running_mean`, or "" for a tensor named by the
    /// layer) as an initializer named by its state_dict name; `dims` reshapes it (same count).
    public mutating func weight(_ layer: Layer, _ tensor: String, dims: [Int]? = nil) throws -> String {
        let info = layer.tensors.first { $0.name == tensor }
        let name = info.map(layer.stateName) ?? (tensor.isEmpty ? layer.path : "\(layer.path).\(tensor)")
        guard let values = weights(name) else { throw ExportError(description: "no tensor \(name) in the weights") }
        let shape = dims ?? values.shape
        guard shape.reduce(1, *) == values.count else { throw ExportError(description: "\(name) has \(values.count) values, not \(shape)") }
        let unique = fresh(name)
        initializers.append(Initializer(name: unique, dims: shape, values: .float(values.withUnsafeBufferPointer { Array($0) })))
        return unique
    }

    /// A constant float tensor.
    public mutating func constant(_ hint: String, _ values: [Float], dims: [Int]? = nil) -> String {
        let name = fresh(hint)
        initializers.append(Initializer(name: name, dims: dims ?? [values.count], values: .float(values)))
        return name
    }

    /// A constant int64 tensor (shapes, axes, slice bounds).
    public mutating func constant(_ hint: String, ints values: [Int], dims: [Int]? = nil) -> String {
        let name = fresh(hint)
        initializers.append(Initializer(name: name, dims: dims ?? [values.count], values: .int64(values.map(Int64.init))))
        return name
    }

    /// Channels-last LayerNormalization over the channels of `[N, C, H, W]`: transpose, normalize
    /// the last axis, transpose back.
    public mutating func channelLayerNorm(_ input: String, scale: String, bias: String, eps: Double, name: String) -> String {
        let last = add("Transpose", [input], [("perm", .ints([0, 2, 3, 1]))], name: name + "/to_channels_last")
        let normed = add("LayerNormalization", [last, scale, bias], [("axis", .int(-1)), ("epsilon", .float(Float(eps)))], name: name + "/norm")
        return add("Transpose", [normed], [("perm", .ints([0, 3, 1, 2]))], name: name)
    }
}

extension LayerOp {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        throw ONNXGraph.ExportError(description: "\(Self.name) has no ONNX export yet")
    }
}
