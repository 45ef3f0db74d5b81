import ArchSpec
import ArchTensor

/// Multi-head self-attention over tokens `[D, 1, T]`, PyTorch's `nn.MultiheadAttention(D, heads)`
/// as torchvision's vision transformer uses it: tensors `in_proj_weight` `[3D, D]` (Q, K and V
/// stacked), `in_proj_bias` `[3D]`, `out_proj.weight` `[D, D]`, `out_proj.bias` `[D]`.
///
///     - {name: self_attention, op: self_attention, heads: 12}
///
/// MACs follow torchvision's `_ops`: the projections (4·T·D² per sample) and the attention
/// products QKᵀ and PV (2·T²·D), which `attentionMACs` also reports apart. Paper: A. Vaswani et
/// al., "Attention is all you need", NeurIPS 2017, arXiv:1706.03762.
public struct SelfAttention: LayerOp {
    public static let name = "self_attention"
    public static let summary = "multi-head self-attention over tokens [D, 1, T] (heads; nn.MultiheadAttention's fused in_proj)"
    public var heads: Int

    public init(_ args: inout OpArguments) throws {
        heads = try args.int("heads")
        try args.finish()
    }

    /// The attention products' MACs (QKᵀ and PV) for tokens of `input`.
    public func attentionMACs(input: Shape) -> Int { saturatingProduct(2, input.width, input.width, input.channels) }

    public func bind(input: Shape) throws -> LayerCost {
        let (dim, tokens) = try tokenShape(input, Self.name)
        guard dim % heads == 0 else { throw ShapeError("self_attention: \(heads) heads do not divide the dimension \(dim)") }
        let projections = saturatingProduct(4, tokens, dim, dim), products = attentionMACs(input: input)
        let (macs, overflow) = projections.addingReportingOverflow(products)
        return LayerCost(output: input,
                         parameters: [ParameterInfo("in_proj_weight", [3 * dim, dim]), ParameterInfo("in_proj_bias", [3 * dim]),
                                      ParameterInfo("out_proj.weight", [dim, dim]), ParameterInfo("out_proj.bias", [dim])],
                         macs: overflow ? Int.max : macs, otherOps: saturatingProduct(3, heads, tokens, tokens), attentionMACs: products)
    }

    public var label: String { "self-attention" }
    public var depth: Int { 2 }
    public var arguments: [(String, Value)] { [("heads", .int(heads))] }

    /// PyTorch's: Xavier-uniform for the fused projection, zero biases, the output projection
    /// as any linear layer.
    public func initialization(of tensor: String) -> Initializer.Scheme? {
        switch tensor {
        case "in_proj_weight": return .xavierUniform
        case "in_proj_bias", "out_proj.bias": return .zeros
        default: return nil
        }
    }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let p = layer.path, heads = self.heads, layout = TokenLayout.sequence(tokens: layer.input.width)
        let tensors = AttentionTensors(qkvWeight: store.tensor(p + ".in_proj_weight"), qkvBias: store.tensor(p + ".in_proj_bias"),
                                       projWeight: store.tensor(p + ".out_proj.weight"), projBias: store.tensor(p + ".out_proj.bias"))
        let gradients = AttentionTensors(qkvWeight: store.gradient(p + ".in_proj_weight"), qkvBias: store.gradient(p + ".in_proj_bias"),
                                         projWeight: store.gradient(p + ".out_proj.weight"), projBias: store.gradient(p + ".out_proj.bias"))
        let buffers = AttentionKernel.Buffers(batch: batch, dim: layer.input.channels, heads: heads, layout: layout)
        return ClosureRuntime(
            forward: { x, y, c in
                AttentionKernel.forward(x: x, y: y, tensors: tensors, heads: heads, layout: layout, buffers: buffers, parallel: c.parallel)
            },
            backward: { x, _, dy, dx, acc, c in
                AttentionKernel.backward(x: x, dy: dy, dx: dx, tensors: tensors, gradients: gradients, heads: heads, layout: layout,
                                         buffers: buffers, accumulate: acc, parallel: c.parallel)
            })
    }

    /// Tokens `[N, D, 1, T]` to `[N, T, D]`, the fused projection, heads `[N, H, T, d]`, softmax of
    /// the scaled products, the weighted values, the output projection, and back to `[N, D, 1, T]`.
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let (dim, tokens) = (layer.input.channels, layer.input.width), d = dim / heads, path = layer.path
        let sequence = graph.add("Reshape", [input, graph.constant(path + "/seq_shape", ints: [0, dim, tokens])], name: path + "/sequence")
        let rows = graph.add("Transpose", [sequence], [("perm", .ints([0, 2, 1]))], name: path + "/tokens_first")
        let inWeight = graph.add("Transpose", [try graph.weight(layer, "in_proj_weight")], [("perm", .ints([1, 0]))], name: path + "/in_proj_t")
        let projected = graph.add("Add", [graph.add("MatMul", [rows, inWeight], name: path + "/in_proj"), try graph.weight(layer, "in_proj_bias")],
                                  name: path + "/in_proj_bias")
        let split = graph.constant(path + "/split", ints: [dim, dim, dim])
        let parts = graph.add("Split", [projected, split], [("axis", .int(2))], name: path + "/qkv", outputs: 3)
        let (q, k, v) = (parts[0], parts[1], parts[2])
        let headShape = graph.constant(path + "/head_shape", ints: [0, tokens, heads, d])
        func perHead(_ value: String, _ tag: String, perm: [Int]) -> String {
            let shaped = graph.add("Reshape", [value, headShape], name: path + "/" + tag + "_heads")
            return graph.add("Transpose", [shaped], [("perm", .ints(perm))], name: path + "/" + tag + "_t")
        }
        let qh = perHead(q, "q", perm: [0, 2, 1, 3]), kh = perHead(k, "k", perm: [0, 2, 3, 1]), vh = perHead(v, "v", perm: [0, 2, 1, 3])
        let scores = graph.add("Mul", [graph.add("MatMul", [qh, kh], name: path + "/scores"),
                                       graph.constant(path + "/scale", [Float(1 / Double(d).squareRoot())], dims: [])], name: path + "/scaled")
        let probabilities = graph.add("Softmax", [scores], [("axis", .int(-1))], name: path + "/softmax")
        let context = graph.add("MatMul", [probabilities, vh], name: path + "/context")
        let merged = graph.add("Reshape", [graph.add("Transpose", [context], [("perm", .ints([0, 2, 1, 3]))], name: path + "/context_t"),
                                           graph.constant(path + "/merged_shape", ints: [0, tokens, dim])], name: path + "/merged")
        let outWeight = graph.add("Transpose", [try graph.weight(layer, "out_proj.weight")], [("perm", .ints([1, 0]))], name: path + "/out_proj_t")
        let out = graph.add("Add", [graph.add("MatMul", [merged, outWeight], name: path + "/out_proj"), try graph.weight(layer, "out_proj.bias")],
                            name: path + "/out_proj_bias")
        let channelsFirst = graph.add("Transpose", [out], [("perm", .ints([0, 2, 1]))], name: path + "/channels_first")
        return graph.add("Reshape", [channelsFirst, graph.constant(path + "/out_shape", ints: [0, dim, 1, tokens])], name: path)
    }
}
