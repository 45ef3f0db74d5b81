import ArchData
import ArchGraph
import ArchTensor
@testable import ArchTrain
import ArchTestSupport
import Foundation
import Testing

/// `archlab train --resume`: a run stopped after an epoch, or in the middle of one, and resumed
/// from its checkpoint ends with the same weights and metrics, bit for bit, as a run that was
/// never stopped (same thread count). Augmentation (flips, pad-crop) and dropout are on, so every
/// random stream has to continue where it was.
@Suite(.serialized) struct ResumeTests {
    /// A small network with batch norm and dropout (both carry state or randomness through a run).
    static let architecture = """
    name: tiny
    input: [1, 28, 28]
    params:
      num_classes: 10
    layers:
      - {name: conv, op: conv2d, out: 6, kernel: 3, padding: 1}
      - {name: bn, op: batchnorm2d}
      - {name: relu, op: relu}
      - {name: pool, op: maxpool2d, kernel: 2, stride: 2}
      - {name: flatten, op: flatten}
      - {name: drop, op: dropout, p: 0.3}
      - {name: fc, op: linear, out: $num_classes}
    """

    struct Stop: Error {}

    /// Records what `resume` reported.
    final class Notes: TrainingObserver {
        var notes: [String?] = []
        func started(config: TrainingConfig, network: Network, trainCount: Int, stepsPerEpoch: Int) {}
        func step(_ progress: StepProgress) {}
        func epochFinished(_ metrics: EpochMetrics, best: Bool) {}
        func diverged(_ message: String) {}
        func resumed(epoch: Int, note: String?) { notes.append(note) }
    }

    static func config(_ data: String, optimizer: OptimizerConfig.Kind) -> TrainingConfig {
        var c = TrainingConfig(architecture: architecturePath)
        c.data = "fashion-mnist:\(data)"
        c.epochs = 3
        c.batchSize = 32
        c.optimizer.kind = optimizer
        c.lr = optimizer == .sgd ? 0.05 : 0.003
        c.schedule.kind = .cosine
        c.horizontalFlip = true
        c.padCrop = 2
        c.threads = 2
        return c
    }

    static let architecturePath: String = {
        let path = temporaryDirectory() + "/tiny.yaml"
        try? architecture.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    static func trainer(_ c: TrainingConfig) throws -> Trainer {
        try Trainer(config: c) { try build(architecturePath, input: $0) }
    }

    /// Runs `c` into `out` and stops it as a kill would: after epoch `epochs` (its checkpoint
    /// written), or at step `step` of the epoch after it.
    static func stopped(_ c: TrainingConfig, after epochs: Int, atStep step: Int? = nil, out: String) throws {
        let t = try trainer(c)
        t.interruption = { epoch, s in
            if let step, epoch == epochs, s == step { throw Stop() }
            if step == nil, epoch == epochs - 1, s == nil { throw Stop() }
        }
        #expect(throws: Stop.self) { _ = try t.run(outputDirectory: out, observer: nil) }
    }

    static func files(_ dir: String) throws -> (metrics: String, weights: [String: [Float]]) {
        var metrics = try String(contentsOfFile: dir + "/metrics.json", encoding: .utf8)
        // times differ between any two runs; everything else must not
        metrics = metrics.split(separator: "\n").filter { !$0.contains("seconds") && !$0.contains("images_per_second")
            && !$0.contains("load_average") && !$0.contains("cpu_share") && !$0.contains("resumed_epochs") }.joined(separator: "\n")
        let weights = try Safetensors.read(dir + "/last.safetensors").tensors.mapValues(\.values)
        return (metrics, weights)
    }

    @Test(arguments: [OptimizerConfig.Kind.sgd, .adam])
    func resumedRunsEqualAnUninterruptedOneBitForBit(_ optimizer: OptimizerConfig.Kind) throws {
        let data = temporaryDirectory()
        try writeSyntheticIDX(directory: data, train: 512, test: 128, seed: 3)
        let c = Self.config(data, optimizer: optimizer)
        let full = temporaryDirectory()
        _ = try Self.trainer(c).run(outputDirectory: full, observer: nil)
        let expected = try Self.files(full)

        // stopped at an epoch boundary (after epoch 2 of 3), resumed in a new trainer
        let boundary = temporaryDirectory()
        try Self.stopped(c, after: 2, out: boundary)
        let notes = Notes()
        let resumed = try Self.trainer(c).run(outputDirectory: boundary, observer: notes, resume: true)
        #expect(notes.notes == [nil], "resumed from the checkpoint, no complaint")
        #expect(resumed.resumedEpochs == 2)
        let afterBoundary = try Self.files(boundary)
        let boundaryMetricsEqual = afterBoundary.metrics == expected.metrics, boundaryWeightsEqual = afterBoundary.weights == expected.weights
        #expect(boundaryMetricsEqual, "metrics after a resume at an epoch boundary differ")
        #expect(boundaryWeightsEqual, "weights after a resume at an epoch boundary differ")

        // stopped in the middle of epoch 3: the partial epoch left no checkpoint, the one of epoch 2 stays
        let middle = temporaryDirectory()
        try Self.stopped(c, after: 2, atStep: 5, out: middle)
        _ = try Self.trainer(c).run(outputDirectory: middle, observer: nil, resume: true)
        let afterMiddle = try Self.files(middle)
        let middleMetricsEqual = afterMiddle.metrics == expected.metrics, middleWeightsEqual = afterMiddle.weights == expected.weights
        #expect(middleMetricsEqual, "metrics after a kill in the middle of an epoch differ")
        #expect(middleWeightsEqual, "weights after a kill in the middle of an epoch differ")
    }

    @Test func checkpointOfOtherSettingsIsRefusedNamingTheDifference() throws {
        let data = temporaryDirectory()
        try writeSyntheticIDX(directory: data, train: 128, test: 64, seed: 4)
        let c = Self.config(data, optimizer: .sgd)
        let out = temporaryDirectory()
        try Self.stopped(c, after: 1, out: out)
        var other = c
        other.lr = 0.02
        other.seed = 7
        do {
            _ = try Self.trainer(other).run(outputDirectory: out, observer: nil, resume: true)
            Issue.record("a checkpoint of another run was used")
        } catch let mismatch as Checkpoint.Mismatch {
            #expect(mismatch.differences == ["training.lr (checkpoint 0.05, this run 0.02)", "training.seed (checkpoint 0, this run 7)"])
            #expect(mismatch.description.hasSuffix("Remove it (or use another --out) to start this run afresh."))
        }
    }

    @Test func corruptCheckpointIsReportedAndTheRunStartsOver() throws {
        let data = temporaryDirectory()
        try writeSyntheticIDX(directory: data, train: 128, test: 64, seed: 5)
        var c = Self.config(data, optimizer: .sgd)
        c.epochs = 2
        let full = temporaryDirectory()
        _ = try Self.trainer(c).run(outputDirectory: full, observer: nil)
        let out = temporaryDirectory()
        try Self.stopped(c, after: 1, out: out)
        let path = out + "/" + Checkpoint.tensorsFile
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))  // truncated
        let observer = Notes()
        let metrics = try Self.trainer(c).run(outputDirectory: out, observer: observer, resume: true)
        #expect(metrics.resumedEpochs == nil)
        #expect(observer.notes.count == 1 && observer.notes[0]?.contains("starting over") == true, "\(observer.notes)")
        let same = try Self.files(out).weights == Self.files(full).weights
        #expect(same, "a fresh start is the same run")
    }
}

@Suite struct ValidationSplitTests {
    /// A tiny training set whose validation fraction rounds to no image used to print
    /// `val_acc 0.0000` every epoch (and keep the first epoch as the best): now an error.
    @Test func emptyValidationSplitIsAnError() throws {
        let data = temporaryDirectory()
        try writeSyntheticIDX(directory: data, train: 64, test: 32, seed: 6)
        var c = TrainingConfig(architecture: architecturePath("lenet"))
        c.data = "fashion-mnist:\(data)"
        c.limitTrain = 4
        c.validationFraction = 0.1
        do {
            _ = try Trainer(config: c) { try build(architecturePath("lenet"), input: $0) }
            Issue.record("a validation split of no image was accepted")
        } catch let e as DataError {
            #expect(e.description.contains("a validation fraction of 0.1 holds out 0 of the 4 training images; give --validation 0"), "\(e.description)")
        }
    }
}
