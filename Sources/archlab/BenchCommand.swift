import ArchGraph
import ArchJSON
import ArchSpec
import ArchTensor
import ArchTrain
import ArgumentParser
import Foundation

/// `archlab bench FILE --input CxHxW --batch N`: training or eval throughput on random data.
struct ModelBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training (SGD with momentum, cross-entropy) or eval throughput on random data, with a per-op breakdown.")

    enum Mode: String, ExpressibleByArgument, CaseIterable { case train, eval }
    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Architecture file (YAML).") var file: String
    @Option(help: "Input shape CxHxW.") var input: String
    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Classes (sets num_classes).") var classes = 10
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter or document value (repeatable).", valueName: "path=value"))
    var overrides: [String] = []
    @Option(help: "train or eval.") var mode: Mode = .train
    @Option(help: "Seconds of timed steps (after warm-up).") var seconds = 10.0
    @Option(help: "Threads, or auto: as many as the cores other processes leave idle, re-chosen every 2 seconds (what train does by default).")
    var threads: ThreadCount = .auto
    @Option(help: "float32, or bf16: convolutions on bfloat16 operands with float32 accumulation (needs AVX512_BF16 or AMX).")
    var precision: ComputePrecision = .float32
    @Option(help: "text or json.") var format: Format = .text
    @Option(help: "Also list the N slowest layers (text).") var layers = 0

    func run() throws {
        try precision.check()
        BLAS.setThreads(1)  // kernels split their products across threads themselves
        var options = ArchitectureOptions()
        options.input = input
        options.overrides = overrides + ["num_classes=\(classes)"]
        let model = Model(network: try options.build(file))
        try Diagnostics.run { try model.initialize(seed: 0) }
        let training = mode == .train
        let plan = model.plan(batch: batch, training: training)
        var random = RandomSource(seed: 1)
        plan.input.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = random.uniform(-1, 1) } }
        let labels = (0..<batch).map { $0 % classes }
        let optimizer = Optimizer(OptimizerConfig(kind: .sgd, momentum: 0.9), store: model.store)
        let context = StepContext(training: training, random: RandomSource(seed: 2), parallel: Parallelism(threads: 1, precision: precision))
        let governor: ThreadGovernor? = threads.fixed == nil ? ThreadGovernor() : nil
        context.parallel.threads = threads.fixed ?? governor?.threads ?? 1
        var threadsUsed: Set<Int> = [context.parallel.threads]
        var optimizerSeconds = 0.0  // zeroing and updating the parameters, outside every op's time
        func step() {
            if let chosen = governor?.poll() { context.parallel.threads = chosen; threadsUsed.insert(chosen) }
            if training {
                var start = Date()
                model.store.zeroGradients(parallel: context.parallel)
                optimizerSeconds += Date().timeIntervalSince(start)
                _ = model.trainStep(plan, labels: labels, smoothing: 0, context: context)
                start = Date()
                optimizer.step(lr: 0.001, parallel: context.parallel)
                optimizerSeconds += Date().timeIntervalSince(start)
            } else {
                plan.forward(context)
            }
        }
        for _ in 0..<2 { step() }
        var steps = 0
        let start = Date()
        while steps < 3 || Date().timeIntervalSince(start) < seconds {
            step()
            steps += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        let images = Double(steps * batch)
        let macs = Double(NetworkSummary(model.network).macs)
        let imagesPerSecond = images / elapsed
        let gflops = imagesPerSecond * macs * 2 * (training ? 3 : 1) / 1e9
        // per-op breakdown from a few more profiled steps
        let profile = OpProfile()
        plan.profile = profile
        let profiledSteps = max(1, min(steps, 3))
        optimizerSeconds = 0
        for _ in 0..<profiledSteps { step() }
        plan.profile = nil
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peak = Int(usage.ru_maxrss) * 1024
        let rows = profile.rows
        let threadsText = threadsUsed.sorted().map(String.init).joined(separator: "-")
        switch format {
        case .text:
            print(String(format: "%@ %@ %@ batch %d, %@ threads%@, %@: %.1f images/s, %.1f GFLOP/s (%d steps in %.1f s), peak RSS %@ MiB",
                         model.network.name, mode.rawValue, input, batch, threadsText, threads.fixed == nil ? " (auto)" : "", precision.rawValue, imagesPerSecond, gflops, steps, elapsed,
                         String(format: "%.0f", Double(peak) / 1_048_576)))
            let total = rows.reduce(0) { $0 + $1.forward + $1.backward }
            for r in rows.prefix(12) {
                print("  " + r.op.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "forward %8.1f ms  backward %8.1f ms  %5.1f%%", r.forward * 1000 / Double(profiledSteps),
                             r.backward * 1000 / Double(profiledSteps), (r.forward + r.backward) / max(total, 1e-12) * 100))
            }
            if training {
                print("  " + "optimizer".padding(toLength: 20, withPad: " ", startingAt: 0)
                      + String(format: "%8.1f ms per step zeroing and updating the parameters (not in the percentages)", optimizerSeconds * 1000 / Double(profiledSteps)))
            }
            if layers > 0 { print("slowest layers:") }
            for r in profile.layerRows.prefix(layers) {
                print("  " + r.op.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "forward %8.2f ms  backward %8.2f ms  %5.1f%%", r.forward * 1000 / Double(profiledSteps),
                             r.backward * 1000 / Double(profiledSteps), (r.forward + r.backward) / max(total, 1e-12) * 100))
            }
        case .json:
            let ops: [JSONValue] = rows.map {
                .object([("op", .string($0.op)), ("forward_seconds_per_step", .double($0.forward / Double(profiledSteps))),
                         ("backward_seconds_per_step", .double($0.backward / Double(profiledSteps)))])
            }
            print(JSONValue.object([("name", .string(model.network.name)), ("mode", .string(mode.rawValue)), ("input", .string(input)),
                                    ("batch", .int(batch)), ("threads", .string(threadsText)), ("threads_setting", .string(threads.description)), ("precision", .string(precision.rawValue)), ("steps", .int(steps)), ("seconds", .double(elapsed)),
                                    ("images_per_second", .double(imagesPerSecond)), ("gflops_per_second", .double(gflops)),
                                    ("macs_per_image", .int(Int(macs))), ("peak_rss_bytes", .int(Int(peak))), ("ops", .array(ops)),
                                    ("optimizer_seconds_per_step", .double(optimizerSeconds / Double(profiledSteps)))]).text())
        }
    }
}

/// `archlab sgemm --n 2048`: the machine's sgemm throughput (the peak GEMM-bound work can reach),
/// on oneDNN and on OpenBLAS.
struct SgemmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sgemm", abstract: "Measure sgemm GFLOP/s (n x n x n) on oneDNN and OpenBLAS.")

    @Option(help: "Matrix size.") var n = 2048
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Seconds per measurement.") var seconds = 3.0
    @Option(help: "text or json.") var format: ModelBenchCommand.Format = .text

    func run() throws {
        var random = RandomSource(seed: 0)
        let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), c = Tensor(shape: [n, n])
        a.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = random.uniform(-1, 1) } }
        b.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = random.uniform(-1, 1) } }
        func measure(_ product: () -> Void) -> Double {
            product()
            var runs = 0
            let start = Date()
            while runs < 2 || Date().timeIntervalSince(start) < seconds {
                product()
                runs += 1
            }
            return 2 * pow(Double(n), 3) * Double(runs) / Date().timeIntervalSince(start) / 1e9
        }
        let parallel = Parallelism(threads: threads)
        let onednn = measure { BLAS.matmul(a, b, into: c, parallel: parallel, library: .onednn) }
        // OpenBLAS's own threads, then what the OpenBLAS path does: single-threaded calls on blocks split across our threads
        BLAS.setThreads(threads)
        let openblas = measure { BLAS.matmul(a, b, into: c, parallel: .serial, library: .openblas) }
        BLAS.setThreads(1)
        let split = measure { BLAS.matmul(a, b, into: c, parallel: parallel, library: .openblas) }
        let best = max(onednn, openblas, split)
        if format == .json {
            print(JSONValue.object([("n", .int(n)), ("threads", .int(threads)), ("gflops_per_second", .double(best)),
                                    ("onednn_gflops_per_second", .double(onednn)), ("openblas_gflops_per_second", .double(openblas)),
                                    ("openblas_split_gflops_per_second", .double(split)), ("openblas_core", .string(BLAS.coreName)),
                                    ("library", .string(GEMMLibrary.preferred.rawValue))]).text())
        } else {
            print(String(format: "sgemm n=%d, %d threads: oneDNN %.1f GFLOP/s, OpenBLAS (%@ kernels) %.1f GFLOP/s with its threads, %.1f split by ArchLab; kernels use %@",
                         n, threads, onednn, BLAS.coreName, openblas, split, GEMMLibrary.preferred.rawValue))
        }
    }
}
extension ComputePrecision: ExpressibleByArgument {}

/// A thread count, or auto (`ThreadGovernor`).
enum ThreadCount: ExpressibleByArgument, CustomStringConvertible {
    case auto
    case count(Int)

    init?(argument: String) {
        guard let n = TrainingSetting.Kind.threads(argument) else { return nil }
        self = n == 0 ? .auto : .count(n)
    }

    var fixed: Int? { if case let .count(n) = self { return n }; return nil }
    var description: String { fixed.map(String.init) ?? "auto" }
    var defaultValueDescription: String { description }
}
