import ArchTensor
import ArchSpec

/// Fully connected layer, PyTorch's `nn.Linear`; `in_features` is inferred from the input.
///
///     - {op: linear, out: 4096}
///
/// Weight `[out, in]`, optional bias `[out]`; MACs `in * out`.
public struct Linear: LayerOp {
    public static let name = "linear"
    public static let summary = "fully connected layer (out, bias=true); in_features is inferred"
    public var out: Int
    public var bias: Bool

    public init(_ args: inout OpArguments) throws {
        out = try args.int("out")
        bias = try args.bool("bias", default: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.dims.count == 1 else {
            throw ShapeError("linear expects flat features, found \(input); put {op: flatten} before it")
        }
        let inFeatures = input.dims[0]
        var parameters = [ParameterInfo("weight", [out, inFeatures])]
        if bias { parameters.append(ParameterInfo("bias", [out])) }
        return LayerCost(output: Shape([out]), parameters: parameters, macs: saturatingProduct(inFeatures, out))
    }

    public var label: String { "linear" }
    public var depth: Int { 1 }
    public var arguments: [(String, Value)] { [("out", .int(out)), ("bias", .bool(bias))] }
}

// MARK: - Forward and backward

extension Linear: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        LinearRuntime(weight: store.tensor(layer.path + ".weight"), bias: bias ? store[layer.path + ".bias"] : nil,
                      dWeight: store.gradient(layer.path + ".weight"), dBias: bias ? store.gradients[layer.path + ".bias"] : nil)
    }
}

final class LinearRuntime: LayerRuntime {
    let weight: Tensor, bias: Tensor?, dWeight: Tensor, dBias: Tensor?

    init(weight: Tensor, bias: Tensor?, dWeight: Tensor, dBias: Tensor?) {
        self.weight = weight; self.bias = bias; self.dWeight = dWeight; self.dBias = dBias
    }

    // x: [N, in] -> y: [N, out]
    func forward(_ x: Tensor, _ y: Tensor, _ context: StepContext) {
        let workspace = context.scratch(LinearKernel.workspaceCount(batch: x.shape[0], outFeatures: weight.shape[0]))
        LinearKernel.forward(x: x, weight: weight, bias: bias, y: y, workspace: workspace, parallel: context.parallel)
    }

    func backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor?, accumulate: Bool, _ context: StepContext) {
        LinearKernel.backward(x: x, weight: weight, dy: dy, dx: dx, dWeight: dWeight, dBias: dBias, accumulate: accumulate, parallel: context.parallel)
    }
}

// MARK: - ONNX

extension Linear {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        var inputs = [input, try graph.weight(layer, "weight")]
        if bias { inputs.append(try graph.weight(layer, "bias")) }
        return graph.add("Gemm", inputs, [("transB", .int(1))], name: layer.path)
    }
}
