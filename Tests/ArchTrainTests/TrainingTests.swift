import ArchData
import ArchGraph
import ArchTensor
import ArchTrain
import ArchTestSupport
import Foundation
import Testing

/// Optimizers and schedules against torch.optim (Tests/Fixtures/interop, written by
/// scripts/reference/training_fixtures.py). Tolerance 1e-6 (float32 parameters vs float64 PyTorch).
@Suite struct OptimizerTests {
    static var fixture: [String: Any] { json(fixturePath("interop/optimizers.json")) }

    static func config(_ name: String) -> (OptimizerConfig, Double) {
        switch name {
        case "sgd": return (OptimizerConfig(kind: .sgd, momentum: 0), 0.1)
        case "sgd_momentum": return (OptimizerConfig(kind: .sgd, momentum: 0.9, weightDecay: 0.01), 0.1)
        case "sgd_nesterov": return (OptimizerConfig(kind: .sgd, momentum: 0.9, nesterov: true), 0.1)
        case "adam": return (OptimizerConfig(kind: .adam, weightDecay: 0.1), 0.01)
        case "adamw": return (OptimizerConfig(kind: .adamw, weightDecay: 0.1), 0.01)
        case "rmsprop": return (OptimizerConfig(kind: .rmsprop, momentum: 0, weightDecay: 0.01), 0.01)
        default: return (OptimizerConfig(kind: .rmsprop, momentum: 0.9), 0.01)
        }
    }

    @Test(arguments: ["sgd", "sgd_momentum", "sgd_nesterov", "adam", "adamw", "rmsprop", "rmsprop_momentum"])
    func matchesTorchOptim(name: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("opt-\(UUID().uuidString).yaml").path
        try "name: one\ninput: [1, 1, 1]\nparams: {num_classes: 5}\nlayers:\n  - {op: flatten}\n  - {name: fc, op: linear, out: 5, bias: false}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let model = Model(network: try build(path))
        let weight = try #require(model.store["fc.weight"]), grad = try #require(model.store.gradients["fc.weight"])
        let start = Self.fixture["start"] as! [Double]
        for (i, v) in start.enumerated() { weight[i] = Float(v) }
        let (config, lr) = Self.config(name)
        let optimizer = Optimizer(config, store: model.store)
        for g in Self.fixture["gradients"] as! [[Double]] {
            for (i, v) in g.enumerated() { grad[i] = Float(v) }
            optimizer.step(lr: lr)
        }
        let expected = (Self.fixture["results"] as! [String: [Double]])[name]!
        for (i, v) in expected.enumerated() { #expect(abs(Double(weight[i]) - v) < 1e-6, "\(name)[\(i)]: \(weight[i]) vs \(v)") }
    }

    /// Each optimizer's update split across 3 threads (a parameter of 60,000 values, past the
    /// 32,768 below which a tensor stays on one thread) gives the same bits as one thread, and the
    /// same bits as the update written out element by element.
    @Test(arguments: ["sgd", "sgd_momentum", "sgd_nesterov", "adam", "adamw", "rmsprop", "rmsprop_momentum"])
    func updatesGiveTheSameBitsOnAnyThreadCount(name: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("opt-\(UUID().uuidString).yaml").path
        try "name: wide\ninput: [300, 1, 1]\nparams: {num_classes: 200}\nlayers:\n  - {op: flatten}\n  - {name: fc, op: linear, out: 200}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (config, lr) = Self.config(name)
        var weights: [[Float]] = []
        for threads in [1, 3] {
            let model = Model(network: try build(path))
            let weight = try #require(model.store["fc.weight"]), grad = try #require(model.store.gradients["fc.weight"])
            var random = RandomSource(seed: 5)
            for i in 0..<weight.count { weight[i] = random.uniform(-1, 1) }
            let optimizer = Optimizer(config, store: model.store)
            for _ in 0..<3 {
                for i in 0..<grad.count { grad[i] = random.uniform(-1, 1) }
                optimizer.step(lr: lr, parallel: Parallelism(threads: threads))
            }
            weights.append((0..<weight.count).map { weight[$0] })
        }
        #expect(weights[0].count == 60_000)
        #expect(weights[0].map(\.bitPattern) == weights[1].map(\.bitPattern), "\(name): 1 and 3 threads differ")
        // the same three steps written out for one element, in torch.optim's order of operations
        var random = RandomSource(seed: 5)
        var p = random.uniform(-1, 1)
        for _ in 1..<60_000 { _ = random.uniform(-1, 1) }
        var m: Float = 0, v: Float = 0
        let wd = Float(config.weightDecay), mu = Float(config.momentum), lr32 = Float(lr)
        for step in 1...3 {
            let g = random.uniform(-1, 1)
            for _ in 1..<60_000 { _ = random.uniform(-1, 1) }
            switch config.kind {
            case .sgd:
                var d = g + wd * p
                if mu != 0 { m = step == 1 ? d : mu * m + d; d = config.nesterov ? d + mu * m : m }
                p -= lr32 * d
            case .adam, .adamw:
                let b1 = Float(config.beta1), b2 = Float(config.beta2), t = Double(step)
                if config.kind == .adamw { p *= 1 - lr32 * wd }
                let d = config.kind == .adamw ? g : g + wd * p
                m = b1 * m + (1 - b1) * d
                v = b2 * v + (1 - b2) * d * d
                p -= Float(lr / (1 - pow(config.beta1, t))) * m / (v.squareRoot() / Float((1 - pow(config.beta2, t)).squareRoot()) + Float(config.eps))
            case .rmsprop:
                let d = g + wd * p
                m = Float(config.alpha) * m + (1 - Float(config.alpha)) * d * d
                let avg = m.squareRoot() + Float(config.eps)
                if mu > 0 { v = mu * v + d / avg; p -= lr32 * v } else { p -= lr32 * d / avg }
            }
        }
        #expect(weights[0][0].bitPattern == p.bitPattern, "\(name): \(weights[0][0]) vs \(p) written out")
    }

    /// torch.optim.AdamW with two parameter groups (weight decay 0.1 on the matrix, 0 on the bias)
    /// takes these steps, written out: with zero gradients only the decay moves a parameter.
    @Test(arguments: [true, false])
    func decayOfNormsAndBiasesFollowsTheSetting(decay: Bool) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("opt-\(UUID().uuidString).yaml").path
        try "name: one\ninput: [1, 1, 1]\nparams: {num_classes: 3}\nlayers:\n  - {op: flatten}\n  - {name: fc, op: linear, out: 3}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let model = Model(network: try build(path))
        let weight = try #require(model.store["fc.weight"]), bias = try #require(model.store["fc.bias"])
        weight.fill(1); bias.fill(1)
        var config = OptimizerConfig(kind: .adamw, weightDecay: 0.1)
        config.decayNormsAndBiases = decay
        let optimizer = Optimizer(config, store: model.store)
        for _ in 0..<3 { optimizer.step(lr: 0.5) }
        let shrunk = Float(pow(1 - 0.5 * 0.1, 3.0))
        #expect(abs(weight[0] - shrunk) < 1e-6)
        #expect(abs(bias[0] - (decay ? shrunk : 1)) < 1e-6)
    }

    @Test func schedulesMatchTorch() {
        let fixture = json(fixturePath("interop/schedules.json")) as! [String: [Double]]
        for (epoch, v) in fixture["cosine"]!.enumerated() {
            #expect(abs(Schedule(kind: .cosine).lr(base: 0.1, epoch: Double(epoch), epochs: 10) - v) < 1e-9)
        }
        for (epoch, v) in fixture["step"]!.enumerated() {
            #expect(abs(Schedule(kind: .step, stepSize: 3, gamma: 0.5).lr(base: 0.1, epoch: Double(epoch), epochs: 10) - v) < 1e-9)
        }
        let warm = Schedule(kind: .constant, warmupEpochs: 2)
        #expect(abs(warm.lr(base: 0.1, epoch: 1, epochs: 10) - 0.05) < 1e-6)
        #expect(warm.lr(base: 0.1, epoch: 3, epochs: 10) == 0.1)
    }
}

@Suite struct InteropTests {
    /// A state_dict saved by safetensors.torch.save_file loads by name and gives PyTorch's logits.
    @Test func pytorchCheckpointLoadsByName() throws {
        let model = Model(network: try build(architecturePath("lenet"), input: [1, 28, 28]))
        let report = try model.load(safetensors: fixturePath("interop/lenet.safetensors"))
        #expect(report.isComplete)
        #expect(report.loaded.count == 10)
        guard case let .float32(x) = try NumPy.read(fixturePath("interop/lenet-input.npy")),
              case let .float32(expected) = try NumPy.read(fixturePath("interop/lenet-logits.npy")) else {
            Issue.record("fixture arrays"); return
        }
        let y = model.predict(x)
        #expect(y.shape == expected.shape)
        for i in 0..<y.count { #expect(abs(y[i] - expected[i]) < 1e-5) }
    }

    @Test func loadReportsMissingUnexpectedAndMismatched() throws {
        let model = Model(network: try build(architecturePath("lenet"), set: ["num_classes=5"], input: [3, 32, 32]))
        do {
            try model.load(safetensors: fixturePath("interop/lenet.safetensors"))
            Issue.record("expected an error")
        } catch let error as TensorFileError {
            #expect(error.message.contains("size mismatch for conv1.weight: the file has [16, 1, 5, 5], the model needs [16, 3, 5, 5]"))
            #expect(error.message.contains("size mismatch for fc3.weight: the file has [10, 84], the model needs [5, 84]"))
        }
        let report = try model.load(safetensors: fixturePath("interop/lenet.safetensors"), strict: false)
        #expect(report.loaded.count == 6)
        #expect(report.shapeMismatches.count == 4)
    }

    @Test func bilinearResizeMatchesInterpolate() throws {
        let f = json(fixturePath("interop/resize.json"))
        let input = (f["input"] as! [Double]).map(Float.init), expected = f["output"] as! [Double]
        let set = ImageSet(channels: 2, height: 5, width: 7, pixels: input, labels: [0], classNames: ["a"])
        let loader = BatchLoader(source: set, batchSize: 1, transform: Transform(size: (9, 11)), training: false, shuffle: false, dropLast: false,
                                 seed: 0, parallel: .serial)
        try loader.forEachBatch(epoch: 0) { _, batch, _ in
            #expect(batch.shape == [1, 2, 9, 11])
            for i in 0..<expected.count { #expect(abs(Double(batch[i]) - expected[i]) < 1e-5, "\(i)") }
            return true
        }
    }
}

@Suite(.serialized) struct TrainerTests {
    static func config(_ dir: String, epochs: Int = 2, lr: Double = 0.05) -> TrainingConfig {
        var c = TrainingConfig(architecture: architecturePath("lenet"))
        c.data = "fashion-mnist:\(dir)"
        c.epochs = epochs
        c.batchSize = 32
        c.lr = lr
        c.threads = 1
        return c
    }

    static func trainer(_ c: TrainingConfig) throws -> Trainer {
        try Trainer(config: c) { try build(architecturePath("lenet"), input: $0) }
    }

    @Test func trainsWritesRunDirectoryAndIsDeterministic() throws {
        let data = temporaryDirectory()
        try writeSyntheticIDX(directory: data, train: 640, test: 200, seed: 1)
        let out1 = temporaryDirectory(), out2 = temporaryDirectory()
        let m1 = try Self.trainer(Self.config(data)).run(outputDirectory: out1, observer: nil)
        let m2 = try Self.trainer(Self.config(data)).run(outputDirectory: out2, observer: nil)
        #expect(m1.epochs.count == 2)
        #expect((m1.testAccuracy ?? 0) > 0.5, "a learnable synthetic set")
        #expect(m1.epochs.map(\.trainLoss) == m2.epochs.map(\.trainLoss))
        #expect(m1.testAccuracy == m2.testAccuracy)
        for file in ["config.json", "metrics.json", "last.safetensors", "best.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: "\(out1)/\(file)"), "\(file)")
        }
        let metrics = json("\(out1)/metrics.json")
        for key in ["test_accuracy", "epochs", "seconds", "images_per_second", "diverged", "best_epoch"] { #expect(metrics[key] != nil, "\(key)") }
        let epoch = (metrics["epochs"] as! [[String: Any]])[0]
        #expect(epoch["train_loss"] != nil && epoch["test_accuracy"] != nil)
        #expect(json("\(out1)/config.json")["batch_size"] as? Int == 32)
        // The best checkpoint reproduces the recorded test accuracy.
        let eval = try Self.trainer(Self.config(data))
        try eval.model.load(safetensors: "\(out1)/best.safetensors")
        #expect(try eval.evaluate(eval.test).accuracy == m1.testAccuracy)
    }

    @Test func divergenceStopsWithARecordNotACrash() throws {
        let data = temporaryDirectory()
        try writeSyntheticIDX(directory: data, train: 320, test: 64, seed: 2)
        let out = temporaryDirectory()
        let m = try Self.trainer(Self.config(data, epochs: 3, lr: 1e6)).run(outputDirectory: out, observer: nil)
        #expect(m.diverged)
        #expect(m.divergedAt?.hasPrefix("diverged at epoch 1 step ") == true)
        #expect(json("\(out)/metrics.json")["diverged"] as? Bool == true)
    }

    @Test func wrongClassCountIsExplained() throws {
        let data = temporaryDirectory()
        try writeSyntheticIDX(directory: data, train: 64, test: 16, seed: 3)
        var c = Self.config(data)
        c.overrides = ["num_classes=7"]
        #expect(throws: DataError("fashion-mnist:\(data)", "the network gives 7 outputs but the data has 10 classes; use --set num_classes=10")) {
            try Trainer(config: c) { try build(architecturePath("lenet"), set: ["num_classes=7"], input: $0) }
        }
    }
}
