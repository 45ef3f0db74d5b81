import ArchData
import ArchGraph
import ArchSpec
import ArchTensor
import ArchTestSupport
import Foundation
import Testing

/// The fuzzers' corpora (fuzz/corpus/<target>, minimized after each `make fuzz`) and the inputs
/// that once crashed a reader (Tests/Fixtures/fuzz-regressions) go through the same readers in
/// every test run: each must load or throw the reader's own error, never trap.
@Suite struct FuzzCorpusTests {
    static func files(_ relative: String) -> [String] {
        let dir = repositoryRoot.appendingPathComponent(relative).path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().map { dir + "/" + $0 }
    }

    /// Reads `path` the way the target `kind` does; returns the unexpected error type, if any.
    static func read(_ path: String, as kind: String) -> String? {
        do {
            switch kind {
            case "FuzzSpec": _ = try Builder().build(try ArchitectureLoader().load(path))
            case "FuzzSafetensors": _ = try Safetensors.read(path)
            case "FuzzNumPy": _ = try NumPy.read(path)
            case "FuzzCIFAR": _ = try CIFAR10.read(files: [path])
            case "FuzzJPEG": _ = try JPEGCodec().decode(file: path)
            case "FuzzIDX":
                // the fuzz target's first byte picks images or labels; the rest is the file
                let bytes = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
                let body = FileManager.default.temporaryDirectory.appendingPathComponent("idx-\(UUID().uuidString)").path
                _ = FileManager.default.createFile(atPath: body, contents: bytes.dropFirst())
                defer { try? FileManager.default.removeItem(atPath: body) }
                _ = try IDX.read(images: body, labels: body, classNames: (0..<10).map(String.init))
            default: return "unknown target \(kind)"
            }
        } catch is SpecError, is TensorFileError, is DataError {
        } catch {
            return "\(URL(fileURLWithPath: path).lastPathComponent): unexpected \(type(of: error)): \(error)"
        }
        return nil
    }

    static let targets = ["FuzzSpec", "FuzzIDX", "FuzzCIFAR", "FuzzSafetensors", "FuzzNumPy", "FuzzJPEG"]

    @Test(arguments: targets)
    func corpusNeverTraps(target: String) {
        let files = Self.files("fuzz/corpus/\(target)")
        #expect(!files.isEmpty, "no corpus for \(target)")
        let problems = files.compactMap { Self.read($0, as: target) }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test func regressionsNeverTrap() {
        let kinds = ["npy": "FuzzNumPy", "safetensors": "FuzzSafetensors", "yaml": "FuzzSpec", "jpg": "FuzzJPEG", "bin": "FuzzCIFAR", "idx": "FuzzIDX"]
        let files = Self.files("Tests/Fixtures/fuzz-regressions")
        #expect(!files.isEmpty)
        for path in files {
            let kind = kinds[URL(fileURLWithPath: path).pathExtension] ?? "?"
            #expect(Self.read(path, as: kind) == nil)
        }
    }
}
