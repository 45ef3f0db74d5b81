import ArchGraph
import ArchJSON
import ArchTensor
import Foundation

/// What a run needs to continue after its last complete epoch, written after every epoch:
/// `checkpoint.safetensors` (every parameter and buffer, the optimizer's momentum / Adam moments
/// as `optimizer.first.<name>` / `optimizer.second.<name>`, and the epoch as `checkpoint.epoch`)
/// and `checkpoint.json` (the epoch, the optimizer's step count, the best validation score, the
/// metrics so far and the run's identity), each written atomically, the tensors first.
///
/// Nothing else is needed for a bit-identical continuation: every random stream of a run
/// (shuffling, augmentation, dropout) is derived from the seed and the epoch, batch and sample
/// numbers, and the learning-rate schedule from the epoch, so the next epoch after a resume draws
/// exactly what it would have drawn. A run killed in the middle of an epoch resumes from the
/// end of the previous one and repeats the partial epoch identically.
public struct Checkpoint: Codable, Sendable {
    /// Epochs complete (the next one to run is `epoch + 1`).
    public var epoch: Int
    public var optimizerSteps: Int
    public var bestValidation: Double
    /// Seconds spent in training steps and images trained so far (for images per second).
    public var trainingSeconds: Double
    public var trainedImages: Int
    public var metrics: RunMetrics
    /// The run's settings and network as key-sorted JSON (`Checkpoint.identity`): a checkpoint is
    /// used only by the run it describes.
    public var identity: String

    enum CodingKeys: String, CodingKey {
        case epoch, metrics, identity
        case optimizerSteps = "optimizer_steps", bestValidation = "best_validation"
        case trainingSeconds = "training_seconds", trainedImages = "trained_images"
    }

    public static let tensorsFile = "checkpoint.safetensors"
    public static let stateFile = "checkpoint.json"

    /// The settings that decide a run's numbers (threads excluded: a resume with another thread
    /// count continues, with the last bits of its sums in another order) and its network.
    public static func identity(_ config: TrainingConfig, network: Network) -> String {
        var c = config
        c.threads = 0
        let settings = c.identityText()
        return JSONValue.object([("network", .string(network.name)), ("input", .array(network.input.dims.map { .int($0) })),
                                 ("parameters", network.architecture.parametersJSONValue), ("training", .verbatim(settings))]).text(.spaced)
    }

    /// The keys (dotted, nested) whose values differ between two identities, for the refusal message.
    static func differences(_ a: String, _ b: String) -> [String] {
        func object(_ s: String) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(s.utf8))) as? [String: Any] ?? [:]
        }
        func walk(_ x: [String: Any], _ y: [String: Any], _ prefix: String) -> [String] {
            Set(x.keys).union(y.keys).sorted().flatMap { key -> [String] in
                let path = prefix.isEmpty ? key : prefix + "." + key
                if let u = x[key] as? [String: Any], let v = y[key] as? [String: Any] { return walk(u, v, path) }
                let same = (x[key] as? NSObject).map { a in (y[key] as? NSObject).map { a.isEqual($0) } ?? false } ?? (y[key] == nil)
                return same ? [] : ["\(path) (checkpoint \(x[key].map { "\($0)" } ?? "absent"), this run \(y[key].map { "\($0)" } ?? "absent"))"]
            }
        }
        return walk(object(a), object(b), "")
    }

    /// Writes the tensors, then the state (each atomically).
    func write(to directory: String, model: Model, optimizer: Optimizer) throws {
        var tensors = model.store.names.map { ($0, model.store.tensor($0)) }
        tensors += optimizer.stateTensors()
        tensors.append(("checkpoint.epoch", Tensor(shape: [1], values: [Float(epoch)])))
        try Safetensors.write(tensors, to: directory + "/" + Self.tensorsFile)
        try writeJSON(self, to: directory + "/" + Self.stateFile)
    }

    /// The checkpoint in `directory`, or nil when there is none. A checkpoint of another run
    /// throws `Mismatch`; an unreadable or inconsistent one throws `Unreadable` (the caller starts
    /// over and says why).
    static func read(from directory: String, identity: String) throws -> (Checkpoint, [String: Tensor])? {
        let statePath = directory + "/" + stateFile, tensorPath = directory + "/" + tensorsFile
        guard FileManager.default.fileExists(atPath: statePath) || FileManager.default.fileExists(atPath: tensorPath) else { return nil }
        let state: Checkpoint
        do { state = try JSONDecoder().decode(Checkpoint.self, from: Data(contentsOf: URL(fileURLWithPath: statePath))) } catch {
            throw Unreadable(path: statePath, reason: "cannot be read (\(error.localizedDescription))")
        }
        guard state.identity == identity else { throw Mismatch(path: statePath, differences: differences(state.identity, identity)) }
        let tensors: [String: Tensor]
        do { tensors = try Safetensors.read(tensorPath).tensors } catch let e as TensorFileError {
            throw Unreadable(path: tensorPath, reason: e.message)
        }
        guard let epoch = tensors["checkpoint.epoch"], epoch.count == 1, Int(epoch[0]) == state.epoch else {
            throw Unreadable(path: tensorPath, reason: "holds another epoch than \(stateFile) (\(state.epoch)): a write was cut short")
        }
        return (state, tensors)
    }

    /// A checkpoint written by another configuration: never used.
    public struct Mismatch: Error, CustomStringConvertible {
        public var path: String
        public var differences: [String]
        public var description: String {
            "\(path): the checkpoint belongs to another run; it differs in " + differences.joined(separator: "; ")
                + ". Remove it (or use another --out) to start this run afresh."
        }
    }

    /// A checkpoint that cannot be used (truncated, corrupt, half-written).
    public struct Unreadable: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "\(path): \(reason)" }
    }
}

extension Optimizer {
    /// The optimizer's per-parameter buffers, named for the checkpoint.
    func stateTensors() -> [(String, Tensor)] {
        names.compactMap { n in first[n].map { ("optimizer.first." + n, $0) } }
            + names.compactMap { n in second[n].map { ("optimizer.second." + n, $0) } }
    }

    /// Restores the buffers and the step count from a checkpoint's tensors.
    func restore(_ tensors: [String: Tensor], steps: Int, path: String) throws {
        for (prefix, buffers) in [("optimizer.first.", first), ("optimizer.second.", second)] {
            for (n, t) in buffers {
                guard let saved = tensors[prefix + n], saved.shape == t.shape else {
                    throw Checkpoint.Unreadable(path: path, reason: "lacks the optimizer state \(prefix + n) \(t.shape)")
                }
                t.copy(from: saved)
            }
        }
        self.steps = steps
    }
}
