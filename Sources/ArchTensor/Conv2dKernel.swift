/// Geometry of a 2-D convolution (PyTorch's `nn.Conv2d`).
public struct ConvGeometry: Sendable, Equatable {
    public var inChannels, inHeight, inWidth: Int
    public var outChannels, outHeight, outWidth: Int
    public var kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)
    public var groups: Int

    public init(inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int, kernel: (Int, Int), stride: (Int, Int),
                padding: (Int, Int), dilation: (Int, Int), groups: Int) {
        self.inChannels = inChannels; self.inHeight = inHeight; self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.dilation = dilation
        self.groups = groups
        outHeight = (inHeight + 2 * padding.0 - dilation.0 * (kernel.0 - 1) - 1) / stride.0 + 1
        outWidth = (inWidth + 2 * padding.1 - dilation.1 * (kernel.1 - 1) - 1) / stride.1 + 1
    }

    public static func == (a: ConvGeometry, b: ConvGeometry) -> Bool {
        a.inChannels == b.inChannels && a.inHeight == b.inHeight && a.inWidth == b.inWidth && a.outChannels == b.outChannels
            && a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation && a.groups == b.groups
    }

    var groupIn: Int { inChannels / groups }
    var groupOut: Int { outChannels / groups }
    /// Rows of the im2col matrix: (C/groups) * kh * kw.
    var patch: Int { groupIn * kernel.0 * kernel.1 }
    var outPlane: Int { outHeight * outWidth }
    var inPlane: Int { inHeight * inWidth }
    /// 1x1, stride 1, no padding: the input already is the im2col matrix.
    var isPointwise: Bool { kernel == (1, 1) && stride == (1, 1) && padding == (0, 0) }
    /// Output planes of at least this many pixels are computed sample by sample: each thread's
    /// im2col matrix [K, Ho*Wo] stays in cache and the GEMM writes straight into y (no scatter).
    /// Convolutions with a real im2col (not 1x1) already go that way from a third of it (their
    /// batch-wide im2col matrix is the costly copy). Smaller planes give GEMMs too narrow to be
    /// efficient; those go through one batch-wide GEMM. (Measured on ResNet-18 at 64x64 and
    /// GoogLeNet at 96x96 with `archlab bench`: 64 for every conv helped ResNet and hurt GoogLeNet.)
    public var perSampleMinimumPlane = 196
    var perSample: Bool { groups == 1 && (outPlane >= perSampleMinimumPlane || (!isPointwise && outPlane >= perSampleMinimumPlane / 3)) }

    /// Floats of workspace a batch of `batch` samples needs with `threads` threads. Batch-wide:
    /// the im2col matrix of one group for the whole batch, [(C/g)*kh*kw, N*Ho*Wo], and the GEMM
    /// output [O/g, N*Ho*Wo]. Per sample, for each thread: an im2col matrix [K, Ho*Wo] and
    /// partial weight and bias gradients [O, K] + [O].
    public func workspaceCount(batch: Int, threads: Int) -> Int {
        perSample ? threads * (patch * outPlane + outChannels * patch + outChannels) : (patch + groupOut) * batch * outPlane
    }
}

extension ConvGeometry {
    /// Stride 1, no dilation, output as wide as the input ("same" width): each im2col row is the
    /// input plane shifted by a constant, copied in one piece, with the columns that fall into the
    /// padding zeroed afterwards.
    var isShiftedCopy: Bool { stride == (1, 1) && dilation == (1, 1) && outWidth == inWidth }

    /// For the shifted-copy layout: output rows [ohLo, ohHi) read input rows, the shift of the
    /// source index, the valid columns [lo, hi) and the copied index range [a, b).
    @inline(__always)
    func shiftedRow(_ ki: Int, _ kj: Int) -> (ohLo: Int, ohHi: Int, shift: Int, lo: Int, hi: Int, a: Int, b: Int) {
        let ohLo = min(outHeight, max(0, padding.0 - ki)), ohHi = max(ohLo, min(outHeight, inHeight + padding.0 - ki))
        let shift = (ki - padding.0) * inWidth + (kj - padding.1)
        let lo = min(outWidth, max(0, padding.1 - kj)), hi = max(lo, min(outWidth, inWidth + padding.1 - kj))
        let a = max(ohLo * outWidth, -shift), b = max(a, min(ohHi * outWidth, inPlane - shift))
        return (ohLo, ohHi, shift, lo, hi, a, b)
    }

    /// Zeroes, in one shifted-copy im2col row, the columns whose input position falls into the
    /// padding (the contiguous copy or add wrapped them around to the neighbouring input row).
    @inline(__always)
    func zeroPaddingColumns(of row: UnsafeMutablePointer<Float>, _ r: (ohLo: Int, ohHi: Int, shift: Int, lo: Int, hi: Int, a: Int, b: Int)) {
        guard r.lo > 0 || r.hi < outWidth else { return }
        for oh in r.ohLo..<r.ohHi {
            let line = row + oh * outWidth
            for ow in 0..<r.lo { line[ow] = 0 }
            for ow in r.hi..<outWidth { line[ow] = 0 }
        }
    }
}

/// Convolution as im2col + GEMM on OpenBLAS (pointwise convolutions as a plain GEMM), with a
/// direct naive convolution beside it as the reference.
public enum Conv2dKernel {
    /// Output columns [lo, hi) whose input column `ow*sw - pw + kj*dw` lies inside [0, W).
    @inline(__always)
    static func validColumns(_ g: ConvGeometry, _ kj: Int) -> (lo: Int, hi: Int) {
        let shift = g.padding.1 - kj * g.dilation.1, sw = g.stride.1
        let lo = shift <= 0 ? 0 : (shift + sw - 1) / sw
        let last = g.inWidth - 1 + shift
        let hi = last < 0 ? 0 : min(g.outWidth, last / sw + 1)
        return (min(lo, hi), hi)
    }

    // x: [C/g, H, W] of one group -> cols: [(C/g)*kh*kw, Ho*Wo], rows `rowStride` apart
    static func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ cols: UnsafeMutablePointer<Float>, rowStride: Int) {
        let (kh, kw) = g.kernel, (sh, sw) = g.stride, (ph, pw) = g.padding, (dh, dw) = g.dilation
        let H = g.inHeight, W = g.inWidth, Ho = g.outHeight, Wo = g.outWidth
        if g.isShiftedCopy {
            let P = g.outPlane
            var row = 0
            for c in 0..<g.groupIn {
                let plane = x + c * H * W
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        let dst = cols + row * rowStride
                        let r = g.shiftedRow(ki, kj)
                        if r.a > 0 { dst.update(repeating: 0, count: r.a) }
                        (dst + r.a).update(from: plane + r.a + r.shift, count: r.b - r.a)
                        if r.b < P { (dst + r.b).update(repeating: 0, count: P - r.b) }
                        g.zeroPaddingColumns(of: dst, r)
                        row += 1
                    }
                }
            }
            return
        }
        var row = 0
        for c in 0..<g.groupIn {
            let plane = x + c * H * W
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let dst = cols + row * rowStride
                    let (lo, hi) = validColumns(g, kj), offset = kj * dw - pw
                    for oh in 0..<Ho {
                        let ih = oh * sh - ph + ki * dh
                        let line = dst + oh * Wo
                        if ih < 0 || ih >= H { line.update(repeating: 0, count: Wo); continue }
                        let src = plane + ih * W + offset
                        if lo > 0 { line.update(repeating: 0, count: lo) }
                        if sw == 1 {
                            Vector.copy(src + lo, line + lo, hi - lo)
                        } else {
                            for ow in lo..<hi { line[ow] = src[ow &* sw] }
                        }
                        if hi < Wo { (line + hi).update(repeating: 0, count: Wo - hi) }
                    }
                    row += 1
                }
            }
        }
    }

    // cols: [(C/g)*kh*kw, Ho*Wo], rows `rowStride` apart -> adds into dx: [C/g, H, W]
    // (the shifted-copy layout zeroes the padding columns of cols first: cols is scratch)
    static func col2im(_ cols: UnsafeMutablePointer<Float>, _ g: ConvGeometry, _ dx: UnsafeMutablePointer<Float>, rowStride: Int) {
        let (kh, kw) = g.kernel, (sh, sw) = g.stride, (ph, pw) = g.padding, (dh, dw) = g.dilation
        let H = g.inHeight, W = g.inWidth, Ho = g.outHeight, Wo = g.outWidth
        if g.isShiftedCopy {
            var row = 0
            for c in 0..<g.groupIn {
                let plane = dx + c * H * W
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        let src = cols + row * rowStride
                        let r = g.shiftedRow(ki, kj)
                        g.zeroPaddingColumns(of: src, r)
                        Vector.add(src + r.a, into: plane + r.a + r.shift, r.b - r.a)
                        row += 1
                    }
                }
            }
            return
        }
        var row = 0
        for c in 0..<g.groupIn {
            let plane = dx + c * H * W
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let src = cols + row * rowStride
                    let (lo, hi) = validColumns(g, kj), offset = kj * dw - pw
                    for oh in 0..<Ho {
                        let ih = oh * sh - ph + ki * dh
                        if ih < 0 || ih >= H { continue }
                        let line = plane + ih * W + offset, s = src + oh * Wo
                        if sw == 1 {
                            Vector.add(s + lo, into: line + lo, hi - lo)
                        } else {
                            for ow in lo..<hi { line[ow &* sw] += s[ow] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Lays out the im2col matrix of group `grp` for the whole batch: sample s fills columns
    /// [s*P, (s+1)*P) of every row (P = Ho*Wo), in parallel across samples. Pointwise convolutions
    /// copy channel planes.
    static func gather(_ x: Tensor, group grp: Int, _ g: ConvGeometry, into cols: UnsafeMutablePointer<Float>, parallel: Parallelism) {
        let n = x.shape[0], width = n * g.outPlane, shared = SharedPointer(cols)
        parallel.forEach(n) { s in
            let cols = shared.base  // sample s fills its own columns
            let src = x.base + s * g.inChannels * g.inPlane + grp * g.groupIn * g.inPlane
            if g.isPointwise {
                for c in 0..<g.groupIn { (cols + c * width + s * g.outPlane).update(from: src + c * g.inPlane, count: g.inPlane) }
            } else {
                im2col(src, g, cols + s * g.outPlane, rowStride: width)
            }
        }
    }

    /// y = conv(x, w) + b: sample by sample when the output planes are large (see `perSample`),
    /// otherwise one GEMM per group for the whole batch.
    // x: [N, C, H, W], w: [O, C/g, kh, kw], b: [O], y: [N, O, Ho, Wo], workspace: >= g.workspaceCount(batch: N, threads:)
    public static func forward(x: Tensor, weight: Tensor, bias: Tensor?, y: Tensor, geometry g: ConvGeometry, workspace: Tensor,
                               parallel: Parallelism = .serial) {
        let n = x.shape[0], width = n * g.outPlane
        precondition(workspace.capacity >= g.workspaceCount(batch: n, threads: parallel.threads), "conv workspace too small")
        if g.perSample { return forwardPerSample(x: x, weight: weight, bias: bias, y: y, geometry: g, workspace: workspace, parallel: parallel) }
        let cols = workspace.base, out = workspace.base + g.patch * width, sharedOut = SharedPointer(out)
        for grp in 0..<g.groups {
            gather(x, group: grp, g, into: cols, parallel: parallel)
            // out [O/g, N*P] = W_g [O/g, K] * cols [K, N*P]
            BLAS.gemm(transA: false, transB: false, m: g.groupOut, n: width, k: g.patch, a: weight.base + grp * g.groupOut * g.patch,
                      lda: g.patch, b: cols, ldb: width, beta: 0, c: out, ldc: width, parallel: parallel)
            parallel.forEach(n) { s in
                let out = sharedOut.base  // read only
                for o in 0..<g.groupOut {
                    let channel = grp * g.groupOut + o
                    let dst = y.base + (s * g.outChannels + channel) * g.outPlane, src = out + o * width + s * g.outPlane
                    if let bias {
                        let b = bias.base[channel]
                        for i in 0..<g.outPlane { dst[i] = src[i] + b }
                    } else {
                        dst.update(from: src, count: g.outPlane)
                    }
                }
            }
        }
    }

    /// Gradients of the convolution: dw and db accumulate (+=), dx is written or, with
    /// `accumulate`, added to.
    // dy: [N, O, Ho, Wo]; dx: [N, C, H, W]; dw: [O, C/g, kh, kw]; db: [O]
    public static func backward(x: Tensor, weight: Tensor, dy: Tensor, dx: Tensor?, dWeight: Tensor, dBias: Tensor?,
                                geometry g: ConvGeometry, workspace: Tensor, accumulate: Bool, parallel: Parallelism = .serial) {
        let n = x.shape[0], width = n * g.outPlane
        precondition(workspace.capacity >= g.workspaceCount(batch: n, threads: parallel.threads), "conv workspace too small")
        if g.perSample {
            return backwardPerSample(x: x, weight: weight, dy: dy, dx: dx, dWeight: dWeight, dBias: dBias, geometry: g,
                                     workspace: workspace, accumulate: accumulate, parallel: parallel)
        }
        let cols = workspace.base, grads = workspace.base + g.patch * width, sharedCols = SharedPointer(cols), sharedGrads = SharedPointer(grads)
        if let dx, !accumulate { dx.zero() }
        for grp in 0..<g.groups {
            // grads [O/g, N*P] gathered from dy
            parallel.forEach(n) { s in
                let grads = sharedGrads.base  // sample s writes its own columns
                for o in 0..<g.groupOut {
                    (grads + o * width + s * g.outPlane).update(from: dy.base + (s * g.outChannels + grp * g.groupOut + o) * g.outPlane, count: g.outPlane)
                }
            }
            gather(x, group: grp, g, into: cols, parallel: parallel)
            // dW_g += grads [O/g, N*P] * cols^T [N*P, K]
            BLAS.gemm(transA: false, transB: true, m: g.groupOut, n: g.patch, k: width, a: grads, lda: width, b: cols, ldb: width,
                      beta: 1, c: dWeight.base + grp * g.groupOut * g.patch, ldc: g.patch, parallel: parallel)
            if let dBias {
                for o in 0..<g.groupOut {
                    var sum: Double = 0
                    let row = grads + o * width
                    for i in 0..<width { sum += Double(row[i]) }
                    dBias.base[grp * g.groupOut + o] += Float(sum)
                }
            }
            guard let dx else { continue }
            // dcols [K, N*P] = W_g^T [K, O/g] * grads [O/g, N*P], then scattered back per sample
            BLAS.gemm(transA: true, transB: false, m: g.patch, n: width, k: g.groupOut, a: weight.base + grp * g.groupOut * g.patch,
                      lda: g.patch, b: grads, ldb: width, beta: 0, c: cols, ldc: width, parallel: parallel)
            parallel.forEach(n) { s in
                let cols = sharedCols.base  // read only; sample s writes its own part of dx
                let dst = dx.base + s * g.inChannels * g.inPlane + grp * g.groupIn * g.inPlane
                if g.isPointwise {
                    for c in 0..<g.groupIn {
                        let d = dst + c * g.inPlane, src = cols + c * width + s * g.outPlane
                        for i in 0..<g.inPlane { d[i] += src[i] }
                    }
                } else {
                    col2im(cols + s * g.outPlane, g, dst, rowStride: width)
                }
            }
        }
    }

    // x: [N, C, H, W] -> y: [N, O, Ho, Wo], groups == 1; samples split across threads, each with its own
    // im2col matrix cols: [K, P] in the workspace; y_s [O, P] = W [O, K] * cols [K, P] (+ b)
    static func forwardPerSample(x: Tensor, weight: Tensor, bias: Tensor?, y: Tensor, geometry g: ConvGeometry, workspace: Tensor,
                                 parallel: Parallelism) {
        let n = x.shape[0], P = g.outPlane, K = g.patch, O = g.outChannels
        let parts = min(parallel.threads, n), stride = K * P + O * K + O
        parallel.forEach(parts) { part in
            let cols = workspace.base + part * stride
            for s in (n * part / parts)..<(n * (part + 1) / parts) {
                let src = x.base + s * g.inChannels * g.inPlane, dst = y.base + s * O * P
                let b: UnsafePointer<Float>
                if g.isPointwise { b = UnsafePointer(src) } else { im2col(src, g, cols, rowStride: P); b = UnsafePointer(cols) }
                BLAS.gemm(transA: false, transB: false, m: O, n: P, k: K, a: weight.base, lda: K, b: b, ldb: P, beta: 0, c: dst, ldc: P)
                if let bias { for o in 0..<O { Vector.addScalar(bias.base[o], to: dst + o * P, P) } }
            }
        }
    }

    // dy: [N, O, Ho, Wo] -> dW += sum_s dy_s cols_s^T, db += sum dy, dx_s = col2im(W^T dy_s); each thread
    // sums its samples' weight and bias gradients in its own [O, K] + [O], added up at the end
    static func backwardPerSample(x: Tensor, weight: Tensor, dy: Tensor, dx: Tensor?, dWeight: Tensor, dBias: Tensor?,
                                  geometry g: ConvGeometry, workspace: Tensor, accumulate: Bool, parallel: Parallelism) {
        let n = x.shape[0], P = g.outPlane, K = g.patch, O = g.outChannels
        let parts = min(parallel.threads, n), stride = K * P + O * K + O
        parallel.forEach(parts) { part in
            let cols = workspace.base + part * stride, dW = cols + K * P, dB = dW + O * K
            dW.update(repeating: 0, count: O * K + O)
            for s in (n * part / parts)..<(n * (part + 1) / parts) {
                let src = x.base + s * g.inChannels * g.inPlane, grad = dy.base + s * O * P
                let b: UnsafePointer<Float>
                if g.isPointwise { b = UnsafePointer(src) } else { im2col(src, g, cols, rowStride: P); b = UnsafePointer(cols) }
                // dW [O, K] += dy_s [O, P] * cols^T [P, K]
                BLAS.gemm(transA: false, transB: true, m: O, n: K, k: P, a: grad, lda: P, b: b, ldb: P, beta: 1, c: dW, ldc: K)
                for o in 0..<O { dB[o] += Float(Vector.sum(grad + o * P, P)) }
                guard let dx else { continue }
                let d = dx.base + s * g.inChannels * g.inPlane
                if g.isPointwise {
                    // dx_s [C, P] (+)= W^T [C, O] * dy_s [O, P]
                    BLAS.gemm(transA: true, transB: false, m: K, n: P, k: O, a: weight.base, lda: K, b: grad, ldb: P,
                              beta: accumulate ? 1 : 0, c: d, ldc: P)
                } else {
                    BLAS.gemm(transA: true, transB: false, m: K, n: P, k: O, a: weight.base, lda: K, b: grad, ldb: P, beta: 0, c: cols, ldc: P)
                    if !accumulate { d.update(repeating: 0, count: g.inChannels * g.inPlane) }
                    col2im(cols, g, d, rowStride: P)
                }
            }
        }
        // in part order, so the sums do not depend on thread timing
        for part in 0..<parts {
            let dW = workspace.base + part * stride + K * P, dB = dW + O * K
            Vector.add(dW, into: dWeight.base, O * K)
            if let dBias { Vector.add(dB, into: dBias.base, O) }
        }
    }

    /// Direct convolution in Double, the reference for `forward`.
    public static func naiveForward(x: Tensor, weight: Tensor, bias: Tensor?, y: Tensor, geometry g: ConvGeometry) {
        let n = x.shape[0]
        for s in 0..<n { for o in 0..<g.outChannels {
            let grp = o / g.groupOut
            for oh in 0..<g.outHeight { for ow in 0..<g.outWidth {
                var sum = Double(bias?.base[o] ?? 0)
                for c in 0..<g.groupIn { for ki in 0..<g.kernel.0 { for kj in 0..<g.kernel.1 {
                    let ih = oh * g.stride.0 - g.padding.0 + ki * g.dilation.0
                    let iw = ow * g.stride.1 - g.padding.1 + kj * g.dilation.1
                    guard ih >= 0, ih < g.inHeight, iw >= 0, iw < g.inWidth else { continue }
                    let xv = x.base[((s * g.inChannels + grp * g.groupIn + c) * g.inHeight + ih) * g.inWidth + iw]
                    let wv = weight.base[((o * g.groupIn + c) * g.kernel.0 + ki) * g.kernel.1 + kj]
                    sum += Double(xv) * Double(wv)
                }}}
                y.base[((s * g.outChannels + o) * g.outHeight + oh) * g.outWidth + ow] = Float(sum)
            }}
        }}
    }
}
