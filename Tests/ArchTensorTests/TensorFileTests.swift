import ArchJSON
import ArchTensor
import Foundation
import Testing

private func temporary(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("archlab-io-\(UUID().uuidString)-\(name)").path
}

/// A safetensors file with a hand-written header and `dataBytes` bytes of data.
private func safetensors(header: String, dataBytes: Int, headerLength: UInt64? = nil) -> String {
    let path = temporary("t.safetensors")
    var data = Data()
    var length = (headerLength ?? UInt64(header.utf8.count)).littleEndian
    withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
    data.append(contentsOf: Array(header.utf8))
    data.append(contentsOf: [UInt8](repeating: 0, count: dataBytes))
    try? data.write(to: URL(fileURLWithPath: path))
    return path
}

@Suite struct SafetensorsTests {
    @Test func roundTrip() throws {
        let path = temporary("w.safetensors")
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), b = Tensor(shape: [4], values: [-1, 0.5, 7, 8])
        try Safetensors.write([("layer.weight", a), ("layer.bias", b)], to: path, metadata: ["epoch": "3"])
        let read = try Safetensors.read(path)
        #expect(read.order == ["layer.weight", "layer.bias"])
        #expect(read.tensors["layer.weight"]?.values == a.values)
        #expect(read.tensors["layer.weight"]?.shape == [2, 3])
        #expect(read.tensors["layer.bias"]?.values == b.values)
    }

    @Test(arguments: [
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, UInt64(1) << 63,
         "header length 9223372036854775808 exceeds the file (70 bytes) or the 104857600-byte limit"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, nil,
         "tensor 'b' overlaps another tensor"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8, nil,
         "tensor 'a': shape is missing, negative or too large"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, nil,
         "header is not valid JSON: duplicate key 'a'"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,800]}}", 8, nil, "tensor 'a': data_offsets out of range (data is 8 bytes)"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, nil, "tensor 'a': 8 bytes do not hold shape [3] of F32"),
        ("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, nil, "tensor 'a': missing or unknown dtype"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, nil, "4 bytes after the last tensor"),
        ("not json", 0, nil, "header is not valid JSON: unexpected literal at byte 0"),
    ])
    func rejectsBadFiles(header: String, dataBytes: Int, headerLength: UInt64?, message: String) {
        let path = safetensors(header: header, dataBytes: dataBytes, headerLength: headerLength)
        #expect(throws: TensorFileError(path, message)) { try Safetensors.read(path) }
    }

    @Test func shortFile() throws {
        let path = temporary("short.safetensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect(throws: TensorFileError(path, "not a safetensors file: shorter than its 8-byte header length")) { try Safetensors.read(path) }
    }
}

@Suite struct NumPyTests {
    @Test func roundTrips() throws {
        let path = temporary("x.npy")
        let t = Tensor(shape: [2, 1, 2, 2], values: [1, 2, 3, 4, 5, 6, 7, 8])
        try NumPy.write(t, to: path)
        guard case let .float32(r) = try NumPy.read(path) else { Issue.record("float32 expected"); return }
        #expect(r.shape == [2, 1, 2, 2] && r.values == t.values)
        let labels = temporary("y.npy")
        try NumPy.write(int64: [3, 1, 4], shape: [3], to: labels)
        guard case let .int64(v, shape) = try NumPy.read(labels) else { Issue.record("int64 expected"); return }
        #expect(v == [3, 1, 4] && shape == [3])
    }

    @Test func rejectsBadFiles() throws {
        let bad = temporary("bad.npy")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: bad))
        #expect(throws: TensorFileError(bad, "not a .npy file (bad magic)")) { try NumPy.read(bad) }
        let path = temporary("short.npy")
        try NumPy.write(Tensor(shape: [4], values: [1, 2, 3, 4]), to: path)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data.removeLast(4)
        try data.write(to: URL(fileURLWithPath: path))
        #expect(throws: TensorFileError(path, "expected 16 data bytes for shape [4], found 12")) { try NumPy.read(path) }
    }
}

@Suite struct JSONTextTests {
    @Test func escapesQuotesBackslashesAndControlCharacters() {
        #expect(JSONText.quote("a\"b\\c\nd\u{1}") == "\"a\\\"b\\\\c\\nd\\u0001\"")
        let data = Data(JSONText.quote("tab\there \"q\"").utf8)
        #expect((try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)) as? String == "tab\there \"q\"")
    }
}
