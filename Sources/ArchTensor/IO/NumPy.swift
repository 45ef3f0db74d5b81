import ArchFiles
import Foundation

/// NumPy `.npy` files (versions 1-3, C order): float32 tensors and int64 label vectors.
public enum NumPy {
    public enum Array: Sendable {
        case float32(Tensor)
        case int64([Int], shape: [Int])
    }

    static let magic: [UInt8] = [0x93] + Swift.Array("NUMPY".utf8)

    public static func read(_ path: String) throws -> Array {
        guard let data = FileManager.default.contents(atPath: path) else { throw TensorFileError(path, "cannot read the file") }
        let bytes = [UInt8](data), reader = ByteReader(bytes: bytes)
        guard bytes.count >= 10, Swift.Array(bytes[0..<6]) == magic else { throw TensorFileError(path, "not a .npy file (bad magic)") }
        let major = bytes[6]
        let headerLength: Int, start: Int
        switch major {
        case 1: headerLength = Int(reader.checked(reader.u16, 8)); start = 10
        case 2, 3:
            guard let l = reader.u32(8) else { throw TensorFileError(path, "truncated header") }
            headerLength = Int(l); start = 12
        default: throw TensorFileError(path, "unsupported .npy version \(major)")
        }
        guard start + headerLength <= bytes.count, headerLength <= 1 << 20 else { throw TensorFileError(path, "header runs past the end of the file") }
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'"),
              let q2 = descrField[descrField.index(after: q1)...].firstIndex(of: "'") else { throw TensorFileError(path, "header has no descr") }
        let descr = String(descrField[descrField.index(after: q1)..<q2])
        guard field("fortran_order")?.hasPrefix("False") == true else { throw TensorFileError(path, "only C-order arrays are supported") }
        // the closing parenthesis after the opening one (a fuzzed header had ")" first and trapped here)
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("), let close = shapeField[open...].firstIndex(of: ")") else {
            throw TensorFileError(path, "header has no shape")
        }
        let dims = shapeField[shapeField.index(after: open)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = dims.compactMap { Int($0) }
        guard shape.count == dims.count, let count = checkedCount(shape) else { throw TensorFileError(path, "bad shape \(shapeField[open...close])") }
        let body = start + headerLength
        switch descr {
        case "<f4", "|f4":
            guard bytes.count - body == count * 4 else { throw TensorFileError(path, "expected \(count * 4) data bytes for shape \(shape), found \(bytes.count - body)") }
            let t = Tensor(shape: shape)
            t.withUnsafeMutableBufferPointer { out in for i in out.indices { out[i] = Float(bitPattern: reader.checked(reader.u32, body + 4 * i)) } }
            return .float32(t)
        case "<i8", "<i4":
            let width = descr == "<i8" ? 8 : 4
            guard bytes.count - body == count * width else { throw TensorFileError(path, "expected \(count * width) data bytes for shape \(shape), found \(bytes.count - body)") }
            let values = (0..<count).map { i in
                width == 8 ? Int(Int64(bitPattern: reader.checked(reader.u64, body + 8 * i))) : Int(Int32(bitPattern: reader.checked(reader.u32, body + 4 * i)))
            }
            return .int64(values, shape: shape)
        default:
            throw TensorFileError(path, "unsupported dtype '\(descr)'; expected float32 (<f4) or int64 (<i8)")
        }
    }

    /// Writes a float32 tensor (C order), atomically.
    public static func write(_ t: Tensor, to path: String) throws {
        try write(descr: "<f4", shape: t.shape, body: t.withUnsafeBufferPointer { b in b.withMemoryRebound(to: UInt8.self) { Data($0) } }, to: path)
    }

    /// Writes int64 values.
    public static func write(int64 values: [Int], shape: [Int], to path: String) throws {
        var body = Data(capacity: values.count * 8)
        for v in values { var x = Int64(v).littleEndian; withUnsafeBytes(of: &x) { body.append(contentsOf: $0) } }
        try write(descr: "<i8", shape: shape, body: body, to: path)
    }

    static func write(descr: String, shape: [Int], body: Data, to path: String) throws {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data(magic + [1, 0])
        var length = UInt16(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: Swift.Array(header.utf8))
        data.append(body)
        try TensorFileError.writing(data, to: path)
    }
}
