internal import CZlib
import Foundation

/// Reads a whole file, gunzipping it when it starts with the gzip magic; refuses to produce more
/// than `limit` bytes (a decompression bomb is an error, not an allocation).
enum FileBytes {
    static func read(_ path: String, limit: Int) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError(path, "cannot read the file") }
        let bytes = [UInt8](data)
        guard bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B else {
            guard bytes.count <= limit else { throw DataError(path, "file is larger than \(limit) bytes") }
            return bytes
        }
        return try gunzip(bytes, path: path, limit: limit)
    }

    static func gunzip(_ input: [UInt8], path: String, limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError(path, "cannot initialize zlib")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var mutableInput = input
        let status: Int32 = mutableInput.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            var result: Int32 = Z_OK
            repeat {
                result = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                if output.count + produced > limit { return Z_BUF_ERROR - 100 }
                output.append(contentsOf: chunk[0..<produced])
                if result == Z_BUF_ERROR && stream.avail_in == 0 { return Z_DATA_ERROR }
            } while result == Z_OK
            return result
        }
        if status == Z_BUF_ERROR - 100 { throw DataError(path, "decompresses to more than \(limit) bytes") }
        guard status == Z_STREAM_END else { throw DataError(path, "corrupt or truncated gzip data") }
        return output
    }
}
