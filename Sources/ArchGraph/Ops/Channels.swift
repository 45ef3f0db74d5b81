import ArchTensor
import ArchSpec

/// Channel shuffle (ShuffleNet), `view(N, groups, C/groups, H, W).transpose(1, 2)`: mixes the
/// channels of grouped branches.
///
///     - {op: channel_shuffle, groups: 2}
///
/// Paper: N. Ma, X. Zhang, H.-T. Zheng, J. Sun, "ShuffleNet V2: Practical guidelines for efficient
/// CNN architecture design", ECCV 2018, arXiv:1807.11164.
public struct ChannelShuffle: LayerOp {
    public static let name = "channel_shuffle"
    public static let summary = "permutes channels across groups (groups), as ShuffleNet"
    public var groups: Int

    public init(_ args: inout OpArguments) throws {
        groups = try args.int("groups")
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("channel_shuffle expects a [channels, height, width] input, found \(input)") }
        guard input.channels % groups == 0 else {
            throw ShapeError("channel_shuffle groups \(groups) must divide the input's \(input.channels) channels")
        }
        return LayerCost(output: input)
    }

    public var label: String { "channel shuffle" }
    public var arguments: [(String, Value)] { [("groups", .int(groups))] }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let g = groups
        return StatelessRuntime(forward: { x, y, _ in ChannelKernel.shuffle(x, groups: g, into: y, inverse: false, accumulate: false) },
                                backward: { _, _, dy, dx, acc, _ in ChannelKernel.shuffle(dy, groups: g, into: dx, inverse: true, accumulate: acc) })
    }
}

/// One of `chunks` equal pieces of the channels, `x.chunk(chunks, dim=1)[index]` (ShuffleNet V2's
/// channel split). Put it first in a branch to give the branch part of the input.
///
///     - {op: chunk, chunks: 2, index: 1}
public struct Chunk: LayerOp {
    public static let name = "chunk"
    public static let summary = "takes piece `index` of `chunks` equal channel pieces (chunks, index)"
    public var chunks: Int
    public var index: Int

    public init(_ args: inout OpArguments) throws {
        chunks = try args.int("chunks")
        index = try args.int("index", min: 0)
        try args.finish()
        guard index < chunks else { throw SpecError("chunk: index \(index) must be below chunks \(chunks)", at: args.location) }
    }

    public func bind(input: Shape) throws -> LayerCost {
        guard input.isSpatial else { throw ShapeError("chunk expects a [channels, height, width] input, found \(input)") }
        guard input.channels % chunks == 0 else {
            throw ShapeError("chunk: \(chunks) chunks must divide the input's \(input.channels) channels equally")
        }
        return LayerCost(output: Shape(channels: input.channels / chunks, height: input.height, width: input.width))
    }

    public var label: String { "channel split" }
    public var arguments: [(String, Value)] { [("chunks", .int(chunks)), ("index", .int(index))] }

    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let start = index * layer.input.channels / chunks
        return StatelessRuntime(forward: { x, y, _ in ChannelKernel.slice(x, start: start, into: y) },
                                backward: { _, _, dy, dx, acc, _ in ChannelKernel.sliceBackward(dy, start: start, into: dx, accumulate: acc) })
    }
}

// MARK: - ONNX

extension ChannelShuffle {
    /// Reshape to `[N, groups, C/groups, H, W]`, swap axes 1 and 2, reshape back (0 keeps the batch).
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let s = layer.input
        let split = graph.constant(layer.path + "/grouped", ints: [0, groups, s.channels / groups, s.height, s.width])
        let merged = graph.constant(layer.path + "/merged", ints: [0, s.channels, s.height, s.width])
        let grouped = graph.add("Reshape", [input, split], name: layer.path + "/reshape")
        let swapped = graph.add("Transpose", [grouped], [("perm", .ints([0, 2, 1, 3, 4]))], name: layer.path + "/transpose")
        return graph.add("Reshape", [swapped, merged], name: layer.path)
    }
}

extension Chunk {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        let size = layer.input.channels / chunks
        let starts = graph.constant(layer.path + "/starts", ints: [index * size]), ends = graph.constant(layer.path + "/ends", ints: [(index + 1) * size])
        let axes = graph.constant(layer.path + "/axes", ints: [1])
        return graph.add("Slice", [input, starts, ends, axes], name: layer.path)
    }
}
