import Foundation

/// Multi-head self-attention over a sequence of tokens, PyTorch's `nn.MultiheadAttention` with
/// the query, key and value projections fused (`in_proj_weight` `[3D, D]`, `in_proj_bias`
/// `[3D]`), scaled dot products, softmax over the keys, and the output projection
/// (`out_proj` `[D, D]` + `[D]`); no attention dropout.
///
/// Tokens are stored channels-first, one sample as `[D, T]` (the embedding dimension major), so
/// every product is a plain GEMM: `QKV = W_in X + b` `[3D, T]`; per head h (rows `h·d ..< (h+1)·d`
/// of Q, K and V, d = D / heads) `P = softmax(scale · Qₕᵀ Kₕ)` `[T, T]` (row i: query i over the
/// keys), `Oₕ = Vₕ Pᵀ`; `Y = W_out O + b`. What the backward needs (QKV, P, O) is kept in tensors
/// the caller allocates once; nothing is allocated in the step.
public enum AttentionKernel {
    /// Buffers one layer keeps between its forward and backward, and uses as scratch.
    public struct Buffers: Sendable {
        /// `[N, 3D, T]`, `[N, heads, T, T]`, `[N, D, T]`.
        public let qkv: Tensor, probabilities: Tensor, context: Tensor
        /// Backward scratch: `[N, 3D, T]`, `[N, D, T]`, `[N, T, T]`.
        public let dqkv: Tensor, dcontext: Tensor, dscores: Tensor

        public init(batch: Int, dim: Int, tokens: Int, heads: Int) {
            qkv = Tensor(shape: [batch, 3 * dim, tokens])
            probabilities = Tensor(shape: [batch, heads, tokens, tokens])
            context = Tensor(shape: [batch, dim, tokens])
            dqkv = Tensor(shape: [batch, 3 * dim, tokens])
            dcontext = Tensor(shape: [batch, dim, tokens])
            dscores = Tensor(shape: [batch, tokens, tokens])
        }
    }

    // x, y: [N, D, T] (any shape with N first and D * T per sample)
    public static func forward(x: Tensor, y: Tensor, inWeight: Tensor, inBias: Tensor, outWeight: Tensor, outBias: Tensor,
                               heads: Int, buffers b: Buffers, parallel: Parallelism = .serial) {
        let n = x.shape[0], dim = inWeight.shape[1], tokens = x.count / (n * dim), d = dim / heads
        let scale = Float(1 / Double(d).squareRoot())
        parallel.forEach(n) { s in
            let xs = x.base + s * dim * tokens, qkv = b.qkv.base + s * 3 * dim * tokens, ctx = b.context.base + s * dim * tokens
            // QKV = W_in X + b
            BLAS.gemm(transA: false, transB: false, m: 3 * dim, n: tokens, k: dim, a: inWeight.base, lda: dim, b: xs, ldb: tokens,
                      beta: 0, c: qkv, ldc: tokens)
            for r in 0..<(3 * dim) { Vector.addScalar(inBias.base[r], to: qkv + r * tokens, tokens) }
            for h in 0..<heads {
                let q = qkv + h * d * tokens, k = qkv + (dim + h * d) * tokens, v = qkv + (2 * dim + h * d) * tokens
                let p = b.probabilities.base + (s * heads + h) * tokens * tokens
                // P = scale Qᵀ K, then softmax over each row (the keys)
                BLAS.gemm(transA: true, transB: false, m: tokens, n: tokens, k: d, alpha: scale, a: q, lda: tokens, b: k, ldb: tokens,
                          beta: 0, c: p, ldc: tokens)
                for i in 0..<tokens { softmaxRow(p + i * tokens, tokens) }
                // Oₕ = Vₕ Pᵀ
                BLAS.gemm(transA: false, transB: true, m: d, n: tokens, k: tokens, a: v, lda: tokens, b: p, ldb: tokens,
                          beta: 0, c: ctx + h * d * tokens, ldc: tokens)
            }
            // Y = W_out O + b
            let ys = y.base + s * dim * tokens
            BLAS.gemm(transA: false, transB: false, m: dim, n: tokens, k: dim, a: outWeight.base, lda: dim, b: ctx, ldb: tokens,
                      beta: 0, c: ys, ldc: tokens)
            for r in 0..<dim { Vector.addScalar(outBias.base[r], to: ys + r * tokens, tokens) }
        }
    }

    /// Gradients: the weights' and biases' accumulate (+=); dx is written or, with `accumulate`,
    /// added to. Needs the buffers of the forward of the same x.
    public static func backward(x: Tensor, dy: Tensor, dx: Tensor?, inWeight: Tensor, outWeight: Tensor,
                                dInWeight: Tensor, dInBias: Tensor, dOutWeight: Tensor, dOutBias: Tensor,
                                heads: Int, buffers b: Buffers, accumulate: Bool, parallel: Parallelism = .serial) {
        let n = x.shape[0], dim = inWeight.shape[1], tokens = x.count / (n * dim), d = dim / heads
        let scale = Float(1 / Double(d).squareRoot())
        // the data gradients, sample by sample in parallel
        parallel.forEach(n) { s in
            let g = dy.base + s * dim * tokens, qkv = b.qkv.base + s * 3 * dim * tokens
            let dctx = b.dcontext.base + s * dim * tokens, dqkv = b.dqkv.base + s * 3 * dim * tokens
            let dp = b.dscores.base + s * tokens * tokens
            // dO = W_outᵀ dY
            BLAS.gemm(transA: true, transB: false, m: dim, n: tokens, k: dim, a: outWeight.base, lda: dim, b: g, ldb: tokens,
                      beta: 0, c: dctx, ldc: tokens)
            for h in 0..<heads {
                let q = qkv + h * d * tokens, k = qkv + (dim + h * d) * tokens, v = qkv + (2 * dim + h * d) * tokens
                let dq = dqkv + h * d * tokens, dk = dqkv + (dim + h * d) * tokens, dv = dqkv + (2 * dim + h * d) * tokens
                let p = b.probabilities.base + (s * heads + h) * tokens * tokens, dO = dctx + h * d * tokens
                // dVₕ = dOₕ P
                BLAS.gemm(transA: false, transB: false, m: d, n: tokens, k: tokens, a: dO, lda: tokens, b: p, ldb: tokens,
                          beta: 0, c: dv, ldc: tokens)
                // dP = dOₕᵀ Vₕ, then through the softmax: dS = P ⊙ (dP - rowsum(dP ⊙ P))
                BLAS.gemm(transA: true, transB: false, m: tokens, n: tokens, k: d, a: dO, lda: tokens, b: v, ldb: tokens,
                          beta: 0, c: dp, ldc: tokens)
                for i in 0..<tokens {
                    let pr = p + i * tokens, dr = dp + i * tokens
                    var dot = 0.0
                    for j in 0..<tokens { dot += Double(pr[j]) * Double(dr[j]) }
                    let dotf = Float(dot)
                    for j in 0..<tokens { dr[j] = pr[j] * (dr[j] - dotf) }
                }
                // dQₕ = scale Kₕ dSᵀ, dKₕ = scale Qₕ dS
                BLAS.gemm(transA: false, transB: true, m: d, n: tokens, k: tokens, alpha: scale, a: k, lda: tokens, b: dp, ldb: tokens,
                          beta: 0, c: dq, ldc: tokens)
                BLAS.gemm(transA: false, transB: false, m: d, n: tokens, k: tokens, alpha: scale, a: q, lda: tokens, b: dp, ldb: tokens,
                          beta: 0, c: dk, ldc: tokens)
            }
            if let dx {
                // dX (+)= W_inᵀ dQKV
                BLAS.gemm(transA: true, transB: false, m: dim, n: tokens, k: 3 * dim, a: inWeight.base, lda: dim, b: dqkv, ldb: tokens,
                          beta: accumulate ? 1 : 0, c: dx.base + s * dim * tokens, ldc: tokens)
            }
        }
        // the weight gradients, summed over the samples in order (the same bits for any thread count)
        for s in 0..<n {
            let g = dy.base + s * dim * tokens, ctx = b.context.base + s * dim * tokens
            let xs = x.base + s * dim * tokens, dqkv = b.dqkv.base + s * 3 * dim * tokens
            BLAS.gemm(transA: false, transB: true, m: dim, n: dim, k: tokens, a: g, lda: tokens, b: ctx, ldb: tokens,
                      beta: 1, c: dOutWeight.base, ldc: dim, parallel: parallel)
            BLAS.gemm(transA: false, transB: true, m: 3 * dim, n: dim, k: tokens, a: dqkv, lda: tokens, b: xs, ldb: tokens,
                      beta: 1, c: dInWeight.base, ldc: dim, parallel: parallel)
            for r in 0..<dim { dOutBias.base[r] += Float(Vector.sum(g + r * tokens, tokens)) }
            for r in 0..<(3 * dim) { dInBias.base[r] += Float(Vector.sum(dqkv + r * tokens, tokens)) }
        }
    }

    /// softmax(row) in place, the maximum subtracted first; the sum in Double.
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ count: Int) {
        var m = -Float.infinity
        for j in 0..<count { m = max(m, row[j]) }
        var sum = 0.0
        for j in 0..<count { let e = Foundation.exp(row[j] - m); row[j] = e; sum += Double(e) }
        let inverse = Float(1 / sum)
        for j in 0..<count { row[j] *= inverse }
    }

    /// The same forward with loops in Double: the reference the kernel is tested against.
    public static func naiveForward(x: [Double], dim: Int, tokens: Int, heads: Int, inWeight: [Double], inBias: [Double],
                                    outWeight: [Double], outBias: [Double]) -> [Double] {
        let d = dim / heads, scale = 1 / Double(d).squareRoot()
        // x[c * tokens + t]
        var qkv = [Double](repeating: 0, count: 3 * dim * tokens)
        for r in 0..<(3 * dim) {
            for t in 0..<tokens {
                var sum = inBias[r]
                for c in 0..<dim { sum += inWeight[r * dim + c] * x[c * tokens + t] }
                qkv[r * tokens + t] = sum
            }
        }
        var context = [Double](repeating: 0, count: dim * tokens)
        for h in 0..<heads {
            for i in 0..<tokens {
                var scores = (0..<tokens).map { j in
                    (0..<d).reduce(0.0) { $0 + qkv[(h * d + $1) * tokens + i] * qkv[(dim + h * d + $1) * tokens + j] } * scale
                }
                let m = scores.max() ?? 0
                scores = scores.map { Foundation.exp($0 - m) }
                let total = scores.reduce(0, +)
                for c in 0..<d {
                    context[(h * d + c) * tokens + i] = (0..<tokens).reduce(0.0) { $0 + scores[$1] / total * qkv[(2 * dim + h * d + c) * tokens + $1] }
                }
            }
        }
        var y = [Double](repeating: 0, count: dim * tokens)
        for r in 0..<dim {
            for t in 0..<tokens {
                var sum = outBias[r]
                for c in 0..<dim { sum += outWeight[r * dim + c] * context[c * tokens + t] }
                y[r * tokens + t] = sum
            }
        }
        return y
    }
}
