/// Window geometry of max and average pooling; the output size follows PyTorch's rule.
public struct PoolGeometry: Sendable {
    public var channels, inHeight, inWidth, outHeight, outWidth: Int
    public var kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    public var ceilMode: Bool

    public init(channels: Int, inHeight: Int, inWidth: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), ceilMode: Bool) {
        self.channels = channels; self.inHeight = inHeight; self.inWidth = inWidth
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.ceilMode = ceilMode
        outHeight = PoolGeometry.outputSize(inHeight, kernel.0, stride.0, padding.0, ceilMode)
        outWidth = PoolGeometry.outputSize(inWidth, kernel.1, stride.1, padding.1, ceilMode)
    }

    /// PyTorch's `pooling_output_shape`.
    public static func outputSize(_ size: Int, _ k: Int, _ s: Int, _ p: Int, _ ceil: Bool) -> Int {
        let numerator = size + 2 * p - (k - 1) - 1 + (ceil ? s - 1 : 0)
        var out = Int((Double(numerator) / Double(s)).rounded(.down)) + 1
        if ceil, (out - 1) * s >= size + p { out -= 1 }
        return out
    }
}

/// Max pooling: forward records the argmax of each window for the backward. PyTorch's rule: the
/// window is scanned in row-major order from -inf, a value wins if greater or NaN.
public enum MaxPoolKernel {
    // x: [N, C, H, W] -> y: [N, C, Ho, Wo], argmax: [N, C, Ho, Wo] (index into the input plane)
    // Each plane is first copied into a scratch plane bordered with -inf (so no window is clipped:
    // -inf never wins, and PyTorch ignores those positions too), then eight outputs of a row are
    // computed at once, their maximum and argmax kept in registers over the window.
    public static func forward(x: Tensor, y: Tensor, argmax: UnsafeMutablePointer<Int32>, geometry g: PoolGeometry, parallel: Parallelism) {
        let planes = x.shape[0] * g.channels
        let H = g.inHeight, W = g.inWidth, Ho = g.outHeight, Wo = g.outWidth
        let (kh, kw) = g.kernel, (sh, sw) = g.stride, (ph, pw) = g.padding
        let chunks = (Wo + Vector.width - 1) / Vector.width
        // the padded plane covers every window of every (also the last, partial) chunk of lanes
        let paddedHeight = max((Ho - 1) * sh + kh, ph + H), paddedWidth = max((chunks * Vector.width - 1) * sw + kw, pw + W)
        // per chunk of lanes: the input column of each lane's window (kj = 0), and its first valid column
        var laneColumns: [SIMD8<Int32>] = [], laneStarts: [SIMD8<Int32>] = []
        for chunk in 0..<chunks {
            var column = SIMD8<Int32>(), start = SIMD8<Int32>()
            for l in 0..<Vector.width {
                column[l] = Int32(truncatingIfNeeded: (chunk * Vector.width + l) * sw - pw)
                start[l] = max(column[l], 0)
            }
            laneColumns.append(column)
            laneStarts.append(start)
        }
        let parts = min(parallel.threads, planes)
        let sharedArgmax = SharedPointer(argmax), lanes = (columns: laneColumns, starts: laneStarts)  // each part writes its own planes
        parallel.forEach(parts) { part in
            let argmax = sharedArgmax.base, laneColumns = lanes.columns, laneStarts = lanes.starts
            withUnsafeTemporaryAllocation(of: Float.self, capacity: paddedHeight * paddedWidth + 2 * Vector.width) { buffer in
                guard let padded = buffer.baseAddress else { return }  // (never empty: at least one window)
                // the lanes of a partial last chunk go through here (extracting lanes one by one is slow)
                let tailValues = padded + paddedHeight * paddedWidth
                let tailIndices = UnsafeMutableRawPointer(tailValues + Vector.width).bindMemory(to: Int32.self, capacity: Vector.width)
                padded.initialize(repeating: -.infinity, count: paddedHeight * paddedWidth)
                for p in (planes * part / parts)..<(planes * (part + 1) / parts) {
                    let src = x.base + p * H * W
                    for ih in 0..<H { Vector.copy(src + ih * W, padded + (ih + ph) * paddedWidth + pw, W) }
                    for oh in 0..<Ho {
                        let h0 = oh * sh - ph, hs = max(h0, 0)
                        let out = y.base + (p * Ho + oh) * Wo, at = argmax + (p * Ho + oh) * Wo
                        for chunk in 0..<chunks {
                            let ow0 = chunk * Vector.width
                            let columns = laneColumns[chunk]
                            var best = Vector.F8(repeating: -.infinity)
                            var index = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: hs * W)) &+ laneStarts[chunk]
                            for ki in 0..<kh {
                                let ih = h0 + ki
                                let row = padded + (ih + ph) * paddedWidth + ow0 * sw
                                for kj in 0..<kw {
                                    let v: Vector.F8
                                    if sw == 1 {
                                        v = Vector.load(row, kj)
                                    } else if sw == 2 {
                                        // lanes 0, 2, ..., 14 of sixteen floats (the buffer's tail area covers the read past the last row)
                                        v = UnsafeRawPointer(row + kj).loadUnaligned(as: SIMD16<Float>.self).evenHalf
                                    } else {
                                        let r = row + kj
                                        v = Vector.F8(r[0], r[sw], r[2 * sw], r[3 * sw], r[4 * sw], r[5 * sw], r[6 * sw], r[7 * sw])
                                    }
                                    let wins = (v .> best) .| (v .!= v)
                                    best.replace(with: v, where: wins)
                                    index.replace(with: SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: ih * W + kj)) &+ columns, where: wins)
                                }
                            }
                            // a partial last chunk may spill into the plane's next rows, computed after this
                            // one, never past the plane (another thread's); near its end lane by lane
                            if ow0 + Vector.width <= Wo || oh * Wo + ow0 + Vector.width <= Ho * Wo {
                                Vector.store(best, out, ow0)
                                Vector.store(index, at, ow0)
                            } else {
                                Vector.store(best, tailValues, 0)
                                Vector.store(index, tailIndices, 0)
                                for l in 0..<(Wo - ow0) { out[ow0 + l] = tailValues[l]; at[ow0 + l] = tailIndices[l] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The same result window by window, the reference `forward` is tested against.
    public static func naiveForward(x: Tensor, y: Tensor, argmax: UnsafeMutablePointer<Int32>, geometry g: PoolGeometry) {
        let planes = x.shape[0] * g.channels
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        for p in 0..<planes {
            let src = x.base + p * inPlane
            for oh in 0..<g.outHeight {
                let h0 = oh * g.stride.0 - g.padding.0, h1 = min(h0 + g.kernel.0, g.inHeight), hs = max(h0, 0)
                for ow in 0..<g.outWidth {
                    let w0 = ow * g.stride.1 - g.padding.1, w1 = min(w0 + g.kernel.1, g.inWidth), ws = max(w0, 0)
                    var best = -Float.infinity, at = hs * g.inWidth + ws
                    for ih in hs..<max(h1, hs) {
                        for iw in ws..<max(w1, ws) {
                            let v = src[ih * g.inWidth + iw]
                            if v > best || v.isNaN { best = v; at = ih * g.inWidth + iw }
                        }
                    }
                    y.base[p * outPlane + oh * g.outWidth + ow] = best
                    argmax[p * outPlane + oh * g.outWidth + ow] = Int32(at)
                }
            }
        }
    }

    // dy: [N, C, Ho, Wo] -> dx: [N, C, H, W] (written, or added to with accumulate)
    public static func backward(dy: Tensor, dx: Tensor, argmax: UnsafePointer<Int32>, geometry g: PoolGeometry,
                                accumulate: Bool, parallel: Parallelism) {
        let planes = dy.shape[0] * g.channels
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth, sharedArgmax = SharedPointer(argmax)  // read only
        parallel.forEach(planes) { p in
            let dst = dx.base + p * inPlane, src = dy.base + p * outPlane, idx = sharedArgmax.base + p * outPlane
            if !accumulate { dst.update(repeating: 0, count: inPlane) }
            for i in 0..<outPlane where idx[i] >= 0 { dst[Int(idx[i])] += src[i] }
        }
    }
}

/// Average pooling with PyTorch's divisor rule: with `count_include_pad` the divisor is the window
/// clipped to the padded input; without it, the window clipped to the input.
public enum AvgPoolKernel {
    @inline(__always)
    static func window(_ o: Int, _ k: Int, _ s: Int, _ p: Int, _ size: Int) -> (lo: Int, hi: Int, padded: Int) {
        let start = o * s - p
        let end = min(start + k, size + p)
        return (max(start, 0), min(end, size), end - start)
    }

    // x: [N, C, H, W] -> y: [N, C, Ho, Wo]
    public static func forward(x: Tensor, y: Tensor, geometry g: PoolGeometry, countIncludePad: Bool, parallel: Parallelism) {
        let planes = x.shape[0] * g.channels
        parallel.forEach(planes) { p in
            let src = x.base + p * g.inHeight * g.inWidth, dst = y.base + p * g.outHeight * g.outWidth
            for oh in 0..<g.outHeight {
                let (h0, h1, hp) = window(oh, g.kernel.0, g.stride.0, g.padding.0, g.inHeight)
                for ow in 0..<g.outWidth {
                    let (w0, w1, wp) = window(ow, g.kernel.1, g.stride.1, g.padding.1, g.inWidth)
                    var sum: Float = 0
                    for ih in h0..<max(h1, h0) { for iw in w0..<max(w1, w0) { sum += src[ih * g.inWidth + iw] } }
                    let divisor = countIncludePad ? hp * wp : max(h1 - h0, 0) * max(w1 - w0, 0)
                    dst[oh * g.outWidth + ow] = divisor > 0 ? sum / Float(divisor) : 0
                }
            }
        }
    }

    // dy: [N, C, Ho, Wo] -> dx: [N, C, H, W]
    public static func backward(dy: Tensor, dx: Tensor, geometry g: PoolGeometry, countIncludePad: Bool, accumulate: Bool, parallel: Parallelism) {
        let planes = dy.shape[0] * g.channels
        parallel.forEach(planes) { p in
            let dst = dx.base + p * g.inHeight * g.inWidth, src = dy.base + p * g.outHeight * g.outWidth
            if !accumulate { dst.update(repeating: 0, count: g.inHeight * g.inWidth) }
            for oh in 0..<g.outHeight {
                let (h0, h1, hp) = window(oh, g.kernel.0, g.stride.0, g.padding.0, g.inHeight)
                for ow in 0..<g.outWidth {
                    let (w0, w1, wp) = window(ow, g.kernel.1, g.stride.1, g.padding.1, g.inWidth)
                    let divisor = countIncludePad ? hp * wp : max(h1 - h0, 0) * max(w1 - w0, 0)
                    guard divisor > 0 else { continue }
                    let share = src[oh * g.outWidth + ow] / Float(divisor)
                    for ih in h0..<max(h1, h0) { for iw in w0..<max(w1, w0) { dst[ih * g.inWidth + iw] += share } }
                }
            }
        }
    }
}

/// Adaptive average pooling: cell i averages input rows floor(i*H/out) ..< ceil((i+1)*H/out).
public enum AdaptiveAvgPoolKernel {
    @inline(__always)
    static func range(_ i: Int, _ input: Int, _ output: Int) -> (Int, Int) {
        ((i * input) / output, ((i + 1) * input + output - 1) / output)
    }

    // x: [N, C, H, W] -> y: [N, C, oh, ow]
    public static func forward(x: Tensor, y: Tensor, outHeight: Int, outWidth: Int, parallel: Parallelism) {
        let (n, c, H, W) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        parallel.forEach(n * c) { p in
            let src = x.base + p * H * W, dst = y.base + p * outHeight * outWidth
            for oh in 0..<outHeight {
                let (h0, h1) = range(oh, H, outHeight)
                for ow in 0..<outWidth {
                    let (w0, w1) = range(ow, W, outWidth)
                    var sum: Float = 0
                    for ih in h0..<h1 { for iw in w0..<w1 { sum += src[ih * W + iw] } }
                    dst[oh * outWidth + ow] = sum / Float((h1 - h0) * (w1 - w0))
                }
            }
        }
    }

    // dy: [N, C, oh, ow] -> dx: [N, C, H, W]
    public static func backward(dy: Tensor, dx: Tensor, accumulate: Bool, parallel: Parallelism) {
        let (n, c, H, W) = (dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3])
        let (outHeight, outWidth) = (dy.shape[2], dy.shape[3])
        parallel.forEach(n * c) { p in
            let dst = dx.base + p * H * W, src = dy.base + p * outHeight * outWidth
            if !accumulate { dst.update(repeating: 0, count: H * W) }
            for oh in 0..<outHeight {
                let (h0, h1) = range(oh, H, outHeight)
                for ow in 0..<outWidth {
                    let (w0, w1) = range(ow, W, outWidth)
                    let share = src[oh * outWidth + ow] / Float((h1 - h0) * (w1 - w0))
                    for ih in h0..<h1 { for iw in w0..<w1 { dst[ih * W + iw] += share } }
                }
            }
        }
    }
}
