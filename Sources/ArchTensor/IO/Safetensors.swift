import ArchFiles
import ArchJSON
import Foundation

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}}`, then the data. Reading validates the
/// header before any large allocation: its length against the file, every dtype, shape and offset
/// range, no duplicate names, and offsets that tile the data exactly (no gaps, no overlaps).
public enum Safetensors {
    /// Largest header accepted.
    public static let maxHeaderBytes = 100 << 20

    public struct Entry: Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        var begin: Int, end: Int
    }

    static let dtypeSizes: [String: Int] = ["F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1]

    /// Reads the float32 tensors of a file by name. Integer tensors (such as BN's
    /// `num_batches_tracked`) are listed in `skipped`; other float types are converted.
    public static func read(_ path: String) throws -> (tensors: [String: Tensor], order: [String], skipped: [String]) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw TensorFileError(path, "cannot open the file") }
        defer { try? handle.close() }
        let size = Int((try? handle.seekToEnd()) ?? 0)
        try? handle.seek(toOffset: 0)
        guard size >= 8, let lengthBytes = try? handle.read(upToCount: 8), lengthBytes.count == 8 else {
            throw TensorFileError(path, "not a safetensors file: shorter than its 8-byte header length")
        }
        let reader8 = ByteReader(bytes: Array(lengthBytes)), length = reader8.checked(reader8.u64, 0)
        guard length <= UInt64(maxHeaderBytes), Int(length) <= size - 8 else {
            throw TensorFileError(path, "header length \(length) exceeds the file (\(size) bytes) or the \(maxHeaderBytes)-byte limit")
        }
        let headerBytes = Array((try? handle.read(upToCount: Int(length))) ?? Data())
        let entries = try parseHeader(headerBytes[...], dataSize: size - 8 - Int(length), path: path)
        var tensors: [String: Tensor] = [:], skipped: [String] = []
        for e in entries {
            guard ["F32", "F64", "F16", "BF16"].contains(e.dtype) else { skipped.append(e.name); continue }
            try handle.seek(toOffset: UInt64(8 + Int(length) + e.begin))
            guard let data = try handle.read(upToCount: e.end - e.begin), data.count == e.end - e.begin else {
                throw TensorFileError(path, "tensor '\(e.name)': data ends early")
            }
            tensors[e.name] = decode(Array(data), dtype: e.dtype, shape: e.shape)
        }
        return (tensors, entries.map(\.name), skipped)
    }

    static func parseHeader(_ bytes: ArraySlice<UInt8>, dataSize: Int, path: String) throws -> [Entry] {
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch let e as JSONValue.ParseError {
            throw TensorFileError(path, "header is not valid JSON: \(e.message)")
        }
        guard case let .object(items) = json else { throw TensorFileError(path, "header must be a JSON object") }
        var entries: [Entry] = []
        for (name, value) in items where name != "__metadata__" {
            guard case let .string(dtype)? = value["dtype"], let width = dtypeSizes[dtype] else {
                throw TensorFileError(path, "tensor '\(name)': missing or unknown dtype")
            }
            guard let shape = value["shape"]?.intArray, let count = checkedCount(shape) else {
                throw TensorFileError(path, "tensor '\(name)': shape is missing, negative or too large")
            }
            guard let offsets = value["data_offsets"]?.intArray, offsets.count == 2, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                throw TensorFileError(path, "tensor '\(name)': data_offsets out of range (data is \(dataSize) bytes)")
            }
            guard offsets[1] - offsets[0] == count * width else {
                throw TensorFileError(path, "tensor '\(name)': \(offsets[1] - offsets[0]) bytes do not hold shape \(shape) of \(dtype)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1]))
        }
        var position = 0
        for e in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard e.begin == position else {
                throw TensorFileError(path, e.begin < position ? "tensor '\(e.name)' overlaps another tensor" : "gap in the data before tensor '\(e.name)'")
            }
            position = e.end
        }
        guard position == dataSize else { throw TensorFileError(path, "\(dataSize - position) bytes after the last tensor") }
        return entries
    }

    static func decode(_ bytes: [UInt8], dtype: String, shape: [Int]) -> Tensor {
        let t = Tensor(shape: shape)
        let reader = ByteReader(bytes: bytes)
        t.withUnsafeMutableBufferPointer { out in
            for i in out.indices {
                switch dtype {
                case "F32": out[i] = Float(bitPattern: reader.checked(reader.u32, 4 * i))
                case "F64": out[i] = Float(Double(bitPattern: reader.checked(reader.u64, 8 * i)))
                case "F16": out[i] = Float(Float16(bitPattern: reader.checked(reader.u16, 2 * i)))
                default: out[i] = Float(bitPattern: UInt32(reader.checked(reader.u16, 2 * i)) << 16) // BF16
                }
            }
        }
        return t
    }

    /// Writes float32 tensors in the given order, atomically (temporary file, then rename).
    public static func write(_ tensors: [(String, Tensor)], to path: String, metadata: [String: String] = [:]) throws {
        var header: [(key: String, value: JSONValue)] = []
        var offset = 0
        if !metadata.isEmpty {
            header.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        for (name, t) in tensors {
            let bytes = t.count * 4
            header.append((name, .object([("dtype", .string("F32")), ("shape", .array(t.shape.map { .int($0) })),
                                          ("data_offsets", .array([.int(offset), .int(offset + bytes)]))])))
            offset += bytes
        }
        var json = Array(JSONValue.object(header).text(.compact).utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data(capacity: 8 + json.count + offset)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: json)
        for (_, t) in tensors {
            t.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: UInt8.self) { data.append(contentsOf: $0) }
            }
        }
        try TensorFileError.writing(data, to: path)
    }
}

