import ArchGraph
import ArchTensor

/// The deterministic tensor values shared with scripts/reference/engine_fixtures.py
/// (`deterministic_values`), so that PyTorch fixtures need no weight files.
enum DeterministicWeights {
    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    /// u_i in [-1, 1): splitmix64(fnv1a(name) + (i+1) * golden), top 24 bits.
    static func uniform(_ name: String, count: Int) -> [Float] {
        let h = fnv1a(name)
        return (0..<count).map { i in
            var z = h &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z = z ^ (z >> 31)
            return Float(Double(z >> 40) / 16_777_216.0 * 2.0 - 1.0)
        }
    }

    /// The last batch norm of each residual block, whose scale is kept small.
    static let lastResidualBN = ["resnet18": "bn2", "resnet34": "bn2", "resnet50": "bn3", "resnet101": "bn3", "resnet152": "bn3",
                                 "resnext50-32x4d": "bn3"]

    static func values(_ name: String, shape: [Int], architecture: String) -> [Float] {
        let u = uniform(name, count: shape.reduce(1, *))
        let leaf = name.split(separator: ".").last.map(String.init) ?? name
        switch leaf {
        case "running_mean": return u.map { 0.1 * $0 }
        case "running_var": return u.map { 1 + 0.25 * ($0 + 1) }
        case "weight" where shape.count == 1 && name.hasPrefix("layer") && lastResidualBN[architecture].map({ name.hasSuffix($0 + ".weight") }) == true:
            return u.map { 0.2 + 0.02 * $0 }
        case "weight" where shape.count == 1: return u.map { 1 + 0.1 * $0 }
        case "bias": return u.map { 0.1 * $0 }
        default:
            let scale = Float((3.0 / Double(shape.dropFirst().reduce(1, *))).squareRoot())
            return u.map { scale * $0 }
        }
    }

    static func fill(_ store: ParameterStore, architecture: String) {
        for name in store.names {
            let t = store[name]!
            let v = values(name, shape: t.shape, architecture: architecture)
            t.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = v[i] } }
        }
    }
}
