import Foundation

/// ReLU, dropout, sums, channel concatenation and the linear layer.
public enum Elementwise {
    /// Splits `count` elements into contiguous chunks, one per thread.
    static func chunks(_ count: Int, _ parallel: Parallelism, _ body: @Sendable (Range<Int>) -> Void) {
        let parts = count < 1 << 15 ? 1 : parallel.threads
        parallel.forEach(parts) { c in body((count * c / parts)..<(count * (c + 1) / parts)) }
    }

    // y = max(x, 0); y may be x
    public static func reluForward(x: Tensor, y: Tensor, parallel: Parallelism = .serial) {
        chunks(x.count, parallel) { r in
            let s = x.base, d = y.base
            var i = r.lowerBound
            let zero = Vector.F8(repeating: 0)
            while i + Vector.width <= r.upperBound { Vector.store(Vector.load(s, i).replacing(with: zero, where: Vector.load(s, i) .< zero), d, i); i += Vector.width }
            while i < r.upperBound { d[i] = max(s[i], 0); i += 1 }
        }
    }

    // dx = dy where y > 0 (dx may be dy)
    public static func reluBackward(y: Tensor, dy: Tensor, dx: Tensor, accumulate: Bool, parallel: Parallelism = .serial) {
        chunks(y.count, parallel) { r in
            let o = y.base, g = dy.base, d = dx.base
            var i = r.lowerBound
            let zero = Vector.F8(repeating: 0)
            while i + Vector.width <= r.upperBound {
                let passed = zero.replacing(with: Vector.load(g, i), where: Vector.load(o, i) .> zero)
                Vector.store(accumulate ? Vector.load(d, i) + passed : passed, d, i)
                i += Vector.width
            }
            while i < r.upperBound {
                let v: Float = o[i] > 0 ? g[i] : 0
                d[i] = accumulate ? d[i] + v : v
                i += 1
            }
        }
    }

    /// Inverted dropout: keeps each value with probability 1-p, scaled by 1/(1-p); `mask` holds
    /// the factor (0 or 1/(1-p)) for the backward.
    public static func dropoutForward(x: Tensor, y: Tensor, mask: Tensor, p: Float, random: inout RandomSource) {
        let n = x.count, keep = 1 / (1 - p)
        for i in 0..<n {
            let m: Float = random.uniform() < p ? 0 : keep
            mask.base[i] = m
            y.base[i] = x.base[i] * m
        }
    }

    public static func multiplyBackward(mask: Tensor, dy: Tensor, dx: Tensor, accumulate: Bool) {
        let n = dy.count
        for i in 0..<n { let v = dy.base[i] * mask.base[i]; dx.base[i] = accumulate ? dx.base[i] + v : v }
    }

    /// dst = src (accumulate: dst += src).
    public static func copy(_ src: Tensor, into dst: Tensor, accumulate: Bool) {
        let n = src.count
        if accumulate { for i in 0..<n { dst.base[i] += src.base[i] } } else { dst.base.update(from: src.base, count: n) }
    }

    /// y = a + b.
    public static func add(_ a: Tensor, _ b: Tensor, into y: Tensor) {
        for i in 0..<y.count { y.base[i] = a.base[i] + b.base[i] }
    }

    // parts: [N, C_i, H, W] -> y: [N, sum C_i, H, W]
    public static func concatChannels(_ parts: [Tensor], into y: Tensor) {
        let n = y.shape[0], total = y.count / n
        var offset = 0
        for part in parts {
            let chunk = part.count / n
            for s in 0..<n { (y.base + s * total + offset).update(from: part.base + s * chunk, count: chunk) }
            offset += chunk
        }
    }

    // dy: [N, sum C_i, H, W] -> slice i, written or added to dparts[i]
    public static func concatBackward(_ dy: Tensor, slice index: Int, of sizes: [Int], into dx: Tensor, accumulate: Bool) {
        let n = dy.shape[0], total = dy.count / n, offset = sizes[..<index].reduce(0, +), chunk = sizes[index]
        for s in 0..<n {
            let src = dy.base + s * total + offset, dst = dx.base + s * chunk
            if accumulate { for i in 0..<chunk { dst[i] += src[i] } } else { dst.update(from: src, count: chunk) }
        }
    }
}

/// Fully connected layer on `BLAS.gemm`.
public enum LinearKernel {
    /// Floats of workspace `forward` uses for a batch of `batch` (the transposed product, see there).
    public static func workspaceCount(batch: Int, outFeatures: Int) -> Int { batch * outFeatures }

    // x: [N, in], w: [out, in], b: [out] -> y: [N, out] = x w^T + b
    // With a workspace and oneDNN, the product is computed transposed, y^T [out, N] = w x^T, and
    // transposed back: dnnl_sgemm packs the large w^T for the direct form and measured 45 ms against
    // 13 ms for VGG's 16 x 4096 x 25088 classifier layer.
    public static func forward(x: Tensor, weight: Tensor, bias: Tensor?, y: Tensor, workspace: Tensor? = nil, naive: Bool = false,
                               parallel: Parallelism = .serial) {
        let n = x.shape[0], inF = weight.shape[1], outF = weight.shape[0]
        if naive {
            BLAS.naiveGemm(transA: false, transB: true, m: n, n: outF, k: inF, a: x.base, lda: inF, b: weight.base, ldb: inF, beta: 0, c: y.base, ldc: outF)
        } else if let workspace, parallel.gemm == .onednn, n < outF {
            precondition(workspace.capacity >= n * outF, "linear workspace too small")
            let t = workspace.base
            BLAS.gemm(transA: false, transB: true, m: outF, n: n, k: inF, a: weight.base, lda: inF, b: x.base, ldb: inF, beta: 0, c: t,
                      ldc: n, parallel: parallel)
            for s in 0..<n { for o in 0..<outF { y.base[s * outF + o] = t[o * n + s] } }
        } else {
            BLAS.gemm(transA: false, transB: true, m: n, n: outF, k: inF, a: x.base, lda: inF, b: weight.base, ldb: inF, beta: 0, c: y.base,
                      ldc: outF, parallel: parallel)
        }
        if let bias { for s in 0..<n { for o in 0..<outF { y.base[s * outF + o] += bias.base[o] } } }
    }

    // dW += dy^T x; db += sum dy; dx = dy w (or += with accumulate)
    public static func backward(x: Tensor, weight: Tensor, dy: Tensor, dx: Tensor?, dWeight: Tensor, dBias: Tensor?, accumulate: Bool,
                                parallel: Parallelism = .serial) {
        let n = x.shape[0], inF = weight.shape[1], outF = weight.shape[0]
        BLAS.gemm(transA: true, transB: false, m: outF, n: inF, k: n, a: dy.base, lda: outF, b: x.base, ldb: inF, beta: 1,
                  c: dWeight.base, ldc: inF, parallel: parallel)
        if let dBias { for s in 0..<n { for o in 0..<outF { dBias.base[o] += dy.base[s * outF + o] } } }
        if let dx {
            BLAS.gemm(transA: false, transB: false, m: n, n: inF, k: outF, a: dy.base, lda: outF, b: weight.base, ldb: inF,
                      beta: accumulate ? 1 : 0, c: dx.base, ldc: inF, parallel: parallel)
        }
    }
}

/// Softmax cross-entropy, mean over the batch, with optional label smoothing as PyTorch's
/// `CrossEntropyLoss(label_smoothing=eps)`: target = (1-eps) one-hot + eps/K.
public enum CrossEntropyKernel {
    // logits: [N, K], labels: N class indices -> loss; dlogits: [N, K] = weight * (softmax - target) / N
    public static func forwardBackward(logits: Tensor, labels: [Int], smoothing: Float, weight: Float, dLogits: Tensor?) -> Double {
        let n = logits.shape[0], k = logits.shape[1]
        var total = 0.0
        for s in 0..<n {
            let row = logits.base + s * k
            var maxV = -Float.infinity
            for j in 0..<k { maxV = max(maxV, row[j]) }
            var sum = 0.0
            for j in 0..<k { sum += Double(expf(row[j] - maxV)) }
            let logSum = Double(maxV) + log(sum)
            let label = labels[s]
            var sumLog = 0.0
            for j in 0..<k { sumLog += Double(row[j]) - logSum }
            let nll = logSum - Double(row[label])
            total += (1 - Double(smoothing)) * nll - Double(smoothing) / Double(k) * sumLog
            if let dLogits {
                let d = dLogits.base + s * k
                for j in 0..<k {
                    let p = Float(exp(Double(row[j]) - logSum))
                    let target = (j == label ? 1 - smoothing : 0) + smoothing / Float(k)
                    d[j] = weight * (p - target) / Float(n)
                }
            }
        }
        return total / Double(n)
    }
}
