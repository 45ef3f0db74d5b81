internal import CTurboJPEG
import Foundation

/// An 8-bit RGB image, rows top to bottom.
public struct RGBImage: Sendable {
    public var width: Int
    public var height: Int
    /// width * height * 3 bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// JPEG decoding and encoding through libjpeg-turbo's TurboJPEG API, with limits: the declared
/// size is checked against `maxPixels` before any pixel buffer is allocated, warnings (a truncated
/// file, corrupt data) are errors, and progressive files are limited in scans.
public final class JPEGCodec {
    public static let maxPixels = 50_000_000
    public static let maxFileBytes = 100 << 20
    private let decoder: tjhandle?
    private let encoder: tjhandle?

    public init() {
        decoder = tjInitDecompress()
        encoder = tjInitCompress()
    }

    deinit {
        if let decoder { tjDestroy(decoder) }
        if let encoder { tjDestroy(encoder) }
    }

    private func message(_ handle: tjhandle?) -> String {
        String(cString: tjGetErrorStr2(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Decodes a JPEG file to RGB; errors name the file.
    public func decode(file path: String) throws -> RGBImage {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw DataError(path, "cannot open the image") }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: Self.maxFileBytes + 1)) ?? Data()
        guard data.count <= Self.maxFileBytes else { throw DataError(path, "image file is larger than \(Self.maxFileBytes) bytes") }
        return try decode(data, name: path)
    }

    public func decode(_ data: Data, name: String) throws -> RGBImage {
        guard !data.isEmpty else { throw DataError(name, "empty file (0 bytes), not a JPEG image") }
        guard data.count >= 4, data[data.startIndex] == 0xFF, data[data.startIndex + 1] == 0xD8 else {
            throw DataError(name, "not a JPEG image (no JPEG start marker)")
        }
        guard let decoder else { throw DataError(name, "cannot initialize the JPEG decoder") }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let bytes = [UInt8](data)
        let header = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(decoder, $0.baseAddress, UInt(bytes.count), &width, &height, &subsampling, &colorspace)
        }
        guard header == 0 else { throw DataError(name, "invalid JPEG header: \(message(decoder))") }
        let pixels = Int(width) * Int(height)
        guard width > 0, height > 0, pixels <= Self.maxPixels else {
            throw DataError(name, "declared size \(width)x\(height) exceeds the limit of \(Self.maxPixels) pixels")
        }
        var out = [UInt8](repeating: 0, count: pixels * 3)
        let status = bytes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(decoder, src.baseAddress, UInt(bytes.count), dst.baseAddress, width, 0, height, Int32(TJPF_RGB.rawValue),
                              TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS | TJFLAG_ACCURATEDCT)
            }
        }
        guard status == 0 else { throw DataError(name, "corrupt or truncated JPEG data: \(message(decoder))") }
        return RGBImage(width: Int(width), height: Int(height), pixels: out)
    }

    /// Encodes RGB pixels as a baseline JPEG (4:2:0) of the given quality.
    public func encode(_ image: RGBImage, quality: Int = 90) throws -> Data {
        guard let encoder else { throw DataError("jpeg", "cannot initialize the JPEG encoder") }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer {
            tjCompress2(encoder, $0.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue), &buffer, &size,
                        Int32(TJSAMP_420.rawValue), Int32(quality), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else { throw DataError("jpeg", "encoding failed: \(message(encoder))") }
        return Data(bytes: buffer, count: Int(size))
    }
}
