import Foundation

/// The statistics behind every comparison a report prints: Student's t distribution, confidence
/// intervals of a mean, the paired and Welch t-tests, Holm's correction for several comparisons,
/// and the smallest difference a set of seeds can detect. Checked against SciPy
/// (`scipy.stats.t`, `ttest_rel`, `ttest_ind(equal_var=False)`) by
/// Tests/ArchSweepTests/StatisticsTests.swift on fixtures from scripts/reference/statistics_fixtures.py.
public enum Statistics {
    /// Two-sided significance level of every test and the coverage of every interval: 95 %.
    public static let alpha = 0.05
    /// Power assumed for the smallest detectable difference.
    public static let power = 0.8

    // MARK: - Student's t distribution

    /// P(T <= t) for Student's t with `df` degrees of freedom.
    public static func tCDF(_ t: Double, df: Double) -> Double {
        if t.isNaN || df.isNaN || df <= 0 { return .nan }
        if t == .infinity { return 1 }
        if t == -.infinity { return 0 }
        let tail = 0.5 * regularizedBeta(df / (df + t * t), a: df / 2, b: 0.5)
        return t > 0 ? 1 - tail : tail
    }

    /// The t value with P(T <= t) = p.
    public static func tQuantile(_ p: Double, df: Double) -> Double {
        guard p > 0, p < 1, df > 0 else { return p == 1 ? .infinity : (p == 0 ? -.infinity : .nan) }
        if p == 0.5 { return 0 }
        if p < 0.5 { return -tQuantile(1 - p, df: df) }
        // the CDF is increasing: bracket, then bisect to machine precision
        var lo = 0.0, hi = 1.0
        while tCDF(hi, df: df) < p { lo = hi; hi *= 2; if hi > 1e300 { return .infinity } }
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mid == lo || mid == hi { break }
            if tCDF(mid, df: df) < p { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// Two-sided p-value of a t statistic.
    public static func twoSidedP(_ t: Double, df: Double) -> Double {
        if t.isNaN { return .nan }
        if t.isInfinite { return 0 }
        return regularizedBeta(df / (df + t * t), a: df / 2, b: 0.5)
    }

    /// I_x(a, b), the regularized incomplete beta function (continued fraction, Lentz's method).
    static func regularizedBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        // the continued fraction converges fast for x < (a + 1) / (a + b + 2); use symmetry otherwise
        if x > (a + 1) / (a + b + 2) { return 1 - regularizedBeta(1 - x, a: b, b: a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var f = d
        for m in 1...10_000 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d; if abs(d) < tiny { d = tiny }
            c = 1 + even / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            f *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d; if abs(d) < tiny { d = tiny }
            c = 1 + odd / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            f *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return exp(logFront) * f / a
    }

    // MARK: - Samples

    /// n, mean, sample standard deviation (n - 1) and the 95 % confidence interval of the mean
    /// (Student's t with n - 1 degrees of freedom; nil with fewer than 2 values).
    public struct Summary: Sendable, Equatable {
        public var n: Int
        public var mean: Double
        public var std: Double?
        public var interval: ClosedRange<Double>?
        public var halfWidth: Double? { interval.map { ($0.upperBound - $0.lowerBound) / 2 } }

        public init(_ values: [Double]) {
            n = values.count
            mean = values.isEmpty ? .nan : values.reduce(0, +) / Double(n)
            guard n > 1 else { std = nil; interval = nil; return }
            let m = mean
            let s = (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot()
            std = s
            let h = Statistics.tQuantile(1 - Statistics.alpha / 2, df: Double(n - 1)) * s / Double(n).squareRoot()
            interval = (m - h)...(m + h)
        }
    }

    /// A two-sample comparison: the difference a - b, its 95 % interval, the t statistic, degrees
    /// of freedom and two-sided p-value, and whether it was paired (same seeds) or Welch's.
    public struct Test: Sendable, Equatable {
        public enum Kind: String, Sendable { case paired, welch }
        public var kind: Kind
        public var n: Int
        public var difference: Double
        public var interval: ClosedRange<Double>?
        public var t: Double
        public var df: Double
        public var p: Double
        /// Standard deviation of the paired differences (paired tests), for power estimates.
        public var differenceStd: Double?
    }

    /// Paired t-test of a - b over pairs (SciPy's `ttest_rel`); nil with fewer than 2 pairs.
    public static func paired(_ a: [Double], _ b: [Double]) -> Test? {
        precondition(a.count == b.count, "paired samples of different sizes")
        let n = a.count
        guard n >= 2 else { return nil }
        let d = zip(a, b).map { $0 - $1 }
        let s = Summary(d)
        let sd = s.std ?? 0
        let se = sd / Double(n).squareRoot()
        let t = se == 0 ? (s.mean == 0 ? .nan : (s.mean > 0 ? .infinity : -.infinity)) : s.mean / se
        let df = Double(n - 1)
        return Test(kind: .paired, n: n, difference: s.mean, interval: s.interval, t: t, df: df, p: twoSidedP(t, df: df), differenceStd: sd)
    }

    /// Welch's unequal-variance t-test of mean(a) - mean(b) (SciPy's `ttest_ind(equal_var=False)`);
    /// nil unless both samples have at least 2 values.
    public static func welch(_ a: [Double], _ b: [Double]) -> Test? {
        guard a.count >= 2, b.count >= 2 else { return nil }
        let sa = Summary(a), sb = Summary(b)
        let va = pow(sa.std ?? 0, 2) / Double(a.count), vb = pow(sb.std ?? 0, 2) / Double(b.count)  // (n >= 2: both have one)
        let diff = sa.mean - sb.mean
        let se = (va + vb).squareRoot()
        let df = se == 0 ? .nan : (va + vb) * (va + vb) / (va * va / Double(a.count - 1) + vb * vb / Double(b.count - 1))
        let t = se == 0 ? (diff == 0 ? .nan : (diff > 0 ? .infinity : -.infinity)) : diff / se
        let h = df.isNaN ? 0 : tQuantile(1 - alpha / 2, df: df) * se
        return Test(kind: .welch, n: min(a.count, b.count), difference: diff, interval: (diff - h)...(diff + h), t: t, df: df,
                    p: df.isNaN ? (diff == 0 ? .nan : 0) : twoSidedP(t, df: df), differenceStd: nil)
    }

    /// Holm's step-down adjustment of p-values (family-wise error at `alpha`); NaN stays NaN and
    /// takes no rank.
    public static func holm(_ p: [Double]) -> [Double] {
        let order = p.indices.filter { !p[$0].isNaN }.sorted { p[$0] < p[$1] }
        let m = order.count
        var adjusted = p
        var running = 0.0
        for (rank, i) in order.enumerated() {
            running = max(running, min(1, Double(m - rank) * p[i]))
            adjusted[i] = running
        }
        return adjusted
    }

    /// The smallest true paired difference that `n` pairs with standard deviation `std` detect
    /// with 80 % power at the two-sided `level` (5 %): (t_{1-level/2} + t_{0.8}) x std / sqrt(n), n - 1 degrees of freedom.
    public static func detectableDifference(std: Double, n: Int, level: Double = alpha) -> Double? {
        guard n >= 2 else { return nil }
        let df = Double(n - 1)
        return (tQuantile(1 - level / 2, df: df) + tQuantile(power, df: df)) * std / Double(n).squareRoot()
    }

    /// How many pairs would detect a true difference of `difference` given the paired standard
    /// deviation `std` (the smallest n whose detectable difference is at most that); nil beyond `limit`.
    public static func seedsNeeded(difference: Double, std: Double, level: Double = alpha, limit: Int = 1000) -> Int? {
        guard difference != 0 else { return nil }
        if std == 0 { return 2 }
        for n in 2...limit where (detectableDifference(std: std, n: n, level: level) ?? .infinity) <= abs(difference) { return n }
        return nil
    }
}
