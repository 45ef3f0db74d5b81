import ArchTestSupport
@testable import ArchData
import Foundation
import Testing

@Suite struct DataFileTests {
    static func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = temporaryDirectory() + "/" + name
        try? Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static let labels = write([0, 0, 8, 1, 0, 0, 0, 1, 3], "labels")

    @Test(arguments: [
        ([1, 2, 8, 3], "not an IDX file (bad magic number)"),
        ([0, 0, 0x0D, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2], "IDX data type 0xd is not unsigned bytes (0x08)"),
        ([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 9, 9], "dimensions 1x2x2 need 4 bytes of data, the file has 2"),
        ([0, 0, 8, 3, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF],
         "dimensions 2147483647x2147483647x2147483647 need 9903520300447984150353281023 bytes of data, the file has 0"),
        ([0, 0, 8, 3, 0, 0], "header is truncated"),
    ] as [([UInt8], String)])
    func badImages(bytes: [UInt8], message: String) {
        let path = Self.write(bytes, "images")
        do {
            _ = try IDX.read(images: path, labels: Self.labels, classNames: (0..<10).map(String.init))
            Issue.record("expected an error")
        } catch let error as DataError {
            #expect(error.path == path)
            #expect(error.message == message || (message.hasPrefix("dimensions 2147483647") && error.message.contains("overflow")))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func labelOutOfRange() {
        let images = Self.write([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7], "images")
        let labels = Self.write([0, 0, 8, 1, 0, 0, 0, 1, 12], "labels")
        #expect(throws: DataError(labels, "label 12 is outside 0..<10")) {
            try IDX.read(images: images, labels: labels, classNames: (0..<10).map(String.init))
        }
    }

    @Test func truncatedGzip() throws {
        let dir = temporaryDirectory()
        try writeSyntheticIDX(directory: dir, train: 10, test: 10, seed: 1)
        let gz = dir + "/train-images-idx3-ubyte.gz"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "gzip -c \(dir)/train-images-idx3-ubyte | head -c 200 > \(gz)"]
        try process.run(); process.waitUntilExit()
        #expect(throws: DataError(gz, "corrupt or truncated gzip data")) {
            try IDX.read(images: gz, labels: dir + "/train-labels-idx1-ubyte", classNames: (0..<10).map(String.init))
        }
    }

    /// A gunzipped file is cached; the copy is used only while it matches the gzip trailer's
    /// length and CRC-32, so a damaged or truncated copy is inflated again, never read as data.
    @Test func inflatedCopiesAreCheckedAgainstTheTrailer() throws {
        let dir = temporaryDirectory(), cache = dir + "/cache"
        try writeSyntheticIDX(directory: dir, train: 10, test: 10, seed: 2)
        let raw = dir + "/train-images-idx3-ubyte", gz = raw + ".gz"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "gzip -c \(raw) > \(gz)"]
        try process.run(); process.waitUntilExit()
        let expected = try FileBytes.read(raw, limit: 1 << 20, cache: nil)
        #expect(try FileBytes.read(gz, limit: 1 << 20, cache: cache) == expected)
        let entries = try FileManager.default.contentsOfDirectory(atPath: cache)
        #expect(entries.count == 1 && entries[0].hasPrefix("train-images-idx3-ubyte-"), "\(entries)")
        let entry = cache + "/" + entries[0]
        #expect(FileBytes.contents(entry) == expected)
        #expect(try FileBytes.read(gz, limit: 1 << 20, cache: cache) == expected)
        // one byte changed: the CRC differs, the file is inflated again and the copy rewritten
        var damaged = expected
        damaged[100] ^= 0xFF
        try Data(damaged).write(to: URL(fileURLWithPath: entry))
        #expect(try FileBytes.read(gz, limit: 1 << 20, cache: cache) == expected)
        #expect(FileBytes.contents(entry) == expected)
        // truncated: the length differs
        try Data(expected.prefix(50)).write(to: URL(fileURLWithPath: entry))
        #expect(try FileBytes.read(gz, limit: 1 << 20, cache: cache) == expected)
        // the limit holds for a cached copy too
        #expect(throws: DataError(gz, "decompresses to more than 100 bytes")) { try FileBytes.read(gz, limit: 100, cache: cache) }
    }

    @Test func cifarRecordSize() {
        let path = Self.write([UInt8](repeating: 1, count: 3073 + 5), "data_batch_1.bin")
        #expect(throws: DataError(path, "size 3078 is not a multiple of the 3073-byte CIFAR-10 record")) { try CIFAR10.read(files: [path]) }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: DataSource.fashionMNISTDirectory), "Debian's dataset-fashion-mnist is not installed"))
    func realFashionMNISTWhenInstalled() throws {
        let (train, test, _) = try DataSource.parse("fashion-mnist").load()
        #expect(train.count == 60_000 && test.count == 10_000)
        #expect(train.nativeShape == [1, 28, 28])
        #expect(Set(train.labels).count == 10)
    }
}
