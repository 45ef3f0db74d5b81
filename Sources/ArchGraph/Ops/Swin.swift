import ArchSpec
import ArchTensor

// The ops of a Swin Transformer (Z. Liu et al., "Swin Transformer: Hierarchical vision transformer
// using shifted windows", ICCV 2021, arXiv:2103.14030, Section 3.2). Swin keeps a `[C, H, W]` map
// throughout: `layer_norm2d` is its LayerNorm over C at each position and `channel_linear` its
// per-position linear layer, so only the windowed attention and the patch merging are new.

/// Multi-head self-attention inside `window × window` windows of a `[C, H, W]` map, torchvision's
/// `ShiftedWindowAttention`: with `shift` > 0 the map is first rolled up and left by `shift`
/// (`torch.roll`), tokens from different regions of a rolled window are masked apart (−100), and
/// the result is rolled back. Every score gets the learned relative position bias of its pair.
///
///     - {name: attn, op: window_attention, heads: 3, window: 7, shift: 3}
///
/// Tensors as torchvision names them: `qkv.weight` `[3C, C]`, `qkv.bias` `[3C]`, `proj.weight`
/// `[C, C]`, `proj.bias` `[C]`, `relative_position_bias_table` `[(2·window − 1)², heads]` and the
/// buffer `relative_position_index` `[window⁴]`. As in torchvision, a window as large as the map
/// along one side is not shifted along that side. The window must tile the map: torchvision pads a
/// map it does not tile with zeros that then take part in the attention; ArchLab reports it instead.
/// MACs: the projections (4·H·W·C²) and the attention products (2·H·W·window²·C), per sample.
public struct WindowAttention: LayerOp {
    public static let name = "window_attention"
    public static let summary = "Swin's multi-head attention in window x window windows of a map, rolled by shift (heads, window, shift=0)"
    public var heads: Int, window: Int, shift: Int

    public init(_ args: inout OpArguments) throws {
        heads = try args.int("heads", min: 1)
        window = try args.int("window", min: 1)
        shift = try args.int("shift", default: 0, min: 0)
        try args.finish()
    }

    /// The shift along the rows and along the columns (none along a side the window spans).
    func shifts(_ input: Shape) -> (rows: Int, columns: Int) {
        (window >= input.height ? 0 : shift, window >= input.width ? 0 : shift)
    }

    func layout(_ input: Shape) -> TokenLayout {
        let (rows, columns) = shifts(input)
        return .windows(height: input.height, width: input.width, window: window, rowShift: rows, columnShift: columns)
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("window_attention expects a [channels, height, width] map, found \(input)") }
        let c = input.channels, positions = input.height * input.width, tokens = window * window
        guard c % heads == 0 else { throw ShapeError("window_attention: \(heads) heads do not divide the \(c) channels") }
        guard input.height % window == 0, input.width % window == 0 else {
            let what = window > input.height || window > input.width ? "is larger than" : "does not tile"
            throw ShapeError("window_attention: the \(window)x\(window) window \(what) the \(input.height)x\(input.width) map "
                + "(expected a window that divides both sides; torchvision would pad the map with zeros that join the attention)")
        }
        guard shift < window else { throw ShapeError("window_attention: shift \(shift) must be smaller than the window \(window)") }
        let products = saturatingProduct(2, positions, tokens, c)
        let (macs, overflow) = saturatingProduct(4, positions, c, c).addingReportingOverflow(products)
        let table = (2 * window - 1) * (2 * window - 1)
        return LayerCost(output: input,
                         parameters: [ParameterInfo("qkv.weight", [3 * c, c]), ParameterInfo("qkv.bias", [3 * c]),
                                      ParameterInfo("proj.weight", [c, c]), ParameterInfo("proj.bias", [c]),
                                      ParameterInfo("relative_position_bias_table", [table, heads]),
                                      ParameterInfo("relative_position_index", [tokens * tokens], kind: .buffer)],
                         macs: overflow ? Int.max : macs, otherOps: saturatingProduct(3, heads, positions, tokens), attentionMACs: products)
    }

    public var label: String { shift > 0 ? "shifted window attention" : "window attention" }
    public func patch(input: Shape) -> String? { "\(window)×\(window)" }
    public var depth: Int { 2 }
    public var arguments: [(String, Value)] { [("heads", .int(heads)), ("window", .int(window)), ("shift", .int(shift))] }

    /// torchvision's: the bias table from a normal distribution (std 0.02, cut at ±2), the index
    /// computed, zero biases; the projection weights as any linear layer.
    public func initialization(of tensor: String) -> Initializer.Scheme? {
        switch tensor {
        case "relative_position_bias_table": return .truncatedNormal(mean: 0, std: 0.02, low: -2, high: 2)
        case "relative_position_index": return .values(SwinWindows.relativePositionIndex(window: window).map(Float.init))
        case "qkv.bias", "proj.bias": return .zeros
        default: return nil
        }
    }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let p = layer.path, heads = self.heads, input = layer.input, layout = self.layout(input)
        let tensors = AttentionTensors(qkvWeight: store.tensor(p + ".qkv.weight"), qkvBias: store.tensor(p + ".qkv.bias"),
                                       projWeight: store.tensor(p + ".proj.weight"), projBias: store.tensor(p + ".proj.bias"))
        let gradients = AttentionTensors(qkvWeight: store.gradient(p + ".qkv.weight"), qkvBias: store.gradient(p + ".qkv.bias"),
                                         projWeight: store.gradient(p + ".proj.weight"), projBias: store.gradient(p + ".proj.bias"))
        let table = store.tensor(p + ".relative_position_bias_table"), dTable = store.gradient(p + ".relative_position_bias_table")
        let index = SwinWindows.relativePositionIndex(window: window), tokens = layout.tokens
        let bias = Tensor(shape: [heads, tokens, tokens]), dBias = Tensor(shape: [heads, tokens, tokens])
        let (rowShift, columnShift) = shifts(input)
        let maskValues = SwinWindows.shiftMask(height: input.height, width: input.width, window: window, rowShift: rowShift, columnShift: columnShift)
        let mask = maskValues.isEmpty ? nil : Tensor(shape: [maskValues.count], values: maskValues)
        let buffers = AttentionKernel.Buffers(batch: batch, dim: input.channels, heads: heads, layout: layout)
        return ClosureRuntime(
            forward: { x, y, c in
                SwinWindows.expandBias(table: table, index: index, heads: heads, into: bias)
                AttentionKernel.forward(x: x, y: y, tensors: tensors, heads: heads, layout: layout, scoreBias: bias, mask: mask,
                                        buffers: buffers, parallel: c.parallel)
            },
            backward: { x, _, dy, dx, acc, c in
                dBias.zero()
                AttentionKernel.backward(x: x, dy: dy, dx: dx, tensors: tensors, gradients: gradients, dScoreBias: dBias, heads: heads,
                                         layout: layout, buffers: buffers, accumulate: acc, parallel: c.parallel)
                SwinWindows.foldBias(gradient: dBias, index: index, heads: heads, into: dTable)
            })
    }
}

/// Swin's patch merging before the linear reduction, torchvision's `_patch_merging_pad`: each 2×2
/// patch of a `[C, H, W]` map becomes one position of `[4C, ⌈H/2⌉, ⌈W/2⌉]`, channel groups in the
/// order (even row, even column), (odd, even), (even, odd), (odd, odd); an odd side is padded with
/// zeros. torchvision's `PatchMerging` is this op, `layer_norm2d` (`norm`) and a `channel_linear`
/// to 2C without bias (`reduction`).
///
///     - {op: patch_merge}
public struct PatchMerge: LayerOp {
    public static let name = "patch_merge"
    public static let summary = "Swin's 2x2 patch merging: [C, H, W] to [4C, H/2, W/2] in torchvision's channel order"

    public init(_ args: inout OpArguments) throws { try args.finish() }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("patch_merge expects a [channels, height, width] map, found \(input)") }
        return LayerCost(output: Shape(channels: 4 * input.channels, height: (input.height + 1) / 2, width: (input.width + 1) / 2))
    }

    public var label: String { "patch merging" }
    public func patch(input: Shape) -> String? { "2×2/2" }
    public var arguments: [(String, Value)] { [] }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let (c, h, w) = (layer.input.channels, layer.input.height, layer.input.width)
        return StatelessRuntime(
            forward: { x, y, ctx in SwinWindows.mergePatches(x: x, y: y, channels: c, height: h, width: w, parallel: ctx.parallel) },
            backward: { _, _, dy, dx, acc, ctx in
                SwinWindows.mergePatchesBackward(dy: dy, dx: dx, channels: c, height: h, width: w, accumulate: acc, parallel: ctx.parallel)
            })
    }
}

extension WindowAttention {
    /// torchvision's `shifted_window_attention` as ONNX nodes: to channels-last, the roll (slices
    /// and concatenations), the windows (reshape and transpose), the fused projection, per-head
    /// scaled products plus the bias gathered from the table and the mask, softmax, the output
    /// projection, and everything back.
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let (c, h, w) = (layer.input.channels, layer.input.height, layer.input.width), path = layer.path
        let t = window * window, d = c / heads, (rowShift, columnShift) = shifts(layer.input)
        func roll(_ value: String, axis: Int, by shift: Int, size: Int, _ tag: String) -> String {
            guard shift > 0 else { return value }
            // torch.roll(x, -shift): positions shift ..< size, then 0 ..< shift
            func slice(_ from: Int, _ to: Int, _ part: String) -> String {
                graph.add("Slice", [value, graph.constant(path + "/\(tag)_\(part)_start", ints: [from]),
                                    graph.constant(path + "/\(tag)_\(part)_end", ints: [to]), graph.constant(path + "/\(tag)_axis", ints: [axis])],
                          name: path + "/\(tag)_\(part)")
            }
            return graph.add("Concat", [slice(shift, size, "tail"), slice(0, shift, "head")], [("axis", .int(axis))], name: path + "/" + tag)
        }
        func transpose(_ value: String, _ perm: [Int], _ tag: String) -> String {
            graph.add("Transpose", [value], [("perm", .ints(perm))], name: path + "/" + tag)
        }
        func reshape(_ value: String, _ shape: [Int], _ tag: String) -> String {
            graph.add("Reshape", [value, graph.constant(path + "/\(tag)_shape", ints: shape)], name: path + "/" + tag)
        }
        let last = transpose(input, [0, 2, 3, 1], "channels_last")
        let rolled = roll(roll(last, axis: 1, by: rowShift, size: h, "roll_rows"), axis: 2, by: columnShift, size: w, "roll_columns")
        let (down, across) = (h / window, w / window)
        let split = reshape(rolled, [-1, down, window, across, window, c], "split")
        let windows = reshape(transpose(split, [0, 1, 3, 2, 4, 5], "windows_t"), [-1, t, c], "windows")
        let qkvT = transpose(try graph.weight(layer, "qkv.weight"), [1, 0], "qkv_t")
        let qkv = graph.add("Add", [graph.add("MatMul", [windows, qkvT], name: path + "/qkv"), try graph.weight(layer, "qkv.bias")],
                            name: path + "/qkv_bias")
        let heads5 = transpose(reshape(qkv, [-1, t, 3, heads, d], "qkv_heads"), [2, 0, 3, 1, 4], "qkv_heads_t")
        func part(_ i: Int, _ tag: String) -> String {
            graph.add("Gather", [heads5, graph.constant(path + "/\(tag)_index", ints: [i], dims: [])], [("axis", .int(0))], name: path + "/" + tag)
        }
        let (q, k, v) = (part(0, "q"), part(1, "k"), part(2, "v"))
        let products = graph.add("MatMul", [q, transpose(k, [0, 1, 3, 2], "k_t")], name: path + "/scores")
        let scaled = graph.add("Mul", [products, graph.constant(path + "/scale", [Float(1 / Double(d).squareRoot())], dims: [])],
                               name: path + "/scaled")
        let index = graph.constant(path + "/relative_position_index", ints: SwinWindows.relativePositionIndex(window: window))
        let gathered = graph.add("Gather", [try graph.weight(layer, "relative_position_bias_table"), index], [("axis", .int(0))],
                                 name: path + "/bias_gather")
        let bias = transpose(reshape(gathered, [t, t, heads], "bias_shape"), [2, 0, 1], "bias")
        var scores = graph.add("Add", [scaled, bias], name: path + "/biased")
        let mask = SwinWindows.shiftMask(height: h, width: w, window: window, rowShift: rowShift, columnShift: columnShift)
        if !mask.isEmpty {
            let perSample = reshape(scores, [-1, down * across, heads, t, t], "scores_per_sample")
            let masked = graph.add("Add", [perSample, graph.constant(path + "/mask", mask, dims: [down * across, 1, t, t])], name: path + "/masked")
            scores = reshape(masked, [-1, heads, t, t], "masked_scores")
        }
        let probabilities = graph.add("Softmax", [scores], [("axis", .int(-1))], name: path + "/softmax")
        let context = graph.add("MatMul", [probabilities, v], name: path + "/context")
        let merged = reshape(transpose(context, [0, 2, 1, 3], "context_t"), [-1, t, c], "merged")
        let projT = transpose(try graph.weight(layer, "proj.weight"), [1, 0], "proj_t")
        let projected = graph.add("Add", [graph.add("MatMul", [merged, projT], name: path + "/proj"), try graph.weight(layer, "proj.bias")],
                                  name: path + "/proj_bias")
        let unsplit = transpose(reshape(projected, [-1, down, across, window, window, c], "unwindow"), [0, 1, 3, 2, 4, 5], "unwindow_t")
        let map = reshape(unsplit, [-1, h, w, c], "map")
        let unrolled = roll(roll(map, axis: 1, by: rowShift == 0 ? 0 : h - rowShift, size: h, "unroll_rows"),
                            axis: 2, by: columnShift == 0 ? 0 : w - columnShift, size: w, "unroll_columns")
        return graph.add("Transpose", [unrolled], [("perm", .ints([0, 3, 1, 2]))], name: path)
    }
}

extension PatchMerge {
    /// Zero padding of an odd side, four strided slices, concatenated in torchvision's order.
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let (h, w) = (layer.input.height, layer.input.width), path = layer.path
        var padded = input
        if h % 2 == 1 || w % 2 == 1 {
            padded = graph.add("Pad", [input, graph.constant(path + "/pads", ints: [0, 0, 0, 0, 0, 0, h % 2, w % 2])], name: path + "/pad")
        }
        let groups = [(0, 0), (1, 0), (0, 1), (1, 1)].map { (row, column) in
            graph.add("Slice", [padded, graph.constant(path + "/start_\(row)\(column)", ints: [row, column]),
                                graph.constant(path + "/end_\(row)\(column)", ints: [h + 1, w + 1]), graph.constant(path + "/axes_\(row)\(column)", ints: [2, 3]),
                                graph.constant(path + "/steps_\(row)\(column)", ints: [2, 2])], name: path + "/patch_\(row)\(column)")
        }
        return graph.add("Concat", groups, [("axis", .int(1))], name: path)
    }
}
