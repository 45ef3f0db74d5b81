import ArchFiles
import Foundation
/// A problem with a tensor file (safetensors, .npy), naming the file.
public struct TensorFileError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var message: String

    public init(_ file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}

/// Little-endian reads from a byte buffer with bounds checks.
struct ByteReader {
    let bytes: [UInt8]

    /// The value at `at` of bytes whose size the caller has checked (against a header or shape).
    func checked<T>(_ read: (Int) -> T?, _ at: Int) -> T {
        guard let v = read(at) else { preconditionFailure("read at \(at) past the \(bytes.count) bytes checked before") }
        return v
    }

    func u16(_ at: Int) -> UInt16? {
        guard at >= 0, at + 2 <= bytes.count else { return nil }
        return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    func u32(_ at: Int) -> UInt32? {
        guard at >= 0, at + 4 <= bytes.count else { return nil }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }

    func u64(_ at: Int) -> UInt64? {
        guard at >= 0, at + 8 <= bytes.count else { return nil }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}

/// Element count of a shape, or nil when it overflows or has a negative dimension.
func checkedCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, overflow) = n.multipliedReportingOverflow(by: d)
        if overflow || p > 1 << 40 { return nil }
        n = p
    }
    return n
}

extension TensorFileError {
    /// `AtomicFile.write`, its failure as a `TensorFileError` (what readers of tensor files catch).
    static func writing(_ data: Data, to path: String) throws {
        do { try AtomicFile.write(data, to: path) } catch let failure as AtomicFile.Failure {
            throw TensorFileError(failure.path, failure.message)
        }
    }
}
