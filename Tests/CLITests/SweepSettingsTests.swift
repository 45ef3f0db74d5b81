import ArchSweep
import ArchTensor
import ArchTrain
import Foundation
import Testing

/// A sweep's `training:` settings reach `archlab train` unchanged: the experiment's keys become a
/// `TrainingConfig`, the runner writes it as the trial's settings file (`--config`), and every
/// setting comes back out of the run's `config.json`; the same keys as `archlab train` options
/// give the same settings.
@Suite struct SweepSettingsTests {
    @Test func everyTrainingSettingRoundTripsThroughTheTrialCommandLine() throws {
        let dir = EngineCLITests.temporary("sweep")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let src = dir + "/src", root = dir + "/root", weights = dir + "/start.safetensors"
        _ = try CLITests.run(["data", "synth", src, "--per-class", "6", "--size", "40x40"])
        _ = try CLITests.run(["data", "split", src, "--out", root, "--val", "0.5"])
        let initialized = try CLITests.run(["init", "architectures/lenet.yaml", "--set", "num_classes=5", "--input", "3x32x32", "--out", weights])
        #expect(initialized.status == 0, "\(initialized.stderr)")
        // every setting away from its default (threads is a resource: the runner sets it)
        let values: [String: String] = [
            "data": "folder:\(root)", "resize": "32", "epochs": "2", "batch_size": "4", "optimizer": "adamw", "lr": "0.003",
            "momentum": "0.8", "nesterov": "true", "weight_decay": "0.0001", "decay_norms_and_biases": "false",
            "beta1": "0.8", "beta2": "0.99", "eps": "0.0001", "alpha": "0.9", "schedule": "step", "step_size": "1", "gamma": "0.5",
            "warmup": "0.5", "label_smoothing": "0.1", "validation": "0.2", "limit_train": "20", "limit_test": "10", "flip": "true",
            "pad_crop": "2", "mean": "[0.5, 0.4, 0.3]", "std": "[0.2, 0.25, 0.3]", "random_resized_crop": "true", "resize_shorter": "36",
            "skip_bad_images": "true", "init_from": "start.safetensors", "freeze_loaded": "true", "threads": "1",
            // bf16 only where the CPU has it (elsewhere it is refused, as BF16ConvolutionTests check)
            "precision": ComputePrecision.bf16Native ? "bf16" : "float32",
        ]
        #expect(Set(values.keys) == Set(Experiment.trainingKeys), "a training setting without a value here")
        let training = Experiment.trainingKeys.map { "  \($0): \(values[$0] ?? "")" }.joined(separator: "\n")
        let file = dir + "/every-setting.yaml"
        try """
        name: every-setting
        architecture: \(CLITests.root.path)/architectures/lenet.yaml
        set: {num_classes: 5}
        training:
        \(training)
        seeds: [7]
        strategy: grid
        axes:
          layers.fc1.out: [50]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let trial = try #require(try Experiment.load(file).trials().first)
        #expect(trial.training.initFrom == weights)
        let runner = SweepRunner(experiment: try Experiment.load(file), trials: [trial],
                                 options: SweepRunner.Options(directory: dir + "/out", executable: CLITests.binary.path), log: { _ in })
        let out = dir + "/run"
        let arguments = try runner.trialCommand(trial, threads: 1, out: out)
        let r = try CLITests.run(arguments)
        #expect(r.status == 0, "\(r.stderr)")
        let written = try JSONDecoder().decode(TrainingConfig.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/config.json")))
        var expected = trial.training
        expected.threads = 1
        #expect(written == expected)

        // the same settings as `archlab train` options (the names of the YAML keys, `_` as `-`)
        var options = ["train", CLITests.root.path + "/architectures/lenet.yaml", "--set", "num_classes=5", "--set", "layers.fc1.out=50",
                       "--out", dir + "/options", "--seed", "7"]
        for key in Experiment.trainingKeys {
            let option = "--" + key.replacingOccurrences(of: "_", with: "-"), value = values[key] ?? ""
            switch value {
            case "true": options.append(option)
            case "false": options.append("--no-" + option.dropFirst(2))
            default:
                let text = value.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).replacingOccurrences(of: " ", with: "")
                options += [option, key == "init_from" ? weights : text]
            }
        }
        let byOptions = try CLITests.run(options)
        #expect(byOptions.status == 0, "\(byOptions.stderr)")
        var fromOptions = try JSONDecoder().decode(TrainingConfig.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/options/config.json")))
        fromOptions.architecture = expected.architecture
        #expect(fromOptions == expected)
    }

    /// The report's header describes the runner that trained: a resume with nothing left to run
    /// keeps the recorded machine, commit and engine.
    @Test func resumeWithNothingToRunKeepsTheRecordedMachine() throws {
        let dir = EngineCLITests.temporary("sweep")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "/tiny.yaml"
        try """
        name: tiny
        architecture: \(CLITests.root.path)/architectures/lenet.yaml
        training: {data: fashion-mnist, epochs: 1, batch_size: 32, limit_train: 96, limit_test: 32, validation: 0}
        seeds: [0]
        axes:
          layers.fc1.out: [30]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let out = dir + "/out"
        let first = try CLITests.run(["sweep", file, "--out", out])
        #expect(first.status == 0, "\(first.stderr)")
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        #expect(report.contains("| engine | convolutions on oneDNN "), "\(report.prefix(800))")
        try Journal(path: out + "/results.sqlite").setMeta(["host": "elsewhere"])
        let again = try CLITests.run(["sweep", file, "--out", out])
        #expect(again.status == 0 && again.stdout.contains("0 to run"), "\(again.stdout)")
        #expect(try Journal(path: out + "/results.sqlite").meta()["host"] == "elsewhere")
        #expect(try String(contentsOfFile: out + "/report.md", encoding: .utf8).contains("| machine | elsewhere,"))
    }
}
