internal import CPNG
import Foundation

/// PNG decoding and encoding through libpng's simplified API: any PNG (gray, palette, 16-bit,
/// with alpha) read as 8-bit RGB (16-bit samples rounded, not gamma-converted), alpha dropped as
/// Pillow's `convert("RGB")` drops it;
/// the declared size is checked against `JPEGCodec.maxPixels` before pixels are allocated.
public enum PNGCodec {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func isPNG(_ data: Data) -> Bool { data.starts(with: signature) }

    public static func decode(_ data: Data, name: String) throws -> RGBImage {
        guard isPNG(data) else { throw DataError(name, "not a PNG image (no PNG signature)") }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let bytes = [UInt8](data)
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw DataError(name, "not a readable PNG image: \(message(image))") }
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width * height <= JPEGCodec.maxPixels else {
            throw DataError(name, "PNG of \(width)x\(height) pixels; at most \(JPEGCodec.maxPixels) are read")
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        if image.format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0 {
            // 16-bit samples: read them as they are (libpng would otherwise take them for linear
            // light and gamma-encode them) and round to 8 bits, v * 255 / 65535
            image.format = UInt32(PNG_FORMAT_LINEAR_RGB)
            var wide = [UInt16](repeating: 0, count: width * height * 3)
            let finished = wide.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(width * 3), nil) }
            guard finished != 0 else { throw DataError(name, "PNG decoding failed: \(message(image))") }
            for i in wide.indices { pixels[i] = UInt8((UInt32(wide[i]) * 255 + 32767) / 65535) }
        } else {
            image.format = UInt32(PNG_FORMAT_RGB)  // alpha is dropped: composited on black (background nil)
            let finished = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(width * 3), nil) }
            guard finished != 0 else { throw DataError(name, "PNG decoding failed: \(message(image))") }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// An 8-bit RGB PNG (lossless).
    public static func encode(_ rgb: RGBImage) throws -> Data {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(rgb.width)
        image.height = UInt32(rgb.height)
        image.format = UInt32(PNG_FORMAT_RGB)
        defer { png_image_free(&image) }
        var size = 0
        // the first call measures, the second writes
        guard rgb.pixels.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, Int32(rgb.width * 3), nil) }) != 0 else {
            throw DataError("png", "encoding failed: \(message(image))")
        }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { dst in
            rgb.pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, Int32(rgb.width * 3), nil) }
        }
        guard written != 0 else { throw DataError("png", "encoding failed: \(message(image))") }
        return Data(out[0..<size])
    }

    private static func message(_ image: png_image) -> String {
        var m = image.message
        return withUnsafeBytes(of: &m) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// Decodes an image file by its signature: JPEG (libjpeg-turbo) or PNG (libpng).
public enum ImageDecoder {
    public static func decode(file path: String) throws -> RGBImage {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw DataError(path, "cannot open the image") }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: JPEGCodec.maxFileBytes + 1)) ?? Data()
        guard data.count <= JPEGCodec.maxFileBytes else { throw DataError(path, "image file is larger than \(JPEGCodec.maxFileBytes) bytes") }
        return PNGCodec.isPNG(data) ? try PNGCodec.decode(data, name: path) : try JPEGCodec.perThread.decode(data, name: path)
    }
}
