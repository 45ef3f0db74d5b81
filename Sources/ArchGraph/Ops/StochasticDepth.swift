import ArchTensor
import ArchSpec

/// Stochastic depth (DropPath), torchvision's `StochasticDepth(p, "row")`: in training, each
/// sample's whole tensor is zeroed with probability `p` and the survivors are scaled by 1/(1-p);
/// the identity in inference and with dropout off. Placed at the end of a residual branch.
///
///     - {name: stochastic_depth, op: stochastic_depth, p: "${0.2 * block / blocks}"}
///
/// Paper: G. Huang, Y. Sun, Z. Liu, D. Sedra, K. Weinberger, "Deep networks with stochastic depth",
/// ECCV 2016, arXiv:1603.09382.
public struct StochasticDepth: LayerOp {
    public static let name = "stochastic_depth"
    public static let summary = "drops a residual branch per sample with probability p (p=0, in [0, 1)), training only"
    public var p: Double

    public init(_ args: inout OpArguments) throws {
        p = try args.double("p", default: 0, in: 0 ... 1, excludingUpper: true)
        try args.finish()
    }

    public func bind(input: Shape) throws -> LayerCost { LayerCost(output: input) }
    public var label: String { "stochastic depth (\(Value.plainNumber(p * 100))%)" }
    public var arguments: [(String, Value)] { [("p", .float(p))] }
    public var passesInputThrough: Bool { p == 0 }
}

extension StochasticDepth: RuntimeProviding {
    public func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime {
        let p = Float(self.p)
        final class State { var active = false; var keep: [Float] = [] }
        let state = State()
        return StatelessRuntime(
            forward: { x, y, c in
                state.active = c.training && c.dropout && p > 0
                guard state.active else { return Elementwise.copy(x, into: y, accumulate: false) }
                state.keep = (0..<x.shape[0]).map { _ in c.random.uniform() < p ? 0 : 1 / (1 - p) }
                ProductKernel.scaleSamples(x, by: state.keep, into: y, accumulate: false)
            },
            backward: { _, _, dy, dx, acc, _ in
                guard state.active else { return Elementwise.copy(dy, into: dx, accumulate: acc) }
                ProductKernel.scaleSamples(dy, by: state.keep, into: dx, accumulate: acc)
            })
    }
}

extension StochasticDepth {
    /// Inference: the identity (no node).
    public func exportONNX(_ graph: inout ONNXGraph, layer: Layer, input: String) throws -> String { input }
}
