internal import CZlib
import Foundation

/// Reads a whole file, gunzipping it when it starts with the gzip magic; refuses to produce more
/// than `limit` bytes (a decompression bomb is an error, not an allocation).
///
/// A gunzipped file is kept in `InflatedCache`, so that the next process (every sweep trial
/// loads its data) reads it instead of inflating again: Fashion-MNIST's training images take
/// 0.4 s to inflate here, most of a trial's start-up.
enum FileBytes {
    /// `cache`: the folder of gunzipped copies (nil: none).
    static func read(_ path: String, limit: Int, cache folder: String? = InflatedCache.folder) throws -> [UInt8] {
        guard let bytes = Self.contents(path) else { throw DataError(path, "cannot read the file") }
        guard bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B else {
            guard bytes.count <= limit else { throw DataError(path, "file is larger than \(limit) bytes") }
            return bytes
        }
        let cache = folder.flatMap { InflatedCache(source: path, gzip: bytes, folder: $0) }
        if let cached = cache?.read(limit: limit) { return cached }
        let output = try gunzip(bytes, path: path, limit: limit)
        cache?.write(output)
        return output
    }

    /// The whole file, read straight into the array (no intermediate `Data`).
    static func contents(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        let size = Int(info.st_size)
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let n = Glibc.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { break }
                done += n
            }
            failed = done != size
            initialized = done
        }
        return failed ? nil : bytes
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

/// Gunzipped copies of data files, under `$ARCHLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/archlab`,
/// else `~/.cache/archlab` (folder `inflated/`). An entry is named after the source's absolute
/// path, size and modification time, and is used only when its length and CRC-32 equal the
/// gzip trailer's (ISIZE and CRC32 of the uncompressed data), so a changed, truncated or damaged
/// entry is never read as data: it is inflated again and rewritten (atomically). Caching is best
/// effort: an unwritable folder only costs the inflation. `ARCHLAB_CACHE_DIR=off` turns it off.
struct InflatedCache {
    let file: String
    let crc: UInt32, size: UInt32

    init?(source: String, gzip: [UInt8], folder: String) {
        guard gzip.count >= 18,
              let attributes = try? FileManager.default.attributesOfItem(atPath: source),
              let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 else { return nil }
        let n = gzip.count
        crc = UInt32(gzip[n - 8]) | UInt32(gzip[n - 7]) << 8 | UInt32(gzip[n - 6]) << 16 | UInt32(gzip[n - 5]) << 24
        size = UInt32(gzip[n - 4]) | UInt32(gzip[n - 3]) << 8 | UInt32(gzip[n - 2]) << 16 | UInt32(gzip[n - 1]) << 24
        let absolute = URL(fileURLWithPath: source).standardizedFileURL.path
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over path, size and modification time
        for byte in "\(absolute)\u{0}\(n)\u{0}\(modified)".utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let name = (absolute as NSString).lastPathComponent
        file = folder + "/" + (name.hasSuffix(".gz") ? String(name.dropLast(3)) : name) + "-" + String(hash, radix: 16)
    }

    static var folder: String? {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["ARCHLAB_CACHE_DIR"], !dir.isEmpty { return dir == "off" ? nil : dir + "/inflated" }
        if let dir = env["XDG_CACHE_HOME"], !dir.isEmpty { return dir + "/archlab/inflated" }
        guard let home = env["HOME"], !home.isEmpty else { return nil }
        return home + "/.cache/archlab/inflated"
    }

    /// The cached bytes, if they are the gzip member's whole output.
    func read(limit: Int) -> [UInt8]? {
        guard let bytes = FileBytes.contents(file), bytes.count <= limit, UInt32(truncatingIfNeeded: bytes.count) == size else { return nil }
        let sum = bytes.withUnsafeBufferPointer { UInt32(crc32_z(0, $0.baseAddress, $0.count)) }
        return sum == crc ? bytes : nil
    }

    func write(_ bytes: [UInt8]) {
        let folder = (file as NSString).deletingLastPathComponent
        guard (try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)) != nil else { return }
        try? Data(bytes).write(to: URL(fileURLWithPath: file), options: .atomic)
    }
}
