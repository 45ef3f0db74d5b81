import ArchFiles
import ArchData
import ArchGraph
import ArchJSON
import ArchTensor
import ArchSpec
import Foundation

/// Everything a training run depends on; written to `config.json` in the run directory. The
/// settings among these fields are declared (named, typed, documented) in `TrainingSetting.all`.
public struct TrainingConfig: Sendable, Equatable {
    public var architecture: String
    public var overrides: [String] = []
    public var data = "fashion-mnist"
    public var resize: Int?
    public var epochs = 10
    public var batchSize = 64
    public var optimizer = OptimizerConfig()
    public var lr = 0.01
    public var schedule = Schedule()
    public var seed: UInt64 = 0
    /// 0: auto (`ThreadGovernor`).
    public var threads = 0
    public var labelSmoothing = 0.0
    /// Fraction of the training set held out to choose the best epoch.
    public var validationFraction = 0.1
    public var limitTrain: Int?
    public var limitTest: Int?
    public var horizontalFlip = false
    public var padCrop = 0
    public var mean: [Float] = []
    public var std: [Float] = []
    /// Training crops like torchvision's RandomResizedCrop(resize) instead of resizing the whole image.
    public var randomResizedCrop = false
    /// Evaluation: resize the shorter side to this, then center-crop to `resize`.
    public var resizeShorter: Int?
    /// Skip unreadable images (counted in the metrics) instead of stopping.
    public var skipBadImages = false
    /// Weights to start from (transfer learning): matching names and shapes are loaded.
    public var initFrom: String?
    /// With `initFrom`: train only the tensors that were not loaded (the new heads).
    public var freezeLoaded = false
    /// What convolutions compute in; nil is float32 (left out of identities, as before the setting existed).
    public var precision: ComputePrecision?

    public init(architecture: String) { self.architecture = architecture }
}

/// One epoch's record in `metrics.json`.
public struct EpochMetrics: Codable, Sendable {
    public var epoch: Int
    public var lr: Double
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationAccuracy: Double?
    /// Mean cross-entropy on the validation split (nil without one, and in runs recorded before it was kept).
    public var validationLoss: Double?
    public var testLoss: Double
    public var testAccuracy: Double
    public var seconds: Double
    /// What the machine was doing during the epoch (nil in runs recorded before it was measured).
    public var load: MachineLoad?

    public init(epoch: Int, lr: Double, trainLoss: Double, trainAccuracy: Double, validationAccuracy: Double?, validationLoss: Double? = nil,
                testLoss: Double, testAccuracy: Double, seconds: Double, load: MachineLoad? = nil) {
        self.epoch = epoch; self.lr = lr; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy
        self.validationAccuracy = validationAccuracy; self.validationLoss = validationLoss; self.testLoss = testLoss; self.testAccuracy = testAccuracy; self.seconds = seconds
        self.load = load
    }

    enum CodingKeys: String, CodingKey {
        case epoch, lr, seconds, load
        case trainLoss = "train_loss", trainAccuracy = "train_accuracy", validationAccuracy = "validation_accuracy", validationLoss = "validation_loss"
        case testLoss = "test_loss", testAccuracy = "test_accuracy"
    }
}

/// `metrics.json`: the result of a run.
public struct RunMetrics: Codable, Sendable {
    /// Test accuracy of the best epoch (by validation accuracy, or the last epoch without validation).
    public var testAccuracy: Double?
    public var bestEpoch: Int?
    public var epochs: [EpochMetrics] = []
    public var seconds: Double = 0
    /// Training images per second, loader included, evaluation excluded.
    public var imagesPerSecond: Double = 0
    public var diverged = false
    public var divergedAt: String?
    public var params: Int
    public var macs: Int
    public var input: [Int]
    /// Images skipped as unreadable (`skip_bad_images`), with the reason.
    public var skippedImages: [String] = []
    /// Parameters updated by training (all but frozen ones).
    public var trainableParams: Int?
    /// Epochs taken from a checkpoint instead of trained again (`--resume`), nil for a run from scratch.
    public var resumedEpochs: Int?

    public init(testAccuracy: Double? = nil, bestEpoch: Int? = nil, epochs: [EpochMetrics] = [], seconds: Double = 0,
                imagesPerSecond: Double = 0, diverged: Bool = false, divergedAt: String? = nil, params: Int, macs: Int, input: [Int]) {
        self.testAccuracy = testAccuracy; self.bestEpoch = bestEpoch; self.epochs = epochs; self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond; self.diverged = diverged; self.divergedAt = divergedAt
        self.params = params; self.macs = macs; self.input = input
    }

    enum CodingKeys: String, CodingKey {
        case epochs, seconds, diverged, params, macs, input
        case testAccuracy = "test_accuracy", bestEpoch = "best_epoch", imagesPerSecond = "images_per_second", divergedAt = "diverged_at"
        case skippedImages = "skipped_images", trainableParams = "trainable_params", resumedEpochs = "resumed_epochs"
    }
}

/// One training step as observers see it.
public struct StepProgress: Sendable {
    /// 0-based epoch.
    public var epoch: Int
    /// 1-based step within the epoch, of `steps`.
    public var step: Int, steps: Int
    /// This batch's mean cross-entropy.
    public var loss: Double
    /// Mean loss and accuracy over the epoch's batches so far.
    public var meanLoss: Double, accuracy: Double
    /// Training images per second in this epoch so far, loader included.
    public var imagesPerSecond: Double
    /// The learning rate this step used.
    public var lr: Double
    /// Steps since the run began, this one included (1-based): TensorBoard's x axis.
    public var globalStep: Int { epoch * steps + step }
}

/// Progress events of a run (the CLI draws a bar or log lines from them).
public protocol TrainingObserver: AnyObject {
    func started(config: TrainingConfig, network: Network, trainCount: Int, stepsPerEpoch: Int)
    func step(_ progress: StepProgress)
    func epochFinished(_ metrics: EpochMetrics, best: Bool)
    func diverged(_ message: String)
    /// `resume`: the run continues after `epoch` complete epochs, or (with a note) starts over.
    func resumed(epoch: Int, note: String?)
}

extension TrainingObserver {
    public func resumed(epoch: Int, note: String?) {}
}

/// Trains an architecture on a data set and writes the run directory: `config.json`,
/// `metrics.json`, `last.safetensors`, `best.safetensors`.
public final class Trainer {
    public let config: TrainingConfig
    public let model: Model
    public let train: any SampleSource, validation: (any SampleSource)?, test: any SampleSource
    public let transform: Transform
    public let skipped: [DataError]
    /// What `initFrom` loaded, and the parameters that stay fixed.
    public private(set) var transfer: Model.LoadReport?
    public private(set) var frozen: Set<String> = []
    /// The kernels' libraries, precision and threads: with `threads` auto, the count the governor chose last.
    var parallel: Parallelism {
        var p = baseParallel
        if let governor { p.threads = governor.threads }
        return p
    }
    private let baseParallel: Parallelism
    /// Re-chooses the thread count while training runs when the `threads` setting is auto (0).
    let governor: ThreadGovernor?
    /// For tests of resuming: called after each epoch's checkpoint (epoch, nil) and before each
    /// training step (epoch, step), both 0-based; throwing stops the run there, as a kill would.
    var interruption: ((Int, Int?) throws -> Void)?

    /// Loads the data and builds the network with the input shape the data gives.
    public init(config: TrainingConfig, build: (_ input: [Int]) throws -> Network) throws {
        self.config = config
        BLAS.setThreads(1)  // kernels split their products across `parallel` themselves
        let precision = config.precision ?? .float32
        try precision.check()
        // auto: the first look at the machine spans the data loading, and the count is chosen after it
        governor = config.threads == 0 ? ThreadGovernor(sample: nil) : nil
        let initial = Parallelism(threads: governor?.threads ?? config.threads, precision: precision)
        baseParallel = initial
        let source = try DataSource.parse(config.data)
        var (train, test, skipped) = try source.load(skipBadImages: config.skipBadImages, parallel: initial)
        self.skipped = skipped
        if let n = config.limitTrain, n < train.count { train = train.subset(Array(0..<n)) }
        if let n = config.limitTest, n < test.count { test = test.subset(Array(0..<n)) }
        if config.validationFraction > 0 {
            let parts = train.split(holdOut: config.validationFraction, seed: config.seed)
            // an empty split would score every epoch 0 and always pick the first as the best
            guard parts.validation.count > 0, parts.train.count > 0 else {
                throw DataError(config.data, String(format: "a validation fraction of %g holds out %d of the %d training images; give --validation 0 (the last epoch counts) or a fraction that leaves images on both sides",
                                                    config.validationFraction, parts.validation.count, train.count))
            }
            self.train = parts.train
            validation = parts.validation
        } else {
            self.train = train
            validation = nil
        }
        self.test = test
        let size = config.resize.map { ($0, $0) }
        var transform = Transform(size: size, padCrop: config.padCrop, horizontalFlip: config.horizontalFlip,
                                  mean: config.mean, std: config.std)
        transform.randomResizedCrop = config.randomResizedCrop
        transform.resizeShorter = config.resizeShorter
        self.transform = transform
        guard let native = train.nativeShape ?? size.map({ [train.channels, $0.0, $0.1] }) else {
            throw DataError(config.data, "images of different sizes need --resize N (the network's input size)")
        }
        let (h, w) = transform.outputSize(native[1], native[2])
        let network = try build([train.channels, h, w])
        guard network.output.dims == [train.classes] else {
            throw DataError(config.data, "the network gives \(network.output) outputs but the data has \(train.classes) classes; use --set num_classes=\(train.classes)")
        }
        model = Model(network: network)
        try model.initialize(seed: config.seed)
        if let path = config.initFrom {
            let report = try model.load(safetensors: path, strict: false)
            guard !report.loaded.isEmpty else { throw DataError(path, "no tensor matches \(network.name) by name and shape") }
            transfer = report
            if config.freezeLoaded { frozen = Set(report.loaded) }
        }
        governor?.settle()
    }

    /// Accuracy and mean loss of the current weights on `set` (eval mode).
    public func evaluate(_ set: any SampleSource) throws -> (accuracy: Double, loss: Double) {
        let loader = BatchLoader(source: set, batchSize: config.batchSize, transform: transform, training: false, shuffle: false,
                                 dropLast: false, seed: config.seed, parallel: parallel)
        let plan = model.plan(batch: config.batchSize, training: false)
        let context = StepContext(training: false, parallel: parallel)
        var correct = 0, lossSum = 0.0
        try loader.forEachBatch(epoch: 0) { _, input, labels in
            plan.setBatch(labels.count)
            plan.input.copy(from: input)
            plan.forward(context)
            lossSum += CrossEntropyKernel.forwardBackward(logits: plan.logits, labels: labels, smoothing: 0, weight: 1, dLogits: nil) * Double(labels.count)
            correct += Self.correct(plan.logits, labels)
            return true
        }
        return (Double(correct) / Double(max(1, set.count)), lossSum / Double(max(1, set.count)))
    }

    static func correct(_ logits: Tensor, _ labels: [Int]) -> Int {
        let k = logits.count / labels.count
        var hits = 0
        logits.withUnsafeBufferPointer { l in
            for (s, label) in labels.enumerated() {
                var best = 0
                for j in 1..<k where l[s * k + j] > l[s * k + best] { best = j }
                if best == label { hits += 1 }
            }
        }
        return hits
    }

    /// Runs every epoch; writes the run directory as it goes, with a checkpoint after every epoch.
    /// With `resume`, continues after the last complete epoch of the checkpoint in
    /// `outputDirectory` (bit-identical to an uninterrupted run with the same thread count); a
    /// checkpoint of another run throws `Checkpoint.Mismatch`, an unreadable one is reported to the
    /// observer and the run starts over.
    ///
    /// `stopAfter` ends the run after that many epochs (its checkpoint written), the schedule
    /// still that of all `config.epochs`: successive halving trains a configuration rung by rung
    /// and continues the promoted ones with `resume`.
    public func run(outputDirectory: String, observer: TrainingObserver?, resume: Bool = false, stopAfter: Int? = nil) throws -> RunMetrics {
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        let summary = NetworkSummary(model.network)
        var metrics = RunMetrics(params: summary.totalParams, macs: summary.macs, input: model.network.input.dims)
        metrics.skippedImages = skipped.map(\.description)
        metrics.trainableParams = model.store.parameterNames.filter { !frozen.contains($0) }.reduce(0) { $0 + model.store.tensor($1).count }
        try writeResolvedConfig(to: outputDirectory + "/config.json")
        try AtomicFile.write(Data(ImageFolder.classIndicesJSON(train.classNames).utf8), to: outputDirectory + "/class_indices.json")
        let loader = BatchLoader(source: train, batchSize: config.batchSize, transform: transform, training: true, shuffle: true, dropLast: true,
                                 seed: config.seed, parallel: train.nativeShape == nil ? parallel : .serial)
        let plan = model.plan(batch: config.batchSize, training: true)
        let optimizer = Optimizer(config.optimizer, store: model.store, frozen: frozen)
        observer?.started(config: config, network: model.network, trainCount: train.count, stepsPerEpoch: loader.batchCount)
        var start = Date()
        var trainingSeconds = 0.0, trainedImages = 0
        var bestValidation = -1.0
        var firstEpoch = 0
        let identity = Checkpoint.identity(config, network: model.network)
        if resume {
            do {
                if let (state, tensors) = try Checkpoint.read(from: outputDirectory, identity: identity) {
                    let path = outputDirectory + "/" + Checkpoint.tensorsFile
                    // everything checked before anything is copied: a bad file leaves the fresh run intact
                    for name in model.store.names where tensors[name]?.shape != model.store.tensor(name).shape {
                        throw Checkpoint.Unreadable(path: path, reason: "lacks \(name) \(model.store.tensor(name).shape)")
                    }
                    try optimizer.restore(tensors, steps: state.optimizerSteps, path: path)
                    for name in model.store.names { if let saved = tensors[name] { model.store.tensor(name).copy(from: saved) } }
                    metrics = state.metrics
                    metrics.resumedEpochs = state.epoch
                    bestValidation = state.bestValidation
                    trainingSeconds = state.trainingSeconds
                    trainedImages = state.trainedImages
                    start = Date().addingTimeInterval(-state.metrics.seconds)
                    firstEpoch = state.epoch
                    observer?.resumed(epoch: state.epoch, note: nil)
                }
            } catch let e as Checkpoint.Unreadable {
                observer?.resumed(epoch: 0, note: "\(e.description); starting over")
            }
        }
        for epoch in firstEpoch..<min(config.epochs, stopAfter ?? config.epochs) {
            let epochStart = Date()
            let loadProbe = MachineLoad.Probe(threads: parallel.threads)
            var lossSum = 0.0, correct = 0, seen = 0
            var divergedMessage: String?
            let context = StepContext(training: true, random: RandomSource.stream(seed: config.seed, 0xD409, UInt64(epoch)), parallel: parallel)
            var lr = config.lr
            var stopped: Error?
            try loader.forEachBatch(epoch: epoch) { b, input, labels in
                if let interruption {
                    do { try interruption(epoch, b) } catch { stopped = error; return false }
                }
                lr = config.schedule.lr(base: config.lr, epoch: Double(epoch) + Double(b) / Double(loader.batchCount), epochs: config.epochs)
                if let threads = governor?.poll() { context.parallel.threads = threads }
                plan.input.copy(from: input)
                model.store.zeroGradients(parallel: context.parallel)
                let (loss, _) = model.trainStep(plan, labels: labels, smoothing: Float(config.labelSmoothing), context: context)
                guard loss.isFinite else {
                    divergedMessage = "diverged at epoch \(epoch + 1) step \(b + 1): loss is \(loss)"
                    return false
                }
                optimizer.step(lr: lr, parallel: context.parallel)
                lossSum += loss * Double(labels.count)
                correct += Self.correct(plan.logits, labels)
                seen += labels.count
                let elapsed = Date().timeIntervalSince(epochStart)
                observer?.step(StepProgress(epoch: epoch, step: b + 1, steps: loader.batchCount, loss: loss, meanLoss: lossSum / Double(seen),
                                            accuracy: Double(correct) / Double(seen), imagesPerSecond: Double(seen) / max(elapsed, 1e-9), lr: lr))
                return true
            }
            if let stopped { throw stopped }
            trainingSeconds += Date().timeIntervalSince(epochStart)
            trainedImages += seen
            if let divergedMessage {
                metrics.diverged = true
                metrics.divergedAt = divergedMessage
                observer?.diverged(divergedMessage)
                break
            }
            let validationResult = try validation.map { try evaluate($0) }
            let validationAccuracy = validationResult?.accuracy
            let (testAccuracy, testLoss) = try evaluate(test)
            let record = EpochMetrics(epoch: epoch + 1, lr: lr, trainLoss: lossSum / Double(max(1, seen)),
                                      trainAccuracy: Double(correct) / Double(max(1, seen)), validationAccuracy: validationAccuracy,
                                      validationLoss: validationResult?.loss,
                                      testLoss: testLoss, testAccuracy: testAccuracy, seconds: Date().timeIntervalSince(epochStart),
                                      load: loadProbe.finish())
            metrics.epochs.append(record)
            let score = validationAccuracy ?? testAccuracy
            let isBest = score > bestValidation
            try model.save(safetensors: outputDirectory + "/last.safetensors", metadata: ["epoch": String(epoch + 1)])
            if isBest {
                bestValidation = score
                metrics.bestEpoch = epoch + 1
                metrics.testAccuracy = testAccuracy
                try model.save(safetensors: outputDirectory + "/best.safetensors", metadata: ["epoch": String(epoch + 1)])
            }
            metrics.seconds = Date().timeIntervalSince(start)
            metrics.imagesPerSecond = Double(trainedImages) / max(trainingSeconds, 1e-9)
            try writeJSON(metrics, to: outputDirectory + "/metrics.json")
            try Checkpoint(epoch: epoch + 1, optimizerSteps: optimizer.steps, bestValidation: bestValidation, trainingSeconds: trainingSeconds,
                           trainedImages: trainedImages, metrics: metrics, identity: identity)
                .write(to: outputDirectory, model: model, optimizer: optimizer)
            observer?.epochFinished(record, best: isBest)
            try interruption?(epoch, nil)
        }
        metrics.seconds = Date().timeIntervalSince(start)
        metrics.imagesPerSecond = Double(trainedImages) / max(trainingSeconds, 1e-9)
        try writeJSON(metrics, to: outputDirectory + "/metrics.json")
        return metrics
    }
}

extension Trainer {
    /// `config.json`: the training settings plus the network as built (file, every architecture
    /// parameter's final value, input shape, counts).
    func writeResolvedConfig(to path: String) throws {
        guard case var .object(members) = config.jsonValue else { return }
        let summary = NetworkSummary(model.network)
        members.append(("architecture_parameters", model.network.architecture.parametersJSONValue))  // in declaration order
        members.append(("network", .object([("input", .array(model.network.input.dims.map { .int($0) })), ("macs", .int(summary.macs)),
                                            ("name", .string(model.network.name)), ("params", .int(summary.totalParams))])))
        try AtomicFile.write(Data((JSONValue.object(members).text(.pretty(indent: 2)) + "\n").utf8), to: path)
    }
}

/// Writes pretty, key-sorted JSON atomically.
public func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try AtomicFile.write(try encoder.encode(value), to: path)
}
