import ArchData
import ArchGraph
import ArchTensor
@testable import ArchTrain
import ArchTensorBoard
import ArchTestSupport
import Foundation
import Testing

/// TensorBoard event files: the encoder reproduces TensorBoard's own writer byte for byte, and a
/// training run (stopped in an epoch and resumed) leaves files whose every record is intact and
/// whose scalars are the run's metrics.
@Suite struct TensorBoardTests {
    /// The events of scripts/reference/tensorboard_fixture.py, in its order.
    static let fixtureEvents: [Event] = [
        Event(wallTime: 1796100000.25, step: 0, content: .fileVersion),
        Event(wallTime: 1796100001.5, step: 0, content: .text(tag: "settings", markdown: "```json\n{\"lr\": 0.01}\n```")),
        Event(wallTime: 1796100002.0, step: 20, content: .scalars([("step/loss", 2.302585), ("step/lr", 0.01), ("step/images_per_second", 412.5)])),
        Event(wallTime: 1796100003.0, step: 112, content: .scalars([("accuracy/test", 0.0), ("loss/test", -1.5e-7)])),
        Event(wallTime: 1796100004.0, step: 113, content: .start),
        Event(wallTime: 1796100005.0, step: 3_000_000_000, content: .text(tag: "network", markdown: "| a | é |\n|--|--|")),
    ]

    @Test func recordsEqualTensorBoardsOwnWriterByteForByte() throws {
        let fixture = try #require(json(fixturePath("tensorboard_events.json"))["records"] as? [String])
        #expect(fixture.count == Self.fixtureEvents.count)
        for (event, expected) in zip(Self.fixtureEvents, fixture) {
            let hex = EventFile.record(event.serialized).map { String(format: "%02x", $0) }.joined()
            #expect(hex == expected, "\(event.content)")
        }
    }

    @Test func crc32cMatchesTheStandardCheckValue() {
        // the CRC-32C check value of "123456789" (RFC 3720, appendix B.4)
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    /// A run stopped in its second epoch and resumed: every record's framing and checksums hold,
    /// the epoch scalars appear once per epoch at the step that ends it, and the resumed file starts
    /// with SessionLog.START at the first step it trains again.
    @Test func aStoppedAndResumedRunLeavesIntactFilesWithEveryEpoch() throws {
        let data = temporaryDirectory()
        try writeSyntheticIDX(directory: data, train: 320, test: 64, seed: 5)
        var c = ResumeTests.config(data, optimizer: .sgd)
        c.threads = 1
        let out = temporaryDirectory(), events = out + "/tensorboard"
        let first = try ResumeTests.trainer(c)
        first.interruption = { epoch, step in if epoch == 1, step == 4 { throw ResumeTests.Stop() } }
        #expect(throws: ResumeTests.Stop.self) {
            _ = try first.run(outputDirectory: out, observer: TensorBoardObserver(directory: events, every: 2))
        }
        let metrics = try ResumeTests.trainer(c).run(outputDirectory: out, observer: TensorBoardObserver(directory: events, every: 2), resume: true)
        let files = try FileManager.default.contentsOfDirectory(atPath: events).filter { $0.contains("tfevents") }.sorted()
        #expect(files.count == 2)
        var all: [DecodedEvent] = []
        for file in files { all += try DecodedEvent.read(events + "/" + file) }
        let stepsPerEpoch = 288 / 32  // 10 % validation of 320, batches of 32
        let starts = all.filter(\.isStart)
        #expect(starts.map(\.step) == [1, Int64(stepsPerEpoch + 1)], "each attempt starts at the first step it trains")
        let epochEvents = all.filter { $0.tags.contains("accuracy/test") }
        #expect(epochEvents.map(\.step) == (1...c.epochs).map { Int64($0 * stepsPerEpoch) })
        #expect(epochEvents.map { $0.values["accuracy/test"]! } == metrics.epochs.map { Float($0.testAccuracy) })
        #expect(epochEvents.map { $0.values["loss/validation"]! } == metrics.epochs.map { Float($0.validationLoss!) })
        #expect(all.filter { $0.tags.contains("network") }.count == 2 && all.filter { $0.tags.contains("settings") }.count == 2)
        // TensorBoard's own reader, where it is installed
        if TensorBoardTests.pythonHasTensorBoard {
            let check = Process()
            check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            check.arguments = ["python3", repositoryRoot.appendingPathComponent("scripts/tensorboard/check_events.py").path, events, out]
            try check.run()
            check.waitUntilExit()
            #expect(check.terminationStatus == 0, "TensorBoard's EventAccumulator disagrees with metrics.json")
        }
    }

    static let pythonHasTensorBoard = pythonCanImport("tensorboard.backend.event_processing.event_accumulator")
}

/// The parts of an `Event` the test looks at, decoded from a file with every checksum verified.
struct DecodedEvent {
    var step: Int64 = 0
    var isStart = false
    var tags: [String] = []
    var values: [String: Float] = [:]

    struct Corrupt: Error { var reason: String }

    static func read(_ path: String) throws -> [DecodedEvent] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var events: [DecodedEvent] = [], at = 0
        func u32(_ i: Int) -> UInt32 { bytes[i..<i + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        while at < bytes.count {
            guard at + 12 <= bytes.count else { throw Corrupt(reason: "truncated header at \(at)") }
            let length = Int(bytes[at..<at + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            guard u32(at + 8) == CRC32C.masked(Array(bytes[at..<at + 8])) else { throw Corrupt(reason: "length CRC at \(at)") }
            let data = Array(bytes[at + 12..<at + 12 + length])
            guard u32(at + 12 + length) == CRC32C.masked(data) else { throw Corrupt(reason: "data CRC at \(at)") }
            events.append(try decode(data))
            at += 16 + length
        }
        return events
    }

    static func decode(_ data: [UInt8]) throws -> DecodedEvent {
        var event = DecodedEvent()
        for (field, value) in try fields(data) {
            switch (field, value) {
            case (2, .varint(let v)): event.step = Int64(bitPattern: v)
            case (7, .bytes(let log)): event.isStart = try fields(log).contains { $0.0 == 1 && $0.1 == .varint(1) }
            case (5, .bytes(let summary)):
                for case (1, .bytes(let v)) in try fields(summary) {
                    var tag = ""
                    var number: Float?
                    for f in try fields(v) {
                        if case (1, .bytes(let t)) = f { tag = String(decoding: t, as: UTF8.self) }
                        if case (2, .fixed32(let bits)) = f { number = Float(bitPattern: bits) }
                    }
                    event.tags.append(tag)
                    event.values[tag] = number
                }
            default: break
            }
        }
        return event
    }

    enum Field: Equatable { case varint(UInt64), fixed64(UInt64), bytes([UInt8]), fixed32(UInt32) }

    static func fields(_ b: [UInt8]) throws -> [(Int, Field)] {
        var out: [(Int, Field)] = [], i = 0
        func varint() -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true { let x = b[i]; i += 1; v |= UInt64(x & 0x7F) << shift; shift += 7; if x < 0x80 { return v } }
        }
        while i < b.count {
            let key = varint()
            switch key & 7 {
            case 0: out.append((Int(key >> 3), .varint(varint())))
            case 1: out.append((Int(key >> 3), .fixed64(b[i..<i + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }))); i += 8
            case 2: let n = Int(varint()); out.append((Int(key >> 3), .bytes(Array(b[i..<i + n])))); i += n
            case 5: out.append((Int(key >> 3), .fixed32(b[i..<i + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }))); i += 4
            default: throw Corrupt(reason: "wire type \(key & 7)")
            }
        }
        return out
    }
}
