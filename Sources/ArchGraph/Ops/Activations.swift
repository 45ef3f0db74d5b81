import ArchTensor
import ArchSpec

/// An element-wise activation whose value and derivative come from a `PointwiseFunction`. Each
/// activation is one small struct naming its function; decoding, shape, cost and runtime are shared.
public protocol PointwiseActivation: LayerOp {
    associatedtype Function: PointwiseFunction
    init()
}

extension PointwiseActivation {
    public init(_ args: inout OpArguments) throws {
        _ = try args.bool("inplace", default: false)  // accepted for PyTorch's spelling; buffers are planned anyway
        try args.finish()
        self.init()
    }

    public func bind(input: Shape) throws -> LayerCost { LayerCost(output: input, otherOps: input.elementCount) }
    public var label: String { Self.name }
    public var arguments: [(String, Value)] { [] }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        StatelessRuntime(forward: { x, y, c in PointwiseKernel.forward(Function.self, x: x, y: y, parallel: c.parallel) },
                         backward: { x, y, dy, dx, acc, c in
                             PointwiseKernel.backward(Function.self, x: x, y: y, dy: dy, dx: dx, accumulate: acc, parallel: c.parallel)
                         })
    }
}

/// `nn.ReLU6`: `min(max(x, 0), 6)` (MobileNetV2).
public struct ReLU6: PointwiseActivation {
    public typealias Function = ReLU6Function
    public static let name = "relu6"
    public static let summary = "ReLU capped at 6, min(max(x, 0), 6)"
    public init() {}
}

/// `nn.Hardswish`: `x * relu6(x + 3) / 6` (MobileNetV3).
public struct Hardswish: PointwiseActivation {
    public typealias Function = HardswishFunction
    public static let name = "hardswish"
    public static let summary = "hard swish, x * relu6(x + 3) / 6"
    public init() {}
}

/// `nn.Hardsigmoid`: `relu6(x + 3) / 6` (MobileNetV3's squeeze-and-excitation gate).
public struct Hardsigmoid: PointwiseActivation {
    public typealias Function = HardsigmoidFunction
    public static let name = "hardsigmoid"
    public static let summary = "hard sigmoid, relu6(x + 3) / 6"
    public init() {}
}

/// `nn.Sigmoid`: `1 / (1 + exp(-x))` (EfficientNet's and RegNet's squeeze-and-excitation gate).
public struct Sigmoid: PointwiseActivation {
    public typealias Function = SigmoidFunction
    public static let name = "sigmoid"
    public static let summary = "logistic sigmoid, 1 / (1 + exp(-x))"
    public init() {}
}

/// `nn.SiLU` (swish): `x * sigmoid(x)` (EfficientNet).
public struct SiLU: PointwiseActivation {
    public typealias Function = SiLUFunction
    public static let name = "silu"
    public static let summary = "SiLU / swish, x * sigmoid(x)"
    public init() {}
}

/// `nn.GELU()` in the exact erf form: `x * Phi(x)` (ConvNeXt, ViT).
public struct GELU: PointwiseActivation {
    public typealias Function = GELUFunction
    public static let name = "gelu"
    public static let summary = "GELU, exact erf form, x * Phi(x)"
    public init() {}
}

// MARK: - ONNX

extension ReLU6 {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let low = graph.constant(layer.path + "/min", [0], dims: []), high = graph.constant(layer.path + "/max", [6], dims: [])
        return graph.add("Clip", [input, low, high], name: layer.path)
    }
}

extension Hardswish {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.add("HardSwish", [input], name: layer.path)
    }
}

extension Hardsigmoid {
    /// `max(0, min(1, x / 6 + 1 / 2))`, PyTorch's relu6(x + 3) / 6.
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.add("HardSigmoid", [input], [("alpha", .float(1 / 6)), ("beta", .float(0.5))], name: layer.path)
    }
}

extension Sigmoid {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.add("Sigmoid", [input], name: layer.path)
    }
}

extension SiLU {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let gate = graph.add("Sigmoid", [input], name: layer.path + "/sigmoid")
        return graph.add("Mul", [input, gate], name: layer.path)
    }
}

extension GELU {
    /// `x * (1 + erf(x / sqrt(2))) / 2` (opset 17 has no Gelu node).
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let root2 = graph.constant(layer.path + "/sqrt2", [Float(2).squareRoot()], dims: [])
        let one = graph.constant(layer.path + "/one", [1], dims: []), half = graph.constant(layer.path + "/half", [0.5], dims: [])
        let scaled = graph.add("Div", [input, root2], name: layer.path + "/div")
        let erf = graph.add("Erf", [scaled], name: layer.path + "/erf")
        let shifted = graph.add("Add", [erf, one], name: layer.path + "/add")
        let product = graph.add("Mul", [input, shifted], name: layer.path + "/mul")
        return graph.add("Mul", [product, half], name: layer.path)
    }
}
