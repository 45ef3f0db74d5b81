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

/// Loads the data `config` names and builds `file` with the input shape the data gives.
func makeTrainer(_ config: TrainingConfig, file: String, overrides: [String]) throws -> Trainer {
    try Diagnostics.data {
        try Trainer(config: config) { input in
            var options = ArchitectureOptions()
            options.input = input.map(String.init).joined(separator: "x")
            options.overrides = overrides
            return try options.build(file)
        }
    }
}

/// Comma-separated numbers (`0.485,0.456,0.406`).
func commaSeparatedFloats(_ text: String) throws -> [Float] {
    let values = text.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty else { throw ValidationError("expected comma-separated numbers, found '\(text)'") }
    return values
}

/// `archlab train FILE --data fashion-mnist --out DIR`.
struct TrainCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "train", abstract: "Train an architecture; writes metrics, weights and the resolved config to --out.",
                             discussion: SettingOptions.help(scopes: [.data, .training, .run]))
    }

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The architecture file (YAML), and training settings as options (listed below).",
                                                             valueName: "file.yaml> <--setting value"),
              completion: SettingOptions.completion(scopes: [.data, .training, .run]))
    var arguments: [String] = []
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter or document value (repeatable).", valueName: "path=value"))
    var overrides: [String] = []
    @Option(help: ArgumentHelp("Training settings as JSON: a run's config.json, or the settings a sweep writes for its trial. The options given here override it.", valueName: "settings.json"))
    var config: String?
    @Option(help: "Run directory.") var out: String
    @Flag(help: "Continue from the checkpoint in --out after its last complete epoch (bit-identical to an uninterrupted run with the same fixed --threads N; auto may choose other counts); a checkpoint of other settings is refused, an unreadable one reported and the run started over.")
    var resume = false
    @Option(help: "Also write TensorBoard event files into this directory (scalars per step and per epoch, the settings and the network as text); view with `tensorboard --logdir DIR`.")
    var tensorboard: String?
    @Option(help: "With --tensorboard: steps between the per-step scalars (1: every step).") var tensorboardEvery = 20
    @Option(help: "Stop after this many epochs (the schedule stays that of --epochs; continue later with --resume). Successive halving uses it.")
    var stopAfterEpoch: Int?

    func validate() throws { _ = try settingOptions() }

    func run() throws {
        SweepRunner.actAsTrial()
        // temporary files of writes a crash interrupted (the files they replace are intact)
        AtomicFile.removeLeftovers(in: out)
        let config = try settings()
        let trainer = try makeTrainer(config, file: config.architecture, overrides: config.overrides)
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
    /// The settings given as options, and the architecture file.
    func settingOptions() throws -> (options: SettingOptions, file: String) {
        try SettingOptions.withArchitecture(arguments, scopes: [.data, .training, .run])
    }

    func settings() throws -> TrainingConfig {
        let (options, file) = try settingOptions()
        var c = TrainingConfig(architecture: file)
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw Diagnostics.fail("\(config): cannot read the settings file") }
            do { c = try JSONDecoder().decode(TrainingConfig.self, from: data) } catch {
                throw Diagnostics.fail("\(config): not a settings file (a run's config.json): \(error)")
            }
            c.architecture = file
        }
        c.overrides += overrides
        try options.apply(to: &c)
        return c
    }
}

/// `archlab eval FILE --weights W --data ...`: accuracy and loss on the test set.
struct EvalCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "eval", abstract: "Evaluate weights on the test set: accuracy and loss.", discussion: SettingOptions.help(scopes: [.data]))
    }

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The architecture file (YAML), and data settings as options (listed below).",
                                                             valueName: "file.yaml> <--setting value"),
              completion: SettingOptions.completion(scopes: [.data]))
    var arguments: [String] = []
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter or document value (repeatable).", valueName: "path=value"))
    var overrides: [String] = []
    @Option(help: "Weights (safetensors).") var weights: String

    func validate() throws { _ = try settingOptions() }

    func settingOptions() throws -> (options: SettingOptions, file: String) {
        try SettingOptions.withArchitecture(arguments, scopes: [.data])
    }

    func run() throws {
        let (options, file) = try settingOptions()
        var config = TrainingConfig(architecture: file)
        try options.apply(to: &config)
        config.limitTrain = 1
        config.validationFraction = 0
        let trainer = try makeTrainer(config, file: file, overrides: overrides)
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
              + "\(trainCount) training images, \(stepsPerEpoch) steps per epoch, "
              + (config.threads == 0 ? "threads auto (the idle cores)" : "\(config.threads) threads"))
        fflush(nil)
    }

    func step(_ p: StepProgress) {
        let (epoch, step, steps) = (p.epoch, p.step, p.steps)
        if step == 1 { epochStart = Date() }
        self.epoch = epoch
        let elapsed = Date().timeIntervalSince(runStart)
        let done = Double(epoch) + Double(step) / Double(steps)
        let firstDone = startDone ?? done - 1 / Double(steps)
        if startDone == nil { startDone = firstDone; runStart = Date() }
        let trained = done - firstDone
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
