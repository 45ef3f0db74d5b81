/// Eight-float loads and stores for the hot loops the compiler would not vectorize by itself
/// (selects, masked updates, reductions). Every caller handles its scalar tail.
enum Vector {
    typealias F8 = SIMD8<Float>
    static let width = 8

    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ i: Int) -> F8 {
        UnsafeRawPointer(p + i).loadUnaligned(as: F8.self)
    }

    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> F8 {
        UnsafeRawPointer(p + i).loadUnaligned(as: F8.self)
    }

    @inline(__always) static func store(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: F8.self)
    }

    @inline(__always) static func loadIndices(_ p: UnsafeMutablePointer<Int32>, _ i: Int) -> SIMD8<Int32> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Int32>.self)
    }

    @inline(__always) static func store(_ v: SIMD8<Int32>, _ p: UnsafeMutablePointer<Int32>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Int32>.self)
    }

    /// Sum of `count` floats in Double (four Double lanes at a time, then the tail).
    @inline(__always) static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Double {
        var acc = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + width <= count { acc += SIMD8<Double>(load(p, i)); i += width }
        var total = acc.sum()
        while i < count { total += Double(p[i]); i += 1 }
        return total
    }

    /// Sum of (p[i] - mean)^2 in Double.
    @inline(__always) static func sumSquaredDeviations(_ p: UnsafePointer<Float>, _ count: Int, mean: Double) -> Double {
        var acc = SIMD8<Double>(repeating: 0)
        let m = SIMD8<Double>(repeating: mean)
        var i = 0
        while i + width <= count { let d = SIMD8<Double>(load(p, i)) - m; acc += d * d; i += width }
        var total = acc.sum()
        while i < count { let d = Double(p[i]) - mean; total += d * d; i += 1 }
        return total
    }

    /// Sum of p[i] * q[i] in Double (products in Double too).
    @inline(__always) static func dotInDouble(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ count: Int) -> Double {
        var acc = SIMD8<Double>(repeating: 0), i = 0
        while i + width <= count { acc += SIMD8<Double>(load(p, i)) * SIMD8<Double>(load(q, i)); i += width }
        var total = acc.sum()
        while i < count { total += Double(p[i]) * Double(q[i]); i += 1 }
        return total
    }

    /// (sum of g[i], sum of g[i] * (x[i] - mean)) in Double.
    @inline(__always) static func sumAndCorrelation(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int,
                                                    mean: Float) -> (Double, Double) {
        var sum = SIMD8<Double>(repeating: 0), corr = SIMD8<Double>(repeating: 0)
        let m = F8(repeating: mean)
        var i = 0
        while i + width <= count {
            let gv = SIMD8<Double>(load(g, i))
            sum += gv
            corr += gv * SIMD8<Double>(load(x, i) - m)
            i += width
        }
        var s = sum.sum(), c = corr.sum()
        while i < count { s += Double(g[i]); c += Double(g[i]) * Double(x[i] - mean); i += 1 }
        return (s, c)
    }

    /// dst[i] = (src[i] - shift) * scale + offset.
    @inline(__always) static func affine(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int,
                                         subtract shift: Float, scale: Float, add offset: Float) {
        let sv = F8(repeating: shift), kv = F8(repeating: scale), ov = F8(repeating: offset)
        var i = 0
        while i + width <= count { store((load(src, i) - sv) * kv + ov, dst, i); i += width }
        while i < count { dst[i] = (src[i] - shift) * scale + offset; i += 1 }
    }

    /// dst[0..<count] = src[0..<count]; short rows inline (a memmove call costs more than the copy).
    @inline(__always) static func copy(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        if count > 64 { dst.update(from: src, count: count); return }
        var i = 0
        while i + width <= count { store(load(src, i), dst, i); i += width }
        while i < count { dst[i] = src[i]; i += 1 }
    }

    /// dst[i] += src[i].
    @inline(__always) static func add(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + width <= count { store(load(dst, i) + load(src, i), dst, i); i += width }
        while i < count { dst[i] += src[i]; i += 1 }
    }

    /// dst[i] += value.
    @inline(__always) static func addScalar(_ value: Float, to dst: UnsafeMutablePointer<Float>, _ count: Int) {
        let v = F8(repeating: value)
        var i = 0
        while i + width <= count { store(load(dst, i) + v, dst, i); i += width }
        while i < count { dst[i] += value; i += 1 }
    }

    /// c₀ tⁿ⁻¹ + c₁ tⁿ⁻² + ... + cₙ₋₁ on eight lanes, by Horner's rule with fused multiply-adds
    /// (`addingProduct` is one `vfmadd` here): half the latency of a multiply then an add, which
    /// is what bounds these chains (GELU went from 2.8 to about 1.5 ns per element on one thread).
    @inline(__always) static func horner(_ t: F8, _ coefficients: [Float]) -> F8 {
        var p = F8(repeating: coefficients[0])
        for c in coefficients.dropFirst() { p = F8(repeating: c).addingProduct(p, t) }
        return p
    }

    /// exp on eight lanes (Cephes' `expf`: x = n ln 2 + r with |r| ≤ ln 2 / 2, a degree-6
    /// polynomial for e^r (fused multiply-adds), 2^n from the exponent bits), within 2 ulp of the exact value. Below
    /// -87.3 the result is 0 (never a subnormal, which would slow every later product that reads
    /// it), above 88.37 it is e^88.37 (the largest power of two the exponent bits hold is 2¹²⁷). Only vector
    /// arithmetic and selects: the generic SIMD helpers (`rounded`, `clamped`, integer
    /// conversions) run lane by lane.
    @inline(__always) static func exp(_ x: F8) -> F8 {
        let low = F8(repeating: -87.3), high = F8(repeating: 88.37), magic = F8(repeating: 12_582_912)  // 1.5 · 2²³
        let v = x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
        // adding 1.5 · 2²³ rounds v log₂e to the nearest integer n and leaves n in the low mantissa bits
        let shifted = magic.addingProduct(v, F8(repeating: 1.44269504088896341))
        let n = shifted - magic
        let r = v.addingProduct(n, F8(repeating: -0.693359375)).addingProduct(n, F8(repeating: 2.12194440e-4))
        let p = horner(r, [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
                           5.0000001201e-1])
        let e = (r + F8(repeating: 1)).addingProduct(p, r * r)
        let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: 0x4B40_0000 - 127))
            &* SIMD8<Int32>(repeating: 1 << 23)
        return (e * unsafeBitCast(exponent, to: F8.self)).replacing(with: F8(repeating: 0), where: x .< low)
    }
}
