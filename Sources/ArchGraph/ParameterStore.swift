import ArchTensor

/// Every tensor of a network by its state-dict name (`features.0.weight`), with a gradient for
/// each trainable parameter. Filled by an `Initializer` or loaded from safetensors.
public final class ParameterStore {
    public private(set) var names: [String] = []
    public private(set) var values: [String: Tensor] = [:]
    public private(set) var gradients: [String: Tensor] = [:]
    public private(set) var kinds: [String: ParameterInfo.Kind] = [:]
    /// The layer each tensor belongs to, for initializers (op name and fan-in/out come from it).
    public private(set) var owners: [String: Layer] = [:]

    /// Allocates every tensor of `network` (zero-filled; see `Initializer`).
    public init(network: Network) {
        for layer in network.layers {
            for info in layer.tensors {
                let name = layer.stateName(info)
                names.append(name)
                values[name] = Tensor(shape: info.shape)
                kinds[name] = info.kind
                owners[name] = layer
                if info.kind == .parameter { gradients[name] = Tensor(shape: info.shape) }
            }
        }
    }

    public subscript(name: String) -> Tensor? { values[name] }

    /// The tensor of one of `names` (every name the network declares has one, from `init`).
    public func tensor(_ name: String) -> Tensor {
        guard let t = values[name] else { preconditionFailure("no tensor '\(name)' in this network's parameter store") }
        return t
    }

    /// The gradient of one of `parameterNames`.
    public func gradient(_ name: String) -> Tensor {
        guard let g = gradients[name] else { preconditionFailure("'\(name)' is not a trainable parameter of this network (no gradient)") }
        return g
    }

    /// Trainable parameter names in declaration order.
    public var parameterNames: [String] { names.filter { kinds[$0] == .parameter } }

    /// Sets every gradient to zero, each split across `parallel`'s threads.
    public func zeroGradients(parallel: Parallelism = .serial) { OptimizerKernel.zero(gradients.values, parallel: parallel) }

    /// Number of trainable values.
    public var parameterCount: Int { parameterNames.reduce(0) { $0 + (values[$1]?.count ?? 0) } }
}
