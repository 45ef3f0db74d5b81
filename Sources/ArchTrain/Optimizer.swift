import ArchGraph
import ArchTensor
import Foundation

/// Optimizers with PyTorch's update rules (torch.optim): SGD (momentum, dampening 0, Nesterov,
/// L2 weight decay), Adam (L2 weight decay), AdamW (decoupled decay), RMSprop (alpha 0.99).
public struct OptimizerConfig: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case sgd, adam, adamw, rmsprop }
    public var kind: Kind = .sgd
    public var momentum: Double = 0.9
    public var nesterov = false
    public var weightDecay: Double = 0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var eps: Double = 1e-8
    public var alpha: Double = 0.99
    /// False: no weight decay on one-dimensional parameters (biases, norm scales), as ConvNeXt's
    /// recipe (torchvision's `--norm-weight-decay 0`, timm's default) trains; nil means true
    /// (PyTorch's one parameter group), so configurations written before the setting read the same.
    public var decayNormsAndBiases: Bool?

    public init(kind: Kind = .sgd, momentum: Double = 0.9, nesterov: Bool = false, weightDecay: Double = 0) {
        self.kind = kind; self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
    }
}

public final class Optimizer {
    public let config: OptimizerConfig
    let store: ParameterStore
    let names: [String]
    var first: [String: Tensor] = [:]   // momentum buffer / Adam m / RMSprop square average
    var second: [String: Tensor] = [:]  // Adam v / RMSprop momentum buffer
    public internal(set) var steps = 0

    /// `frozen` parameters are never updated (transfer learning).
    public init(_ config: OptimizerConfig, store: ParameterStore, frozen: Set<String> = []) {
        self.config = config
        self.store = store
        names = store.parameterNames.filter { !frozen.contains($0) }
        for n in names {
            first[n] = Tensor(shape: store.tensor(n).shape)
            if config.kind != .sgd { second[n] = Tensor(shape: store.tensor(n).shape) }
        }
    }

    /// Parameter `n`'s state in `buffers` (`init` allocates `first` for every updated parameter,
    /// `second` too for every optimizer but SGD).
    static func state(_ buffers: [String: Tensor], _ n: String) -> Tensor {
        guard let t = buffers[n] else { preconditionFailure("the optimizer holds no state for '\(n)'") }
        return t
    }

    /// One update of every parameter with learning rate `lr`, from the accumulated gradients, each
    /// parameter split across `parallel`'s threads (the same bits for any thread count).
    public func step(lr: Double, parallel: Parallelism = .serial) {
        steps += 1
        let c = config, t = Double(steps)
        let lr32 = Float(lr)
        for n in names {
            let p = store.tensor(n), g = store.gradient(n), m = Self.state(first, n)
            let wd = c.decayNormsAndBiases == false && p.shape.count <= 1 ? 0 : Float(c.weightDecay)
            switch c.kind {
            case .sgd:
                OptimizerKernel.sgd(p: p, g: g, m: m, lr: lr32, weightDecay: wd, momentum: Float(c.momentum), nesterov: c.nesterov,
                                    firstStep: steps == 1, parallel: parallel)
            case .adam, .adamw:
                let correction1 = 1 - pow(c.beta1, t), correction2 = (1 - pow(c.beta2, t)).squareRoot()
                OptimizerKernel.adam(p: p, g: g, m: m, v: Self.state(second, n), lr: lr32, weightDecay: wd, decoupled: c.kind == .adamw,
                                     beta1: Float(c.beta1), beta2: Float(c.beta2), eps: Float(c.eps), stepSize: Float(lr / correction1),
                                     correction2: Float(correction2), parallel: parallel)
            case .rmsprop:
                OptimizerKernel.rmsprop(p: p, g: g, square: m, buffer: Self.state(second, n), lr: lr32, weightDecay: wd,
                                        alpha: Float(c.alpha), eps: Float(c.eps), momentum: Float(c.momentum), parallel: parallel)
            }
        }
    }
}

/// Learning-rate schedules over epochs, evaluated per step: constant, step decay, cosine
/// annealing to 0 (PyTorch's CosineAnnealingLR with T_max = epochs), each after an optional linear
/// warm-up.
public struct Schedule: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case constant, step, cosine }
    public var kind: Kind = .constant
    public var stepSize: Int = 30
    public var gamma: Double = 0.1
    public var warmupEpochs: Double = 0

    public init(kind: Kind = .constant, stepSize: Int = 30, gamma: Double = 0.1, warmupEpochs: Double = 0) {
        self.kind = kind; self.stepSize = stepSize; self.gamma = gamma; self.warmupEpochs = warmupEpochs
    }

    /// Learning rate at `epoch` (fractional: epoch + step/steps) of `epochs`.
    public func lr(base: Double, epoch: Double, epochs: Int) -> Double {
        var lr: Double
        switch kind {
        case .constant: lr = base
        case .step: lr = base * pow(gamma, Double(Int(epoch) / max(1, stepSize)))
        case .cosine: lr = base * (1 + cos(Double.pi * Double(Int(epoch)) / Double(max(1, epochs)))) / 2
        }
        if warmupEpochs > 0, epoch < warmupEpochs { lr *= (epoch + 1e-9) / warmupEpochs }
        return lr
    }
}
