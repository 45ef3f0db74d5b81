import Foundation
import Synchronization

/// Testing after every round of seeds and stopping once a test decides gives a false "better" or
/// "worse" more than one chance: with looks at 3, 4, ..., 7 seeds, a 5 % test decides wrongly far
/// more often than 5 % of the time. A sweep with `seeds: {until: decided}` therefore decides at
/// a stricter constant level (Pocock's group-sequential design): the nominal level α′ at which
/// the chance of any false decision over all the looks the sweep may take is 5 %.
///
/// α′ is found by simulating the paired t-test under no difference at the design's looks, with a
/// fixed random stream, so that one design always gets the same level. For equally spaced looks
/// with many seeds it approaches Pocock's tabulated levels (0.0294 for 2 looks, 0.0158 for 5;
/// Jennison & Turnbull, Group Sequential Methods, Table 2.1), which the tests check.
extension Statistics {
    /// The nominal two-sided level α′ for paired t-tests at `looks` (seed counts, ascending) that
    /// keeps the chance of any false decision at `alpha`. One look: `alpha` itself.
    public static func sequentialLevel(looks: [Int], alpha: Double = alpha, simulations: Int = 40_000) -> Double {
        let looks = Array(Set(looks.filter { $0 >= 2 })).sorted()
        guard looks.count > 1 else { return alpha }
        let key = SequentialKey(looks: looks, alpha: alpha, simulations: simulations)
        if let cached = sequentialLevels.withLock({ $0[key] }) { return cached }
        var random = SplitMix(state: 0x5E9_0E4C_1A1)
        var smallest: [Double] = []
        smallest.reserveCapacity(simulations)
        for _ in 0..<simulations {
            var sum = 0.0, squares = 0.0, n = 0, minP = 1.0
            for look in looks {
                while n < look {
                    let x = random.normal()
                    sum += x; squares += x * x; n += 1
                }
                let mean = sum / Double(n), variance = (squares - Double(n) * mean * mean) / Double(n - 1)
                let t = mean / (max(variance, 0) / Double(n)).squareRoot()
                minP = min(minP, twoSidedP(t, df: Double(n - 1)))
            }
            smallest.append(minP)
        }
        smallest.sort()
        let level = smallest[min(smallest.count - 1, Int((alpha * Double(simulations)).rounded()))]
        sequentialLevels.withLock { $0[key] = level }
        return level
    }

    private struct SequentialKey: Hashable { let looks: [Int], alpha: Double, simulations: Int }
    private static let sequentialLevels = Mutex<[SequentialKey: Double]>([:])

    /// SplitMix64 with Box-Muller normals: a small generator whose stream is fixed by its seed.
    private struct SplitMix {
        var state: UInt64
        var spare: Double?
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
        mutating func normal() -> Double {
            if let s = spare { spare = nil; return s }
            let r = (-2 * log(uniform())).squareRoot(), theta = 2 * Double.pi * uniform()
            spare = r * sin(theta)
            return r * cos(theta)
        }
    }
}

extension SeedPolicy {
    /// The seed counts at which the sweep tests: every round from `min` to `max`.
    public var looks: [Int] { Array(min...max) }

    /// The level a comparison must reach to decide: α′ for `until: decided` (the rounds stop on
    /// the tests' outcome), the plain 5 % for `ci_halfwidth` (they stop on the interval's width).
    public var decisionLevel: Double {
        until == .decided ? Statistics.sequentialLevel(looks: looks) : Statistics.alpha
    }

    /// The policy a journal records (`seed_policy`: "min max decided" or "min max halfwidth h"),
    /// or, for journals from before that key, the one its `adaptive_seeds` description states.
    init?(meta: [String: String]) {
        if let text = meta["seed_policy"] {
            let parts = text.split(separator: " ")
            guard parts.count >= 3, let min = Int(parts[0]), let max = Int(parts[1]) else { return nil }
            if parts[2] == "decided" { self.init(min: min, max: max, until: .decided); return }
            guard parts.count == 4, let h = Double(parts[3]) else { return nil }
            self.init(min: min, max: max, until: .halfWidth(h))
            return
        }
        guard let description = meta["adaptive_seeds"], description.contains("added until each comparison with the reference is decided") else { return nil }
        let words = description.split(separator: " ")
        guard words.count > 3, let min = Int(words[0]), words[1] == "to", let max = Int(words[2]) else { return nil }
        self.init(min: min, max: max, until: .decided)
    }

    /// The `seed_policy` text `init(meta:)` reads.
    var metaText: String {
        switch until {
        case .decided: return "\(min) \(max) decided"
        case .halfWidth(let h): return "\(min) \(max) halfwidth \(h)"
        }
    }
}
