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
    /// Floats of im2col workspace one sample needs (0 for pointwise convolutions).
    public var workspaceCount: Int { isPointwise ? 0 : patch * outPlane }
}

/// Convolution as im2col + GEMM on OpenBLAS (pointwise convolutions as a plain GEMM), with a
/// direct naive convolution beside it as the reference.
public enum Conv2dKernel {
    // x: [C/g, H, W] of one group -> cols: [(C/g)*kh*kw, Ho*Wo]
    static func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ cols: UnsafeMutablePointer<Float>) {
        let (kh, kw) = g.kernel, (sh, sw) = g.stride, (ph, pw) = g.padding, (dh, dw) = g.dilation
        let H = g.inHeight, W = g.inWidth, Ho = g.outHeight, Wo = g.outWidth
        var row = 0
        for c in 0..<g.groupIn {
            let plane = x + c * H * W
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let dst = cols + row * Ho * Wo
                    for oh in 0..<Ho {
                        let ih = oh * sh - ph + ki * dh
                        let line = dst + oh * Wo
                        if ih < 0 || ih >= H { line.update(repeating: 0, count: Wo); continue }
                        let src = plane + ih * W
                        for ow in 0..<Wo {
                            let iw = ow * sw - pw + kj * dw
                            line[ow] = (iw >= 0 && iw < W) ? src[iw] : 0
                        }
                    }
                    row += 1
                }
            }
        }
    }

    // cols: [(C/g)*kh*kw, Ho*Wo] -> adds into dx: [C/g, H, W]
    static func col2im(_ cols: UnsafePointer<Float>, _ g: ConvGeometry, _ dx: UnsafeMutablePointer<Float>) {
        let (kh, kw) = g.kernel, (sh, sw) = g.stride, (ph, pw) = g.padding, (dh, dw) = g.dilation
        let H = g.inHeight, W = g.inWidth, Ho = g.outHeight, Wo = g.outWidth
        var row = 0
        for c in 0..<g.groupIn {
            let plane = dx + c * H * W
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let src = cols + row * Ho * Wo
                    for oh in 0..<Ho {
                        let ih = oh * sh - ph + ki * dh
                        if ih < 0 || ih >= H { continue }
                        let line = plane + ih * W, s = src + oh * Wo
                        for ow in 0..<Wo {
                            let iw = ow * sw - pw + kj * dw
                            if iw >= 0 && iw < W { line[iw] += s[ow] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// y = conv(x, w) + b.
    // x: [N, C, H, W], w: [O, C/g, kh, kw], b: [O], y: [N, O, Ho, Wo], workspace: >= g.workspaceCount
    public static func forward(x: Tensor, weight: Tensor, bias: Tensor?, y: Tensor, geometry g: ConvGeometry, workspace: Tensor?) {
        let n = x.shape[0]
        for s in 0..<n {
            for grp in 0..<g.groups {
                let src = x.base + s * g.inChannels * g.inPlane + grp * g.groupIn * g.inPlane
                let cols: UnsafePointer<Float>
                if g.isPointwise { cols = UnsafePointer(src) } else {
                    im2col(src, g, workspace!.base)
                    cols = UnsafePointer(workspace!.base)
                }
                let out = y.base + s * g.outChannels * g.outPlane + grp * g.groupOut * g.outPlane
                BLAS.gemm(transA: false, transB: false, m: g.groupOut, n: g.outPlane, k: g.patch,
                          a: weight.base + grp * g.groupOut * g.patch, lda: g.patch, b: cols, ldb: g.outPlane,
                          beta: 0, c: out, ldc: g.outPlane)
            }
            if let bias {
                for o in 0..<g.outChannels {
                    let plane = y.base + (s * g.outChannels + o) * g.outPlane, b = bias.base[o]
                    for i in 0..<g.outPlane { plane[i] += b }
                }
            }
        }
    }

    /// Gradients of the convolution: dw and db accumulate (+=), dx is written or, with
    /// `accumulate`, added to.
    // dy: [N, O, Ho, Wo]; dx: [N, C, H, W]; dw: [O, C/g, kh, kw]; db: [O]
    public static func backward(x: Tensor, weight: Tensor, dy: Tensor, dx: Tensor?, dWeight: Tensor, dBias: Tensor?,
                                geometry g: ConvGeometry, workspace: Tensor?, accumulate: Bool) {
        let n = x.shape[0]
        if let dx, !accumulate { dx.zero() }
        for s in 0..<n {
            for grp in 0..<g.groups {
                let src = x.base + s * g.inChannels * g.inPlane + grp * g.groupIn * g.inPlane
                let grad = dy.base + s * g.outChannels * g.outPlane + grp * g.groupOut * g.outPlane
                let w = weight.base + grp * g.groupOut * g.patch
                let cols: UnsafePointer<Float>
                if g.isPointwise { cols = UnsafePointer(src) } else {
                    im2col(src, g, workspace!.base)
                    cols = UnsafePointer(workspace!.base)
                }
                // dW_g += dy_g [O/g, HoWo] * cols^T [HoWo, K]
                BLAS.gemm(transA: false, transB: true, m: g.groupOut, n: g.patch, k: g.outPlane, a: grad, lda: g.outPlane,
                          b: cols, ldb: g.outPlane, beta: 1, c: dWeight.base + grp * g.groupOut * g.patch, ldc: g.patch)
                guard let dx else { continue }
                let dst = dx.base + s * g.inChannels * g.inPlane + grp * g.groupIn * g.inPlane
                if g.isPointwise {
                    // dx_g += W_g^T [K, O/g] * dy_g [O/g, HoWo]
                    BLAS.gemm(transA: true, transB: false, m: g.patch, n: g.outPlane, k: g.groupOut, a: w, lda: g.patch,
                              b: grad, ldb: g.outPlane, beta: 1, c: dst, ldc: g.outPlane)
                } else {
                    BLAS.gemm(transA: true, transB: false, m: g.patch, n: g.outPlane, k: g.groupOut, a: w, lda: g.patch,
                              b: grad, ldb: g.outPlane, beta: 0, c: workspace!.base, ldc: g.outPlane)
                    col2im(workspace!.base, g, dst)
                }
            }
            if let dBias {
                for o in 0..<g.outChannels {
                    let plane = dy.base + (s * g.outChannels + o) * g.outPlane
                    var sum: Float = 0
                    for i in 0..<g.outPlane { sum += plane[i] }
                    dBias.base[o] += sum
                }
            }
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
