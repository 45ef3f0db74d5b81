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
}
