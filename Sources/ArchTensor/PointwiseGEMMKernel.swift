/// A 1x1 convolution (stride 1, no padding, one group) over a small map, as single GEMMs over the
/// whole batch: the map is regrouped from [N, C, P] to [C, N * P], so the weight gradient is one
/// product with N * P as its inner dimension instead of N products of P.
///
/// Why: oneDNN 2.6's 1x1 backward works sample by sample; on ConvNeXt-Tiny's 2x2 last stage
/// (batch 16, 768 -> 3072) its backward took 14 ms against 2.5 ms for the forward, where the
/// two products of the backward are each the size of the forward's.
public enum PointwiseGEMMKernel {
    /// The largest map (positions per sample) this kernel takes; larger maps stay on oneDNN, whose
    /// 1x1 kernels do well there.
    public static let maxPositions = 16

    /// Whether `g` is a 1x1 convolution this kernel runs.
    public static func applies(_ g: ConvGeometry) -> Bool {
        g.kernel == (1, 1) && g.stride == (1, 1) && g.padding == (0, 0) && g.groups == 1 && g.outHeight * g.outWidth <= maxPositions
    }

    /// Floats of scratch for a batch of `n`.
    public static func scratchCount(_ g: ConvGeometry, batch n: Int) -> Int {
        n * g.inHeight * g.inWidth * (g.inChannels + g.outChannels)
    }

    /// [A, B, P] -> [B, A, P] (`add`: accumulate into `dst`), parallel over A.
    static func swapLeading(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, a: Int, b: Int, p: Int, add: Bool = false,
                            parallel: Parallelism) {
        let s = SharedPointer(src), d = SharedPointer(dst)
        parallel.forEach(a) { i in
            for j in 0..<b {
                let from = s.base + (i &* b &+ j) &* p, to = d.base + (j &* a &+ i) &* p
                if add { for k in 0..<p { to[k] += from[k] } } else { to.update(from: from, count: p) }
            }
        }
    }

    // x: [N, C, H, W], weight: [O, C, 1, 1], bias: [O] -> y: [N, O, H, W].
    public static func forward(x: Tensor, weight: Tensor, bias: Tensor?, y: Tensor, geometry g: ConvGeometry, scratch: Tensor,
                               parallel: Parallelism) {
        let n = x.shape[0], c = g.inChannels, o = g.outChannels, p = g.inHeight * g.inWidth, np = n * p
        precondition(scratch.capacity >= scratchCount(g, batch: n))
        let xt = scratch.base, yt = scratch.base + c * np
        swapLeading(x.base, xt, a: n, b: c, p: p, parallel: parallel)
        BLAS.gemm(transA: false, transB: false, m: o, n: np, k: c, a: weight.base, lda: c, b: xt, ldb: np, beta: 0, c: yt, ldc: np,
                  parallel: parallel)
        if let bias { for row in 0..<o { let v = bias.base[row], r = yt + row * np; for k in 0..<np { r[k] += v } } }
        swapLeading(yt, y.base, a: o, b: n, p: p, parallel: parallel)
    }

    // dWeight += dy x^T and dBias += the sums of dy over the batch and map; dx = weight^T dy
    // (written, or added to with `accumulate`).
    public static func backward(x: Tensor, weight: Tensor, dy: Tensor, dx: Tensor?, dWeight: Tensor, dBias: Tensor?,
                                geometry g: ConvGeometry, scratch: Tensor, accumulate: Bool, parallel: Parallelism) {
        let n = x.shape[0], c = g.inChannels, o = g.outChannels, p = g.inHeight * g.inWidth, np = n * p
        precondition(scratch.capacity >= scratchCount(g, batch: n))
        let xt = scratch.base, dyt = scratch.base + c * np
        swapLeading(x.base, xt, a: n, b: c, p: p, parallel: parallel)
        swapLeading(dy.base, dyt, a: n, b: o, p: p, parallel: parallel)
        BLAS.gemm(transA: false, transB: true, m: o, n: c, k: np, a: dyt, lda: np, b: xt, ldb: np, beta: 1, c: dWeight.base, ldc: c,
                  parallel: parallel)
        if let dBias { for row in 0..<o { dBias.base[row] += Float(Vector.sum(dyt + row * np, np)) } }
        guard let dx else { return }
        // x's regrouped copy is no longer needed: dx's goes there
        BLAS.gemm(transA: true, transB: false, m: c, n: np, k: o, a: weight.base, lda: c, b: dyt, ldb: np, beta: 0, c: xt, ldc: np,
                  parallel: parallel)
        swapLeading(xt, dx.base, a: c, b: n, p: p, add: accumulate, parallel: parallel)
    }
}
