import ArchSpec
import ArchTensor

// The ops of a vision transformer (A. Dosovitskiy et al., "An image is worth 16x16 words:
// Transformers for image recognition at scale", ICLR 2021, arXiv:2010.11929). A sequence of T
// tokens of dimension D is a `[D, 1, T]` map: channels-first like every other activation, so
// `layer_norm2d` is the LayerNorm over D at each token, `channel_linear` the per-token linear
// layer, `gelu`, `dropout`, `stochastic_depth` and `add` work unchanged, and the token ops below
// convert between images and sequences.

/// The positions of a `[C, H, W]` map as a sequence of H·W tokens of dimension C, `[C, 1, H·W]`
/// (torchvision's `x.reshape(n, hidden_dim, h * w)` after the patch convolution).
///
///     - {op: tokens}
public struct Tokens: LayerOp {
    public static let name = "tokens"
    public static let summary = "the positions of a [C, H, W] map as H·W tokens of dimension C, [C, 1, H·W]"

    public init(_ args: inout OpArguments) throws { try args.finish() }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("tokens expects a [channels, height, width] map, found \(input)") }
        return LayerCost(output: Shape(channels: input.channels, height: 1, width: input.height * input.width))
    }

    public var arguments: [(String, Value)] { [] }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        StatelessRuntime(forward: { x, y, _ in Elementwise.copy(x, into: y, accumulate: false) },
                         backward: { _, _, dy, dx, acc, _ in Elementwise.copy(dy, into: dx, accumulate: acc) })
    }

    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let shape = graph.constant(layer.path + "/shape", ints: [0, layer.output.channels, 1, layer.output.width])
        return graph.add("Reshape", [input, shape], name: layer.path)
    }
}

/// Tokens `[D, 1, T]` must be a sequence: a map of height 1.
func tokenShape(_ input: Shape, _ op: String) throws -> (dim: Int, tokens: Int) {
    guard input.isSpatial, input.height == 1 else {
        throw ShapeError("\(op) expects tokens [dim, 1, tokens] (op: tokens makes them from a map), found \(input)")
    }
    return (input.channels, input.width)
}

/// Prepends a learned class token, `[D, 1, T]` → `[D, 1, T + 1]`. Its tensor `[1, 1, D]` is named
/// by the layer (torchvision's `class_token`) and starts at zero.
///
///     - {name: class_token, op: class_token}
public struct ClassToken: LayerOp {
    public static let name = "class_token"
    public static let summary = "prepends a learned token [1, 1, D] to the sequence, named by the layer"

    public init(_ args: inout OpArguments) throws { try args.finish() }

    public func bind(input: Shape) throws -> LayerCost {
        let (dim, tokens) = try tokenShape(input, Self.name)
        return LayerCost(output: Shape(channels: dim, height: 1, width: tokens + 1), parameters: [ParameterInfo("", [1, 1, dim])])
    }

    public var label: String { "class token" }
    public var arguments: [(String, Value)] { [] }
    public func initialization(of tensor: String) -> Initializer.Scheme? { .zeros }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let token = store.tensor(layer.path), dToken = store.gradient(layer.path)
        return ClosureRuntime(forward: { x, y, _ in TokenKernel.prepend(x: x, token: token, y: y) },
                              backward: { _, _, dy, dx, acc, _ in TokenKernel.prependBackward(dy: dy, dx: dx, dToken: dToken, accumulate: acc) })
    }

    /// The token expanded to the batch, `[N, D, 1, 1]`, concatenated before the sequence.
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let dim = layer.input.channels
        let token = try graph.weight(layer, "", dims: [1, dim, 1, 1])
        let shape = graph.add("Shape", [input], name: layer.path + "/input_shape")
        let batch = graph.add("Slice", [shape, graph.constant(layer.path + "/zero", ints: [0]), graph.constant(layer.path + "/one", ints: [1])],
                              name: layer.path + "/batch")
        let target = graph.add("Concat", [batch, graph.constant(layer.path + "/rest", ints: [dim, 1, 1])], [("axis", .int(0))], name: layer.path + "/target")
        let expanded = graph.add("Expand", [token, target], name: layer.path + "/expanded")
        return graph.add("Concat", [expanded, input], [("axis", .int(3))], name: layer.path)
    }
}

/// Adds a learned position embedding to every token. Its tensor is named by the layer and kept
/// as PyTorch keeps it, `[1, T, D]` (torchvision's `encoder.pos_embedding`), starting from a
/// normal distribution with standard deviation 0.02.
///
///     - {name: pos_embedding, op: position_embedding}
public struct PositionEmbedding: LayerOp {
    public static let name = "position_embedding"
    public static let summary = "adds a learned embedding [1, T, D] to the tokens, named by the layer"

    public init(_ args: inout OpArguments) throws { try args.finish() }

    public func bind(input: Shape) throws -> LayerCost {
        let (dim, tokens) = try tokenShape(input, Self.name)
        return LayerCost(output: input, parameters: [ParameterInfo("", [1, tokens, dim])], otherOps: dim * tokens)
    }

    public var label: String { "position embedding" }
    public var arguments: [(String, Value)] { [] }
    public func initialization(of tensor: String) -> Initializer.Scheme? { .normal(mean: 0, std: 0.02) }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let positions = store.tensor(layer.path), dPositions = store.gradient(layer.path), dim = layer.input.channels
        return ClosureRuntime(forward: { x, y, _ in TokenKernel.addPositions(x: x, positions: positions, y: y, dim: dim) },
                              backward: { _, _, dy, dx, acc, _ in
                                  TokenKernel.addPositionsBackward(dy: dy, dx: dx, dPositions: dPositions, dim: dim, accumulate: acc)
                              })
    }

    /// `[1, T, D]` transposed to the tokens' `[1, D, 1, T]`, then added.
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let (dim, tokens) = (layer.input.channels, layer.input.width)
        let positions = try graph.weight(layer, "", dims: [1, tokens, dim])
        let transposed = graph.add("Transpose", [positions], [("perm", .ints([0, 2, 1]))], name: layer.path + "/transpose")
        let shaped = graph.add("Reshape", [transposed, graph.constant(layer.path + "/shape", ints: [1, dim, 1, tokens])], name: layer.path + "/reshape")
        return graph.add("Add", [input, shaped], name: layer.path)
    }
}

/// One token of the sequence as flat features `[D]` (the class token for the head: index 0).
///
///     - {op: take_token, index: 0}
public struct TakeToken: LayerOp {
    public static let name = "take_token"
    public static let summary = "one token of the sequence as flat features [D] (index=0: the class token)"
    public var index: Int

    public init(_ args: inout OpArguments) throws {
        index = try args.int("index", default: 0, min: 0)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        let (dim, tokens) = try tokenShape(input, Self.name)
        guard index < tokens else { throw ShapeError("take_token: index \(index) is past the \(tokens) tokens") }
        return LayerCost(output: Shape([dim]))
    }

    public var label: String { "take token" }
    public var arguments: [(String, Value)] { [("index", .int(index))] }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let index = self.index, dim = layer.input.channels
        return StatelessRuntime(forward: { x, y, _ in TokenKernel.take(x: x, index: index, y: y, dim: dim) },
                                backward: { _, _, dy, dx, acc, _ in TokenKernel.takeBackward(dy: dy, dx: dx, index: index, dim: dim, accumulate: acc) })
    }

    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let index = graph.constant(layer.path + "/index", ints: [self.index], dims: [])
        let taken = graph.add("Gather", [input, index], [("axis", .int(3))], name: layer.path + "/gather")
        return graph.add("Flatten", [taken], [("axis", .int(1))], name: layer.path)
    }
}
