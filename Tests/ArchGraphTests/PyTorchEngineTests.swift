import ArchGraph
import ArchTensor
import ArchTestSupport
import Foundation
import Testing

/// Forward and backward of whole networks against PyTorch in float64, on both engines. Fixtures:
/// Tests/Fixtures/engine/*.json, written by scripts/reference/engine_fixtures.py (torch
/// 2.13.0+cpu). Both sides fill the weights with the same deterministic values; the generator
/// moves a few biases so that no ReLU input lies within float32 rounding of zero (listed in
/// `bias_overrides`): a ReLU that flips on rounding makes the exact gradient itself jump, by 1-5 %
/// of every tensor below it in ResNet-50 at batch 2 x 64x64, in PyTorch as much as in ArchLab
/// (scripts/reference/gradient_conditioning.py, reports/gradient-conditioning.md).
///
/// Tolerance, per quantity: ArchLab's error against float64 may be at most 3x PyTorch float32's
/// own error on the same quantity, plus a floor of `floor` (relative) for quantities float32 gets
/// right to the last bits, where any other summation order is a few ulps off. For a gradient
/// tensor, in absolute terms: |g - g64| <= 3 |g32 - g64| + 2e-6 |g64| + 1e-7 x the largest
/// gradient norm in the network; the last term covers tensors whose exact gradient is zero or
/// nearly so (a conv bias before batch norm; a batch norm over 4 equal values, as GoogLeNet's
/// last pooling branch at 2x2 with batch 1 has), where PyTorch's float32 may happen to get
/// exactly zero and any other order of the same float32 sums a few 1e-8 of the network's scale.
/// Tensors of up to 256 values are compared whole; larger ones through a 64-bucket count sketch,
/// whose norm estimates the error's norm without bias (PyTorch's error is measured on the same
/// sketch).
@Suite struct PyTorchEngineTests {
    /// Relative error every comparison may have, whatever PyTorch's float32 achieved.
    static let floor = 2e-6

    struct Gradient: Decodable, Sendable {
        var count: Int
        var norm: Double
        var values: [Double]?
        var sketch: [Double]?
        var pytorchFloat32Error: Double
        var pytorchFloat32SketchError: Double?

        enum CodingKeys: String, CodingKey {
            case count, norm, values, sketch
            case pytorchFloat32Error = "pytorch_float32_error", pytorchFloat32SketchError = "pytorch_float32_sketch_error"
        }
    }

    struct Fixture: Decodable, CustomTestStringConvertible, Sendable {
        var name: String, architecture: String, set: [String], inputShape: [Int], labels: [Int]
        var biasOverrides: [String: [[Double]]]
        var gradientFloor: Double
        var evalLogits: [Double], trainLogits: [Double], loss: Double, mainLoss: Double
        var pytorchFloat32EvalError: Double, pytorchFloat32TrainError: Double, pytorchFloat32LossError: Double
        var gradients: [String: Gradient]
        var runningStats: [String: [Double]]
        /// PyTorch float32's largest relative error on the recorded running statistics (fixtures
        /// written before it was recorded: nil, and a fixed 1e-5 applies).
        var pytorchFloat32RunningError: Double?
        var testDescription: String { name }

        enum CodingKeys: String, CodingKey {
            case name, architecture, set, labels, loss, gradients
            case inputShape = "input_shape", biasOverrides = "bias_overrides", gradientFloor = "gradient_floor"
            case evalLogits = "eval_logits", trainLogits = "train_logits", mainLoss = "main_loss", runningStats = "running_stats"
            case pytorchFloat32EvalError = "pytorch_float32_eval_error", pytorchFloat32TrainError = "pytorch_float32_train_error"
            case pytorchFloat32LossError = "pytorch_float32_loss_error", pytorchFloat32RunningError = "pytorch_float32_running_error"
        }
    }

    /// The two engines a user can select (ARCHLAB_CONV / ARCHLAB_GEMM), both run in this process.
    enum Engine: String, CaseIterable, Sendable {
        case onednn, openblas
        var parallel: Parallelism {
            self == .onednn ? Parallelism(threads: 2, convolution: .onednn, gemm: .onednn)
                : Parallelism(threads: 2, convolution: .openblas, gemm: .openblas)
        }
    }

    static let fixtureFiles: [String] = {
        let dir = fixturePath("engine")
        return repositoryListing("Tests/Fixtures/engine", suffix: ".json").map { dir + "/" + $0 }
    }()

    static let fixtures: [Fixture] = fixtureFiles.compactMap { path in
        FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode(Fixture.self, from: $0) }
    }

    @Test func everyFixtureDecodesAndEveryArchitectureFileHasOne() throws {
        #expect(!Self.fixtureFiles.isEmpty)
        #expect(Self.fixtures.count == Self.fixtureFiles.count, "a fixture in Tests/Fixtures/engine did not decode")
        let files = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("architectures").path)
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }
        #expect(Set(files).subtracting(Self.fixtures.map(\.architecture)).isEmpty)
    }

    /// `|error| <= 3 x PyTorch float32's + floor`, with a message naming what failed.
    static func check(_ what: String, _ error: Double, pytorch: Double, _ engine: Engine, _ f: Fixture) {
        #expect(error <= 3 * pytorch + floor,
                "\(f.name) on \(engine.rawValue): \(what): error \(error) against float64, PyTorch float32's is \(pytorch)")
    }

    @Test(arguments: fixtures, Engine.allCases)
    func matchesFloat64Reference(_ f: Fixture, _ engine: Engine) throws {
        let network = try build(architecturePath(f.architecture), set: f.set, input: Array(f.inputShape.dropFirst()))
        let model = Model(network: network)
        DeterministicWeights.fill(model.store, architecture: f.architecture)
        for (name, entries) in f.biasOverrides {
            let t = try #require(model.store[name], "bias override for a tensor the network lacks: \(name)")
            for e in entries { t[Int(e[0])] = Float(e[1]) }
        }
        let x = Tensor(shape: f.inputShape, values: DeterministicWeights.uniform("input:" + f.name, count: f.inputShape.reduce(1, *)))
        let parallel = engine.parallel

        let logits = model.predict(x, parallel: parallel).values.map(Double.init)
        #expect(logits.count == f.evalLogits.count)
        Self.check("eval logits", Self.maxError(logits, f.evalLogits), pytorch: f.pytorchFloat32EvalError, engine, f)

        let plan = model.plan(batch: f.inputShape[0], training: true)
        plan.input.copy(from: x)
        model.store.zeroGradients()
        let (loss, main) = model.trainStep(plan, labels: f.labels, smoothing: 0,
                                           context: StepContext(training: true, dropout: false, parallel: parallel))
        Self.check("loss", abs(loss - f.loss) / max(1, abs(f.loss)), pytorch: f.pytorchFloat32LossError, engine, f)
        #expect(abs(main - f.mainLoss) / max(1, abs(f.mainLoss)) <= 3 * f.pytorchFloat32LossError + Self.floor)
        Self.check("train logits", Self.maxError(plan.logits.values.map(Double.init), f.trainLogits), pytorch: f.pytorchFloat32TrainError, engine, f)

        #expect(Set(f.gradients.keys) == Set(model.store.parameterNames))
        var worst = (name: "", ratio: 0.0)
        let largest = f.gradientFloor / 1e-4  // the generator's floor is 1e-4 of the largest gradient norm
        for (name, expected) in f.gradients {
            let g = try #require(model.store.gradients[name])
            let scale = max(expected.norm, f.gradientFloor)  // what the recorded PyTorch errors are relative to
            let error: Double, pytorch: Double
            if let values = expected.values {
                error = Self.distance(g.values.map(Double.init), values)
                pytorch = expected.pytorchFloat32Error * scale
            } else {
                let sketch = try #require(expected.sketch)
                error = Self.distance(Self.sketch(g), sketch)
                pytorch = max(expected.pytorchFloat32Error, expected.pytorchFloat32SketchError ?? 0) * scale
            }
            let allowed = 3 * pytorch + Self.floor * expected.norm + 1e-7 * largest
            #expect(error <= allowed, "\(f.name) on \(engine.rawValue): gradient of \(name): |g - g64| = \(error), PyTorch float32's \(pytorch), |g64| = \(expected.norm), allowed \(allowed)")
            if error / allowed > worst.ratio { worst = (name, error / allowed) }
        }
        print("float64 reference, \(f.name) on \(engine.rawValue): worst gradient \(worst.name) at \(worst.ratio) of its allowance")
        let runningAllowed = f.pytorchFloat32RunningError.map { 3 * $0 + Self.floor } ?? 1e-5
        for (name, expected) in f.runningStats {
            let t = try #require(model.store[name])
            for (i, v) in expected.enumerated() {
                #expect(abs(Double(t[i]) - v) <= runningAllowed * max(1, abs(v)), "\(f.name) on \(engine.rawValue): \(name)[\(i)]: \(t[i]) against \(v), allowed \(runningAllowed) relative")
            }
        }
    }

    /// Largest absolute difference relative to the reference's largest magnitude (at least 1).
    static func maxError(_ a: [Double], _ reference: [Double]) -> Double {
        zip(a, reference).map { abs($0 - $1) }.max()! / max(1, reference.map(abs).max()!)
    }

    static func distance(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }

    /// The generator's count sketch: bucket i % 64 gets sign(i) * g_i, sign(i) the top bit of
    /// splitmix64((i + 1) * golden) (engine_fixtures.py, `sketch`).
    static func sketch(_ g: Tensor) -> [Double] {
        var buckets = [Double](repeating: 0, count: 64)
        g.withUnsafeMutableBufferPointer { v in
            for i in v.indices {
                var z = UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z = z ^ (z >> 31)
                buckets[i % 64] += z >> 63 == 0 ? Double(v[i]) : -Double(v[i])
            }
        }
        return buckets
    }
}
