import Foundation
import Synchronization

/// Appends events to a TensorBoard event file: TFRecord framing (little-endian 64-bit length, its
/// masked CRC-32C, the data, the data's masked CRC-32C) around each `Event`.
///
/// Records are collected in memory and appended whole by `flush()`, so a process killed at any
/// moment leaves a file of complete records that TensorBoard reads up to the last flush.
public final class EventFile {
    /// The file's path: `DIR/events.out.tfevents.<seconds>.<host>.<pid>.<n>`, TensorBoard's naming.
    public let path: String
    private let handle: FileHandle
    private var pending: [UInt8] = []
    /// Files this process created, numbering their names (two runs in one second stay apart).
    private static let created = Counter()

    /// Creates `directory` if needed and a new event file in it, starting with the version event.
    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        path = directory + "/events.out.tfevents.\(Int(wallTime)).\(host).\(getpid()).\(Self.created.next())"
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        self.handle = handle
        append(Event(wallTime: wallTime, step: 0, content: .fileVersion))
        try flush()
    }

    deinit { try? flush(); try? handle.close() }

    /// Queues an event; it reaches the file with the next `flush()`.
    public func append(_ event: Event) { pending += Self.record(event.serialized) }

    /// Appends the queued events to the file.
    public func flush() throws {
        guard !pending.isEmpty else { return }
        try handle.write(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
    }

    /// One TFRecord: length, masked CRC of the length, data, masked CRC of the data.
    public static func record(_ data: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { length += $0 }
        var out = length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { out += $0 }
        out += data
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { out += $0 }
        return out
    }
}

/// CRC-32C (Castagnoli), as TFRecord files use it, and TensorFlow's mask of it.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// `((crc >> 15) | (crc << 17)) + 0xa282ead8`: TensorFlow's mask, so that a CRC of data that
    /// itself holds CRCs stays informative.
    public static func masked(_ bytes: [UInt8]) -> UInt32 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}

/// A counter safe to share between threads.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
