import ArchSpec
import ArchTensor

/// A built network with its tensors: initialize or load weights, run forward (eval) or the full
/// training loss with backward, save weights by their PyTorch state-dict names.
public final class Model {
    public let network: Network
    public let store: ParameterStore
    private var plans: [String: ExecutionPlan] = [:]

    public init(network: Network) {
        self.network = network
        store = ParameterStore(network: network)
    }

    /// Initializes every tensor with the architecture's `init:` schemes.
    public func initialize(seed: UInt64) throws {
        try Initializer.decode(network.architecture.document.initialization).initialize(store, seed: seed)
    }

    /// A plan for batches of up to `batch` samples (cached per size and mode).
    public func plan(batch: Int, training: Bool) -> ExecutionPlan {
        let key = "\(batch)-\(training)"
        if let p = plans[key] { return p }
        let p = ExecutionPlan(network: network, store: store, batch: batch, training: training)
        plans[key] = p
        return p
    }

    // MARK: weights

    /// What loading a state dict found, as PyTorch's `load_state_dict` reports it.
    public struct LoadReport: Sendable {
        public var loaded: [String] = []
        public var missing: [String] = []
        public var unexpected: [String] = []
        public var shapeMismatches: [(name: String, expected: [Int], found: [Int])] = []
        public var ignored: [String] = []
        public var isComplete: Bool { missing.isEmpty && unexpected.isEmpty && shapeMismatches.isEmpty }

        public var problems: [String] {
            var lines: [String] = []
            if !missing.isEmpty { lines.append("missing keys (\(missing.count)): \(missing.joined(separator: ", "))") }
            if !unexpected.isEmpty { lines.append("unexpected keys (\(unexpected.count)): \(unexpected.joined(separator: ", "))") }
            for m in shapeMismatches { lines.append("size mismatch for \(m.name): the file has \(m.found), the model needs \(m.expected)") }
            return lines
        }
    }

    /// Copies tensors by name; `strict` throws when anything is missing, unexpected or mis-shaped.
    @discardableResult
    public func load(safetensors path: String, strict: Bool = true, skipMismatched: Bool = false) throws -> LoadReport {
        let file = try Safetensors.read(path)
        var report = LoadReport()
        report.ignored = file.skipped.filter { $0.hasSuffix("num_batches_tracked") }
        report.unexpected = file.skipped.filter { !$0.hasSuffix("num_batches_tracked") }
        for (name, source) in file.order.compactMap({ name in file.tensors[name].map { (name, $0) } }) {
            guard let target = store[name] else { report.unexpected.append(name); continue }
            guard target.shape == source.shape else {
                report.shapeMismatches.append((name, target.shape, source.shape))
                continue
            }
            target.copy(from: source)
            report.loaded.append(name)
        }
        report.missing = store.names.filter { !report.loaded.contains($0) && !report.shapeMismatches.map(\.name).contains($0) }
        if strict, !report.isComplete, !(skipMismatched && report.missing.allSatisfy { n in report.shapeMismatches.contains { $0.name == n } }) {
            throw TensorFileError(path, "does not match \(network.name):\n  " + report.problems.joined(separator: "\n  "))
        }
        return report
    }

    /// Saves every tensor (parameters and buffers) under its state-dict name.
    public func save(safetensors path: String, metadata: [String: String] = [:]) throws {
        try Safetensors.write(store.names.map { ($0, store.tensor($0)) }, to: path, metadata: metadata)
    }

    // MARK: running

    /// Eval-mode logits for `input` [N, C, H, W] (copied; any N).
    public func predict(_ input: Tensor, parallel: Parallelism = .serial, batchSize: Int = 64) -> Tensor {
        let n = input.shape[0], sample = input.count / n
        let out = Tensor(shape: [n] + network.output.dims)
        let plan = self.plan(batch: min(batchSize, n), training: false)
        let context = StepContext(training: false, parallel: parallel)
        var start = 0
        while start < n {
            let m = min(plan.batch, n - start)
            plan.setBatch(m)
            input.withUnsafeBufferPointer { src in
                plan.input.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<(m * sample) { dst[i] = src[start * sample + i] }
                }
            }
            plan.forward(context)
            let k = plan.logits.count / m
            plan.logits.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { dst in for i in 0..<(m * k) { dst[start * k + i] = src[i] } } }
            start += m
        }
        return out
    }

    /// The full training loss of one batch already in `plan.input`: main cross-entropy plus each
    /// aux head's weight x its cross-entropy; runs backward, accumulating parameter gradients.
    public func trainStep(_ plan: ExecutionPlan, labels: [Int], smoothing: Float, context: StepContext) -> (loss: Double, mainLoss: Double) {
        plan.forward(context)
        let main = CrossEntropyKernel.forwardBackward(logits: plan.logits, labels: labels, smoothing: smoothing, weight: 1, dLogits: plan.logitsGradient)
        var total = main
        for (i, aux) in plan.auxOutputs.enumerated() {
            total += aux.weight * CrossEntropyKernel.forwardBackward(logits: plan.auxLogits(i), labels: labels, smoothing: smoothing,
                                                                     weight: Float(aux.weight), dLogits: plan.auxLogitsGradient(i))
        }
        plan.backward(context, includeAux: true)
        return (total, main)
    }
}
