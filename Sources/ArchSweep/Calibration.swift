import ArchData
import ArchGraph
import ArchSpec
import ArchTensor
import Foundation

/// Estimates a trial's training time from a short measurement on this machine: a few training
/// steps and evaluation steps of the trial's network at its batch size.
public enum Calibration {
    public struct Estimate: Sendable {
        /// Median seconds of one training step and of one evaluation step.
        public var trainStepSeconds: Double
        public var evalStepSeconds: Double
        /// The trial's estimated seconds from the median steps, and from the fastest and the
        /// slowest measured steps (the spread a busy or noisy machine gives).
        public var trialSeconds: Double
        public var trialSecondsRange: ClosedRange<Double>
    }

    /// Images a trial trains on and evaluates, from its settings (Fashion-MNIST 60,000/10,000 and
    /// CIFAR-10 50,000/10,000 when not limited).
    static func counts(_ t: Trial) -> (train: Int, evaluate: Int) {
        let full = (try? DataSource.parse(t.training.data))?.imageCounts() ?? (train: 0, test: 0)
        let train = min(t.training.limitTrain ?? full.0, full.0), test = min(t.training.limitTest ?? full.1, full.1)
        let validation = Int(Double(train) * t.training.validationFraction)
        return (train - validation, validation + test)
    }

    /// Steps timed one by one (after one to warm up), for the median and the spread.
    public static let measuredSteps = 5

    static func seconds(_ body: () -> Void) -> Double {
        let start = Date()
        body()
        return Date().timeIntervalSince(start)
    }

    /// Measures each distinct configuration once (threads as the sweep will give each trial).
    public static func estimate(_ trials: [Trial], threads: Int) throws -> [String: Estimate] {
        BLAS.setThreads(1)  // kernels split their products across threads themselves
        var perConfiguration: [Int: ([Double], [Double])] = [:]
        var out: [String: Estimate] = [:]
        for t in trials {
            if perConfiguration[t.configurationIndex] == nil {
                let resolved = try ArchitectureLoader().load(t.architecture, overrides: t.configuration.set, input: t.input)
                let model = Model(network: try Builder().build(resolved))
                try model.initialize(seed: 0)
                let batch = t.training.batchSize
                let plan = model.plan(batch: batch, training: true)
                var random = RandomSource(seed: 1)
                plan.input.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = random.uniform() } }
                let labels = (0..<batch).map { $0 % model.network.output.elementCount }
                let context = StepContext(training: true, parallel: Parallelism(threads: threads))
                _ = model.trainStep(plan, labels: labels, smoothing: 0, context: context)
                let trainSteps = (0..<Self.measuredSteps).map { _ in
                    Self.seconds { _ = model.trainStep(plan, labels: labels, smoothing: 0, context: context) }
                }.sorted()
                let eval = model.plan(batch: batch, training: false)
                let evalContext = StepContext(training: false, parallel: Parallelism(threads: threads))
                eval.forward(evalContext)
                let evalSteps = (0..<Self.measuredSteps).map { _ in Self.seconds { eval.forward(evalContext) } }.sorted()
                perConfiguration[t.configurationIndex] = (trainSteps, evalSteps)
            }
            guard let (train, eval) = perConfiguration[t.configurationIndex], let trainFast = train.first, let trainSlow = train.last,
                  let evalFast = eval.first, let evalSlow = eval.last else { continue }  // (measured just above)
            let (n, m) = counts(t)
            let batch = Double(t.training.batchSize)
            func seconds(_ train: Double, _ eval: Double) -> Double {
                Double(t.training.epochs) * ((Double(n) / batch).rounded(.down) * train + (Double(m) / batch).rounded(.up) * eval)
            }
            let median = (train[train.count / 2], eval[eval.count / 2])
            out[t.id] = Estimate(trainStepSeconds: median.0, evalStepSeconds: median.1, trialSeconds: seconds(median.0, median.1),
                                 trialSecondsRange: seconds(trainFast, evalFast)...seconds(trainSlow, evalSlow))
        }
        return out
    }
}
