import Foundation

/// A pointwise activation: its value and its derivative, as PyTorch computes them (the same
/// formulas and the same choices at the kinks, so that gradients agree exactly there too).
public protocol PointwiseFunction: Sendable {
    /// f(x).
    static func value(_ x: Float) -> Float
    /// f'(x), given x and y = f(x).
    static func derivative(_ x: Float, _ y: Float) -> Float
    /// f on eight lanes (by default lane by lane; the piecewise-linear functions vectorize).
    static func value(_ x: SIMD8<Float>) -> SIMD8<Float>
    /// f' on eight lanes, equal lane for lane to the scalar form.
    static func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float>
}

extension PointwiseFunction {
    @inline(__always) public static func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        var r = x
        for i in 0..<8 { r[i] = value(x[i]) }
        return r
    }
    @inline(__always) public static func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        var r = x
        for i in 0..<8 { r[i] = derivative(x[i], y[i]) }
        return r
    }
}

private let zero8 = SIMD8<Float>(repeating: 0), one8 = SIMD8<Float>(repeating: 1)
private let three8 = SIMD8<Float>(repeating: 3), six8 = SIMD8<Float>(repeating: 6)

/// min(max(x, 0), 6) per lane by selects (the generic pointwiseMin/Max measured 3-9x slower here).
@inline(__always) private func clamp06(_ x: SIMD8<Float>) -> SIMD8<Float> {
    x.replacing(with: zero8, where: x .< zero8).replacing(with: six8, where: x .> six8)
}

/// `min(max(x, 0), 6)`; PyTorch's hardtanh backward passes the gradient only strictly inside (0, 6).
public enum ReLU6Function: PointwiseFunction {
    @inline(__always) public static func value(_ x: Float) -> Float { min(max(x, 0), 6) }
    @inline(__always) public static func derivative(_ x: Float, _ y: Float) -> Float { x > 0 && x < 6 ? 1 : 0 }
    @inline(__always) public static func value(_ x: SIMD8<Float>) -> SIMD8<Float> { clamp06(x) }
    @inline(__always) public static func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        zero8.replacing(with: one8, where: (x .> zero8) .& (x .< six8))
    }
}

/// `x * relu6(x + 3) / 6`; derivative 0 below -3, `x / 3 + 0.5` up to 3, 1 above (PyTorch's choice).
public enum HardswishFunction: PointwiseFunction {
    @inline(__always) public static func value(_ x: Float) -> Float { x * min(max(x + 3, 0), 6) / 6 }
    @inline(__always) public static func derivative(_ x: Float, _ y: Float) -> Float {
        x < -3 ? 0 : (x <= 3 ? x / 3 + 0.5 : 1)
    }
    @inline(__always) public static func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        x * clamp06(x + three8) / six8
    }
    @inline(__always) public static func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        let middle = x / three8 + SIMD8<Float>(repeating: 0.5)
        return one8.replacing(with: middle, where: x .<= three8).replacing(with: zero8, where: x .< -three8)
    }
}

/// `relu6(x + 3) / 6`; derivative 1/6 strictly inside (-3, 3).
public enum HardsigmoidFunction: PointwiseFunction {
    @inline(__always) public static func value(_ x: Float) -> Float { min(max(x + 3, 0), 6) / 6 }
    @inline(__always) public static func derivative(_ x: Float, _ y: Float) -> Float { x > -3 && x < 3 ? 1 / 6 : 0 }
    @inline(__always) public static func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        clamp06(x + three8) / six8
    }
    @inline(__always) public static func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        zero8.replacing(with: SIMD8<Float>(repeating: 1 / 6), where: (x .> -three8) .& (x .< three8))
    }
}

/// `1 / (1 + exp(-x))` on eight lanes, with `Vector.exp` (within 2 ulp; below x = -88.37 the
/// denominator stops growing, so the result is about 4e-39 where the exact one is smaller still).
@inline(__always) private func logistic(_ x: SIMD8<Float>) -> SIMD8<Float> { one8 / (one8 + Vector.exp(-x)) }

/// `1 / (1 + exp(-x))`; derivative `y (1 - y)`. The scalar form is lane 0 of the vector one.
public enum SigmoidFunction: PointwiseFunction {
    @inline(__always) public static func value(_ x: SIMD8<Float>) -> SIMD8<Float> { logistic(x) }
    @inline(__always) public static func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { y * (one8 - y) }
    @inline(__always) public static func value(_ x: Float) -> Float { value(SIMD8(repeating: x))[0] }
    @inline(__always) public static func derivative(_ x: Float, _ y: Float) -> Float { y * (1 - y) }
}

/// SiLU (swish), `x * sigmoid(x)`; derivative `s (1 + x (1 - s))`. The scalar form is lane 0 of
/// the vector one.
public enum SiLUFunction: PointwiseFunction {
    @inline(__always) public static func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x * logistic(x) }
    @inline(__always) public static func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        let s = logistic(x)
        return s * (one8 + x * (one8 - s))
    }
    @inline(__always) public static func value(_ x: Float) -> Float { value(SIMD8(repeating: x))[0] }
    @inline(__always) public static func derivative(_ x: Float, _ y: Float) -> Float { derivative(SIMD8(repeating: x), SIMD8(repeating: y))[0] }
}

/// GELU in its exact erf form (PyTorch's default, `approximate='none'`):
/// `x Φ(x)` with `Φ(x) = (1 + erf(x / √2)) / 2`; derivative `Φ(x) + x φ(x)`.
///
/// Φ comes from erfc, `Φ(x) = erfc(-x / √2) / 2` for x < 0 and `1 - erfc(x / √2) / 2` otherwise,
/// with erfc(z) = t exp(-z² + P(t)), t = 1 / (1 + z/2) (W. H. Press et al., Numerical Recipes,
/// §6.2, `erfcc`: relative error below 1.2e-7 for every z ≥ 0): no cancellation in the far
/// negative tail, where `1 + erf` would lose all digits, and eight lanes at a time with
/// `Vector.exp`. The scalar form is lane 0 of the vector one, so both give the same bits.
public enum GELUFunction: PointwiseFunction {
    static let rsqrt2: Float = 0.70710678118654752440
    static let rsqrt2pi: Float = 0.39894228040143267794

    /// |x| on eight lanes (the sign bit cleared).
    @inline(__always) static func magnitude(_ x: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }

    /// Φ(x) on eight lanes.
    @inline(__always) static func cdf(_ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias F8 = SIMD8<Float>
        let z = magnitude(x) * F8(repeating: rsqrt2), one = F8(repeating: 1), half = F8(repeating: 0.5)
        let t = one / (one + half * z)
        let p = Vector.horner(t, [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
                                  0.37409196, 1.00002368, -1.26551223])
        let tail = half * t * Vector.exp(p - z * z)  // erfc(|x| / √2) / 2 = Φ(-|x|)
        return (one - tail).replacing(with: tail, where: x .< F8(repeating: 0))
    }

    @inline(__always) public static func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x * cdf(x) }

    /// Φ(x) + x φ(x), with Φ(x) = y / x read back from the forward's output where that is exact
    /// to a rounding (|x| ≥ 2⁻⁸), and 1/2 + x φ(0) below (exact to a rounding there too), which
    /// spares the backward an erfc.
    @inline(__always) public static func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        typealias F8 = SIMD8<Float>
        let density = F8(repeating: rsqrt2pi)
        let phi = (y / x).replacing(with: F8(repeating: 0.5) + x * density, where: magnitude(x) .< F8(repeating: 0.00390625))
        return phi + x * density * Vector.exp(F8(repeating: -0.5) * (x * x))
    }

    @inline(__always) public static func value(_ x: Float) -> Float { value(SIMD8(repeating: x))[0] }
    @inline(__always) public static func derivative(_ x: Float, _ y: Float) -> Float { derivative(SIMD8(repeating: x), SIMD8(repeating: y))[0] }
}

/// Forward and backward of any `PointwiseFunction`, split across threads in contiguous chunks.
public enum PointwiseKernel {
    // y = f(x). Specialized here for every function: called from ArchGraph, an unspecialized generic
    // would dispatch every element (and every eight-lane vector) through the protocol.
    @_specialize(exported: true, where F == ReLU6Function)
    @_specialize(exported: true, where F == HardswishFunction)
    @_specialize(exported: true, where F == HardsigmoidFunction)
    @_specialize(exported: true, where F == SigmoidFunction)
    @_specialize(exported: true, where F == SiLUFunction)
    @_specialize(exported: true, where F == GELUFunction)
    public static func forward<F: PointwiseFunction>(_: F.Type, x: Tensor, y: Tensor, parallel: Parallelism = .serial) {
        Elementwise.chunks(x.count, parallel) { r in
            let s = x.base, d = y.base
            var i = r.lowerBound
            while i + Vector.width <= r.upperBound { Vector.store(F.value(Vector.load(s, i)), d, i); i += Vector.width }
            while i < r.upperBound { d[i] = F.value(s[i]); i += 1 }
        }
    }

    // dx = f'(x) dy (accumulate: dx += f'(x) dy)
    @_specialize(exported: true, where F == ReLU6Function)
    @_specialize(exported: true, where F == HardswishFunction)
    @_specialize(exported: true, where F == HardsigmoidFunction)
    @_specialize(exported: true, where F == SigmoidFunction)
    @_specialize(exported: true, where F == SiLUFunction)
    @_specialize(exported: true, where F == GELUFunction)
    public static func backward<F: PointwiseFunction>(_: F.Type, x: Tensor, y: Tensor, dy: Tensor, dx: Tensor, accumulate: Bool,
                                                      parallel: Parallelism = .serial) {
        Elementwise.chunks(x.count, parallel) { r in
            let s = x.base, o = y.base, g = dy.base, d = dx.base
            var i = r.lowerBound
            while i + Vector.width <= r.upperBound {
                let v = F.derivative(Vector.load(s, i), Vector.load(o, i)) * Vector.load(g, i)
                Vector.store(accumulate ? Vector.load(d, i) + v : v, d, i)
                i += Vector.width
            }
            while i < r.upperBound {
                let v = F.derivative(s[i], o[i]) * g[i]
                d[i] = accumulate ? d[i] + v : v
                i += 1
            }
        }
    }
}

/// Channel-wise products: a `[N, C, H, W]` map times a `[N, C]` scale (squeeze-and-excitation,
/// layer scale) or times a map of its own shape.
public enum ProductKernel {
    // x: [N, C, H, W] (plane = H*W), s: [N, C] broadcast over the plane -> y = x * s
    public static func forward(x: Tensor, xPlane: Int, s: Tensor, sPlane: Int, y: Tensor) {
        let plane = max(xPlane, sPlane), rows = y.count / plane
        for row in 0..<rows {
            let a = x.base + (xPlane == 1 ? row : row * plane), b = s.base + (sPlane == 1 ? row : row * plane), out = y.base + row * plane
            if xPlane == plane && sPlane == plane { for i in 0..<plane { out[i] = a[i] * b[i] } }
            else if xPlane == plane { let v = b[0]; for i in 0..<plane { out[i] = a[i] * v } }
            else { let v = a[0]; for i in 0..<plane { out[i] = v * b[i] } }
        }
    }

    // The gradient of the operand with `plane` elements per row (plane 1: summed over the other's
    // plane), given the other operand: d = dy * other (reduced where broadcast).
    public static func backward(dy: Tensor, other: Tensor, otherPlane: Int, plane: Int, into d: Tensor, accumulate: Bool) {
        let full = max(plane, otherPlane), rows = dy.count / full
        for row in 0..<rows {
            let g = dy.base + row * full, o = other.base + (otherPlane == 1 ? row : row * full)
            if plane == 1 {
                var sum: Float = 0
                if otherPlane == 1 { for i in 0..<full { sum += g[i] }; sum *= o[0] } else { for i in 0..<full { sum += g[i] * o[i] } }
                d.base[row] = accumulate ? d.base[row] + sum : sum
            } else {
                let out = d.base + row * full
                if otherPlane == 1 {
                    let v = o[0]
                    if accumulate { for i in 0..<full { out[i] += g[i] * v } } else { for i in 0..<full { out[i] = g[i] * v } }
                } else {
                    if accumulate { for i in 0..<full { out[i] += g[i] * o[i] } } else { for i in 0..<full { out[i] = g[i] * o[i] } }
                }
            }
        }
    }

    // x: [N, ...], factors: N -> y = x * factors[sample] (accumulate: y += ...); stochastic depth
    public static func scaleSamples(_ x: Tensor, by factors: [Float], into y: Tensor, accumulate: Bool) {
        let n = x.shape[0], per = x.count / n
        for s in 0..<n {
            let k = factors[s], a = x.base + s * per, out = y.base + s * per
            if accumulate { for i in 0..<per { out[i] += a[i] * k } } else { for i in 0..<per { out[i] = a[i] * k } }
        }
    }
}

/// Channel permutations and slices of `[N, C, H, W]` maps (ShuffleNet's channel shuffle and split).
public enum ChannelKernel {
    /// Channel shuffle, PyTorch's view(N, g, C/g, H, W).transpose(1, 2): output channel
    /// `j * g + i` is input channel `i * (C/g) + j`. `inverse` undoes it (the backward).
    // x: [N, C, H, W] -> y: [N, C, H, W]
    public static func shuffle(_ x: Tensor, groups g: Int, into y: Tensor, inverse: Bool, accumulate: Bool) {
        let n = x.shape[0], c = x.shape[1], plane = x.count / (n * c), perGroup = c / g
        for s in 0..<n {
            for i in 0..<g {
                for j in 0..<perGroup {
                    let shuffled = j * g + i, original = i * perGroup + j
                    let (from, to) = inverse ? (shuffled, original) : (original, shuffled)
                    let src = x.base + (s * c + from) * plane, dst = y.base + (s * c + to) * plane
                    if accumulate { for k in 0..<plane { dst[k] += src[k] } } else { dst.update(from: src, count: plane) }
                }
            }
        }
    }

    /// Channels `start ..< start + count` of x (torch.chunk's piece).
    // x: [N, C, H, W] -> y: [N, count, H, W]
    public static func slice(_ x: Tensor, start: Int, into y: Tensor) {
        let n = x.shape[0], c = x.shape[1], count = y.shape[1], plane = x.count / (n * c)
        for s in 0..<n { (y.base + s * count * plane).update(from: x.base + (s * c + start) * plane, count: count * plane) }
    }

    /// The slice's backward: dy into channels `start ..< start + count` of dx, zeros (or nothing,
    /// when accumulating) elsewhere.
    // dy: [N, count, H, W] -> dx: [N, C, H, W]
    public static func sliceBackward(_ dy: Tensor, start: Int, into dx: Tensor, accumulate: Bool) {
        let n = dx.shape[0], c = dx.shape[1], count = dy.shape[1], plane = dx.count / (n * c)
        for s in 0..<n {
            let row = dx.base + s * c * plane
            if !accumulate { row.update(repeating: 0, count: c * plane) }
            let src = dy.base + s * count * plane, dst = row + start * plane
            for k in 0..<count * plane { dst[k] += src[k] }
        }
    }
}
