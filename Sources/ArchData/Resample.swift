import Foundation

/// Separable resampling with a triangle (bilinear) filter whose support widens when shrinking,
/// as Pillow's `resize(BILINEAR)` and torchvision's antialiased resize do; when enlarging it
/// equals `F.interpolate(mode="bilinear", align_corners=False)`.
enum Resample {
    /// Filter taps for each output position along one axis: the source box [start, start + size)
    /// mapped onto `output` positions.
    static func taps(start: Double, size: Double, source: Int, output: Int) -> [(first: Int, weights: [Float])] {
        let scale = size / Double(output)
        let filterScale = max(scale, 1)
        let support = filterScale
        return (0..<output).map { o in
            let center = start + (Double(o) + 0.5) * scale
            let lo = max(Int((center - support + 0.5).rounded(.down)), 0)
            let hi = min(Int((center + support + 0.5).rounded(.down)), source)
            var weights: [Float] = []
            var total = 0.0
            for i in lo..<max(hi, lo + 1) {
                let w = max(0, 1 - abs((Double(i) + 0.5 - center) / filterScale))
                weights.append(Float(w))
                total += w
            }
            if total > 0 { weights = weights.map { $0 / Float(total) } } else { weights = [1] }
            return (min(lo, source - 1), weights)
        }
    }

    // src: [C, H, W] planes; box in source pixels -> dst: [C, outH, outW]
    static func resample(_ src: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                         box: (x: Double, y: Double, w: Double, h: Double), outHeight: Int, outWidth: Int,
                         into dst: UnsafeMutablePointer<Float>) {
        let xt = taps(start: box.x, size: box.w, source: width, output: outWidth)
        let yt = taps(start: box.y, size: box.h, source: height, output: outHeight)
        let rowLo = yt.map(\.first).min() ?? 0
        let rowHi = yt.map { $0.first + $0.weights.count }.max() ?? height
        var temp = [Float](repeating: 0, count: (rowHi - rowLo) * outWidth)
        for c in 0..<channels {
            let plane = src + c * height * width
            for y in rowLo..<min(rowHi, height) {
                let line = plane + y * width
                for (ox, tap) in xt.enumerated() {
                    var s: Float = 0
                    for (k, w) in tap.weights.enumerated() where tap.first + k < width { s += line[tap.first + k] * w }
                    temp[(y - rowLo) * outWidth + ox] = s
                }
            }
            let out = dst + c * outHeight * outWidth
            for (oy, tap) in yt.enumerated() {
                for ox in 0..<outWidth {
                    var s: Float = 0
                    for (k, w) in tap.weights.enumerated() where tap.first + k < height { s += temp[(tap.first + k - rowLo) * outWidth + ox] * w }
                    out[oy * outWidth + ox] = s
                }
            }
        }
    }
}
