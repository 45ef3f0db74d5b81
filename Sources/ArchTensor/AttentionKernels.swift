import Foundation

/// The four tensors of a multi-head attention layer, PyTorch's layout: the fused query, key and
/// value projection `[3C, C]` (Q, K, V stacked, heads contiguous within each) with its bias `[3C]`,
/// and the output projection `[C, C]` with its bias `[C]`. The same type carries their gradients.
public struct AttentionTensors: Sendable {
    public let qkvWeight: Tensor, qkvBias: Tensor, projWeight: Tensor, projBias: Tensor

    public init(qkvWeight: Tensor, qkvBias: Tensor, projWeight: Tensor, projBias: Tensor) {
        self.qkvWeight = qkvWeight
        self.qkvBias = qkvBias
        self.projWeight = projWeight
        self.projBias = projBias
    }

    /// The embedding dimension C.
    public var dim: Int { projWeight.shape[0] }
}

/// Multi-head attention over the tokens of channels-first maps `[N, C, positions]`, each sample
/// cut into sequences by a `TokenLayout` (all positions for a vision transformer, shifted windows
/// for Swin): `QKV = X W_qkvᵀ + b`; per sequence and head, `P = softmax(scale · Q Kᵀ + bias + mask)`
/// and `O = P V`; `Y = O W_projᵀ + b`. No attention dropout.
///
/// The tokens of all sequences are gathered into one row matrix `[N·positions, C]`, so the four
/// projections are single large GEMMs (forward and backward) and only the `T × T` products run per
/// sequence and head, in parallel. What the backward needs is kept in buffers allocated once per
/// layer; nothing is allocated in the step.
public enum AttentionKernel {
    /// Buffers one layer keeps between its forward and backward, and uses as scratch.
    public struct Buffers: Sendable {
        /// `[N·P, C]` the gathered tokens; `[N·P, 3C]` Q, K, V; `[N·S, heads, T, T]` the attention
        /// probabilities; `[N·P, C]` the heads' outputs (in the backward: the tokens' gradient).
        public let rows: Tensor, qkv: Tensor, probabilities: Tensor, context: Tensor
        /// `[N·P, C]` the projected output (in the backward: its gradient, gathered).
        public let output: Tensor
        /// Backward scratch: `[N·P, C]`, `[N·P, 3C]`, `[N·S, heads, T, T]`.
        public let dContext: Tensor, dqkv: Tensor, dScores: Tensor

        public init(batch: Int, dim: Int, heads: Int, layout: TokenLayout) {
            let rowCount = batch * layout.positions, scores = batch * layout.sequences * heads * layout.tokens * layout.tokens
            rows = Tensor(shape: [rowCount, dim])
            qkv = Tensor(shape: [rowCount, 3 * dim])
            probabilities = Tensor(shape: [scores])
            context = Tensor(shape: [rowCount, dim])
            output = Tensor(shape: [rowCount, dim])
            dContext = Tensor(shape: [rowCount, dim])
            dqkv = Tensor(shape: [rowCount, 3 * dim])
            dScores = Tensor(shape: [scores])
        }
    }

    /// `y = attention(x)`, x and y `[N, C, positions]` (any shape with N first). `scoreBias`
    /// `[heads, T, T]` is added to every sequence's scores (Swin's relative position bias) and
    /// `mask` `[sequences, T, T]` to sequence `s mod sequences` of each sample (Swin's shift mask).
    public static func forward(x: Tensor, y: Tensor, tensors w: AttentionTensors, heads: Int, layout: TokenLayout,
                               scoreBias: Tensor? = nil, mask: Tensor? = nil, buffers b: Buffers, parallel: Parallelism = .serial) {
        let n = x.shape[0], dim = w.dim, rowCount = n * layout.positions, t = layout.tokens, d = dim / heads
        let scale = Float(1 / Double(d).squareRoot()), inner = parallel.serial
        layout.gather(x, into: b.rows, batch: n, channels: dim, parallel: parallel)
        BLAS.gemm(transA: false, transB: true, m: rowCount, n: 3 * dim, k: dim, a: b.rows.base, lda: dim, b: w.qkvWeight.base, ldb: dim,
                  beta: 0, c: b.qkv.base, ldc: 3 * dim, parallel: parallel)
        addRowBias(w.qkvBias, to: b.qkv, rows: rowCount, parallel: parallel)
        let sequencesPerSample = layout.sequences
        parallel.forEach(n * sequencesPerSample * heads) { i in
            let s = i / heads, h = i % heads
            let q = b.qkv.base + s * t * 3 * dim + h * d, k = q + dim, v = q + 2 * dim, p = b.probabilities.base + i * t * t
            product(transA: false, transB: true, m: t, n: t, k: d, alpha: scale, a: q, lda: 3 * dim, b: k, ldb: 3 * dim,
                      c: p, ldc: t, inner)
            if let scoreBias { Vector.add(scoreBias.base + h * t * t, into: p, t * t) }
            if let mask { Vector.add(mask.base + (s % sequencesPerSample) * t * t, into: p, t * t) }
            for r in 0..<t { softmaxRow(p + r * t, t) }
            product(transA: false, transB: false, m: t, n: d, k: t, a: p, lda: t, b: v, ldb: 3 * dim,
                      c: b.context.base + s * t * dim + h * d, ldc: dim, inner)
        }
        BLAS.gemm(transA: false, transB: true, m: rowCount, n: dim, k: dim, a: b.context.base, lda: dim, b: w.projWeight.base, ldb: dim,
                  beta: 0, c: b.output.base, ldc: dim, parallel: parallel)
        addRowBias(w.projBias, to: b.output, rows: rowCount, parallel: parallel)
        layout.scatter(b.output, into: y, batch: n, channels: dim, accumulate: false, parallel: parallel)
    }

    /// Gradients: the tensors' (and `dScoreBias`'s, `[heads, T, T]`) accumulate (+=); dx is
    /// written or, with `accumulate`, added to. Needs the buffers of the forward of the same x.
    public static func backward(x: Tensor, dy: Tensor, dx: Tensor?, tensors w: AttentionTensors, gradients g: AttentionTensors,
                                dScoreBias: Tensor? = nil, heads: Int, layout: TokenLayout, buffers b: Buffers,
                                accumulate: Bool, parallel: Parallelism = .serial) {
        let n = x.shape[0], dim = w.dim, rowCount = n * layout.positions, t = layout.tokens, d = dim / heads
        let scale = Float(1 / Double(d).squareRoot()), inner = parallel.serial
        let dOut = b.output
        layout.gather(dy, into: dOut, batch: n, channels: dim, parallel: parallel)
        // the output projection: dW_proj += dYᵀ O, db_proj += Σ dY, dO = dY W_proj
        BLAS.gemm(transA: true, transB: false, m: dim, n: dim, k: rowCount, a: dOut.base, lda: dim, b: b.context.base, ldb: dim,
                  beta: 1, c: g.projWeight.base, ldc: dim, parallel: parallel)
        addColumnSums(of: dOut, rows: rowCount, into: g.projBias, parallel: parallel)
        BLAS.gemm(transA: false, transB: false, m: rowCount, n: dim, k: dim, a: dOut.base, lda: dim, b: w.projWeight.base, ldb: dim,
                  beta: 0, c: b.dContext.base, ldc: dim, parallel: parallel)
        parallel.forEach(n * layout.sequences * heads) { i in
            let s = i / heads, h = i % heads
            let q = b.qkv.base + s * t * 3 * dim + h * d, k = q + dim, v = q + 2 * dim
            let dq = b.dqkv.base + s * t * 3 * dim + h * d, dk = dq + dim, dv = dq + 2 * dim
            let p = b.probabilities.base + i * t * t, ds = b.dScores.base + i * t * t, dO = b.dContext.base + s * t * dim + h * d
            // dV = Pᵀ dO; dP = dO Vᵀ, then through the softmax: dS = P ⊙ (dP - rowsum(dP ⊙ P))
            product(transA: true, transB: false, m: t, n: d, k: t, a: p, lda: t, b: dO, ldb: dim, c: dv, ldc: 3 * dim,
                      inner)
            product(transA: false, transB: true, m: t, n: t, k: d, a: dO, lda: dim, b: v, ldb: 3 * dim, c: ds, ldc: t,
                      inner)
            for r in 0..<t {
                let pr = p + r * t, dr = ds + r * t
                let dotf = Float(Vector.dotInDouble(pr, dr, t))
                for j in 0..<t { dr[j] = pr[j] * (dr[j] - dotf) }
            }
            // dQ = scale dS K, dK = scale dSᵀ Q
            product(transA: false, transB: false, m: t, n: d, k: t, alpha: scale, a: ds, lda: t, b: k, ldb: 3 * dim,
                      c: dq, ldc: 3 * dim, inner)
            product(transA: true, transB: false, m: t, n: d, k: t, alpha: scale, a: ds, lda: t, b: q, ldb: 3 * dim,
                      c: dk, ldc: 3 * dim, inner)
        }
        if let dScoreBias {
            // summed over the sequences in order, one head per task (the same bits for any thread count)
            let sequences = n * layout.sequences
            parallel.forEach(heads) { h in
                for s in 0..<sequences { Vector.add(b.dScores.base + (s * heads + h) * t * t, into: dScoreBias.base + h * t * t, t * t) }
            }
        }
        // the input projection: dW_qkv += dQKVᵀ X, db_qkv += Σ dQKV, dX = dQKV W_qkv
        BLAS.gemm(transA: true, transB: false, m: 3 * dim, n: dim, k: rowCount, a: b.dqkv.base, lda: 3 * dim, b: b.rows.base, ldb: dim,
                  beta: 1, c: g.qkvWeight.base, ldc: dim, parallel: parallel)
        addColumnSums(of: b.dqkv, rows: rowCount, into: g.qkvBias, parallel: parallel)
        guard let dx else { return }
        let dRows = b.context
        BLAS.gemm(transA: false, transB: false, m: rowCount, n: dim, k: 3 * dim, a: b.dqkv.base, lda: 3 * dim, b: w.qkvWeight.base,
                  ldb: dim, beta: 0, c: dRows.base, ldc: dim, parallel: parallel)
        layout.scatter(dRows, into: dx, batch: n, channels: dim, accumulate: accumulate, parallel: parallel)
    }

    /// `C = alpha op(A) op(B)` for one sequence and head: `T × T` and `T × d` products. Below 16
    /// tokens (Swin's small windows) plain vector loops, whose cost is a fraction of a GEMM call's
    /// (a 2x2 window: 512 multiply-adds per product); `inner`'s GEMM otherwise.
    @inline(__always)
    static func product(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, _ inner: Parallelism) {
        guard min(m, n, k) < 16 else {
            return BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: 0,
                             c: c, ldc: ldc, parallel: inner)
        }
        precondition(!(transA && transB), "product: op(A) op(B) with both transposed")
        for i in 0..<m {
            let row = c + i * ldc
            if transB {
                // C[i, j] = alpha Σ_p A[i, p] B[j, p]: dot products
                for j in 0..<n { row[j] = alpha * dot(a + i * lda, b + j * ldb, k) }
            } else {
                // C[i, :] = alpha Σ_p op(A)[i, p] B[p, :]: scaled rows of B
                row.update(repeating: 0, count: n)
                for p in 0..<k { axpy(alpha * (transA ? a[p * lda + i] : a[i * lda + p]), b + p * ldb, row, n) }
            }
        }
    }

    /// Σ x[i] y[i], eight lanes at a time.
    @inline(__always) static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0), i = 0
        while i + 8 <= count { acc += Vector.load(x, i) * Vector.load(y, i); i += 8 }
        var total = acc.sum()
        while i < count { total += x[i] * y[i]; i += 1 }
        return total
    }

    /// y[i] += alpha x[i], eight lanes at a time.
    @inline(__always) static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        let a = SIMD8<Float>(repeating: alpha)
        var i = 0
        while i + 8 <= count { Vector.store(Vector.load(y, i) + a * Vector.load(x, i), y, i); i += 8 }
        while i < count { y[i] += alpha * x[i]; i += 1 }
    }

    /// Adds `bias` (`[width]`) to each of the first `rows` rows of `matrix`.
    static func addRowBias(_ bias: Tensor, to matrix: Tensor, rows: Int, parallel: Parallelism) {
        let width = bias.count
        parallel.forEach(rows) { r in Vector.add(bias.base, into: matrix.base + r * width, width) }
    }

    /// `sums[j] += Σ_r matrix[r, j]` over the first `rows` rows, in Double, sixteen columns per
    /// task (the same bits for any thread count).
    static func addColumnSums(of matrix: Tensor, rows: Int, into sums: Tensor, parallel: Parallelism) {
        let width = sums.count, full = width / 16
        parallel.forEach(full + (width % 16 == 0 ? 0 : 1)) { block in
            let j0 = block * 16
            if block < full {
                var low = SIMD8<Double>(repeating: 0), high = SIMD8<Double>(repeating: 0)
                for r in 0..<rows {
                    let row = matrix.base + r * width + j0
                    low += SIMD8<Double>(Vector.load(row, 0))
                    high += SIMD8<Double>(Vector.load(row, 8))
                }
                for j in 0..<8 { sums.base[j0 + j] += Float(low[j]); sums.base[j0 + 8 + j] += Float(high[j]) }
            } else {
                for j in j0..<width {
                    var total = 0.0
                    for r in 0..<rows { total += Double(matrix.base[r * width + j]) }
                    sums.base[j] += Float(total)
                }
            }
        }
    }

    /// softmax(row) in place, the maximum subtracted first, eight lanes at a time (`Vector.exp`;
    /// the tail as one more vector whose unused lanes are e^-inf = 0); the sum in Double; no
    /// subnormal results.
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ count: Int) {
        let w = Vector.width, full = count - count % w
        var highest = SIMD8<Float>(repeating: -.infinity), j = 0
        while j < full { highest = pointwiseMax(highest, Vector.load(row, j)); j += w }
        var m = highest.max()
        while j < count { m = max(m, row[j]); j += 1 }
        let shift = SIMD8<Float>(repeating: m)
        var acc = SIMD8<Double>(repeating: 0)
        j = 0
        while j < full {
            let e = Vector.exp(Vector.load(row, j) - shift)
            Vector.store(e, row, j)
            acc += SIMD8<Double>(e)
            j += w
        }
        var sum = acc.sum()
        if full < count {
            var tail = SIMD8<Float>(repeating: -.infinity)
            for l in 0..<(count - full) { tail[l] = row[full + l] - m }
            let e = Vector.exp(tail)
            for l in 0..<(count - full) { row[full + l] = e[l]; sum += Double(e[l]) }
        }
        // normalized; probabilities below the smallest normal float (a masked pair: e^-100) are 0,
        // as subnormals would slow every product that reads them some hundredfold
        let inverse = SIMD8<Float>(repeating: Float(1 / sum)), tiny = SIMD8<Float>(repeating: .leastNormalMagnitude)
        let zero = SIMD8<Float>(repeating: 0)
        j = 0
        while j < full {
            let p = Vector.load(row, j) * inverse
            Vector.store(p.replacing(with: zero, where: p .< tiny), row, j)
            j += w
        }
        while j < count { let p = row[j] * inverse[0]; row[j] = p < .leastNormalMagnitude ? 0 : p; j += 1 }
    }

    /// The same forward for one sample `x[c · positions + p]`, with loops in Double: the reference
    /// the kernel is tested against. `scoreBias` `[heads, T, T]`, `mask` `[sequences, T, T]`.
    public static func naiveForward(x: [Double], dim: Int, heads: Int, layout: TokenLayout, qkvWeight: [Double], qkvBias: [Double],
                                    projWeight: [Double], projBias: [Double], scoreBias: [Double]? = nil, mask: [Double]? = nil) -> [Double] {
        let d = dim / heads, scale = 1 / Double(d).squareRoot(), positions = layout.positions, t = layout.tokens
        var y = [Double](repeating: 0, count: dim * positions)
        for s in 0..<layout.sequences {
            let source = (0..<t).map { Int(layout.source[s * t + $0]) }
            // qkv[r][token]
            let qkv = (0..<(3 * dim)).map { r in
                source.map { p in (0..<dim).reduce(qkvBias[r]) { $0 + qkvWeight[r * dim + $1] * x[$1 * positions + p] } }
            }
            var context = [[Double]](repeating: [Double](repeating: 0, count: t), count: dim)
            for h in 0..<heads {
                for i in 0..<t {
                    var scores = (0..<t).map { j in
                        var score = (0..<d).reduce(0.0) { $0 + qkv[h * d + $1][i] * qkv[dim + h * d + $1][j] } * scale
                        if let scoreBias { score += scoreBias[(h * t + i) * t + j] }
                        if let mask { score += mask[(s * t + i) * t + j] }
                        return score
                    }
                    let m = scores.max() ?? 0
                    scores = scores.map { Foundation.exp($0 - m) }
                    let total = scores.reduce(0, +)
                    for c in 0..<d { context[h * d + c][i] = (0..<t).reduce(0.0) { $0 + scores[$1] / total * qkv[2 * dim + h * d + c][$1] } }
                }
            }
            for r in 0..<dim {
                for (i, p) in source.enumerated() {
                    y[r * positions + p] = (0..<dim).reduce(projBias[r]) { $0 + projWeight[r * dim + $1] * context[$1][i] }
                }
            }
        }
        return y
    }
}
