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
        var dg = [Double](repeating: 0, count: c), db = [Double](repeating: 0, count: c)
        // channel by channel over contiguous positions; every sum runs in the order one position at
        // a time would take (dgamma and dbeta over samples, then positions; the per-position sums
        // over the channels), so the bits are those of the position-major loops
        var sumG = [Double](repeating: 0, count: plane), sumGX = [Double](repeating: 0, count: plane)
        var meanG = [Float](repeating: 0, count: plane), meanGX = [Float](repeating: 0, count: plane)
        for s in 0..<n {
            let xs = x.base + s * c * plane, gs = dy.base + s * c * plane
            let means = mean.base + s * plane, rstds = rstd.base + s * plane
            for p in 0..<plane { sumG[p] = 0; sumGX[p] = 0 }
            for ch in 0..<c {
                let row = xs + ch * plane, grad = gs + ch * plane, gc = gamma.base[ch]
                var dgc = dg[ch], dbc = db[ch]
                for p in 0..<plane {
                    let xhat = (row[p] - means[p]) * rstds[p], g = grad[p]
                    dgc += Double(g * xhat); dbc += Double(g)
                    let gg = Double(g * gc)
                    sumG[p] += gg; sumGX[p] += gg * Double(xhat)
                }
                dg[ch] = dgc; db[ch] = dbc
            }
            guard let dx else { continue }
            for p in 0..<plane { meanG[p] = Float(sumG[p] / Double(c)); meanGX[p] = Float(sumGX[p] / Double(c)) }
            let ds = dx.base + s * c * plane
            for ch in 0..<c {
                let row = xs + ch * plane, grad = gs + ch * plane, out = ds + ch * plane, gc = gamma.base[ch]
                for p in 0..<plane {
                    let xhat = (row[p] - means[p]) * rstds[p]
                    let v = rstds[p] * (grad[p] * gc - meanG[p] - xhat * meanGX[p])
                    out[p] = accumulate ? out[p] + v : v
                }
            }
        }
        for ch in 0..<c { dGamma.base[ch] += Float(dg[ch]); dBeta.base[ch] += Float(db[ch]) }
    }
}

/// A learned per-channel multiplier (ConvNeXt's layer scale): y = x * gamma[c].
public enum ChannelScaleKernel {
    // x: [N, C, H, W], gamma: [C] -> y
    public static func forward(x: Tensor, gamma: Tensor, y: Tensor) {
        let n = x.shape[0], c = x.shape[1], plane = x.count / (n * c)
        for s in 0..<n {
            for ch in 0..<c {
                let g = gamma.base[ch], o = (s * c + ch) * plane
                for k in 0..<plane { y.base[o + k] = x.base[o + k] * g }
            }
        }
    }

    // dgamma += sum dy * x; dx = dy * gamma
    public static func backward(x: Tensor, gamma: Tensor, dy: Tensor, dx: Tensor?, dGamma: Tensor, accumulate: Bool) {
        let n = x.shape[0], c = x.shape[1], plane = x.count / (n * c)
        for ch in 0..<c {
            var sum = 0.0
            let g = gamma.base[ch]
            for s in 0..<n {
                let o = (s * c + ch) * plane
                for k in 0..<plane {
                    sum += Double(dy.base[o + k] * x.base[o + k])
                    if let dx { let v = dy.base[o + k] * g; dx.base[o + k] = accumulate ? dx.base[o + k] + v : v }
                }
            }
            dGamma.base[ch] += Float(sum)
        }
    }
}
