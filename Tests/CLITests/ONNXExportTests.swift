import ArchTestSupport
import ArchGraph
import Foundation
import Testing

/// `archlab export --format onnx`: a network holding every op of the registry exports, and where
/// onnxruntime is installed (`pip install onnx onnxruntime safetensors`) the model passes
/// `onnx.checker` and computes what `archlab forward` computes (scripts/onnx/check_export.py; `make
/// onnx-check` runs it on every architecture file).
@Suite struct ONNXExportTests {
    static let everyOp = CLITests.root.appendingPathComponent("Tests/Fixtures/onnx/every-op.yaml").path

    @Test func theTestNetworkHoldsEveryRegisteredOp() throws {
        let text = try String(contentsOfFile: Self.everyOp, encoding: .utf8)
        let used = Set(text.split(separator: "op: ").dropFirst().map { $0.prefix { $0.isLetter || $0.isNumber || $0 == "_" } }.map(String.init))
        let missing = Set(OpRegistry.names).subtracting(used)
        #expect(missing.isEmpty, "ops without an export check: \(missing.sorted()) (add them to every-op.yaml)")
    }

    @Test func everyOpExports() throws {
        let dir = EngineCLITests.temporary("onnx")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let weights = dir + "/w.safetensors", model = dir + "/model.onnx"
        #expect(try CLITests.run(["init", Self.everyOp, "--out", weights]).status == 0)
        let exported = try CLITests.run(["export", Self.everyOp, "--weights", weights, "--format", "onnx", "--output", model])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.contains("opset 17"))
        let size = (try FileManager.default.attributesOfItem(atPath: model)[.size] as? Int) ?? 0
        #expect(size > 2_989 * 4, "the model holds every inference weight")
    }

    @Test(.enabled(if: ONNXExportTests.pythonHasONNXRuntime, "needs python3 with onnx, onnxruntime, safetensors and numpy"))
    func exportRunsInOnnxRuntimeLikeArchLabsForward() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.currentDirectoryURL = CLITests.root
        check.arguments = ["python3", "scripts/onnx/check_export.py", "--archlab", CLITests.binary.path, Self.everyOp]
        let out = Pipe()
        check.standardOutput = out
        try check.run()
        let report = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        #expect(check.terminationStatus == 0, "\(report)")
    }

    @Test func missingWeightsNameTheLayer() throws {
        let dir = EngineCLITests.temporary("onnx")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let weights = dir + "/w.safetensors"
        #expect(try CLITests.run(["init", "architectures/lenet.yaml", "--out", weights]).status == 0)
        // other widths than the weights: loading refuses the shapes, naming the tensor
        let r = try CLITests.run(["export", "architectures/lenet.yaml", "--set", "layers.fc1.out=100", "--weights", weights,
                                  "--output", dir + "/m.onnx"])
        #expect(r.status != 0 && r.stderr.contains("fc1"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m.onnx"))
    }

    static let pythonHasONNXRuntime = pythonCanImport("onnx, onnxruntime, safetensors, numpy")
}
