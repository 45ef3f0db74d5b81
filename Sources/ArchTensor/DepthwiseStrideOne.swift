/// The backward of a stride-1, dilation-1 depthwise convolution on zero-padded channels-last
/// copies, so that no loop tests a border: the weight gradient sums `dy * x` per tap with four
/// taps of a kernel row in registers, and the input gradient is the correlation of `dy` (padded
/// by `k - 1 - padding`) with the flipped kernel, four output pixels in registers. Eight channels
/// per vector. The general kernel (`DepthwiseKernel.backward`) keeps strides and dilations.
enum DepthwiseStrideOne {
    /// Stride 1, no dilation, on maps of at least 128 positions. On smaller maps the zero borders
    /// outweigh the map and the general kernel's loop over valid taps is faster: three 7x7 layers,
    /// batch 16, idle machine, 1 / 2 threads: at 8x8 (192 channels) 10.7 / 7.8 ms here against
    /// 8.5 / 6.6 ms there; at 16x16 (96 channels) 19.0 / 12.8 ms here against 20.4 / 16.4.
    static func applies(_ g: ConvGeometry) -> Bool {
        g.stride == (1, 1) && g.dilation == (1, 1) && g.padding.0 < g.kernel.0 && g.padding.1 < g.kernel.1
            && g.inHeight * g.inWidth >= 128
    }

    /// Floats of scratch: x padded, dy padded for the correlation, dx channels-last.
    static func scratchCount(_ g: ConvGeometry, batch n: Int) -> Int {
        let (kh, kw) = g.kernel, (ph, pw) = g.padding, (h, w) = (g.inHeight, g.inWidth)
        return n * g.inChannels * ((h + 2 * ph) * (w + 2 * pw) + (h + kh - 1) * (w + kw - 1) + h * w)
    }

    /// [N, C, H, W] -> channels-last [N, H + top + bottom, W + left + right, C] with zero borders.
    static func padChannelsLast(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, n: Int, c: Int, h: Int, w: Int,
                                top: Int, left: Int, height: Int, width: Int, parallel: Parallelism) {
        let s = SharedPointer(src), d = SharedPointer(dst)
        parallel.forEach(n) { sample in
            let plane: Int = height &* width &* c
            let to: UnsafeMutablePointer<Float> = d.base + sample &* plane
            let from: UnsafeMutablePointer<Float> = s.base + sample &* c &* h &* w
            to.update(repeating: 0, count: plane)
            for y in 0..<h {
                let rowStart: Int = ((y &+ top) &* width &+ left) &* c
                for ch in 0..<c {
                    let row: UnsafeMutablePointer<Float> = from + (ch &* h &+ y) &* w
                    let out: UnsafeMutablePointer<Float> = to + (rowStart &+ ch)
                    for x in 0..<w { out[x &* c] = row[x] }
                }
            }
        }
    }

    static func backward(x: Tensor, weight: Tensor, dy: Tensor, dx: Tensor?, dWeight: Tensor, dBias: Tensor?,
                         geometry g: ConvGeometry, scratch: Tensor, accumulate: Bool, parallel: Parallelism) {
        let n = x.shape[0], c = g.inChannels, h = g.inHeight, w = g.inWidth, ho = g.outHeight, wo = g.outWidth
        let (kh, kw) = g.kernel, (ph, pw) = g.padding, taps = kh * kw
        let (xh, xw) = (h + 2 * ph, w + 2 * pw), (qh, qw) = (kh - 1 - ph, kw - 1 - pw), (gh, gw) = (h + kh - 1, w + kw - 1)
        precondition(scratch.capacity >= scratchCount(g, batch: n))
        let xp = scratch.base, gp = xp + n * c * xh * xw, dxl = gp + n * c * gh * gw
        padChannelsLast(x.base, xp, n: n, c: c, h: h, w: w, top: ph, left: pw, height: xh, width: xw, parallel: parallel)
        padChannelsLast(dy.base, gp, n: n, c: c, h: ho, w: wo, top: qh, left: qw, height: gh, width: gw, parallel: parallel)
        // flipped taps, channels-last: wf[(kh-1-i) * kw + (kw-1-j)][c] = weight[c][i][j]
        var flipped = [Float](repeating: 0, count: taps * c)
        for ch in 0..<c { for t in 0..<taps { flipped[(taps - 1 - t) * c + ch] = weight.base[ch * taps + t] } }
        var sums = [Double](repeating: 0, count: taps * c), biasSums = [Double](repeating: 0, count: c)
        let xs = SharedPointer(xp), gs = SharedPointer(gp), dxs = SharedPointer(dxl)
        let blockCount = DepthwiseKernel.blocks(c)
        sums.withUnsafeMutableBufferPointer { sb in
            biasSums.withUnsafeMutableBufferPointer { bb in
                let sp = SharedPointer(sb.baseAddress!), bp = SharedPointer(bb.baseAddress!)
                // weight and bias gradients: one task per block of 8 channels, every sample
                parallel.forEach(blockCount) { block in
                    let c0 = block &* 8, width = min(8, c &- c0)
                    for sample in 0..<n {
                        let xsample = xs.base + (sample &* xh &* xw &* c &+ c0), gsample = gs.base + (sample &* gh &* gw &* c &+ c0)
                        var biasSum = SIMD8<Float>(repeating: 0)
                        for oh in 0..<ho {
                            var pg = gsample + ((oh &+ qh) &* gw &+ qw) &* c
                            for _ in 0..<wo { biasSum += DepthwiseKernel.load(pg, width); pg += c }
                        }
                        for k in 0..<width { bp.base[c0 &+ k] += Double(biasSum[k]) }
                        for i in 0..<kh {
                            var j0 = 0
                            while j0 < kw {
                                let m = min(4, kw &- j0)
                                var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                                for oh in 0..<ho {
                                    var pg = gsample + ((oh &+ qh) &* gw &+ qw) &* c
                                    var px = xsample + ((oh &+ i) &* xw &+ j0) &* c
                                    if width == 8, m == 4 {
                                        for _ in 0..<wo {
                                            let gv = Vector.load(pg, 0)
                                            a0 += gv * Vector.load(px, 0)
                                            a1 += gv * Vector.load(px + c, 0)
                                            a2 += gv * Vector.load(px + 2 &* c, 0)
                                            a3 += gv * Vector.load(px + 3 &* c, 0)
                                            pg += c
                                            px += c
                                        }
                                    } else {
                                        for _ in 0..<wo {
                                            let gv = DepthwiseKernel.load(pg, width)
                                            a0 += gv * DepthwiseKernel.load(px, width)
                                            if m > 1 { a1 += gv * DepthwiseKernel.load(px + c, width) }
                                            if m > 2 { a2 += gv * DepthwiseKernel.load(px + 2 &* c, width) }
                                            if m > 3 { a3 += gv * DepthwiseKernel.load(px + 3 &* c, width) }
                                            pg += c
                                            px += c
                                        }
                                    }
                                }
                                let accs = [a0, a1, a2, a3]
                                for q in 0..<m {
                                    let t = i &* kw &+ j0 &+ q
                                    for k in 0..<width { sp.base[t &* c &+ c0 &+ k] += Double(accs[q][k]) }
                                }
                                j0 &+= 4
                            }
                        }
                    }
                }
            }
        }
        for ch in 0..<c {
            for t in 0..<taps { dWeight.base[ch * taps + t] += Float(sums[t * c + ch]) }
            if let dBias { dBias.base[ch] += Float(biasSums[ch]) }
        }
        guard let dx else { return }
        // dx = dy (padded) correlated with the flipped kernel: one task per sample and channel block
        flipped.withUnsafeBufferPointer { fb in
            let wf = SharedPointer(fb.baseAddress!)
            parallel.forEach(n &* blockCount) { task in
                let sample = task / blockCount, c0 = (task % blockCount) &* 8, width = min(8, c &- c0)
                let gsample = gs.base + (sample &* gh &* gw &* c &+ c0), out = dxs.base + (sample &* h &* w &* c &+ c0)
                for ih in 0..<h {
                    var iw = 0
                    while iw < w {
                        let m = min(4, w &- iw)
                        var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                        for i in 0..<kh {
                            var pg = gsample + ((ih &+ i) &* gw &+ iw) &* c
                            var pw = wf.base + (i &* kw &* c &+ c0)
                            if width == 8, m == 4 {
                                for _ in 0..<kw {
                                    let wv = Vector.load(pw, 0)
                                    a0 += wv * Vector.load(pg, 0)
                                    a1 += wv * Vector.load(pg + c, 0)
                                    a2 += wv * Vector.load(pg + 2 &* c, 0)
                                    a3 += wv * Vector.load(pg + 3 &* c, 0)
                                    pg += c
                                    pw += c
                                }
                            } else {
                                for _ in 0..<kw {
                                    let wv = DepthwiseKernel.load(pw, width)
                                    a0 += wv * DepthwiseKernel.load(pg, width)
                                    if m > 1 { a1 += wv * DepthwiseKernel.load(pg + c, width) }
                                    if m > 2 { a2 += wv * DepthwiseKernel.load(pg + 2 &* c, width) }
                                    if m > 3 { a3 += wv * DepthwiseKernel.load(pg + 3 &* c, width) }
                                    pg += c
                                    pw += c
                                }
                            }
                        }
                        let o = out + (ih &* w &+ iw) &* c
                        DepthwiseKernel.store(a0, o, width)
                        if m > 1 { DepthwiseKernel.store(a1, o + c, width) }
                        if m > 2 { DepthwiseKernel.store(a2, o + 2 &* c, width) }
                        if m > 3 { DepthwiseKernel.store(a3, o + 3 &* c, width) }
                        iw &+= 4
                    }
                }
            }
        }
        Layout.transpose(dxl, dx.base, n: n, rows: h * w, columns: c, add: accumulate, parallel: parallel)
    }
}
