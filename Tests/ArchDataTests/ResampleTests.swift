@testable import ArchData
import ArchTensor
import Foundation
import Testing

/// The resampler's fast paths against a plain transcription of Pillow's separable triangle filter
/// (the engine's first implementation): the same bits for float planes and for 8-bit RGB read
/// from a decoded region, shrinking and enlarging, boxes inside the image and at its edges.
@Suite struct ResampleTests {
    /// Per output position: the first source pixel and the normalized weights, as Pillow computes them.
    static func referenceTaps(start: Double, size: Double, source: Int, output: Int) -> [(first: Int, weights: [Float])] {
        let scale = size / Double(output)
        let support = max(scale, 1)
        return (0..<output).map { o in
            let center = start + (Double(o) + 0.5) * scale
            let lo = max(Int((center - support + 0.5).rounded(.down)), 0)
            let hi = min(Int((center + support + 0.5).rounded(.down)), source)
            var weights: [Float] = []
            var total = 0.0
            for i in lo..<max(hi, lo + 1) {
                let w = max(0, 1 - abs((Double(i) + 0.5 - center) / support))
                weights.append(Float(w))
                total += w
            }
            if total > 0 { weights = weights.map { $0 / Float(total) } } else { weights = [1] }
            return (min(lo, source - 1), weights)
        }
    }

    /// [C, H, W] -> [C, oh, ow], horizontal then vertical, every sum in tap order.
    static func reference(_ src: [Float], channels: Int, height: Int, width: Int, box: (x: Double, y: Double, w: Double, h: Double),
                          outHeight: Int, outWidth: Int) -> [Float] {
        let xt = referenceTaps(start: box.x, size: box.w, source: width, output: outWidth)
        let yt = referenceTaps(start: box.y, size: box.h, source: height, output: outHeight)
        var out = [Float](repeating: 0, count: channels * outHeight * outWidth)
        for c in 0..<channels {
            var temp = [Float](repeating: 0, count: height * outWidth)
            for y in 0..<height {
                for (ox, tap) in xt.enumerated() {
                    var s: Float = 0
                    for (k, w) in tap.weights.enumerated() where tap.first + k < width { s += src[c * height * width + y * width + tap.first + k] * w }
                    temp[y * outWidth + ox] = s
                }
            }
            for (oy, tap) in yt.enumerated() {
                for ox in 0..<outWidth {
                    var s: Float = 0
                    for (k, w) in tap.weights.enumerated() where tap.first + k < height { s += temp[(tap.first + k) * outWidth + ox] * w }
                    out[c * outHeight * outWidth + oy * outWidth + ox] = s
                }
            }
        }
        return out
    }

    static let cases: [(height: Int, width: Int, box: (x: Double, y: Double, w: Double, h: Double), outHeight: Int, outWidth: Int)] = [
        (37, 50, (0, 0, 50, 37), 24, 24),       // shrink the whole image
        (37, 50, (3, 5, 31, 22), 24, 24),       // a crop, shrunk
        (37, 50, (19, 17, 31, 20), 9, 13),      // a crop at the right and bottom edges
        (37, 50, (40, 30, 7, 5), 24, 24),       // a small crop, enlarged
        (28, 28, (0, 0, 28, 28), 64, 64),       // Fashion-MNIST enlarged to 64
        (28, 28, (0, 0, 28, 28), 28, 28),       // identity
    ]

    @Test func floatPlanesMatchTheReference() {
        var random = RandomSource(seed: 3)
        for (height, width, box, oh, ow) in Self.cases {
            let src = (0..<(3 * height * width)).map { _ in random.uniform() }
            let expected = Self.reference(src, channels: 3, height: height, width: width, box: box, outHeight: oh, outWidth: ow)
            var got = [Float](repeating: .nan, count: expected.count)
            src.withUnsafeBufferPointer { s in
                got.withUnsafeMutableBufferPointer { d in
                    Resample.resample(s.baseAddress!, channels: 3, height: height, width: width, box: box, outHeight: oh, outWidth: ow, into: d.baseAddress!)
                }
            }
            #expect(got == expected, "\(height)x\(width) box \(box) -> \(oh)x\(ow)")
        }
    }

    /// 8-bit RGB, read from only the region `support` names (copied out of the image, so a read
    /// outside it would change the result), equals the reference on the image scaled by 1/255.
    @Test func rgbRegionMatchesTheReference() {
        var random = RandomSource(seed: 4)
        for (height, width, box, oh, ow) in Self.cases {
            let rgb = (0..<(3 * height * width)).map { _ in UInt8(random.next() % 256) }
            let planes = (0..<3).flatMap { c in (0..<(height * width)).map { Float(rgb[3 * $0 + c]) * (1 / 255 as Float) } }
            let expected = Self.reference(planes, channels: 3, height: height, width: width, box: box, outHeight: oh, outWidth: ow)
            let s = Resample.support(box: box, width: width, height: height, outHeight: oh, outWidth: ow)
            var region: [UInt8] = []
            for y in s.y0..<s.y1 { region += rgb[(3 * (y * width + s.x0))..<(3 * (y * width + s.x1))] }
            var got = [Float](repeating: .nan, count: expected.count)
            region.withUnsafeBufferPointer { r in
                got.withUnsafeMutableBufferPointer { d in
                    Resample.resample(rgb: r.baseAddress!, rowBytes: 3 * (s.x1 - s.x0), originX: s.x0, originY: s.y0, height: height, width: width,
                                      box: box, outHeight: oh, outWidth: ow, into: d.baseAddress!)
                }
            }
            #expect(got == expected, "\(height)x\(width) box \(box) -> \(oh)x\(ow)")
        }
    }
}
