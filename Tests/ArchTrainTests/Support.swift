import ArchGraph
import ArchSpec
import ArchTensor
import Foundation

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
func fixturePath(_ relative: String) -> String { repositoryRoot.appendingPathComponent("Tests/Fixtures/\(relative)").path }
func architecturePath(_ name: String) -> String { repositoryRoot.appendingPathComponent("architectures/\(name).yaml").path }

func temporaryDirectory() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-train-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func build(_ path: String, set: [String] = [], input: [Int]? = nil) throws -> Network {
    try Builder().build(try ArchitectureLoader().load(path, overrides: try set.map(Override.parse(commandLine:)), input: input))
}

func json(_ path: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: path) ?? Data())) as? [String: Any] ?? [:]
}

/// Writes a gzipped IDX pair of `n` random 28x28 images whose class is encoded in their brightness
/// pattern (so that a network can learn them), as Fashion-MNIST's file names.
func writeSyntheticIDX(directory: String, train: Int, test: Int, seed: UInt64) throws {
    var random = RandomSource(seed: seed)
    func write(_ stem: String, count: Int) throws {
        var images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28]
        images[4...7] = [UInt8(count >> 24 & 255), UInt8(count >> 16 & 255), UInt8(count >> 8 & 255), UInt8(count & 255)]
        var labels: [UInt8] = [0, 0, 8, 1, UInt8(count >> 24 & 255), UInt8(count >> 16 & 255), UInt8(count >> 8 & 255), UInt8(count & 255)]
        for _ in 0..<count {
            let label = Int(random.next() % 10)
            labels.append(UInt8(label))
            for y in 0..<28 { for x in 0..<28 {
                let on = (y / 3) % 10 == label || (x / 3) % 10 == label
                images.append(UInt8(min(255, (on ? 180 : 20) + Int(random.next() % 60))))
            }}
        }
        try Data(images).write(to: URL(fileURLWithPath: "\(directory)/\(stem)-images-idx3-ubyte"))
        try Data(labels).write(to: URL(fileURLWithPath: "\(directory)/\(stem)-labels-idx1-ubyte"))
    }
    try write("train", count: train)
    try write("t10k", count: test)
}
