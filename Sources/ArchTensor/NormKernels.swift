import Foundation

/// Batch normalization over channels, PyTorch's conventions: biased batch variance to normalize,
/// unbiased variance (n/(n-1)) in the running estimate, `running = (1-m)*running + m*batch`.
public enum BatchNormKernel {
    // x, y: [N, C, H, W]; gamma, beta, runningMean, runningVar: [C]; saveMean, saveInvStd: [C]
    public static func forwardTraining(x: Tensor, y: Tensor, gamma: Tensor?, beta: Tensor?, runningMean: Tensor, runningVar: Tensor,
                                       saveMean: Tensor, saveInvStd: Tensor, eps: Float, momentum: Float, parallel: Parallelism) {
        let (n, c) = (x.shape[0], x.shape[1]), plane = x.count / (n * c), m = n * plane
        parallel.forEach(c) { ch in
            var sum = 0.0
            for s in 0..<n { sum += Vector.sum(x.base + (s * c + ch) * plane, plane) }
            let mean = sum / Double(m)
            var sq = 0.0
            for s in 0..<n { sq += Vector.sumSquaredDeviations(x.base + (s * c + ch) * plane, plane, mean: mean) }
            let variance = sq / Double(m)
            let invStd = 1 / (variance + Double(eps)).squareRoot()
            saveMean.base[ch] = Float(mean)
            saveInvStd.base[ch] = Float(invStd)
            // (x - mean) * scale + beta: subtracting first keeps precision when |mean| >> std.
            let scale = Float(invStd) * (gamma?.base[ch] ?? 1), shift = beta?.base[ch] ?? 0, mean32 = Float(mean)
            for s in 0..<n {
                Vector.affine(x.base + (s * c + ch) * plane, y.base + (s * c + ch) * plane, plane, subtract: mean32, scale: scale, add: shift)
            }
            let unbiased = m > 1 ? variance * Double(m) / Double(m - 1) : variance
            runningMean.base[ch] = (1 - momentum) * runningMean.base[ch] + momentum * Float(mean)
            runningVar.base[ch] = (1 - momentum) * runningVar.base[ch] + momentum * Float(unbiased)
        }
    }

    /// Evaluation: normalizes with the running statistics.
    public static func forwardInference(x: Tensor, y: Tensor, gamma: Tensor?, beta: Tensor?, runningMean: Tensor, runningVar: Tensor,
                                        eps: Float, parallel: Parallelism) {
        let (n, c) = (x.shape[0], x.shape[1]), plane = x.count / (n * c)
        parallel.forEach(c) { ch in
            let invStd = 1 / (runningVar.base[ch] + eps).squareRoot()
            let scale = invStd * (gamma?.base[ch] ?? 1), shift = beta?.base[ch] ?? 0, m = runningMean.base[ch]
            for s in 0..<n {
                Vector.affine(x.base + (s * c + ch) * plane, y.base + (s * c + ch) * plane, plane, subtract: m, scale: scale, add: shift)
            }
        }
    }

    /// Backward of the training forward: dgamma, dbeta accumulate; dx written or added.
    public static func backwardTraining(x: Tensor, dy: Tensor, dx: Tensor?, gamma: Tensor?, dGamma: Tensor?, dBeta: Tensor?,
                                        saveMean: Tensor, saveInvStd: Tensor, accumulate: Bool, parallel: Parallelism) {
        let (n, c) = (x.shape[0], x.shape[1]), plane = x.count / (n * c), m = Double(n * plane)
        parallel.forEach(c) { ch in
            let mean = saveMean.base[ch], invStd = saveInvStd.base[ch]
            var sumDy = 0.0, sumDyCentered = 0.0
            for s in 0..<n {
                let (a, b) = Vector.sumAndCorrelation(dy.base + (s * c + ch) * plane, x.base + (s * c + ch) * plane, plane, mean: mean)
                sumDy += a; sumDyCentered += b
            }
            let sumDyXhat = sumDyCentered * Double(invStd)
            dGamma?.base[ch] += Float(sumDyXhat)
            dBeta?.base[ch] += Float(sumDy)
            guard let dx else { return }
            let k = Double(gamma?.base[ch] ?? 1) * Double(invStd) / m
            let a = Float(k * m), b = Float(k * sumDy), cxh = Float(k * sumDyXhat)
            // dx = a*dy - b - (x - mean) * invStd * cxh
            let av = Vector.F8(repeating: a), bv = Vector.F8(repeating: b), mv = Vector.F8(repeating: mean), kv = Vector.F8(repeating: invStd * cxh)
            for s in 0..<n {
                let xs = x.base + (s * c + ch) * plane, g = dy.base + (s * c + ch) * plane, d = dx.base + (s * c + ch) * plane
                var i = 0
                while i + Vector.width <= plane {
                    let v = av * Vector.load(g, i) - bv - (Vector.load(xs, i) - mv) * kv
                    Vector.store(accumulate ? Vector.load(d, i) + v : v, d, i)
                    i += Vector.width
                }
                while i < plane {
                    let v = a * g[i] - b - (xs[i] - mean) * invStd * cxh
                    d[i] = accumulate ? d[i] + v : v
                    i += 1
                }
            }
        }
    }

    /// Backward of the inference forward (frozen statistics): dx = dy * gamma / sqrt(var + eps).
    public static func backwardInference(dy: Tensor, dx: Tensor?, x: Tensor, gamma: Tensor?, dGamma: Tensor?, dBeta: Tensor?,
                                         runningMean: Tensor, runningVar: Tensor, eps: Float, accumulate: Bool, parallel: Parallelism) {
        let (n, c) = (x.shape[0], x.shape[1]), plane = x.count / (n * c)
        parallel.forEach(c) { ch in
            let invStd = 1 / (runningVar.base[ch] + eps).squareRoot(), mean = runningMean.base[ch]
            var sumDy = 0.0, sumDyXhat = 0.0
            let scale = invStd * (gamma?.base[ch] ?? 1)
            for s in 0..<n {
                let xs = x.base + (s * c + ch) * plane, g = dy.base + (s * c + ch) * plane
                for i in 0..<plane {
                    sumDy += Double(g[i]); sumDyXhat += Double(g[i] * (xs[i] - mean) * invStd)
                    if let dx { let d = dx.base + (s * c + ch) * plane; d[i] = accumulate ? d[i] + g[i] * scale : g[i] * scale }
                }
            }
            dGamma?.base[ch] += Float(sumDyXhat)
            dBeta?.base[ch] += Float(sumDy)
        }
    }
}

/// Local response normalization across channels (PyTorch's `nn.LocalResponseNorm`):
/// `y_c = x_c / (k + alpha/size * sum_{c' in window(c)} x_c'^2)^beta`, the window running from
/// `c - size/2` to `c + (size-1)/2`, zero beyond the channels.
public enum LRNKernel {
    // x, y: [N, C, H, W]; scale: [N, C, H, W] saved for the backward
    public static func forward(x: Tensor, y: Tensor, scale: Tensor, size: Int, alpha: Float, beta: Float, k: Float, parallel: Parallelism) {
        let (n, c) = (x.shape[0], x.shape[1]), plane = x.count / (n * c)
        let lo = size / 2, hi = (size - 1) / 2
        parallel.forEach(n) { s in
            let base = s * c * plane
            for ch in 0..<c {
                let dst = scale.base + base + ch * plane
                dst.update(repeating: 0, count: plane)
                for j in max(0, ch - lo)...min(c - 1, ch + hi) {
                    let src = x.base + base + j * plane
                    for i in 0..<plane { dst[i] += src[i] * src[i] }
                }
                let out = y.base + base + ch * plane, xs = x.base + base + ch * plane
                for i in 0..<plane {
                    dst[i] = k + alpha / Float(size) * dst[i]
                    out[i] = xs[i] * Float(pow(Double(dst[i]), Double(-beta)))
                }
            }
        }
    }

    public static func backward(x: Tensor, y: Tensor, scale: Tensor, dy: Tensor, dx: Tensor, size: Int, alpha: Float, beta: Float,
                                accumulate: Bool, parallel: Parallelism) {
        let (n, c) = (x.shape[0], x.shape[1]), plane = x.count / (n * c)
        let lo = size / 2, hi = (size - 1) / 2
        let factor = 2 * alpha * beta / Float(size)
        parallel.forEach(n) { s in
            let base = s * c * plane
            for j in 0..<c {
                let d = dx.base + base + j * plane, xj = x.base + base + j * plane
                for i in 0..<plane {
                    // direct term
                    var v = dy.base[base + j * plane + i] * Float(pow(Double(scale.base[base + j * plane + i]), Double(-beta)))
                    // through the scales of the channels whose window holds j: c in [j - hi, j + lo]
                    var cross: Float = 0
                    for ch in max(0, j - hi)...min(c - 1, j + lo) {
                        let o = base + ch * plane + i
                        cross += dy.base[o] * y.base[o] / scale.base[o]
                    }
                    v -= factor * xj[i] * cross
                    d[i] = accumulate ? d[i] + v : v
                }
            }
        }
    }
}

/// Layer normalization over the channels at every position of a `[N, C, H, W]` map (ConvNeXt's
/// `LayerNorm2d`, the same numbers as `nn.LayerNorm(C)` on the channels-last tensor), with a
/// per-channel weight and bias. Statistics are accumulated in Double.
public enum LayerNormKernel {
    // x: [N, C, H, W] -> y; mean, rstd: [N * H * W] saved for the backward
    public static func forward(x: Tensor, y: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, rstd: Tensor, eps: Float,
                               parallel: Parallelism = .serial) {
        let n = x.shape[0], c = x.shape[1], plane = x.count / (n * c)
        parallel.forEach(n) { s in
            let xs = x.base + s * c * plane, ys = y.base + s * c * plane
            // channel by channel over contiguous positions (the sums per position run over the
            // channels in order, as one position at a time would)
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * plane) { scratch in
                guard let sum = scratch.baseAddress else { return }
                let sq = sum + plane
                sum.initialize(repeating: 0, count: 2 * plane)
                for ch in 0..<c { let row = xs + ch * plane; for p in 0..<plane { sum[p] += Double(row[p]) } }
                for p in 0..<plane { sum[p] /= Double(c) }
                for ch in 0..<c { let row = xs + ch * plane; for p in 0..<plane { let d = Double(row[p]) - sum[p]; sq[p] += d * d } }
                let means = mean.base + s * plane, rstds = rstd.base + s * plane
                for p in 0..<plane {
                    means[p] = Float(sum[p])
                    rstds[p] = Float(1 / (sq[p] / Double(c) + Double(eps)).squareRoot())
                }
                for ch in 0..<c {
                    let row = xs + ch * plane, out = ys + ch * plane, g = gamma.base[ch], b = beta.base[ch]
                    for p in 0..<plane { out[p] = (row[p] - means[p]) * rstds[p] * g + b }
                }
            }
        }
    }

    // dgamma += sum dy * xhat, dbeta += sum dy; dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy * gamma
    public static func backward(x: Tensor, dy: Tensor, dx: Tensor?, gamma: Tensor, dGamma: Tensor, dBeta: Tensor, mean: Tensor, rstd: Tensor,
                                accumulate: Bool, parallel: Parallelism = .serial) {
        let n = x.shape[0], c = x.shape[1], plane = x.count / (n * c)
        // one sample per task, channel by channel over contiguous positions, eight positions at a
        // time; each sample's dgamma and dbeta (in Double) are added up over the samples in order
        // afterwards, so the bits do not depend on the thread count
        var partial = [Double](repeating: 0, count: 2 * n * c)
        partial.withUnsafeMutableBufferPointer { buffer in
            let sums = SharedPointer(buffer.baseAddress!)
            parallel.forEach(n) { s in
                sampleBackward(s, x: x, dy: dy, dx: dx, gamma: gamma, mean: mean, rstd: rstd, accumulate: accumulate,
                               dGamma: sums.base + 2 * s * c, dBeta: sums.base + (2 * s + 1) * c)
            }
        }
        for ch in 0..<c {
            var dg = 0.0, db = 0.0
            for s in 0..<n { dg += partial[2 * s * c + ch]; db += partial[(2 * s + 1) * c + ch] }
            dGamma.base[ch] += Float(dg); dBeta.base[ch] += Float(db)
        }
    }

    /// Sample `s` of `backward`: its dgamma and dbeta written to `dGamma`/`dBeta` (c Doubles each),
    /// its dx written or added.
    private static func sampleBackward(_ s: Int, x: Tensor, dy: Tensor, dx: Tensor?, gamma: Tensor, mean: Tensor, rstd: Tensor, accumulate: Bool,
                                       dGamma: UnsafeMutablePointer<Double>, dBeta: UnsafeMutablePointer<Double>) {
        typealias D8 = SIMD8<Double>
        let n = x.shape[0], c = x.shape[1], plane = x.count / (n * c), w = Vector.width
        let xs = x.base + s * c * plane, gs = dy.base + s * c * plane
        let means = mean.base + s * plane, rstds = rstd.base + s * plane
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * plane) { scratch in
            guard let sumG = scratch.baseAddress else { return }
            let sumGX = sumG + plane
            sumG.initialize(repeating: 0, count: 2 * plane)
            for ch in 0..<c {
                let row = xs + ch * plane, grad = gs + ch * plane, gc = gamma.base[ch]
                var dgv = D8(repeating: 0), dbv = D8(repeating: 0)
                var p = 0
                while p + w <= plane {
                    let xhat = (Vector.load(row, p) - Vector.load(means, p)) * Vector.load(rstds, p), g = Vector.load(grad, p)
                    dgv += D8(g * xhat); dbv += D8(g)
                    let gg = D8(g * gc)
                    let sg = UnsafeMutableRawPointer(sumG + p), sgx = UnsafeMutableRawPointer(sumGX + p)
                    sg.storeBytes(of: sg.loadUnaligned(as: D8.self) + gg, as: D8.self)
                    sgx.storeBytes(of: sgx.loadUnaligned(as: D8.self) + gg * D8(xhat), as: D8.self)
                    p += w
                }
                var dgc = dgv.sum(), dbc = dbv.sum()
                while p < plane {
                    let xhat = (row[p] - means[p]) * rstds[p], g = grad[p]
                    dgc += Double(g * xhat); dbc += Double(g)
                    let gg = Double(g * gc)
                    sumG[p] += gg; sumGX[p] += gg * Double(xhat)
                    p += 1
                }
                dGamma[ch] = dgc; dBeta[ch] = dbc
            }
            guard let dx else { return }
            // the means of g and g·xhat over the channels, in Float (2 * plane floats after the sums)
            let meanG = UnsafeMutableRawPointer(sumG + 2 * plane).bindMemory(to: Float.self, capacity: 2 * plane), meanGX = meanG + plane
            for p in 0..<plane { meanG[p] = Float(sumG[p] / Double(c)) }
            for p in 0..<plane { meanGX[p] = Float(sumGX[p] / Double(c)) }
            let ds = dx.base + s * c * plane
            for ch in 0..<c {
                let row = xs + ch * plane, grad = gs + ch * plane, out = ds + ch * plane, gc = gamma.base[ch]
                var p = 0
                while p + w <= plane {
                    let r = Vector.load(rstds, p), xhat = (Vector.load(row, p) - Vector.load(means, p)) * r
                    var v = r * (Vector.load(grad, p) * gc - Vector.load(meanG, p) - xhat * Vector.load(meanGX, p))
                    if accumulate { v += Vector.load(out, p) }
                    Vector.store(v, out, p)
                    p += w
                }
                while p < plane {
                    let xhat = (row[p] - means[p]) * rstds[p]
                    let v = rstds[p] * (grad[p] * gc - meanG[p] - xhat * meanGX[p])
                    out[p] = accumulate ? out[p] + v : v
                    p += 1
                }
            }
        }
    }
}

/// A learned per-channel multiplier (ConvNeXt's layer scale): y = x * gamma[c].
public enum ChannelScaleKernel {
    // x: [N, C, H, W], gamma: [C] -> y; one sample per task
    public static func forward(x: Tensor, gamma: Tensor, y: Tensor, parallel: Parallelism = .serial) {
        let n = x.shape[0], c = x.shape[1], plane = x.count / (n * c)
        parallel.forEach(n) { s in
            for ch in 0..<c {
                let g = gamma.base[ch], xs = x.base + (s * c + ch) * plane, ys = y.base + (s * c + ch) * plane
                for k in 0..<plane { ys[k] = xs[k] * g }
            }
        }
    }

    // dgamma += sum dy * x (in Double, eight lanes, per channel); dx = dy * gamma; one channel per task
    public static func backward(x: Tensor, gamma: Tensor, dy: Tensor, dx: Tensor?, dGamma: Tensor, accumulate: Bool,
                                parallel: Parallelism = .serial) {
        let n = x.shape[0], c = x.shape[1], plane = x.count / (n * c), w = Vector.width
        parallel.forEach(c) { ch in
            var lanes = SIMD8<Double>(repeating: 0), tail = 0.0
            let g = gamma.base[ch]
            for s in 0..<n {
                let o = (s * c + ch) * plane, gy = dy.base + o, xs = x.base + o
                var k = 0
                while k + w <= plane {
                    let d = Vector.load(gy, k)
                    lanes += SIMD8<Double>(d * Vector.load(xs, k))
                    if let dx { var v = d * g; if accumulate { v += Vector.load(dx.base + o, k) }; Vector.store(v, dx.base + o, k) }
                    k += w
                }
                while k < plane {
                    tail += Double(gy[k] * xs[k])
                    if let dx { let v = gy[k] * g; dx.base[o + k] = accumulate ? dx.base[o + k] + v : v }
                    k += 1
                }
            }
            dGamma.base[ch] += Float(lanes.sum() + tail)
        }
    }
}
