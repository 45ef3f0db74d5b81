import ArchTensor
import Foundation

/// The repository root, found from this file's path (Tests/TestSupport/TestSupport.swift): the
/// one definition every test target uses.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `Tests/Fixtures/<relative>` in the repository.
public func fixturePath(_ relative: String) -> String { repositoryRoot.appendingPathComponent("Tests/Fixtures/\(relative)").path }

/// `architectures/<name>.yaml` in the repository.
public func architecturePath(_ name: String) -> String { repositoryRoot.appendingPathComponent("architectures/\(name).yaml").path }

/// The names in a repository folder with `suffix`, sorted, for parameterized tests; a folder that
/// is missing or holds no such file gives one impossible name, so that the test fails instead of
/// running zero cases.
public func repositoryListing(_ folder: String, suffix: String) -> [String] {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent(folder).path)) ?? [])
        .filter { $0.hasSuffix(suffix) }.sorted()
    return names.isEmpty ? ["<no \(suffix) file in \(folder)>"] : names
}

/// A fresh empty directory under the system's temporary folder.
public func temporaryDirectory() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-test-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes a gzipped IDX pair of `n` random 28x28 images whose class is encoded in their brightness
/// pattern (so that a network can learn them), as Fashion-MNIST's file names.
public func writeSyntheticIDX(directory: String, train: Int, test: Int, seed: UInt64) throws {
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

/// Whether `python3` on PATH can import `modules` (for checks against reference tools that CI
/// may lack: the test is then reported skipped, not silently passed).
public func pythonCanImport(_ modules: String) -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import \(modules)"]
    p.standardError = FileHandle.nullDevice
    p.standardOutput = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}
