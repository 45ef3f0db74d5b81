import ArchSpec

/// One named tensor an op owns: a trainable parameter (`weight`, `bias`) or a buffer
/// (`running_mean`), named as in a PyTorch state_dict relative to the layer.
public struct ParameterInfo: Sendable, Equatable {
    public enum Kind: String, Sendable { case parameter, buffer }
    public var name: String
    public var shape: [Int]
    public var kind: Kind

    public init(_ name: String, _ shape: [Int], kind: Kind = .parameter) {
        self.name = name
        self.shape = shape
        self.kind = kind
    }

    public var count: Int { saturatingProduct(shape) }
}

/// What an op computes for one input shape: its output shape, tensors, and cost.
public struct LayerCost: Sendable {
    public var output: Shape
    public var parameters: [ParameterInfo]
    /// Multiply-accumulates of the inference forward (conv and linear; 0 for other ops).
    public var macs: Int
    /// Other arithmetic per sample (normalization, activations, pooling, adds), counted apart from MACs.
    public var otherOps: Int
    /// The part of `macs` that is attention products (QKᵀ and PV), shown in its own column.
    public var attentionMACs: Int

    public init(output: Shape, parameters: [ParameterInfo] = [], macs: Int = 0, otherOps: Int = 0, attentionMACs: Int = 0) {
        self.output = output
        self.parameters = parameters
        self.macs = macs
        self.otherOps = otherOps
        self.attentionMACs = attentionMACs
    }
}

/// A primitive layer. Each op decodes its own YAML node and owns its shape rule, tensors and cost;
/// adding an op means one file and one line in `OpRegistry`.
public protocol LayerOp: Sendable, RuntimeProviding {
    /// The name used in YAML (`op: conv2d`).
    static var name: String { get }
    /// One line for `archlab ops`.
    static var summary: String { get }
    /// Decodes the op's arguments; every key the op reads is known, any other key is an error.
    init(_ args: inout OpArguments) throws
    /// The shape rule and costs for a given input. Throws `ShapeError` when the input does not fit.
    func bind(input: Shape) throws -> LayerCost
    /// The row type in the paper layout (`convolution`, `max pool`).
    var label: String { get }
    /// Patch size and stride in the paper layout (`7×7/2`), if the op has a window.
    func patch(input: Shape) -> String?
    /// Contribution to the paper's depth column (1 for conv and linear layers).
    var depth: Int { get }
    /// The op's arguments as written after evaluation, for summaries and resolved configs.
    var arguments: [(String, Value)] { get }
    /// How the op initializes `tensor` when the file's `init:` does not say (nil: PyTorch's
    /// default for conv and linear weights, batch norm's ones and zeros).
    func initialization(of tensor: String) -> Initializer.Scheme?
    /// True when the op's output is its input, unchanged, in training and inference alike
    /// (dropout with p = 0, identity): the execution plan then skips it and hands the input
    /// buffer on instead of copying it.
    var passesInputThrough: Bool { get }
    /// True when the op may write its output over its input: element-wise, reading each input
    /// element only before writing the same output element, and its backward reads only its
    /// output (ReLU). The plan then runs it in place where nothing else needs the input.
    var runsInPlace: Bool { get }
    /// False when the op's backward never reads its output (convolution, batch norm): its output
    /// buffer may then be overwritten by an in-place op that follows.
    var backwardReadsOutput: Bool { get }
    /// Adds the op's inference nodes to `graph` for `layer` applied to the value named `input`,
    /// and returns its output value's name (ops without an ONNX form keep the default, which throws).
    func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String
}

extension LayerOp {
    public var label: String { Self.name }
    public func patch(input: Shape) -> String? { nil }
    public var depth: Int { 0 }
    public var name: String { Self.name }
    public func initialization(of tensor: String) -> Initializer.Scheme? { nil }
    public var passesInputThrough: Bool { false }
    public var runsInPlace: Bool { false }
    public var backwardReadsOutput: Bool { true }
}

/// `7×7/2` or `1×7/1`.
func patchText(kernel: (Int, Int), stride: (Int, Int)) -> String {
    let k = kernel.0 == kernel.1 ? "\(kernel.0)×\(kernel.0)" : "\(kernel.0)×\(kernel.1)"
    let s = stride.0 == stride.1 ? "\(stride.0)" : "\(stride.0),\(stride.1)"
    return "\(k)/\(s)"
}
