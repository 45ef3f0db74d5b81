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

/// Options shared by `train` and `eval`: where the data comes from and how it is shaped.
struct DataOptions: ParsableArguments {
    @Option(help: "Data: fashion-mnist (Debian's dataset-fashion-mnist), fashion-mnist:DIR, cifar10:DIR, or folder:ROOT (JPEGs in ROOT/train/<class>/ and ROOT/val/<class>/).")
    var data = "fashion-mnist"
    @Option(help: "The network's input size N x N: images are resized (antialiased bilinear) or cropped to it.") var resize: Int?
    @Option(help: "Evaluation: resize the shorter side to N, then center-crop to --resize (torchvision's Resize + CenterCrop).")
    var resizeShorter: Int?
    @Flag(help: "Skip unreadable images (counted in the log and metrics) instead of stopping.") var skipBadImages = false
    @Option(help: "Use only the first N training images.") var limitTrain: Int?
    @Option(help: "Use only the first N test images.") var limitTest: Int?
    @Option(help: "Per-channel mean to subtract, comma-separated (e.g. 0.5 or 0.485,0.456,0.406).") var mean: String?
    @Option(help: "Per-channel standard deviation to divide by, comma-separated.") var std: String?
    @Option(help: "Threads for every kernel (oneDNN, OpenBLAS, ArchLab's own loops) and the data loader; results are bit-for-bit reproducible for a fixed count.") var threads = 2
    @Option(help: "Batch size.") var batchSize = 64

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
        guard let text else { return [] }
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
    @Option(help: "Epochs.") var epochs = 10
    @Option(help: "Optimizer: \(OptimizerConfig.Kind.allCases.map(\.rawValue).joined(separator: ", ")).") var optimizer: OptimizerConfig.Kind = .sgd
    @Option(help: "Learning rate.") var lr = 0.01
    @Option(help: "Momentum (SGD, RMSprop).") var momentum = 0.9
    @Flag(help: "Nesterov momentum (SGD).") var nesterov = false
    @Option(help: "Weight decay (L2 for SGD/Adam/RMSprop, decoupled for AdamW).") var weightDecay = 0.0
    @Flag(inversion: .prefixedNo, help: "Weight decay on biases, norm scales and layer scales too (--no-decay-norms-and-biases: not on one-dimensional parameters, as ConvNeXt's recipe).")
    var decayNormsAndBiases = true
    @Option(help: "Learning-rate schedule: constant, step, cosine.") var schedule: Schedule.Kind = .constant
    @Option(help: "Step schedule: epochs between decays.") var stepSize = 30
    @Option(help: "Step schedule: decay factor.") var gamma = 0.1
    @Option(help: "Linear warm-up epochs (fractions allowed).") var warmup = 0.0
    @Option(help: "Label smoothing of the cross-entropy.") var labelSmoothing = 0.0
    @Option(help: "Fraction of the training set held out to pick the best epoch.") var validation = 0.1
    @Flag(help: "Random horizontal flips.") var flip = false
    @Flag(help: "Training crops like torchvision's RandomResizedCrop(--resize, scale (0.08, 1), ratio (3/4, 4/3)).") var randomResizedCrop = false
    @Option(help: "Start from these weights (transfer learning): tensors matching by name and shape are loaded, the rest (a new head) initialized.")
    var initFrom: String?
    @Flag(help: "With --init-from: train only the tensors that were not loaded (freeze the rest).") var freezeLoaded = false
    @Option(help: "Zero padding before a random crop back to size (0: none).") var padCrop = 0
    @Option(help: "Random seed (weights, shuffling, dropout).") var seed: UInt64 = 0
    @Option(help: "Run directory.") var out: String
    @Flag(help: "Continue from the checkpoint in --out after its last complete epoch (bit-identical to an uninterrupted run with the same --threads); a checkpoint of other settings is refused, an unreadable one reported and the run started over.")
    var resume = false
    @Option(help: "Also write TensorBoard event files into this directory (scalars per step and per epoch, the settings and the network as text); view with `tensorboard --logdir DIR`.")
    var tensorboard: String?
    @Option(help: "Stop after this many epochs (the schedule stays that of --epochs; continue later with --resume). Successive halving uses it.")
    var stopAfterEpoch: Int?

    func run() throws {
        SweepRunner.actAsTrial()
        // temporary files of writes a crash interrupted (the files they replace are intact)
        AtomicFile.removeLeftovers(in: out)
        var config = TrainingConfig(architecture: file)
        config.overrides = overrides
        config.data = dataOptions.data
        config.resize = dataOptions.resize
        config.epochs = epochs
        config.batchSize = dataOptions.batchSize
        config.optimizer = OptimizerConfig(kind: optimizer, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        if !decayNormsAndBiases { config.optimizer.decayNormsAndBiases = false }
        config.lr = lr
        config.schedule = Schedule(kind: schedule, stepSize: stepSize, gamma: gamma, warmupEpochs: warmup)
        config.seed = seed
        config.threads = dataOptions.threads
        config.labelSmoothing = labelSmoothing
        config.validationFraction = validation
        config.limitTrain = dataOptions.limitTrain
        config.limitTest = dataOptions.limitTest
        config.horizontalFlip = flip
        config.padCrop = padCrop
        config.randomResizedCrop = randomResizedCrop
        config.resizeShorter = dataOptions.resizeShorter
        config.skipBadImages = dataOptions.skipBadImages
        config.initFrom = initFrom
        config.freezeLoaded = freezeLoaded
        config.mean = try dataOptions.floats(dataOptions.mean)
        config.std = try dataOptions.floats(dataOptions.std)
        let trainer = try dataOptions.trainer(config, file: file, overrides: overrides)
        for problem in trainer.skipped { print("skipped \(problem)") }
        if let report = trainer.transfer {
            print("loaded \(report.loaded.count) tensors from \(initFrom ?? "")" + (report.shapeMismatches.isEmpty ? "" : "; initialized instead (shape changed): "
                  + report.shapeMismatches.map(\.name).joined(separator: ", ")) + (freezeLoaded ? "; training only those" : ""))
        }
        let metrics: RunMetrics
        do {
            let observer: TrainingObserver = tensorboard.map { ObserverGroup([ProgressPrinter(), TensorBoardObserver(directory: $0)]) } ?? ProgressPrinter()
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

/// `archlab eval FILE --weights W --data ...`: accuracy and loss on the test set.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate weights on the test set: accuracy and loss.")

    @Argument(help: "Architecture file (YAML).") var file: String
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter or document value (repeatable).", valueName: "path=value"))
    var overrides: [String] = []
    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Weights (safetensors).") var weights: String

    func run() throws {
        var config = TrainingConfig(architecture: file)
        config.data = dataOptions.data
        config.resize = dataOptions.resize
        config.batchSize = dataOptions.batchSize
        config.threads = dataOptions.threads
        config.limitTest = dataOptions.limitTest
        config.resizeShorter = dataOptions.resizeShorter
        config.skipBadImages = dataOptions.skipBadImages
        config.limitTrain = 1
        config.validationFraction = 0
        config.mean = try dataOptions.floats(dataOptions.mean)
        config.std = try dataOptions.floats(dataOptions.std)
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
