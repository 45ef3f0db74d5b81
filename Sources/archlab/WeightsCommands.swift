import ArchJSON
import ArchGraph
import ArchSpec
import ArchTensor
import ArgumentParser
import Foundation

/// `archlab init FILE --seed S --out W.safetensors`: weights initialized as the YAML specifies.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Write initialized weights (safetensors) for an architecture.")

    @Argument(help: "Architecture file (YAML).") var file: String
    @OptionGroup var architecture: ArchitectureOptions
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Output safetensors file.") var out: String

    func run() throws {
        let model = Model(network: try architecture.build(file))
        try Diagnostics.run { try model.initialize(seed: seed) }
        try Diagnostics.file { try model.save(safetensors: out, metadata: ["architecture": model.network.name, "seed": String(seed)]) }
        print("\(out): \(model.store.names.count) tensors, \(Count.grouped(model.store.parameterCount)) parameters")
    }
}

/// `archlab forward`: an eval forward of a batch, or a training forward and backward with gradients.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run a batch through a network: eval logits, or (--train) the training loss and every parameter's gradient.")

    @Argument(help: "Architecture file (YAML).") var file: String
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter or document value (repeatable).", valueName: "path=value"))
    var overrides: [String] = []
    @Option(help: "Weights (safetensors, PyTorch state-dict names).") var weights: String
    @Option(name: .customLong("input"), help: "Input batch [N, C, H, W] as float32 .npy; the network's input shape is taken from it.")
    var inputFile: String
    @Option(help: "Where to write the main logits [N, classes] (.npy).") var output: String?
    @Flag(help: "Training mode: batch statistics in batch norm, dropout, aux heads; needs --labels and --grads.") var train = false
    @Option(help: "Class labels [N] as int64 .npy (with --train).") var labels: String?
    @Option(help: "Where to write the gradients (safetensors) (with --train).") var grads: String?
    @Flag(help: "Disable dropout in training mode.") var noDropout = false
    @Option(help: "Label smoothing of the cross-entropy.") var labelSmoothing: Float = 0
    @Option(help: "Seed for dropout.") var seed: UInt64 = 0
    @Option(help: "Threads.") var threads: Int = 1

    func validate() throws {
        if train, labels == nil || grads == nil { throw ValidationError("--train needs --labels and --grads") }
        if !train, output == nil { throw ValidationError("give --output for the logits (or --train with --labels and --grads)") }
    }

    func run() throws {
        BLAS.setThreads(1)  // kernels split their products across threads themselves
        guard case let .float32(x) = try Diagnostics.file({ try NumPy.read(inputFile) }), x.shape.count == 4 else {
            throw Diagnostics.fail("\(inputFile): expected a float32 array [N, C, H, W]")
        }
        var options = ArchitectureOptions()
        options.overrides = overrides
        options.input = x.shape.dropFirst().map(String.init).joined(separator: "x")
        let model = Model(network: try options.build(file))
        try Diagnostics.file { try model.load(safetensors: weights) }
        let parallel = Parallelism(threads: threads)
        guard train, let labels, let grads else {
            guard let output else { throw ValidationError("give --output for the logits (or --train with --labels and --grads)") }
            let logits = model.predict(x, parallel: parallel)
            try Diagnostics.file { try NumPy.write(logits, to: output) }
            return
        }
        guard case let .int64(y, _) = try Diagnostics.file({ try NumPy.read(labels) }), y.count == x.shape[0] else {
            throw Diagnostics.fail("\(labels): expected int64 labels, one per sample (\(x.shape[0]))")
        }
        let classes = model.network.output.elementCount
        if let bad = y.first(where: { $0 < 0 || $0 >= classes }) { throw Diagnostics.fail("\(labels): label \(bad) is outside 0..<\(classes)") }
        let plan = model.plan(batch: x.shape[0], training: true)
        plan.input.copy(from: x)
        model.store.zeroGradients()
        let context = StepContext(training: true, dropout: !noDropout, random: RandomSource(seed: seed), parallel: parallel)
        let (loss, main) = model.trainStep(plan, labels: y, smoothing: labelSmoothing, context: context)
        try Diagnostics.file { try Safetensors.write(model.store.parameterNames.map { ($0, model.store.gradient($0)) }, to: grads) }
        if let output { try Diagnostics.file { try NumPy.write(plan.logits, to: output) } }
        print(JSONValue.object([("loss", .double(Double(loss))), ("main_loss", .double(Double(main)))]).text())
    }
}
