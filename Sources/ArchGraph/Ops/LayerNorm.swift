import ArchTensor
import ArchSpec

/// Layer normalization over the channels of a `[C, H, W]` map at every position, torchvision's
/// `LayerNorm2d` (ConvNeXt): the same numbers as `nn.LayerNorm(C)` on the channels-last tensor, so
/// ConvNeXt's channels-first (downsampling) and channels-last (block) forms are both this op.
///
///     - {op: layer_norm2d, eps: 0.000001}
///
/// Parameters `weight`, `bias` `[C]` (ones and zeros, as PyTorch). Paper: J. L. Ba, J. R. Kiros,
/// G. E. Hinton, "Layer normalization", arXiv:1607.06450.
public struct LayerNorm2d: LayerOp {
    public static let name = "layer_norm2d"
    public static let summary = "layer normalization over the channels at each position (eps=1e-5)"
    public var eps: Double

    public init(_ args: inout OpArguments) throws {
        eps = try args.double("eps", default: 1e-5, in: 0 ... 1)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("layer_norm2d expects a [channels, height, width] input, found \(input)") }
        let c = input.channels
        return LayerCost(output: input, parameters: [ParameterInfo("weight", [c]), ParameterInfo("bias", [c])],
                         otherOps: 2 * input.elementCount)
    }

    public var label: String { "layer norm" }
    public var arguments: [(String, Value)] { [("eps", .float(eps))] }
    public func initialization(of tensor: String) -> Initializer.Scheme? { tensor == "weight" ? .ones : .zeros }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let positions = batch * layer.input.height * layer.input.width
        let mean = Tensor(shape: [positions]), rstd = Tensor(shape: [positions]), eps = Float(self.eps)
        let p = layer.path, gamma = store.tensor(p + ".weight"), beta = store.tensor(p + ".bias")
        let dGamma = store.gradient(p + ".weight"), dBeta = store.gradient(p + ".bias")
        return ClosureRuntime(
            forward: { x, y, c in
                LayerNormKernel.forward(x: x, y: y, gamma: gamma, beta: beta, mean: mean, rstd: rstd, eps: eps, parallel: c.parallel)
            },
            backward: { x, _, dy, dx, acc, c in
                LayerNormKernel.backward(x: x, dy: dy, dx: dx, gamma: gamma, dGamma: dGamma, dBeta: dBeta, mean: mean, rstd: rstd,
                                         accumulate: acc, parallel: c.parallel)
            })
    }
}

/// A learned per-channel multiplier, ConvNeXt's layer scale: `y = gamma * x` with `gamma`
/// `[C, 1, 1]` starting at `init`. Its tensor is named by the layer itself (torchvision's
/// `features.1.0.layer_scale`).
///
///     - {name: layer_scale, op: layer_scale, init: 0.000001}
public struct LayerScale: LayerOp {
    public static let name = "layer_scale"
    public static let summary = "learned per-channel multiplier [C, 1, 1] (init=1e-6), named by the layer"
    public var initialValue: Double

    public init(_ args: inout OpArguments) throws {
        initialValue = try args.double("init", default: 1e-6)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("layer_scale expects a [channels, height, width] input, found \(input)") }
        return LayerCost(output: input, parameters: [ParameterInfo("", [input.channels, 1, 1])], otherOps: input.elementCount)
    }

    public var label: String { "layer scale" }
    public var arguments: [(String, Value)] { [("init", .float(initialValue))] }
    public func initialization(of tensor: String) -> Initializer.Scheme? { .constant(initialValue) }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let gamma = store.tensor(layer.path), dGamma = store.gradient(layer.path)
        return ClosureRuntime(
            forward: { x, y, c in ChannelScaleKernel.forward(x: x, gamma: gamma, y: y, parallel: c.parallel) },
            backward: { x, _, dy, dx, acc, c in
                ChannelScaleKernel.backward(x: x, gamma: gamma, dy: dy, dx: dx, dGamma: dGamma, accumulate: acc, parallel: c.parallel)
            })
    }
}

/// A fully connected layer over the channels of a `[C, H, W]` map at every position: PyTorch's
/// `nn.Linear(C, out)` on the channels-last tensor (ConvNeXt's block). Weight `[out, C]`, bias
/// `[out]`; MACs `C * out * H * W`. Runs as a 1x1 convolution.
///
///     - {op: channel_linear, out: 384}
public struct ChannelLinear: LayerOp {
    public static let name = "channel_linear"
    public static let summary = "linear layer over the channels at each position (out, bias=true), nn.Linear on channels-last"
    public var out: Int
    public var bias: Bool

    public init(_ args: inout OpArguments) throws {
        out = try args.int("out")
        bias = try args.bool("bias", default: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else {
            throw ShapeError("channel_linear expects a [channels, height, width] input, found \(input); for flat features use linear")
        }
        var parameters = [ParameterInfo("weight", [out, input.channels])]
        if bias { parameters.append(ParameterInfo("bias", [out])) }
        return LayerCost(output: Shape(channels: out, height: input.height, width: input.width), parameters: parameters,
                         macs: saturatingProduct(out, input.channels, input.height, input.width))
    }

    public var label: String { "linear" }
    public var depth: Int { 1 }
    public var arguments: [(String, Value)] { [("out", .int(out)), ("bias", .bool(bias))] }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        // [out, C] is laid out as a 1x1 convolution's [out, C, 1, 1]
        Conv2dRuntime(layer: layer, store: store, batch: batch, out: out, kernel: (1, 1), stride: (1, 1), padding: (0, 0),
                      dilation: (1, 1), groups: 1, bias: bias)
    }
}

// MARK: - ONNX

extension LayerNorm2d {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.channelLayerNorm(input, scale: try graph.weight(layer, "weight"), bias: try graph.weight(layer, "bias"), eps: eps, name: layer.path)
    }
}

extension LayerScale {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.add("Mul", [input, try graph.weight(layer, "", dims: [layer.input.channels, 1, 1])], name: layer.path)
    }
}

extension ChannelLinear {
    /// A 1x1 convolution with the linear layer's weight `[out, in]` seen as `[out, in, 1, 1]`.
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        var inputs = [input, try graph.weight(layer, "weight", dims: [out, layer.input.channels, 1, 1])]
        if bias { inputs.append(try graph.weight(layer, "bias")) }
        return graph.add("Conv", inputs, [("kernel_shape", .ints([1, 1]))], name: layer.path)
    }
}
