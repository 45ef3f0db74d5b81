import ArchJSON
import ArchFiles
import ArchData
import ArchGraph
import ArchSpec
import ArchTensor
import ArchSweep
import ArchTrain
import ArgumentParser
import Foundation

extension OptimizerConfig.Kind: ExpressibleByArgument {}
extension Schedule.Kind: ExpressibleByArgument {}

/// `TrainingConfig`'s defaults, shown in the help (the one place they are declared is the type).
let trainingDefaults = TrainingConfig(architecture: "")

/// Options shared by `train` and `eval`: where the data comes from and how it is shaped. Every
/// option is optional: a given one overrides the settings (`--config`, else `TrainingConfig`'s defaults).
struct DataOptions: ParsableArguments {
    @Option(help: "Data: fashion-mnist (Debian's dataset-fashion-mnist), fashion-mnist:DIR, cifar10:DIR, or folder:ROOT (JPEGs in ROOT/train/<class>/ and ROOT/val/<class>/) (default: \(trainingDefaults.data)).")
    var data: String?
    @Option(help: "The network's input size N x N: images are resized (antialiased bilinear) or cropped to it.") var resize: Int?
    @Option(help: "Evaluation: resize the shorter side to N, then center-crop to --resize (torchvision's Resize + CenterCrop).")
    var resizeShorter: Int?
    @Flag(inversion: .prefixedNo, help: "Skip unreadable images (counted in the log and metrics) instead of stopping.") var skipBadImages: Bool?
    @Option(help: "Use only the first N training images.") var limitTrain: Int?
    @Option(help: "Use only the first N test images.") var limitTest: Int?
    @Option(help: "Per-channel mean to subtract, comma-separated (e.g. 0.5 or 0.485,0.456,0.406).") var mean: String?
    @Option(help: "Per-channel standard deviation to divide by, comma-separated.") var std: String?
    @Option(help: "Threads for every kernel (oneDNN, OpenBLAS, ArchLab's own loops) and the data loader; results are bit-for-bit reproducible for a fixed count (default: \(trainingDefaults.threads)).")
    var threads: Int?
    @Option(help: "Batch size (default: \(trainingDefaults.batchSize)).") var batchSize: Int?

    /// The given options over `c`.
    func apply(to c: inout TrainingConfig) throws {
        if let data { c.data = data }
        if let resize { c.resize = resize }
        if let resizeShorter { c.resizeShorter = resizeShorter }
        if let skipBadImages { c.skipBadImages = skipBadImages }
        if let limitTrain { c.limitTrain = limitTrain }
        if let limitTest { c.limitTest = limitTest }
        if let mean { c.mean = try floats(mean) }
        if let std { c.std = try floats(std) }
        if let threads { c.threads = threads }
        if let batchSize { c.batchSize = batchSize }
    }

    /// `TrainingConfig`'s defaults with the given options.
    func settings() throws -> TrainingConfig {
        var c = trainingDefaults
        try apply(to: &c)
        return c
    }

    /// Loads the data and builds `file` with the input shape the data gives.
    func trainer(_ config: TrainingConfig, file: String, overrides: [String]) throws -> Trainer {
        try Diagnostics.data {
            try Trainer(config: config) { input in
                var options = ArchitectureOptions()
                options.input = input.map(String.init).joined(separator: "x")
                options.overrides = overrides
                return try options.build(file)
            }
        }
    }

    func floats(_ text: String?) throws -> [Float] {
        guard let text else { return [] }  // (an option not given)
        let values = text.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty else { throw ValidationError("expected comma-separated numbers, found '\(text)'") }
        return values
    }
}

/// `archlab train FILE --data fashion-mnist --out DIR`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train an architecture; writes metrics, weights and the resolved config to --out.")

    @Argument(help: "Architecture file (YAML).") var file: String
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter or document value (repeatable).", valueName: "path=value"))
    var overrides: [String] = []
    @OptionGroup var dataOptions: DataOptions
    @Option(help: ArgumentHelp("Training settings as JSON: a run's config.json, or the settings a sweep writes for its trial. The options given here override it.", valueName: "settings.json"))
    var config: String?
    @Option(help: "Epochs (default: \(trainingDefaults.epochs)).") var epochs: Int?
    @Option(help: "Optimizer: \(OptimizerConfig.Kind.allCases.map(\.rawValue).joined(separator: ", ")) (default: \(trainingDefaults.optimizer.kind.rawValue)).") var optimizer: OptimizerConfig.Kind?
    @Option(help: "Learning rate (default: \(trainingDefaults.lr)).") var lr: Double?
    @Option(help: "Momentum (SGD, RMSprop) (default: \(trainingDefaults.optimizer.momentum)).") var momentum: Double?
    @Flag(inversion: .prefixedNo, help: "Nesterov momentum (SGD).") var nesterov: Bool?
    @Option(help: "Weight decay (L2 for SGD/Adam/RMSprop, decoupled for AdamW) (default: 0).") var weightDecay: Double?
    @Flag(inversion: .prefixedNo, help: "Weight decay on biases, norm scales and layer scales too (--no-decay-norms-and-biases: not on one-dimensional parameters, as ConvNeXt's recipe).")
    var decayNormsAndBiases: Bool?
    @Option(help: "Learning-rate schedule: constant, step, cosine (default: \(trainingDefaults.schedule.kind.rawValue)).") var schedule: Schedule.Kind?
    @Option(help: "Step schedule: epochs between decays (default: \(trainingDefaults.schedule.stepSize)).") var stepSize: Int?
    @Option(help: "Step schedule: decay factor (default: \(trainingDefaults.schedule.gamma)).") var gamma: Double?
    @Option(help: "Linear warm-up epochs (fractions allowed) (default: 0).") var warmup: Double?
    @Option(help: "Label smoothing of the cross-entropy (default: 0).") var labelSmoothing: Double?
    @Option(help: "Fraction of the training set held out to pick the best epoch (default: \(trainingDefaults.validationFraction)).") var validation: Double?
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips.") var flip: Bool?
    @Flag(inversion: .prefixedNo, help: "Training crops like torchvision's RandomResizedCrop(--resize, scale (0.08, 1), ratio (3/4, 4/3)).") var randomResizedCrop: Bool?
    @Option(help: "Start from these weights (transfer learning): tensors matching by name and shape are loaded, the rest (a new head) initialized.")
    var initFrom: String?
    @Flag(inversion: .prefixedNo, help: "With --init-from: train only the tensors that were not loaded (freeze the rest).") var freezeLoaded: Bool?
    @Option(help: "Zero padding before a random crop back to size (default: 0, none).") var padCrop: Int?
    @Option(help: "Random seed (weights, shuffling, dropout) (default: 0).") var seed: UInt64?
    @Option(help: "Run directory.") var out: String
    @Flag(help: "Continue from the checkpoint in --out after its last complete epoch (bit-identical to an uninterrupted run with the same --threads); a checkpoint of other settings is refused, an unreadable one reported and the run started over.")
    var resume = false
    @Option(help: "Also write TensorBoard event files into this directory (scalars per step and per epoch, the settings and the network as text); view with `tensorboard --logdir DIR`.")
    var tensorboard: String?
    @Option(help: "With --tensorboard: steps between the per-step scalars (1: every step).") var tensorboardEvery = 20
    @Option(help: "Stop after this many epochs (the schedule stays that of --epochs; continue later with --resume). Successive halving uses it.")
    var stopAfterEpoch: Int?

    func run() throws {
        SweepRunner.actAsTrial()
        // temporary files of writes a crash interrupted (the files they replace are intact)
        AtomicFile.removeLeftovers(in: out)
        let config = try settings()
        let trainer = try dataOptions.trainer(config, file: file, overrides: config.overrides)
        for problem in trainer.skipped { print("skipped \(problem)") }
        if let report = trainer.transfer {
            print("loaded \(report.loaded.count) tensors from \(config.initFrom ?? "")" + (report.shapeMismatches.isEmpty ? "" : "; initialized instead (shape changed): "
                  + report.shapeMismatches.map(\.name).joined(separator: ", ")) + (config.freezeLoaded ? "; training only those" : ""))
        }
        let metrics: RunMetrics
        do {
            let observer: TrainingObserver = tensorboard.map { ObserverGroup([ProgressPrinter(), TensorBoardObserver(directory: $0, every: tensorboardEvery)]) } ?? ProgressPrinter()
            metrics = try Diagnostics.data { try trainer.run(outputDirectory: out, observer: observer, resume: resume, stopAfter: stopAfterEpoch) }
        } catch let mismatch as Checkpoint.Mismatch {
            throw Diagnostics.fail(mismatch.description)
        }
        if metrics.diverged { throw ExitCode(2) }
        if let acc = metrics.testAccuracy {
            print(String(format: "test accuracy %.4f (epoch %d), %.1f s, %.0f images/s; %@/metrics.json",
                         acc, metrics.bestEpoch ?? 0, metrics.seconds, metrics.imagesPerSecond, out))
        }
    }
}

extension TrainCommand {
    /// The run's settings: `--config` (else `TrainingConfig`'s defaults), then every option given.
    func settings() throws -> TrainingConfig {
        var c = TrainingConfig(architecture: file)
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw Diagnostics.fail("\(config): cannot read the settings file") }
            do { c = try JSONDecoder().decode(TrainingConfig.self, from: data) } catch {
                throw Diagnostics.fail("\(config): not a settings file (a run's config.json): \(error)")
            }
            c.architecture = file
        }
        c.overrides += overrides
        try dataOptions.apply(to: &c)
        if let epochs { c.epochs = epochs }
        if let optimizer { c.optimizer.kind = optimizer }
        if let momentum { c.optimizer.momentum = momentum }
        if let nesterov { c.optimizer.nesterov = nesterov }
        if let weightDecay { c.optimizer.weightDecay = weightDecay }
        // nil means true (PyTorch's one parameter group) in configurations written before the setting
        if let decayNormsAndBiases { c.optimizer.decayNormsAndBiases = decayNormsAndBiases ? nil : false }
        if let lr { c.lr = lr }
        if let schedule { c.schedule.kind = schedule }
        if let stepSize { c.schedule.stepSize = stepSize }
        if let gamma { c.schedule.gamma = gamma }
        if let warmup { c.schedule.warmupEpochs = warmup }
        if let seed { c.seed = seed }
        if let labelSmoothing { c.labelSmoothing = labelSmoothing }
        if let validation { c.validationFraction = validation }
        if let flip { c.horizontalFlip = flip }
        if let padCrop { c.padCrop = padCrop }
        if let randomResizedCrop { c.randomResizedCrop = randomResizedCrop }
        if let initFrom { c.initFrom = initFrom }
        if let freezeLoaded { c.freezeLoaded = freezeLoaded }
        return c
    }
}

/// `archlab eval FILE --weights W --data ...`: accuracy and loss on the test set.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate weights on the test set: accuracy and loss.")

    @Argument(help: "Architecture file (YAML).") var file: String
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter or document value (repeatable).", valueName: "path=value"))
    var overrides: [String] = []
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Weights (safetensors).") var weights: String

    func run() throws {
        var config = try dataOptions.settings()
        config.architecture = file
        config.limitTrain = 1
        config.validationFraction = 0
        let trainer = try dataOptions.trainer(config, file: file, overrides: overrides)
        try Diagnostics.file { try trainer.model.load(safetensors: weights) }
        let (accuracy, loss) = try Diagnostics.data { try trainer.evaluate(trainer.test) }
        print(JSONValue.object([("accuracy", .double(accuracy)), ("loss", .double(loss)), ("images", .int(trainer.test.count))]).text())
    }
}

/// Draws a one-line progress bar on a terminal, or plain log lines otherwise.
final class ProgressPrinter: TrainingObserver {
    let terminal = isatty(STDOUT_FILENO) != 0
    var epochs = 0, lastLogged = Date.distantPast, epochStart = Date(), runStart = Date()
    var epoch = 0
    /// Progress (in epochs) when this process started stepping: a resumed run's ETA counts only the
    /// epochs it trained itself.
    var startDone: Double?

    func started(config: TrainingConfig, network: Network, trainCount: Int, stepsPerEpoch: Int) {
        epochs = config.epochs
        runStart = Date()
        let s = NetworkSummary(network)
        print("\(network.name): input \(network.input), \(Count.grouped(s.totalParams)) params, \(Count.grouped(s.macs)) MACs; "
              + "\(trainCount) training images, \(stepsPerEpoch) steps per epoch, \(config.threads) threads")
        fflush(nil)
    }

    func step(_ p: StepProgress) {
        let (epoch, step, steps) = (p.epoch, p.step, p.steps)
        if step == 1 { epochStart = Date() }
        self.epoch = epoch
        let elapsed = Date().timeIntervalSince(runStart)
        let done = Double(epoch) + Double(step) / Double(steps)
        if startDone == nil { startDone = done - 1 / Double(steps); runStart = Date() }
        let trained = done - startDone!
        let eta = trained > 0 && elapsed > 0 ? elapsed / trained * (Double(epochs) - done) : 0
        let text = String(format: "epoch %d/%d %5d/%d loss %.4f acc %.4f %.0f img/s ETA %@", epoch + 1, epochs, step, steps, p.meanLoss,
                          p.accuracy, p.imagesPerSecond, Self.duration(eta))
        if terminal {
            let width = 20, filled = Int(Double(width) * Double(step) / Double(steps))
            print("\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + text, terminator: "")
            fflush(nil)
        } else if Date().timeIntervalSince(lastLogged) > 10 || step == steps {
            lastLogged = Date()
            print(text)
            fflush(nil)
        }
    }

    func epochFinished(_ m: EpochMetrics, best: Bool) {
        if terminal { print("") }
        let validation = m.validationAccuracy.map { String(format: " val_acc %.4f", $0) } ?? ""
        print(String(format: "epoch %d: train_loss %.4f train_acc %.4f%@ test_acc %.4f test_loss %.4f (%.1f s)%@", m.epoch, m.trainLoss,
                     m.trainAccuracy, validation, m.testAccuracy, m.testLoss, m.seconds, best ? " *" : ""))
        fflush(nil)
    }

    func diverged(_ message: String) {
        if terminal { print("") }
        print(message)
        fflush(nil)
    }

    func resumed(epoch: Int, note: String?) {
        print(note ?? "resuming after epoch \(epoch) from its checkpoint")
        fflush(nil)
    }

    static func duration(_ s: Double) -> String { SweepRunner.duration(s) }
}
