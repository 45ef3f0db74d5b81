import ArchTensor
import ArchSpec

/// Rectified linear unit, `max(x, 0)`; one other-op per element.
public struct ReLU: LayerOp {
    public static let name = "relu"
    public static let summary = "rectified linear unit"

    public init(_ args: inout OpArguments) throws {
        _ = try args.bool("inplace", default: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost { LayerCost(output: input, otherOps: input.elementCount) }
    public var label: String { "relu" }
    public var arguments: [(String, Value)] { [] }
    /// max(x, 0) element by element, and the backward reads only y > 0: PyTorch's inplace=True.
    public var runsInPlace: Bool { true }
}

/// Dropout with probability `p`, active only in training (scaled by 1/(1-p)); free in inference.
public struct Dropout: LayerOp {
    public static let name = "dropout"
    public static let summary = "dropout (p=0.5), training only"
    public var p: Double

    public init(_ args: inout OpArguments) throws {
        p = try args.double("p", default: 0.5, in: 0 ... 1, excludingUpper: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost { LayerCost(output: input) }
    public var label: String { "dropout (\(Value.plainNumber(p * 100))%)" }
    public var arguments: [(String, Value)] { [("p", .float(p))] }
    public var passesInputThrough: Bool { p == 0 }
}

/// Flattens `[C, H, W]` to `[C*H*W]` (PyTorch's `torch.flatten(x, 1)`).
public struct Flatten: LayerOp {
    public static let name = "flatten"
    public static let summary = "flattens [C, H, W] to [C*H*W]"

    public init(_ args: inout OpArguments) throws { try args.finish() }
    public func bind(input: Shape) throws -> LayerCost { LayerCost(output: Shape([input.elementCount])) }
    public var label: String { "flatten" }
    public var arguments: [(String, Value)] { [] }
}

/// Passes its input through unchanged.
public struct Identity: LayerOp {
    public static let name = "identity"
    public static let summary = "passes its input through"

    public init(_ args: inout OpArguments) throws { try args.finish() }
    public func bind(input: Shape) throws -> LayerCost { LayerCost(output: input) }
    public var label: String { "identity" }
    public var arguments: [(String, Value)] { [] }
    public var passesInputThrough: Bool { true }
}

// MARK: - Forward and backward

extension ReLU: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        StatelessRuntime(forward: { x, y, c in Elementwise.reluForward(x: x, y: y, parallel: c.parallel) },
                         backward: { _, y, dy, dx, acc, c in Elementwise.reluBackward(y: y, dy: dy, dx: dx, accumulate: acc, parallel: c.parallel) })
    }
}

extension Dropout: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let mask = Tensor(shape: layer.input.batched(batch)), p = Float(self.p)
        final class State { var active = false }
        let state = State()
        return StatelessRuntime(
            forward: { x, y, c in
                state.active = c.training && c.dropout && p > 0
                if state.active {
                    mask.reshape(x.shape)
                    Elementwise.dropoutForward(x: x, y: y, mask: mask, p: p, random: &c.random)
                } else {
                    Elementwise.copy(x, into: y, accumulate: false)
                }
            },
            backward: { _, _, dy, dx, acc, _ in
                if state.active { Elementwise.multiplyBackward(mask: mask, dy: dy, dx: dx, accumulate: acc) }
                else { Elementwise.copy(dy, into: dx, accumulate: acc) }
            })
    }
}

extension Flatten: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        StatelessRuntime(forward: { x, y, _ in Elementwise.copy(x, into: y, accumulate: false) },
                         backward: { _, _, dy, dx, acc, _ in Elementwise.copy(dy, into: dx, accumulate: acc) })
    }
}

extension Identity: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        StatelessRuntime(forward: { x, y, _ in Elementwise.copy(x, into: y, accumulate: false) },
                         backward: { _, _, dy, dx, acc, _ in Elementwise.copy(dy, into: dx, accumulate: acc) })
    }
}

// MARK: - ONNX

extension ReLU {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.add("Relu", [input], name: layer.path)
    }
}

extension Dropout {
    /// Inference: the identity (no node).
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String { input }
}

extension Flatten {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String {
        graph.add("Flatten", [input], [("axis", .int(1))], name: layer.path)
    }
}

extension Identity {
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String { input }
}
