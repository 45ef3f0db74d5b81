import ArchTensor
import ArchSpec

/// 2-D convolution, PyTorch's `nn.Conv2d`: weight `[out, in/groups, kh, kw]`, optional bias `[out]`.
///
///     - {op: conv2d, out: 64, kernel: 7, stride: 2, padding: 3, bias: false}
///
/// Output size per axis: `floor((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1`.
/// MACs: `out * Hout * Wout * (in/groups) * kh * kw` (the bias adds are not counted, as torchvision).
public struct Conv2d: LayerOp {
    public static let name = "conv2d"
    public static let summary = "2-D convolution (out, kernel, stride=1, padding=0, dilation=1, groups=1, bias=true)"
    /// The gradients need x, w and dy only (every backend).
    public var backwardReadsOutput: Bool { false }
    public var out: Int
    public var kernel: (Int, Int)
    public var stride: (Int, Int)
    public var padding: (Int, Int)
    public var dilation: (Int, Int)
    public var groups: Int
    public var bias: Bool

    public init(_ args: inout OpArguments) throws {
        out = try args.int("out")
        kernel = try args.pair("kernel")
        stride = try args.pair("stride", default: (1, 1))
        padding = try args.pair("padding", default: (0, 0), min: 0)
        dilation = try args.pair("dilation", default: (1, 1))
        groups = try args.int("groups", default: 1)
        bias = try args.bool("bias", default: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else {
            throw ShapeError("conv2d expects a [channels, height, width] input, found \(input)")
        }
        guard input.channels % groups == 0, out % groups == 0 else {
            throw ShapeError("conv2d groups \(groups) must divide both input channels \(input.channels) and out \(out)")
        }
        let spanH = dilation.0 * (kernel.0 - 1) + 1, spanW = dilation.1 * (kernel.1 - 1) + 1
        guard input.height + 2 * padding.0 >= spanH, input.width + 2 * padding.1 >= spanW else {
            throw ShapeError(tooSmall(op: Self.name, span: (spanH, spanW), padding: padding, input: input))
        }
        let h = (input.height + 2 * padding.0 - spanH) / stride.0 + 1
        let w = (input.width + 2 * padding.1 - spanW) / stride.1 + 1
        let perGroup = input.channels / groups
        var parameters = [ParameterInfo("weight", [out, perGroup, kernel.0, kernel.1])]
        if bias { parameters.append(ParameterInfo("bias", [out])) }
        let macs = saturatingProduct(out, h, w, perGroup, kernel.0, kernel.1)
        return LayerCost(output: Shape(channels: out, height: h, width: w), parameters: parameters, macs: macs)
    }

    public var label: String { "convolution" }
    public func patch(input: Shape) -> String? { patchText(kernel: kernel, stride: stride) }
    public var depth: Int { 1 }
    public var arguments: [(String, Value)] {
        [("out", .int(out)), ("kernel", pairValue(kernel)), ("stride", pairValue(stride)), ("padding", pairValue(padding)),
         ("dilation", pairValue(dilation)), ("groups", .int(groups)), ("bias", .bool(bias))]
    }
}

/// `3` for (3, 3), `[3, 5]` otherwise.
func pairValue(_ p: (Int, Int)) -> Value { p.0 == p.1 ? .int(p.0) : .list([.int(p.0), .int(p.1)]) }

/// The collapse message shared by windowed ops: what the window needs and what it found.
func tooSmall(op: String, span: (Int, Int), padding: (Int, Int), input: Shape) -> String {
    let needH = max(1, span.0 - 2 * padding.0), needW = max(1, span.1 - 2 * padding.1)
    return "\(op) needs an input of at least \(needH)x\(needW) (window \(span.0)x\(span.1), padding \(pairValue(padding))), found \(input): the input is too small for this layer"
}

// MARK: - Forward and backward

extension Conv2d: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        Conv2dRuntime(layer: layer, store: store, batch: batch, out: out, kernel: kernel, stride: stride, padding: padding,
                      dilation: dilation, groups: groups, bias: bias)
    }
}

final class Conv2dRuntime: LayerRuntime {
    let geometry: ConvGeometry
    let weight: Tensor, bias: Tensor?, dWeight: Tensor, dBias: Tensor?
    let batch: Int
    /// oneDNN convolutions by batch size, threads and precision (a smaller last batch gets its
    /// own), nil where oneDNN declined.
    private var onednn: [String: DNNLConvolution?] = [:]

    /// The convolution of `layer`'s input with its tensors `weight` (and `bias`) from the store.
    init(layer: Layer, store: ParameterStore, batch: Int, out: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
         dilation: (Int, Int), groups: Int, bias hasBias: Bool) {
        geometry = ConvGeometry(inChannels: layer.input.channels, inHeight: layer.input.height, inWidth: layer.input.width,
                                outChannels: out, kernel: kernel, stride: stride, padding: padding, dilation: dilation, groups: groups)
        weight = store.tensor(layer.path + ".weight")
        dWeight = store.gradient(layer.path + ".weight")
        bias = hasBias ? store[layer.path + ".bias"] : nil
        dBias = hasBias ? store.gradients[layer.path + ".bias"] : nil
        self.batch = batch
    }

    /// Depthwise beyond 3x3 runs on `DepthwiseKernel` (oneDNN 2.6 has no JIT weights gradient there,
    /// and its forward is slow on small maps), in float32 whatever the precision.
    /// 1x1 convolutions over small maps run as batch-wide GEMMs (`PointwiseGEMMKernel`: oneDNN's
    /// sgemm, or OpenBLAS under ARCHLAB_GEMM=openblas) in float32; under bf16 they stay on oneDNN's
    /// bf16 convolutions.
    func pointwise(_ parallel: Parallelism) -> Bool { parallel.precision == .float32 && PointwiseGEMMKernel.applies(geometry) }

    var direct: Bool { DepthwiseKernel.applies(geometry) && (geometry.kernel.0 > 3 || geometry.kernel.1 > 3) }

    private func onednnConvolution(batch n: Int, _ parallel: Parallelism) -> DNNLConvolution? {
        guard parallel.convolution == .onednn else { return nil }
        let threads = parallel.threads, key = "\(n) \(threads) \(parallel.precision)"
        if let made = onednn[key] { return made }
        let made = DNNLConvolution(geometry: geometry, batch: n, bias: bias != nil, threads: threads, precision: parallel.precision)
        onednn[key] = made
        return made
    }

    // x: [N, C, H, W] -> y: [N, O, Ho, Wo]; the workspace is the plan's, shared by every layer
    func forward(_ x: Tensor, _ y: Tensor, _ context: StepContext) {
        if pointwise(context.parallel) {
            return PointwiseGEMMKernel.forward(x: x, weight: weight, bias: bias, y: y, geometry: geometry,
                                               scratch: context.scratch(PointwiseGEMMKernel.scratchCount(geometry, batch: x.shape[0])),
                                               parallel: context.parallel)
        }
        if direct, geometry.outHeight * geometry.outWidth <= DepthwiseKernel.maxForwardPositions {
            return DepthwiseKernel.forward(x: x, weight: weight, bias: bias, y: y, geometry: geometry,
                                           scratch: context.scratch(DepthwiseKernel.scratchCount(geometry, batch: x.shape[0])), parallel: context.parallel)
        }
        if let conv = onednnConvolution(batch: x.shape[0], context.parallel) {
            return conv.forward(x: x, weight: weight, bias: bias, y: y, workspace: context.scratch(conv.workspaceCount))
        }
        Conv2dKernel.forward(x: x, weight: weight, bias: bias, y: y, geometry: geometry,
                             workspace: context.scratch(geometry.workspaceCount(batch: batch, threads: context.parallel.threads)), parallel: context.parallel)
    }

    func backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor?, accumulate: Bool, _ context: StepContext) {
        if pointwise(context.parallel) {
            return PointwiseGEMMKernel.backward(x: x, weight: weight, dy: dy, dx: dx, dWeight: dWeight, dBias: dBias, geometry: geometry,
                                                scratch: context.scratch(PointwiseGEMMKernel.scratchCount(geometry, batch: x.shape[0])),
                                                accumulate: accumulate, parallel: context.parallel)
        }
        if direct {
            return DepthwiseKernel.backward(x: x, weight: weight, dy: dy, dx: dx, dWeight: dWeight, dBias: dBias, geometry: geometry,
                                            scratch: context.scratch(DepthwiseKernel.scratchCount(geometry, batch: x.shape[0])),
                                            accumulate: accumulate, parallel: context.parallel)
        }
        if let conv = onednnConvolution(batch: x.shape[0], context.parallel) {
            return conv.backward(x: x, weight: weight, dy: dy, dx: dx, dWeight: dWeight, dBias: dBias,
                                 workspace: context.scratch(conv.workspaceCount), accumulate: accumulate)
        }
        Conv2dKernel.backward(x: x, weight: weight, dy: dy, dx: dx, dWeight: dWeight, dBias: dBias, geometry: geometry,
                              workspace: context.scratch(geometry.workspaceCount(batch: batch, threads: context.parallel.threads)), accumulate: accumulate,
                              parallel: context.parallel)
    }
}

// MARK: - ONNX

extension Conv2d {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        var inputs = [input, try graph.weight(layer, "weight")]
        if bias { inputs.append(try graph.weight(layer, "bias")) }
        return graph.add("Conv", inputs, [("kernel_shape", .ints([kernel.0, kernel.1])), ("strides", .ints([stride.0, stride.1])),
                                           ("pads", .ints([padding.0, padding.1, padding.0, padding.1])),
                                           ("dilations", .ints([dilation.0, dilation.1])), ("group", .int(groups))], name: layer.path)
    }
}
