import ArchTensor
import ArchSpec

/// Batch normalization over channels, PyTorch's `nn.BatchNorm2d` (defaults eps 1e-5, momentum 0.1).
///
///     - {op: batchnorm2d, eps: 0.001}
///
/// Parameters `weight`, `bias` `[C]`; buffers `running_mean`, `running_var` `[C]`. Other ops:
/// 2 per element in inference (scale and shift).
public struct BatchNorm2d: LayerOp {
    public static let name = "batchnorm2d"
    public static let summary = "batch normalization over channels (eps=1e-5, momentum=0.1, affine=true)"
    /// The gradients need x, dy and the saved statistics only (training and inference alike).
    public var backwardReadsOutput: Bool { false }
    public var eps: Double
    public var momentum: Double
    public var affine: Bool

    public init(_ args: inout OpArguments) throws {
        eps = try args.double("eps", default: 1e-5, in: 0 ... 1)
        momentum = try args.double("momentum", default: 0.1, in: 0 ... 1)
        affine = try args.bool("affine", default: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("batchnorm2d expects a [channels, height, width] input, found \(input)") }
        let c = input.channels
        var parameters: [ParameterInfo] = []
        if affine { parameters += [ParameterInfo("weight", [c]), ParameterInfo("bias", [c])] }
        parameters += [ParameterInfo("running_mean", [c], kind: .buffer), ParameterInfo("running_var", [c], kind: .buffer)]
        return LayerCost(output: input, parameters: parameters, otherOps: 2 * input.elementCount)
    }

    public var label: String { "batch norm" }
    public var arguments: [(String, Value)] { [("eps", .float(eps)), ("momentum", .float(momentum)), ("affine", .bool(affine))] }
}

/// Local response normalization across channels, PyTorch's `nn.LocalResponseNorm` (AlexNet paper).
///
///     - {op: lrn, size: 5, alpha: 0.0001, beta: 0.75, k: 2}
public struct LocalResponseNorm: LayerOp {
    public static let name = "lrn"
    public static let summary = "local response normalization across channels (size, alpha=1e-4, beta=0.75, k=1)"
    public var size: Int
    public var alpha: Double
    public var beta: Double
    public var k: Double

    public init(_ args: inout OpArguments) throws {
        size = try args.int("size")
        alpha = try args.double("alpha", default: 1e-4)
        beta = try args.double("beta", default: 0.75)
        k = try args.double("k", default: 1)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("lrn expects a [channels, height, width] input, found \(input)") }
        return LayerCost(output: input, otherOps: saturatingProduct(size + 3, input.elementCount))
    }

    public var label: String { "local response norm" }
    public var arguments: [(String, Value)] { [("size", .int(size)), ("alpha", .float(alpha)), ("beta", .float(beta)), ("k", .float(k))] }
}

// MARK: - Forward and backward

extension BatchNorm2d: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let p = layer.path
        return BatchNormRuntime(op: self, gamma: affine ? store[p + ".weight"] : nil, beta: affine ? store[p + ".bias"] : nil,
                                dGamma: affine ? store.gradients[p + ".weight"] : nil, dBeta: affine ? store.gradients[p + ".bias"] : nil,
                                runningMean: store.tensor(p + ".running_mean"), runningVar: store.tensor(p + ".running_var"), channels: layer.input.channels)
    }
}

final class BatchNormRuntime: LayerRuntime {
    let op: BatchNorm2d
    let gamma: Tensor?, beta: Tensor?, dGamma: Tensor?, dBeta: Tensor?, runningMean: Tensor, runningVar: Tensor
    let saveMean: Tensor, saveInvStd: Tensor
    private var usedBatchStatistics = false

    init(op: BatchNorm2d, gamma: Tensor?, beta: Tensor?, dGamma: Tensor?, dBeta: Tensor?, runningMean: Tensor, runningVar: Tensor, channels: Int) {
        self.op = op
        self.gamma = gamma; self.beta = beta; self.dGamma = dGamma; self.dBeta = dBeta
        self.runningMean = runningMean; self.runningVar = runningVar
        saveMean = Tensor(shape: [channels]); saveInvStd = Tensor(shape: [channels])
    }

    // x, y: [N, C, H, W]
    func forward(_ x: Tensor, _ y: Tensor, _ context: StepContext) {
        usedBatchStatistics = context.training
        if context.training {
            BatchNormKernel.forwardTraining(x: x, y: y, gamma: gamma, beta: beta, runningMean: runningMean, runningVar: runningVar,
                                            saveMean: saveMean, saveInvStd: saveInvStd, eps: Float(op.eps), momentum: Float(op.momentum),
                                            parallel: context.parallel)
        } else {
            BatchNormKernel.forwardInference(x: x, y: y, gamma: gamma, beta: beta, runningMean: runningMean, runningVar: runningVar,
                                             eps: Float(op.eps), parallel: context.parallel)
        }
    }

    func backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor?, accumulate: Bool, _ context: StepContext) {
        if usedBatchStatistics {
            BatchNormKernel.backwardTraining(x: x, dy: dy, dx: dx, gamma: gamma, dGamma: dGamma, dBeta: dBeta, saveMean: saveMean,
                                             saveInvStd: saveInvStd, accumulate: accumulate, parallel: context.parallel)
        } else {
            BatchNormKernel.backwardInference(dy: dy, dx: dx, x: x, gamma: gamma, dGamma: dGamma, dBeta: dBeta, runningMean: runningMean,
                                              runningVar: runningVar, eps: Float(op.eps), accumulate: accumulate, parallel: context.parallel)
        }
    }
}

extension LocalResponseNorm: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let scale = Tensor(shape: layer.input.batched(batch))
        let (size, alpha, beta, k) = (self.size, Float(self.alpha), Float(self.beta), Float(self.k))
        return StatelessRuntime(
            forward: { x, y, c in
                scale.reshape(x.shape)
                LRNKernel.forward(x: x, y: y, scale: scale, size: size, alpha: alpha, beta: beta, k: k, parallel: c.parallel)
            },
            backward: { x, y, dy, dx, acc, c in
                LRNKernel.backward(x: x, y: y, scale: scale, dy: dy, dx: dx, size: size, alpha: alpha, beta: beta, accumulate: acc, parallel: c.parallel)
            })
    }
}

// MARK: - ONNX

extension BatchNorm2d {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let c = layer.input.channels
        let scale = affine ? try graph.weight(layer, "weight") : graph.constant(layer.path + ".weight", [Float](repeating: 1, count: c))
        let shift = affine ? try graph.weight(layer, "bias") : graph.constant(layer.path + ".bias", [Float](repeating: 0, count: c))
        return graph.add("BatchNormalization", [input, scale, shift, try graph.weight(layer, "running_mean"), try graph.weight(layer, "running_var")],
                         [("epsilon", .float(Float(eps)))], name: layer.path)
    }
}

extension LocalResponseNorm {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.add("LRN", [input], [("size", .int(size)), ("alpha", .float(Float(alpha))), ("beta", .float(Float(beta))), ("bias", .float(Float(k)))],
                  name: layer.path)
    }
}
