import Foundation

/// Separable resampling with a triangle (bilinear) filter whose support widens when shrinking,
/// as Pillow's `resize(BILINEAR)` and torchvision's antialiased resize do; when enlarging it
/// equals `F.interpolate(mode="bilinear", align_corners=False)`.
///
/// Horizontal pass first, then vertical, each output a sum over its taps in order; every path
/// (float planes, 8-bit RGB) gives the same bits as `ResampleReference` (tests).
enum Resample {
    /// The taps of one axis, flattened: output `o` reads `count[o]` source positions from
    /// `first[o]`, with weights `weights[offset[o] ..< offset[o] + count[o]]`.
    struct Taps {
        var first: [Int] = [], count: [Int] = [], offset: [Int] = [], weights: [Float] = []
        /// Source positions read by any output: `lo ..< hi`.
        var lo: Int { zip(first, count).map { $0.0 }.min() ?? 0 }
        var hi: Int { zip(first, count).map { $0.0 + $0.1 }.max() ?? 0 }

        /// The source box [start, start + size) along an axis of `source` pixels mapped onto `output` positions.
        init(start: Double, size: Double, source: Int, output: Int) {
            let scale = size / Double(output)
            let support = max(scale, 1)
            for o in 0..<output {
                let center = start + (Double(o) + 0.5) * scale
                let lo = max(Int((center - support + 0.5).rounded(.down)), 0)
                let hi = min(Int((center + support + 0.5).rounded(.down)), source)
                var w: [Float] = []
                var total = 0.0
                for i in lo..<max(hi, lo + 1) {
                    let v = max(0, 1 - abs((Double(i) + 0.5 - center) / support))
                    w.append(Float(v))
                    total += v
                }
                if total > 0 { w = w.map { $0 / Float(total) } } else { w = [1] }
                let f = min(lo, source - 1)
                // positions past the source edge carry no weight (a box that ends at the edge)
                let n = min(w.count, source - f)
                first.append(f)
                count.append(n)
                offset.append(weights.count)
                weights += w[..<n]
            }
        }
    }

    /// The source rectangle (x0 ..< x1, y0 ..< y1) a resample of `box` reads: what a decoder must
    /// provide when it decodes only part of an image.
    static func support(box: (x: Double, y: Double, w: Double, h: Double), width: Int, height: Int,
                        outHeight: Int, outWidth: Int) -> (x0: Int, x1: Int, y0: Int, y1: Int) {
        let xt = Taps(start: box.x, size: box.w, source: width, output: outWidth)
        let yt = Taps(start: box.y, size: box.h, source: height, output: outHeight)
        return (xt.lo, xt.hi, yt.lo, yt.hi)
    }

    /// src: [C, H, W] float planes; box in source pixels -> dst: [C, outH, outW].
    static func resample(_ src: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                         box: (x: Double, y: Double, w: Double, h: Double), outHeight: Int, outWidth: Int,
                         into dst: UnsafeMutablePointer<Float>) {
        let xt = Taps(start: box.x, size: box.w, source: width, output: outWidth)
        let yt = Taps(start: box.y, size: box.h, source: height, output: outHeight)
        let (rowLo, rowHi) = (yt.lo, yt.hi)
        let temp = UnsafeMutablePointer<Float>.allocate(capacity: max(1, (rowHi - rowLo) * outWidth))
        defer { temp.deallocate() }
        for c in 0..<channels {
            let plane = src + c * height * width
            for y in rowLo..<rowHi {
                horizontal(plane + y * width, xt, into: temp + (y - rowLo) * outWidth)
            }
            vertical(temp, rowLo: rowLo, yt, width: outWidth, into: dst + c * outHeight * outWidth)
        }
    }

    /// src: 8-bit RGB, `rowBytes` apart, its first pixel at source position (`originX`, `originY`)
    /// of a `width` x `height` image (a decoded region must cover `support`); values are scaled by
    /// 1/255 -> dst: [3, outH, outW].
    static func resample(rgb src: UnsafePointer<UInt8>, rowBytes: Int, originX: Int, originY: Int, height: Int, width: Int,
                         box: (x: Double, y: Double, w: Double, h: Double), outHeight: Int, outWidth: Int,
                         into dst: UnsafeMutablePointer<Float>) {
        let xt = Taps(start: box.x, size: box.w, source: width, output: outWidth)
        let yt = Taps(start: box.y, size: box.h, source: height, output: outHeight)
        let (rowLo, rowHi, colLo, colHi) = (yt.lo, yt.hi, xt.lo, xt.hi)
        let rows = rowHi - rowLo
        // one row of the region as float RGBx, then each tap is one 4-lane multiply-add
        let line = UnsafeMutablePointer<SIMD4<Float>>.allocate(capacity: max(1, colHi - colLo))
        let temp = UnsafeMutablePointer<SIMD4<Float>>.allocate(capacity: max(1, rows * outWidth))
        defer { line.deallocate(); temp.deallocate() }
        let scale: Float = 1 / 255
        for y in rowLo..<rowHi {
            let row = src + (y - originY) * rowBytes + (colLo - originX) * 3
            for i in 0..<(colHi - colLo) {
                line[i] = SIMD4(Float(row[3 * i]) * scale, Float(row[3 * i + 1]) * scale, Float(row[3 * i + 2]) * scale, 0)
            }
            let out = temp + (y - rowLo) * outWidth
            xt.weights.withUnsafeBufferPointer { w in
                for o in 0..<outWidth {
                    let p = line + (xt.first[o] - colLo), ws = w.baseAddress! + xt.offset[o]
                    var s = SIMD4<Float>()
                    for k in 0..<xt.count[o] { s += p[k] * ws[k] }
                    out[o] = s
                }
            }
        }
        let plane = outHeight * outWidth
        yt.weights.withUnsafeBufferPointer { w in
            let acc = UnsafeMutablePointer<SIMD4<Float>>.allocate(capacity: outWidth)
            defer { acc.deallocate() }
            for o in 0..<outHeight {
                acc.initialize(repeating: SIMD4<Float>(), count: outWidth)
                let ws = w.baseAddress! + yt.offset[o]
                for k in 0..<yt.count[o] {
                    let r = temp + (yt.first[o] + k - rowLo) * outWidth, wk = ws[k]
                    for x in 0..<outWidth { acc[x] += r[x] * wk }
                }
                for x in 0..<outWidth {
                    dst[o * outWidth + x] = acc[x][0]
                    dst[plane + o * outWidth + x] = acc[x][1]
                    dst[2 * plane + o * outWidth + x] = acc[x][2]
                }
            }
        }
    }

    private static func horizontal(_ line: UnsafePointer<Float>, _ t: Taps, into out: UnsafeMutablePointer<Float>) {
        t.weights.withUnsafeBufferPointer { w in
            for o in 0..<t.first.count {
                let p = line + t.first[o], ws = w.baseAddress! + t.offset[o]
                var s: Float = 0
                for k in 0..<t.count[o] { s += p[k] * ws[k] }
                out[o] = s
            }
        }
    }

    private static func vertical(_ temp: UnsafePointer<Float>, rowLo: Int, _ t: Taps, width: Int, into out: UnsafeMutablePointer<Float>) {
        t.weights.withUnsafeBufferPointer { w in
            for o in 0..<t.first.count {
                let row = out + o * width, ws = w.baseAddress! + t.offset[o]
                row.update(repeating: 0, count: width)
                for k in 0..<t.count[o] {
                    let r = temp + (t.first[o] + k - rowLo) * width, wk = ws[k]
                    for x in 0..<width { row[x] += r[x] * wk }
                }
            }
        }
    }
}
