import Foundation

/// A small, fast, seedable generator (xoshiro256**) so that every run with the same seed and thread
/// count gives the same numbers. Passed explicitly; there is no global generator.
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3; s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits (exact in Float).
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

    /// Standard normal (Box-Muller in Double).
    public mutating func normal() -> Float {
        var u = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        if u < 1e-300 { u = 1e-300 }
        let v = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
    }

    /// A generator derived from this seed and a stream number (per epoch, per layer, per thread).
    public static func stream(seed: UInt64, _ streams: UInt64...) -> RandomSource {
        var h = seed
        for s in streams { h = (h ^ s) &* 0x100_0000_01B3 &+ 0x9E37_79B9 }
        return RandomSource(seed: h)
    }
}
