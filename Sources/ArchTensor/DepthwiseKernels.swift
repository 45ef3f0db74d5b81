/// Depthwise convolution (one input and one output channel per group) computed directly in a
/// channels-last copy, eight channels per vector, over the taps that fall inside the image only.
///
/// Why: oneDNN 2.6 has JIT depthwise kernels for the weights gradient only at 3x3; at 5x5 and 7x7
/// it falls back to a GEMM implementation (measured: 14 ms per step for ConvNeXt's 96-channel 7x7
/// at 16x16, batch 16, against 0.28 ms for the forward), and its 7x7 forward on ConvNeXt's last
/// 2x2 maps took 10 ms for 49 thousand useful multiply-adds. A first direct kernel here, channel by
/// channel in NCHW, still spent 7-11 ms per layer in loops of one or two vectors over 16-wide rows.
/// Channels-last makes the vector run along the channels (96-768 in ConvNeXt), every tap a
/// contiguous load, whatever the map size.
///
/// The scratch holds the channels-last copies: `scratchCount` floats.
public enum DepthwiseKernel {
    /// The forward runs here only on maps of at most this many positions: on larger ones oneDNN's
    /// forward is faster (ConvNeXt-Tiny at 64x64, batch 16: 0.6 against 4.2 ms at 16x16), on
    /// ConvNeXt's 2x2 last stage it took 10 ms where this takes under 1.
    public static let maxForwardPositions = 4

    /// Whether `g` is depthwise: groups equal to the input and output channels.
    public static func applies(_ g: ConvGeometry) -> Bool { g.groups == g.inChannels && g.groups == g.outChannels }

    /// Floats of scratch `forward` and `backward` need for a batch of `n`.
    public static func scratchCount(_ g: ConvGeometry, batch n: Int) -> Int {
        max(n * g.inChannels * (2 * g.inHeight * g.inWidth + g.outHeight * g.outWidth),
            DepthwiseStrideOne.applies(g) ? DepthwiseStrideOne.scratchCount(g, batch: n) : 0)
    }

    /// The output columns `o` whose input column `o * stride + start` lies in `0..<size`.
    @inline(__always) static func validRange(out: Int, size: Int, stride: Int, start: Int) -> Range<Int> {
        let lo = start >= 0 ? 0 : (-start + stride - 1) / stride
        let hiExclusive = size - start <= 0 ? 0 : (size - start - 1) / stride + 1
        return lo..<max(lo, min(out, hiExclusive))
    }

    /// Channel blocks a loop is split into (8 channels, or fewer at the end).
    static func blocks(_ c: Int) -> Int { (c + 7) / 8 }

    // x: [N, C, H, W], weight: [C, 1, kh, kw], bias: [C] -> y: [N, C, Ho, Wo].
    public static func forward(x: Tensor, weight: Tensor, bias: Tensor?, y: Tensor, geometry g: ConvGeometry, scratch: Tensor,
                               parallel: Parallelism) {
        let n = x.shape[0], c = g.inChannels, h = g.inHeight, w = g.inWidth, ho = g.outHeight, wo = g.outWidth
        let (kh, kw) = g.kernel
        precondition(scratch.capacity >= scratchCount(g, batch: n))
        let xl = scratch.base, yl = scratch.base + n * c * h * w
        Layout.transpose(x.base, xl, n: n, rows: c, columns: h * w, parallel: parallel)
        let wt = channelsLastWeights(weight, c: c, taps: kh * kw)
        let xs = SharedPointer(xl), ys = SharedPointer(yl)
        let bs = bias.map { SharedPointer($0.base) }
        wt.withUnsafeBufferPointer { wtb in
            let wp = SharedPointer(UnsafeMutablePointer(mutating: wtb.baseAddress!))
            // one task per sample and block of 8 channels; taps outermost, the output block stays in cache
            let blockCount = blocks(c)
            parallel.forEach(n * blockCount) { task in
                let sample = task / blockCount, c0 = (task % blockCount) &* 8, width = min(8, c &- c0)
                let xsample = xs.base + (sample &* h &* w &* c &+ c0), out = ys.base + (sample &* ho &* wo &* c &+ c0)
                let initial = bs.map { load($0.base + c0, width) } ?? SIMD8<Float>(repeating: 0)
                for p in 0..<(ho &* wo) { store(initial, out + p &* c, width) }
                for i in 0..<kh {
                    for j in 0..<kw {
                        let wv = load(wp.base + ((i &* kw &+ j) &* c &+ c0), width)
                        let columns = validRange(out: wo, size: w, stride: g.stride.1, start: j &* g.dilation.1 &- g.padding.1)
                        guard !columns.isEmpty else { continue }
                        for oh in 0..<ho {
                            let ih = oh &* g.stride.0 &- g.padding.0 &+ i &* g.dilation.0
                            guard ih >= 0, ih < h else { continue }
                            var px = xsample + (ih &* w &+ columns.lowerBound &* g.stride.1 &- g.padding.1 &+ j &* g.dilation.1) &* c
                            var py = out + (oh &* wo &+ columns.lowerBound) &* c
                            let step = g.stride.1 &* c
                            if width == 8 {
                                for _ in columns {
                                    Vector.store(Vector.load(py, 0) + wv * Vector.load(px, 0), py, 0)
                                    px += step
                                    py += c
                                }
                            } else {
                                for _ in columns {
                                    store(load(py, width) + wv * load(px, width), py, width)
                                    px += step
                                    py += c
                                }
                            }
                        }
                    }
                }
            }
        }
        Layout.transpose(yl, y.base, n: n, rows: ho * wo, columns: c, parallel: parallel)
    }

    // x: [N, C, H, W], dy: [N, C, Ho, Wo], weight: [C, 1, kh, kw].
    // dWeight[c] += sum dy * shifted x; dBias[c] += sum dy; dx = sum of dy shifted back, times the
    // weights (written, or added to with `accumulate`).
    public static func backward(x: Tensor, weight: Tensor, dy: Tensor, dx: Tensor?, dWeight: Tensor, dBias: Tensor?,
                                geometry g: ConvGeometry, scratch: Tensor, accumulate: Bool, parallel: Parallelism) {
        if DepthwiseStrideOne.applies(g) {
            return DepthwiseStrideOne.backward(x: x, weight: weight, dy: dy, dx: dx, dWeight: dWeight, dBias: dBias, geometry: g,
                                               scratch: scratch, accumulate: accumulate, parallel: parallel)
        }
        let n = x.shape[0], c = g.inChannels, h = g.inHeight, w = g.inWidth, ho = g.outHeight, wo = g.outWidth
        let taps = g.kernel.0 * g.kernel.1
        precondition(scratch.capacity >= scratchCount(g, batch: n))
        let xl = scratch.base, dxl = scratch.base + n * c * h * w, dyl = scratch.base + 2 * n * c * h * w
        Layout.transpose(x.base, xl, n: n, rows: c, columns: h * w, parallel: parallel)
        Layout.transpose(dy.base, dyl, n: n, rows: c, columns: ho * wo, parallel: parallel)
        let wt = channelsLastWeights(weight, c: c, taps: taps), pairs = TapPairs(g)
        // the weight gradient per tap and channel, summed in Double over samples
        var sums = [Double](repeating: 0, count: taps * c), biasSums = [Double](repeating: 0, count: c)
        let xs = SharedPointer(xl), dxs = SharedPointer(dxl), dys = SharedPointer(dyl)
        let wantDx = dx != nil
        wt.withUnsafeBufferPointer { wtb in
            sums.withUnsafeMutableBufferPointer { sb in
                biasSums.withUnsafeMutableBufferPointer { bb in
                    pairs.withPointers { starts, inputs, tapOf in
                        let wp = SharedPointer(UnsafeMutablePointer(mutating: wtb.baseAddress!))
                        let sp = SharedPointer(sb.baseAddress!), bp = SharedPointer(bb.baseAddress!)
                        // each block of 8 channels is one task: its gradients touch only its channels
                        parallel.forEach(blocks(c)) { block in
                            let c0 = block &* 8, width = min(8, c &- c0)
                            let acc = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: taps)
                            defer { acc.deallocate() }
                            for sample in 0..<n {
                                let xsample = xs.base + (sample &* h &* w &* c &+ c0), dxsample = dxs.base + (sample &* h &* w &* c &+ c0)
                                let dysample = dys.base + (sample &* ho &* wo &* c &+ c0), weights = wp.base + c0
                                if wantDx { for p in 0..<(h &* w) { store(SIMD8(repeating: 0), dxsample + p &* c, width) } }
                                acc.update(repeating: SIMD8(repeating: 0), count: taps)
                                var biasSum = SIMD8<Float>(repeating: 0)
                                // each output position against the inputs its taps reach: a tap's sum
                                // runs over the output positions in order
                                for p in 0..<(ho &* wo) {
                                    let gv = load(dysample + p &* c, width)
                                    biasSum += gv
                                    let entries = Int(starts.base[p])..<Int(starts.base[p &+ 1])
                                    if width == 8 && wantDx {  // the common case, without per-entry branches
                                        for e in entries {
                                            let q = Int(inputs.base[e]) &* c, t = Int(tapOf.base[e])
                                            acc[t] += gv * Vector.load(xsample, q)
                                            Vector.store(Vector.load(dxsample, q) + gv * Vector.load(weights, t &* c), dxsample, q)
                                        }
                                        continue
                                    }
                                    for e in entries {
                                        let q = Int(inputs.base[e]) &* c, t = Int(tapOf.base[e])
                                        acc[t] += gv * load(xsample + q, width)
                                        if wantDx { store(load(dxsample + q, width) + gv * load(weights + t &* c, width), dxsample + q, width) }
                                    }
                                }
                                for k in 0..<width { bp.base[c0 &+ k] += Double(biasSum[k]) }
                                for t in 0..<taps { for k in 0..<width { sp.base[t &* c &+ c0 &+ k] += Double(acc[t][k]) } }
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
        if let dx { Layout.transpose(dxl, dx.base, n: n, rows: h * w, columns: c, add: accumulate, parallel: parallel) }
    }

    /// The taps of `g` that land inside the input, as (output position, input position, tap)
    /// triples grouped by output position: entries `starts[p] ..< starts[p + 1]` of `inputs` and
    /// `taps` belong to output position p. A small map's loops then run over exactly the valid
    /// products, with no bounds arithmetic per tap and row.
    struct TapPairs {
        var starts: [Int32] = [0], inputs: [Int32] = [], taps: [Int32] = []

        init(_ g: ConvGeometry) {
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for i in 0..<g.kernel.0 {
                        let ih = oh * g.stride.0 - g.padding.0 + i * g.dilation.0
                        guard ih >= 0, ih < g.inHeight else { continue }
                        for j in 0..<g.kernel.1 {
                            let iw = ow * g.stride.1 - g.padding.1 + j * g.dilation.1
                            guard iw >= 0, iw < g.inWidth else { continue }
                            inputs.append(Int32(ih * g.inWidth + iw))
                            taps.append(Int32(i * g.kernel.1 + j))
                        }
                    }
                    starts.append(Int32(inputs.count))
                }
            }
        }

        func withPointers(_ body: (SharedPointer<Int32>, SharedPointer<Int32>, SharedPointer<Int32>) -> Void) {
            starts.withUnsafeBufferPointer { s in inputs.withUnsafeBufferPointer { i in taps.withUnsafeBufferPointer { t in
                body(SharedPointer(UnsafeMutablePointer(mutating: s.baseAddress!)), SharedPointer(UnsafeMutablePointer(mutating: i.baseAddress ?? s.baseAddress!)),
                     SharedPointer(UnsafeMutablePointer(mutating: t.baseAddress ?? s.baseAddress!)))
            }}}
        }
    }

    /// [C, 1, kh, kw] -> [kh * kw, C].
    static func channelsLastWeights(_ weight: Tensor, c: Int, taps: Int) -> [Float] {
        var out = [Float](repeating: 0, count: taps * c)
        for ch in 0..<c { for t in 0..<taps { out[t * c + ch] = weight.base[ch * taps + t] } }
        return out
    }

    /// `width` (1-8) floats as a vector, zeros beyond.
    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ width: Int) -> SIMD8<Float> {
        if width == 8 { return Vector.load(p, 0) }
        var v = SIMD8<Float>(repeating: 0)
        for k in 0..<width { v[k] = p[k] }
        return v
    }

    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>, _ width: Int) -> SIMD8<Float> { load(UnsafePointer(p), width) }

    @inline(__always) static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ width: Int) {
        if width == 8 { return Vector.store(v, p, 0) }
        for k in 0..<width { p[k] = v[k] }
    }
}
