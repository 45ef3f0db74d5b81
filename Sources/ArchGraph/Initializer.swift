import ArchSpec
import ArchTensor
import Foundation

/// Weight initialization, chosen per architecture in its `init:` section, per op and tensor:
///
///     init:
///       conv2d: {weight: kaiming_normal, bias: zeros}      # torchvision's ResNet/VGG
///       linear: {weight: {normal: 0.01}, bias: zeros}
///       batchnorm2d: {weight: ones, bias: zeros}
///
/// Schemes: `default` (PyTorch's default for the op: U(+-1/sqrt(fan_in)) for conv and linear
/// weights and biases, ones/zeros for batch norm), `zeros`, `ones`, `{constant: v}`,
/// `{normal: std}` or `{normal: {mean: m, std: s}}`, `{trunc_normal: {std: s, a: lo, b: hi}}`
/// (absolute bounds, default +-2 std), `kaiming_normal` (fan_out, ReLU gain; or
/// `{kaiming_normal: {mode: fan_in}}`), `kaiming_uniform`, `xavier_uniform`, `{uniform: bound}`.
/// Each tensor draws from its own stream derived from the seed and its name, so results do not
/// depend on the order of layers.
public struct Initializer: Sendable {
    public enum Scheme: Sendable, Equatable {
        case `default`, zeros, ones
        case constant(Double)
        case normal(mean: Double, std: Double)
        case truncatedNormal(mean: Double, std: Double, low: Double, high: Double)
        case kaimingNormal(fanOut: Bool)
        case kaimingUniform(fanOut: Bool)
        case xavierUniform
        case uniform(Double)
        /// U(+-1/sqrt(fan)): `{uniform: {mode: fan_out}}` (torchvision's EfficientNet classifier).
        case uniformFan(fanOut: Bool)
        /// Values the op computes (Swin's `relative_position_index`), in order; not a YAML scheme.
        case values([Float])
    }

    /// op name -> tensor name -> scheme.
    public var rules: [String: [String: Scheme]]

    public init(rules: [String: [String: Scheme]] = [:]) { self.rules = rules }

    static let schemeNames = ["default", "zeros", "ones", "constant", "normal", "trunc_normal", "kaiming_normal",
                              "kaiming_uniform", "xavier_uniform", "uniform"]

    /// Decodes an architecture's `init:` section (nil: PyTorch's defaults everywhere).
    public static func decode(_ node: YNode?) throws -> Initializer {
        guard let node else { return Initializer() }
        guard let ops = node.entries else { throw SpecError("'init' must map op names to {tensor: scheme}, found \(node.kindDescription)", at: node.location) }
        var rules: [String: [String: Scheme]] = [:]
        for op in ops {
            guard OpRegistry.layers[op.key.text] != nil else {
                throw SpecError("init: unknown op '\(op.key.text)'\(Suggestion.didYouMean(op.key.text, in: Array(OpRegistry.layers.keys)))", at: op.key.location)
            }
            guard let tensors = op.value.entries else {
                throw SpecError("init.\(op.key.text): expected {weight: scheme, bias: scheme}, found \(op.value.kindDescription)", at: op.value.location)
            }
            for t in tensors { rules[op.key.text, default: [:]][t.key.text] = try scheme(t.value, what: "init.\(op.key.text).\(t.key.text)") }
        }
        return Initializer(rules: rules)
    }

    static func scheme(_ node: YNode, what: String) throws -> Scheme {
        func number(_ n: YNode?, _ name: String) throws -> Double? {
            guard let n else { return nil }
            guard let s = n.scalar, let v = try ScalarReading.float(s) else {
                throw SpecError("\(what): '\(name)' must be a number, found \(n.kindDescription)", at: n.location)
            }
            return v
        }
        let name: String, argument: YNode?
        switch node {
        case let .scalar(s): name = s.text; argument = nil
        case let .map(entries, _) where entries.count == 1: name = entries[0].key.text; argument = entries[0].value
        default: throw SpecError("\(what): expected a scheme such as zeros or {normal: 0.01}, found \(node.kindDescription)", at: node.location)
        }
        func arg(_ key: String) throws -> Double? {
            if let a = argument, a.entries != nil { return try number(a[key], key) }
            return key == "std" || key == "value" || key == "bound" ? try number(argument, key) : nil
        }
        let mode = argument?["mode"]?.scalar?.text ?? "fan_out"
        switch name {
        case "default": return .default
        case "zeros": return .zeros
        case "ones": return .ones
        case "constant": return .constant(try arg("value") ?? 0)
        case "normal": return .normal(mean: try arg("mean") ?? 0, std: try arg("std") ?? 1)
        case "trunc_normal":
            let std = try arg("std") ?? 1, mean = try arg("mean") ?? 0
            return .truncatedNormal(mean: mean, std: std, low: try arg("a") ?? mean - 2 * std, high: try arg("b") ?? mean + 2 * std)
        case "kaiming_normal": return .kaimingNormal(fanOut: mode == "fan_out")
        case "kaiming_uniform": return .kaimingUniform(fanOut: mode == "fan_out")
        case "xavier_uniform": return .xavierUniform
        case "uniform":
            if argument?["mode"] != nil { return .uniformFan(fanOut: mode == "fan_out") }
            return .uniform(try arg("bound") ?? 1)
        default:
            throw SpecError("\(what): unknown scheme '\(name)'\(Suggestion.didYouMean(name, in: schemeNames)) (schemes: \(schemeNames.joined(separator: ", ")))",
                            at: node.location)
        }
    }

    /// Fills every tensor of `store` for `seed`.
    public func initialize(_ store: ParameterStore, seed: UInt64) {
        for name in store.names {
            guard let tensor = store[name], let layer = store.owners[name] else { continue }
            let local = String(name.dropFirst(layer.path.isEmpty ? 0 : layer.path.count + 1))
            var random = RandomSource.stream(seed: seed, Self.hash(name))
            let scheme = rules[layer.op.name]?[local] ?? layer.op.initialization(of: local) ?? .default
            fill(tensor, scheme: scheme, op: layer.op.name, local: local, weightShape: store[layer.path + ".weight"]?.shape, random: &random)
        }
    }

    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    /// PyTorch's fan-in and fan-out of a weight: dims 1 and 0 times the receptive field.
    static func fans(_ shape: [Int]) -> (Double, Double) {
        guard shape.count >= 2 else { return (Double(shape.first ?? 1), Double(shape.first ?? 1)) }
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (Double(shape[1] * receptive), Double(shape[0] * receptive))
    }

    func fill(_ t: Tensor, scheme: Scheme, op: String, local: String, weightShape: [Int]?, random: inout RandomSource) {
        let (fanIn, fanOut) = Self.fans(weightShape ?? t.shape)
        func each(_ f: (inout RandomSource) -> Float) { t.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = f(&random) } } }
        switch scheme {
        case .default:
            switch (op, local) {
            case (_, "running_var"), (BatchNorm2d.name, "weight"): t.fill(1)
            case (_, "running_mean"), (BatchNorm2d.name, "bias"): t.fill(0)
            default:
                let bound = Float(1 / fanIn.squareRoot())
                each { $0.uniform(-bound, bound) }
            }
        case .zeros: t.fill(0)
        case .ones: t.fill(1)
        case let .constant(v): t.fill(Float(v))
        case let .normal(mean, std): each { Float(mean) + Float(std) * $0.normal() }
        case let .truncatedNormal(mean, std, low, high):
            each { r in
                var v: Double
                repeat { v = mean + std * Double(r.normal()) } while v < low || v > high
                return Float(v)
            }
        case let .kaimingNormal(fanOut: useOut):
            let std = Float((2 / (useOut ? fanOut : fanIn)).squareRoot())
            each { std * $0.normal() }
        case let .kaimingUniform(fanOut: useOut):
            let bound = Float((6 / (useOut ? fanOut : fanIn)).squareRoot())
            each { $0.uniform(-bound, bound) }
        case .xavierUniform:
            let bound = Float((6 / (fanIn + fanOut)).squareRoot())
            each { $0.uniform(-bound, bound) }
        case let .uniform(bound): each { $0.uniform(-Float(bound), Float(bound)) }
        case let .uniformFan(fanOut: useOut):
            let bound = Float(1 / (useOut ? fanOut : fanIn).squareRoot())
            each { $0.uniform(-bound, bound) }
        case let .values(values):
            t.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = i < values.count ? values[i] : 0 } }
        }
    }
}
