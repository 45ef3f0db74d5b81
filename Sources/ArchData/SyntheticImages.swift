import ArchTensor
import Foundation

/// Writes a generated ImageFolder (`ROOT/<class>/*.jpg`) whose classes differ in shape and colour
/// (random position, size and noise), to try and test the JPEG workflow without a download.
public enum SyntheticImages {
    public static let classNames = ["circles", "stripes", "squares", "rings", "dots"]

    public static func write(root: String, perClass: Int, width: Int, height: Int, seed: UInt64) throws {
        let codec = JPEGCodec()
        for (label, name) in classNames.enumerated() {
            let dir = "\(root)/\(name)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for n in 0..<perClass {
                var random = RandomSource.stream(seed: seed, UInt64(label), UInt64(n))
                let image = render(label: label, width: width, height: height, random: &random)
                try codec.encode(image, quality: 90).write(to: URL(fileURLWithPath: "\(dir)/\(name)_\(n).jpg"))
            }
        }
    }

    static func render(label: Int, width: Int, height: Int, random: inout RandomSource) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let hue = Float(label) / 5 + random.uniform(-0.05, 0.05)
        let base = (0.5 + 0.4 * sin(2 * Float.pi * hue), 0.5 + 0.4 * sin(2 * Float.pi * (hue + 0.33)), 0.5 + 0.4 * sin(2 * Float.pi * (hue + 0.66)))
        let cx = random.uniform(0.3, 0.7) * Float(width), cy = random.uniform(0.3, 0.7) * Float(height)
        let r = random.uniform(0.15, 0.35) * Float(min(width, height))
        let period = random.uniform(12, 30)
        for y in 0..<height {
            for x in 0..<width {
                let dx = Float(x) - cx, dy = Float(y) - cy
                let d = (dx * dx + dy * dy).squareRoot()
                let inside: Bool
                switch label {
                case 0: inside = d < r
                case 1: inside = sin(Float(x + y) / period * 2 * .pi) > 0.3
                case 2: inside = abs(dx) < r && abs(dy) < r
                case 3: inside = abs(d - r) < r * 0.15
                default: inside = sin(Float(x) / period * 2 * .pi) > 0.6 && sin(Float(y) / period * 2 * .pi) > 0.6
                }
                let noise = random.uniform(-0.08, 0.08)
                let k: Float = inside ? 1 : 0.35
                let o = (y * width + x) * 3
                pixels[o] = UInt8(max(0, min(255, (base.0 * k + noise) * 255)))
                pixels[o + 1] = UInt8(max(0, min(255, (base.1 * k + noise) * 255)))
                pixels[o + 2] = UInt8(max(0, min(255, (base.2 * k + noise) * 255)))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
