import ArchGraph
import ArchTestSupport
import Foundation
import Testing

/// End-to-end tests of the `archlab` binary as a user runs it: exit codes, standard output and
/// standard error.
@Suite struct CLITests {
    static let root = repositoryRoot

    static let binary: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [beside, beside.deletingLastPathComponent(), root.appendingPathComponent(".build/debug")] {
            let candidate = dir.appendingPathComponent("archlab")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return root.appendingPathComponent(".build/debug/archlab")
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var crashed: Bool
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = root
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // both pipes drained at once: a child that fills one while we wait on the other cannot block
        let stderrReader = PipeReader(err.fileHandleForReading)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = stderrReader.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
    }

    static var architectureFiles: [String] { repositoryListing("architectures", suffix: ".yaml").map { "architectures/\($0)" } }

    static var badFiles: [String] {
        repositoryListing("Tests/Fixtures/architectures/bad", suffix: ".yaml").map { "Tests/Fixtures/architectures/bad/\($0)" }
    }

    @Test func summaryPrintsTheTable() throws {
        let r = try Self.run(["summary", "architectures/googlenet.yaml"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("inception4a.branch3.1.conv"))
        #expect(r.stdout.contains("total params: 13,378,280"))
        #expect(r.stderr.isEmpty)
    }

    @Test func summaryWithSetAndInputAndJSON() throws {
        let r = try Self.run(["summary", "architectures/googlenet-torchvision.yaml", "--set", "aux_logits=false",
                              "--input", "3x224x224", "--format", "json"])
        #expect(r.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(object?["total_params"] as? Int == 6_624_904)
        #expect(object?["macs"] as? Int == 1_498_376_192)
    }

    @Test(arguments: ["table", "paper", "markdown", "csv", "json"])
    func everyFormat(format: String) throws {
        let r = try Self.run(["summary", "architectures/resnet50.yaml", "--format", format])
        #expect(r.status == 0)
        let expected = ["json": "\"total_params\": 25557032", "csv": "layer4.2.conv3,conv2d,2048x7x7,1048576,51380224,0,false"][format]
        #expect(r.stdout.contains(expected ?? "25,557,032"))
    }

    @Test func locatedErrorWithCaretAndExitCode1() throws {
        let r = try Self.run(["summary", "Tests/Fixtures/architectures/bad/unknown-op.yaml"])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "Tests/Fixtures/architectures/bad/unknown-op.yaml:5:23: conv1: unknown op or template 'conv2'; did you mean 'conv2d'? (`archlab ops` lists the \(OpRegistry.names.count) ops; templates: none)")
        #expect(lines.count > 2 && lines[1] == "    - {name: conv1, op: conv2, out: 16, kernel: 5}")
        #expect(lines[2] == "                        ^")
    }

    @Test func setErrorNamesTheArgument() throws {
        let r = try Self.run(["summary", "architectures/googlenet.yaml", "--set", "branch3_kernel=no"])
        #expect(r.status == 1)
        #expect(r.stderr == "--set branch3_kernel=no: parameter 'branch3_kernel': expected an integer, found 'no'\n")
    }

    @Test func badInputShape() throws {
        let r = try Self.run(["summary", "architectures/lenet.yaml", "--input", "3x0x32"])
        #expect(r.status == 1)
        #expect(r.stderr == "--input 3x0x32: input shape '3x0x32': expected CxHxW with positive integers, e.g. 3x224x224\n")
    }

    @Test func validateEveryArchitectureFile() throws {
        let files = Self.architectureFiles
        #expect(files.count == 30)
        let r = try Self.run(["validate"] + files)
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: "\n").count == files.count)
        #expect(r.stdout.contains("architectures/vgg19-bn.yaml: ok (vgg19-bn, 143,678,248 params)"))
    }

    @Test func validateReportsEachBadFileAndExits1() throws {
        let r = try Self.run(["validate", "architectures/lenet.yaml", "Tests/Fixtures/architectures/bad/zero-channels.yaml"])
        #expect(r.status == 1)
        #expect(r.stdout.hasPrefix("architectures/lenet.yaml: ok"))
        #expect(r.stderr.hasPrefix("Tests/Fixtures/architectures/bad/zero-channels.yaml:5:36: conv1: conv2d 'out': expected a positive integer, found 0\n"))
    }

    @Test(arguments: badFiles)
    func badFilesNeverCrash(file: String) throws {
        #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(file).path), "the listing found no bad files")
        let r = try Self.run(["validate", file])
        #expect(!r.crashed)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("Tests/Fixtures/architectures/bad/"))
        #expect(!r.stderr.contains("Fatal error"))
    }

    @Test(arguments: [(["summary"], "Missing expected argument '<file>'"),
                      (["summary", "architectures/lenet.yaml", "--format", "pdf"], "The value 'pdf' is invalid for '--format <format>'"),
                      (["frobnicate"], "archlab: unknown command 'frobnicate' (commands: summary, validate,"),
                      (["sweep", "experiments/smoke.yaml", "--shard", "5/4"], "--shard expects K/N with 1 <= K <= N (for example 2/4), found '5/4'"),
                      (["sweep"], "missing the experiment file (or --base ARCH.yaml --axis ..., or --status DIR)"),
                      (["sweep", "experiments/smoke.yaml", "--status", "runs/x"], "--status DIR takes no experiment file"),
                      (["sweep", "experiments/smoke.yaml", "--submit"], "--submit goes with --slurm"),
                      (["sweep", "experiments/smoke.yaml", "--slurm", "--shard", "1/2"], "give only one of them")])
    func usageErrors(arguments: [String], message: String) throws {
        let r = try Self.run(arguments)
        #expect(r.status == 64)
        #expect(r.stderr.contains(message))
    }

    /// --slurm writes the job-array script and the plan without running anything; --status reads them.
    @Test func slurmScriptAndStatus() throws {
        let dir = EngineCLITests.temporary("slurm")
        let r = try Self.run(["sweep", "experiments/smoke.yaml", "--out", dir, "--slurm", "--shards", "3", "--partition", "cpu", "--time", "0:30:00"])
        #expect(r.status == 0, "\(r.stderr)")
        let script = try String(contentsOfFile: dir + "/slurm/sweep.sbatch", encoding: .utf8)
        #expect(script.contains("#SBATCH --array=1-3\n") && script.contains("#SBATCH --partition=cpu\n") && script.contains("--shard \"${SLURM_ARRAY_TASK_ID}/3\""))
        #expect(!FileManager.default.fileExists(atPath: dir + "/results.sqlite"))
        let status = try Self.run(["sweep", "--status", dir])
        #expect(status.status == 0)
        #expect(status.stdout.contains("smoke: 4 trials in 3 shard(s)"))
        #expect(status.stdout.contains("shard 1/3: 2 trial(s) not started") && status.stdout.contains("shard 3/3: 1 trial(s) not started"))
    }

    @Test func opsListsTheRegistry() throws {
        let r = try Self.run(["ops"])
        #expect(r.status == 0)
        for op in ["conv2d", "batchnorm2d", "relu", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "lrn", "linear", "dropout",
                   "flatten", "concat", "add", "identity"] {
            #expect(r.stdout.contains("\n\(op) ") || r.stdout.hasPrefix("\(op) "), "\(op)")
        }
    }
}

/// `init`, `forward`, `train` and `eval` as a user runs them.
@Suite(.serialized) struct EngineCLITests {
    static func temporary(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-cli-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    /// A float32 .npy of shape [n, c, h, w] (values i / count).
    static func writeInput(_ path: String, shape: [Int]) throws {
        let count = shape.reduce(1, *)
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 255), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        for i in 0..<count { var v = Float(i) / Float(count); withUnsafeBytes(of: &v) { data.append(contentsOf: $0) } }
        try data.write(to: URL(fileURLWithPath: path))
    }

    @Test func initThenForwardEvalAndTrain() throws {
        let weights = Self.temporary("w.safetensors"), x = Self.temporary("x.npy"), y = Self.temporary("y.npy")
        let r1 = try CLITests.run(["init", "architectures/lenet.yaml", "--seed", "3", "--out", weights, "--input", "1x28x28"])
        #expect(r1.status == 0)
        #expect(r1.stdout.contains("10 tensors, 85,822 parameters"))
        try Self.writeInput(x, shape: [2, 1, 28, 28])
        let r2 = try CLITests.run(["forward", "architectures/lenet.yaml", "--weights", weights, "--input", x, "--output", y])
        #expect(r2.status == 0, "\(r2.stderr)")
        let out = try Data(contentsOf: URL(fileURLWithPath: y))
        #expect(String(decoding: out.prefix(80), as: UTF8.self).contains("'shape': (2, 10)"))
        let labels = Self.temporary("l.npy"), grads = Self.temporary("g.safetensors")
        var l = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        var header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        l.append(contentsOf: [UInt8(header.utf8.count), 0] + Array(header.utf8))
        for v in [Int64(3), Int64(7)] { var le = v.littleEndian; withUnsafeBytes(of: &le) { l.append(contentsOf: $0) } }
        try l.write(to: URL(fileURLWithPath: labels))
        let r3 = try CLITests.run(["forward", "architectures/lenet.yaml", "--weights", weights, "--input", x, "--train", "--labels", labels,
                                   "--grads", grads, "--no-dropout"])
        #expect(r3.status == 0, "\(r3.stderr)")
        #expect(r3.stdout.hasPrefix("{\"loss\": "))
        #expect(FileManager.default.fileExists(atPath: grads))
    }

    @Test func forwardWithWrongWeightsListsTheProblems() throws {
        let weights = Self.temporary("w.safetensors"), x = Self.temporary("x.npy"), y = Self.temporary("y.npy")
        _ = try CLITests.run(["init", "architectures/lenet.yaml", "--out", weights, "--input", "1x28x28"])
        try Self.writeInput(x, shape: [1, 3, 32, 32])
        let r = try CLITests.run(["forward", "architectures/lenet.yaml", "--weights", weights, "--input", x, "--output", y])
        #expect(r.status == 1)
        #expect(r.stderr.contains("size mismatch for conv1.weight: the file has [16, 1, 5, 5], the model needs [16, 3, 5, 5]"))
        #expect(r.stderr.contains("size mismatch for fc1.weight: the file has [120, 512], the model needs [120, 800]"))
    }

    static let hasFashionMNIST = FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist")

    @Test(.enabled(if: hasFashionMNIST, "Debian's dataset-fashion-mnist is not installed"))
    func trainAndEvalOnFashionMNIST() throws {
        let out = Self.temporary("run")
        let r = try CLITests.run(["train", "architectures/lenet.yaml", "--data", "fashion-mnist", "--epochs", "1", "--limit-train", "2000",
                                  "--limit-test", "500", "--threads", "1", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("lenet: input 1x28x28"))
        #expect(r.stdout.contains("epoch 1: train_loss"))
        let e = try CLITests.run(["eval", "architectures/lenet.yaml", "--weights", out + "/best.safetensors", "--limit-test", "500", "--threads", "1"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.stdout.hasPrefix("{\"accuracy\": "))

        // predict on test images of the data the run trained on: the run's config.json gives the
        // 1x28x28 input (Fashion-MNIST runs record no --resize), a JPEG is read as grayscale
        let jpeg = Self.temporary("x.jpg"), npy = Self.temporary("x.npy"), png = Self.temporary("x.png")
        let s = try CLITests.run(["data", "sample", "fashion-mnist", "--index", "2", "--out", jpeg])
        #expect(s.status == 0 && s.stdout.contains("1x28x28, class 1 (Trouser)"), "\(s.stderr)")
        #expect(try CLITests.run(["data", "sample", "fashion-mnist", "--index", "2", "--out", npy]).status == 0)
        #expect(try CLITests.run(["data", "sample", "fashion-mnist", "--index", "2", "--out", png]).status == 0)
        let p = try CLITests.run(["predict", "architectures/lenet.yaml", "--weights", out + "/best.safetensors", "--classes",
                                  out + "/class_indices.json", jpeg, npy, png, "--top", "1", "--format", "json"])
        #expect(p.status == 0, "\(p.stderr)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(p.stdout.utf8)) as? [[String: Any]])
        let top = results.compactMap { ($0["top"] as? [[String: Any]])?.first }
        let classes = top.compactMap { $0["class"] as? String }
        #expect(classes.count == 3 && Set(classes).count == 1, "the JPEG, the .npy and the PNG of one image classify alike: \(classes)")
        // PNG is lossless: the probability of the .npy (but for the rounding of the gray conversion)
        let (fromNpy, fromPNG) = (top[1]["probability"] as? Double ?? -1, top[2]["probability"] as? Double ?? 1)
        #expect(abs(fromNpy - fromPNG) <= 1e-5 * fromNpy, "\(top)")
    }

    @Test func mistypedCommandGetsASuggestion() throws {
        let r = try CLITests.run(["summery", "architectures/lenet.yaml"])
        #expect(r.status == 64)
        #expect(r.stderr.hasPrefix("archlab: unknown command 'summery'; did you mean 'summary'? (commands: summary, validate,"))
    }

    @Test func validateChecksExperimentFilesToo() throws {
        let r = try CLITests.run(["validate", "experiments/smoke.yaml", "architectures/lenet.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "experiments/smoke.yaml: ok (experiment smoke, 2 configurations, 4 trials, every network built)\narchitectures/lenet.yaml: ok (lenet, 121,182 params)\n")
    }

    @Test func dryRunBuildsEveryNetworkWithoutTimingThem() throws {
        let r = try CLITests.run(["sweep", "experiments/branch3-kernel.yaml", "--dry-run", "--out", Self.temporary("dry")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("adaptive seeds: 3 to 6 seeds per configuration, added until each comparison with the reference is decided; between 12 and 24 trials"))
        #expect(r.stdout.contains("add --estimate to time"))
    }

    @Test func badDataSourceIsAnError() throws {
        let r = try CLITests.run(["train", "architectures/lenet.yaml", "--data", "imagenet", "--out", Self.temporary("run")])
        #expect(r.status == 1)
        #expect(r.stderr == "imagenet: unknown data source; expected fashion-mnist, fashion-mnist:DIR, cifar10:DIR or folder:ROOT\n")
    }
}

/// The JPEG workflow as the course runs it: split a folder, train, predict.
@Suite(.serialized) struct JPEGWorkflowCLITests {
    @Test func splitTrainPredict() throws {
        let src = EngineCLITests.temporary("src"), root = EngineCLITests.temporary("root"), run = EngineCLITests.temporary("run")
        #expect(try CLITests.run(["data", "synth", src, "--per-class", "12", "--size", "64x48"]).status == 0)
        let split = try CLITests.run(["data", "split", src, "--out", root, "--val", "0.25", "--seed", "1"])
        #expect(split.stdout == "5 classes: 45 train, 15 val images in \(root) (60 written, 0 already in place)\n")
        let train = try CLITests.run(["train", "architectures/lenet.yaml", "--set", "num_classes=5", "--data", "folder:\(root)", "--resize", "32",
                                      "--random-resized-crop", "--flip", "--mean", "0.5", "--std", "0.5", "--epochs", "1", "--batch-size", "8",
                                      "--threads", "1", "--validation", "0", "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
        let classes = try String(contentsOfFile: run + "/class_indices.json", encoding: .utf8)
        #expect(classes.contains("\"0\": \"circles\""))
        let image = root + "/val/rings/" + (try FileManager.default.contentsOfDirectory(atPath: root + "/val/rings").sorted()[0])
        let text = try CLITests.run(["predict", "architectures/lenet.yaml", image, "--weights", run + "/best.safetensors",
                                     "--classes", run + "/class_indices.json", "--top", "3"])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 4 && lines[0] == Substring(image))
        let json = try CLITests.run(["predict", "architectures/lenet.yaml", image, image, "--weights", run + "/best.safetensors",
                                     "--classes", run + "/class_indices.json", "--top", "2", "--format", "json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(parsed?.count == 2)
        let top = parsed?[0]["top"] as? [[String: Any]]
        #expect(top?.count == 2 && top?[0]["class"] is String && top?[0]["index"] is Int && top?[0]["probability"] is Double)
        let probabilities = top?.compactMap { $0["probability"] as? Double } ?? []
        #expect(probabilities == probabilities.sorted(by: >))
        let bench = try CLITests.run(["data", "bench", "--data", "folder:\(root)", "--resize", "32", "--batch-size", "8", "--threads", "1"])
        #expect(bench.status == 0 && bench.stdout.contains("images/s"))
    }

    @Test func badImageStopsTrainingWithItsName() throws {
        let src = EngineCLITests.temporary("src"), root = EngineCLITests.temporary("root")
        _ = try CLITests.run(["data", "synth", src, "--per-class", "4", "--size", "32x32"])
        _ = try CLITests.run(["data", "split", src, "--out", root, "--val", "0.5"])
        let bad = root + "/train/dots/zero.jpg"
        _ = FileManager.default.createFile(atPath: bad, contents: Data())
        let r = try CLITests.run(["train", "architectures/lenet.yaml", "--set", "num_classes=5", "--data", "folder:\(root)", "--resize", "32",
                                  "--epochs", "1", "--threads", "1", "--out", EngineCLITests.temporary("run")])
        #expect(r.status == 1)
        #expect(r.stderr == "\(bad): empty file (0 bytes), not a JPEG image\n")
        let skip = try CLITests.run(["train", "architectures/lenet.yaml", "--set", "num_classes=5", "--data", "folder:\(root)", "--resize", "32",
                                     "--epochs", "1", "--threads", "1", "--skip-bad-images", "--validation", "0", "--out", EngineCLITests.temporary("run")])
        #expect(skip.status == 0, "\(skip.stderr)")
        #expect(skip.stdout.contains("skipped \(bad): empty file (0 bytes), not a JPEG image"))
    }
}

/// Reads a pipe to its end on a thread of its own.
final class PipeReader: @unchecked Sendable {  // `data` is written by the thread before `done` signals, read after
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
