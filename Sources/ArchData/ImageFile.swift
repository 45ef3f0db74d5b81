import ArchTensor
import Foundation

/// One image read from a file for prediction, as the network's `channels` expect it, pixels in
/// [0, 1] (CHW):
/// - JPEG (libjpeg-turbo) or PNG (libpng, any bit depth and colour type, alpha dropped): colour, converted to one channel when the network was trained on
///   grayscale data with ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B, what Pillow's
///   `convert("L")` computes);
/// - `.npy`: float32 [C, H, W], [1, C, H, W] or [H, W] (one channel), values in [0, 1] as
///   `archlab data sample` writes them.
public enum ImageFile {
    public static func read(_ path: String, channels: Int) throws -> ImageSet {
        if path.lowercased().hasSuffix(".npy") { return try readNumPy(path, channels: channels) }
        guard [1, 3].contains(channels) else { throw DataError(path, "a JPEG or PNG gives 1 or 3 channels; the network expects \(channels)") }
        let image = try ImageDecoder.decode(file: path)
        let plane = image.width * image.height
        var pixels = [Float](repeating: 0, count: channels * plane)
        image.pixels.withUnsafeBufferPointer { px in
            for i in 0..<plane {
                let r = Float(px[3 * i]), g = Float(px[3 * i + 1]), b = Float(px[3 * i + 2])
                if channels == 1 {
                    pixels[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255
                } else {
                    pixels[i] = r / 255; pixels[plane + i] = g / 255; pixels[2 * plane + i] = b / 255
                }
            }
        }
        return ImageSet(channels: channels, height: image.height, width: image.width, pixels: pixels, labels: [0], classNames: ["?"])
    }

    static func readNumPy(_ path: String, channels: Int) throws -> ImageSet {
        let array: NumPy.Array
        do { array = try NumPy.read(path) } catch let e as TensorFileError { throw DataError(path, e.message) }
        guard case let .float32(t) = array else { throw DataError(path, "expected float32 pixels in [0, 1], found int64 values") }
        var shape = t.shape
        if shape.count == 4, shape[0] == 1 { shape.removeFirst() }
        if shape.count == 2 { shape.insert(1, at: 0) }
        guard shape.count == 3, shape[0] == channels else {
            throw DataError(path, "expected an image of \(channels) channel(s) as [\(channels), H, W], found shape \(t.shape)")
        }
        return ImageSet(channels: channels, height: shape[1], width: shape[2], pixels: t.values, labels: [0], classNames: ["?"])
    }

    /// Writes sample `index` of `set` (untransformed) as `.npy` (float32 [C, H, W]), PNG
    /// (lossless) or JPEG (grayscale samples as three equal channels).
    public static func write(_ set: ImageSet, index: Int, to path: String) throws {
        let sample = Array(set.pixels[(index * set.sampleSize)..<((index + 1) * set.sampleSize)])
        if path.lowercased().hasSuffix(".npy") {
            do { try NumPy.write(Tensor(shape: [set.channels, set.height, set.width], values: sample), to: path) }
            catch let e as TensorFileError { throw DataError(path, e.message) }
            return
        }
        let png = path.lowercased().hasSuffix(".png")
        guard png || path.lowercased().hasSuffix(".jpg") || path.lowercased().hasSuffix(".jpeg") else {
            throw DataError(path, "expected a .npy, .png, .jpg or .jpeg output path")
        }
        let plane = set.height * set.width
        var bytes = [UInt8](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 {
                let v = sample[(set.channels == 1 ? 0 : c) * plane + i]
                bytes[3 * i + c] = UInt8(max(0, min(255, (v * 255).rounded())))
            }
        }
        let rgb = RGBImage(width: set.width, height: set.height, pixels: bytes)
        let data = png ? try PNGCodec.encode(rgb) : try JPEGCodec.perThread.encode(rgb, quality: 95)
        guard FileManager.default.createFile(atPath: path, contents: data) else { throw DataError(path, "cannot write the file") }
    }
}
