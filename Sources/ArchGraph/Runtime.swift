import ArchTensor

/// Per-step settings passed explicitly to every layer: mode, randomness, threads.
public final class StepContext {
    /// Training mode: batch statistics in batch norm, dropout active, aux heads run.
    public var training: Bool
    /// With false, dropout is the identity even in training (`forward --train --no-dropout`).
    public var dropout: Bool
    public var random: RandomSource
    public var parallel: Parallelism
    /// Scratch memory shared by the layers of a step (they run one after another), grown once.
    private var scratchBuffer: Tensor?

    /// A scratch tensor of at least `count` floats (contents undefined).
    public func scratch(_ count: Int) -> Tensor {
        if let s = scratchBuffer, s.capacity >= count { return s }
        let s = Tensor(shape: [max(1, count)])
        scratchBuffer = s
        return s
    }

    public init(training: Bool, dropout: Bool = true, random: RandomSource = RandomSource(seed: 0), parallel: Parallelism = .serial) {
        self.training = training
        self.dropout = dropout
        self.random = random
        self.parallel = parallel
    }
}

/// A layer bound to its tensors and a batch size: forward and backward over planned buffers.
public protocol LayerRuntime: AnyObject {
    // x: [N, input...] -> y: [N, output...]
    func forward(_ x: Tensor, _ y: Tensor, _ context: StepContext)
    /// Parameter gradients accumulate into the store's gradient tensors; `dx` (nil for the network
    /// input) is written, or added to when `accumulate` (several consumers of one tensor).
    func backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor?, accumulate: Bool, _ context: StepContext)
}

/// An op's runtime factory: given the built layer, the store and the batch size.
public protocol RuntimeProviding {
    func makeRuntime(for layer: Layer, store: ParameterStore, batch: Int) -> any LayerRuntime
}

/// Ops that need no parameters and keep no state beyond their buffers may share this helper.
final class StatelessRuntime: LayerRuntime {
    let forwardBody: (Tensor, Tensor, StepContext) -> Void
    let backwardBody: (Tensor, Tensor, Tensor, Tensor, Bool, StepContext) -> Void

    init(forward: @escaping (Tensor, Tensor, StepContext) -> Void,
         backward: @escaping (_ x: Tensor, _ y: Tensor, _ dy: Tensor, _ dx: Tensor, _ accumulate: Bool, StepContext) -> Void) {
        forwardBody = forward
        backwardBody = backward
    }

    func forward(_ x: Tensor, _ y: Tensor, _ context: StepContext) { forwardBody(x, y, context) }
    func backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor?, accumulate: Bool, _ context: StepContext) {
        if let dx { backwardBody(x, y, dy, dx, accumulate, context) }
    }
}

/// A runtime from two closures whose backward runs even without an input gradient (`dx` nil for
/// the network input), as ops with parameters need.
final class ClosureRuntime: LayerRuntime {
    let forwardBody: (Tensor, Tensor, StepContext) -> Void
    let backwardBody: (Tensor, Tensor, Tensor, Tensor?, Bool, StepContext) -> Void

    init(forward: @escaping (Tensor, Tensor, StepContext) -> Void,
         backward: @escaping (_ x: Tensor, _ y: Tensor, _ dy: Tensor, _ dx: Tensor?, _ accumulate: Bool, StepContext) -> Void) {
        forwardBody = forward
        backwardBody = backward
    }

    func forward(_ x: Tensor, _ y: Tensor, _ context: StepContext) { forwardBody(x, y, context) }
    func backward(x: Tensor, y: Tensor, dy: Tensor, dx: Tensor?, accumulate: Bool, _ context: StepContext) {
        backwardBody(x, y, dy, dx, accumulate, context)
    }
}

extension Shape {
    /// `[N] + dims`.
    func batched(_ n: Int) -> [Int] { [n] + dims }
}
