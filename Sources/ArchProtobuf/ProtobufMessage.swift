import Foundation

/// A protocol-buffer message written field by field (the wire format of
/// <https://protobuf.dev/programming-guides/encoding/>): varints, 64-bit doubles, 32-bit floats and
/// length-delimited fields. Callers append fields in field-number order, as protoc's encoders do,
/// so the bytes equal those of the reference writers (TensorBoard's events, ONNX models). Repeated
/// scalars are written one field each (proto2's unpacked form, which every parser accepts).
public struct ProtobufMessage: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

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
    public mutating func int(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    public mutating func double(_ field: Int, _ value: Double) {
        key(field, .fixed64)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    public mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    public mutating func data(_ field: Int, _ value: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }

    public mutating func string(_ field: Int, _ value: String) { data(field, Array(value.utf8)) }

    /// Raw little-endian bytes of float32 values as one length-delimited field (a tensor's `raw_data`).
    public mutating func floatBytes(_ field: Int, _ values: [Float]) {
        key(field, .lengthDelimited)
        varint(UInt64(values.count * 4))
        values.withUnsafeBytes { raw in
            #if _endian(little)
            bytes += raw
            #else
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
            #endif
        }
    }

    /// A nested message; written even when empty (an explicitly present sub-message).
    public mutating func message(_ field: Int, _ value: ProtobufMessage) { data(field, value.bytes) }
}
