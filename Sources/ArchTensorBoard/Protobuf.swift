import Foundation

/// The few protocol-buffer encodings TensorBoard's `Event` needs, written by hand (the wire format
/// of <https://protobuf.dev/programming-guides/encoding/>): varints, 64-bit doubles, 32-bit
/// floats and length-delimited fields, each appended in field-number order as protoc's encoders do,
/// so the bytes equal those of TensorBoard's own writer.
struct ProtobufMessage {
    private(set) var bytes: [UInt8] = []

    enum WireType: UInt8 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    private mutating func key(_ field: Int, _ type: WireType) { varint(UInt64(field) << 3 | UInt64(type.rawValue)) }

    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// An `int64`, `int32` or enum field (negative values take ten bytes, as in protobuf).
    mutating func int(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, .fixed64)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func data(_ field: Int, _ value: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { data(field, Array(value.utf8)) }

    /// A nested message; written even when empty (an explicitly present sub-message).
    mutating func message(_ field: Int, _ value: ProtobufMessage) { data(field, value.bytes) }
}
