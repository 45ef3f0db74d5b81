import ArchJSON
import ArchSpec
import ArchTensor
import Foundation

/// One training setting, declared once: its name is the `training:` key of an experiment, the
/// `--name` option of `archlab train` (underscores as dashes) and the key of `config.json`; its
/// kind says what values it takes, and its key path where `TrainingConfig` keeps it. Everything
/// that reads or writes settings (the experiment loader, the command line, `config.json`, trial and
/// checkpoint identities, the help) walks `TrainingSetting.all`; adding a setting is one row there
/// plus its use in the trainer.
public struct TrainingSetting: Sendable {
    /// What values a setting takes, whatever spells them (YAML, an option, JSON).
    public enum Kind: Sendable, Equatable {
        case integer(min: Int)
        case number(min: Double)
        /// A yes/no switch (`--name` / `--no-name` on the command line).
        case flag
        case text
        case choice([String])
        /// Numbers, one per channel (`[0.5, 0.4]` in YAML, `0.5,0.4` on the command line).
        case numbers
        /// A path to a file of the kind named (`weights file`); in an experiment file, relative to that file.
        case file(String)
        /// A thread count of at least 1, or `auto` (kept as 0): the cores other processes leave idle (`ThreadGovernor`).
        case threads

        /// A thread count as written on a command line or in YAML: `auto` is 0, otherwise at least 1
        /// (0 itself is refused there: it is how config.json stores auto, not a count); nil when invalid.
        public static func threads(_ text: String) -> Int? {
            if text == "auto" { return 0 }
            guard let n = Int(text), n >= 1 else { return nil }
            return n
        }
    }

    /// Which commands take a setting.
    public enum Scope: Sendable, Equatable {
        /// How data is read and batched: `train`, `eval`, `data bench` and experiments.
        case data
        /// How a network is trained: `train` and experiments.
        case training
        /// One run's own (the seed): `train` and config.json; experiments list `seeds:` instead.
        case run
    }

    public let name: String
    public let kind: Kind
    public let scope: Scope
    public let help: String
    /// Where `config.json` files written before settings had one spelling keep it (`horizontal_flip`,
    /// `optimizer.weightDecay`): read from old files, and the layout trial and checkpoint identities
    /// hash, so that recorded ids and checkpoints stay valid.
    let legacyPath: [String]
    /// The value in `c` as JSON (`null` when unset).
    public let value: @Sendable (_ c: TrainingConfig) -> JSONValue
    /// Sets the value from JSON; false when the JSON is not of the setting's type.
    let assign: @Sendable (_ c: inout TrainingConfig, _ json: JSONValue) -> Bool
    let encode: @Sendable (_ c: TrainingConfig, _ container: inout KeyedEncodingContainer<SettingKey>, _ key: SettingKey) throws -> Void
    let decode: @Sendable (_ c: inout TrainingConfig, _ container: KeyedDecodingContainer<SettingKey>, _ key: SettingKey) throws -> Void

    /// A setting kept at `path`; `legacy` is its old config.json location when that differs from
    /// `name`; `canonical` maps equivalent values to one (so that they hash alike).
    init<V: SettingValue>(_ name: String, _ path: WritableKeyPath<TrainingConfig, V> & Sendable, _ kind: Kind, _ scope: Scope,
                          legacy: [String]? = nil, canonical: (@Sendable (V) -> V)? = nil, help: String) {
        self.name = name; self.kind = kind; self.scope = scope; self.help = help
        legacyPath = legacy ?? [name]
        value = { $0[keyPath: path].json }
        assign = { c, json in
            guard let v = V(json: json) else { return false }
            c[keyPath: path] = canonical?(v) ?? v
            return true
        }
        encode = { c, container, key in
            let v = c[keyPath: path]
            if !v.isAbsent { try container.encode(v, forKey: key) }
        }
        decode = { c, container, key in
            if let v = try container.decodeIfPresent(V.self, forKey: key) { c[keyPath: path] = canonical?(v) ?? v }
        }
    }

    /// The option that sets it on the command line.
    public var option: String { "--" + name.replacingOccurrences(of: "_", with: "-") }

    /// Sets the setting from JSON after checking it against the kind; the error says what was
    /// expected and what was found.
    public func set(_ json: JSONValue, in c: inout TrainingConfig) throws(Invalid) {
        let found = json.text(.compact)
        switch kind {
        case let .integer(min):
            guard let v = json.int, v >= min else { throw Invalid("expected an integer of at least \(min), found \(found)") }
        case let .number(min):
            guard let v = json.number, v >= min, v.isFinite else { throw Invalid("expected a number of at least \(Value.plainNumber(min)), found \(found)") }
        case let .choice(choices):
            guard let v = json.string, choices.contains(v) else { throw Invalid("expected one of \(choices.joined(separator: ", ")); found \(found)") }
        case .threads:
            if json.string == "auto" { return try set(.int(0), in: &c) }
            guard let v = json.int, v >= 0 else { throw Invalid("expected a number of threads (at least 1) or auto, found \(found)") }
        case .flag, .text, .numbers, .file: break
        }
        guard assign(&c, json) else { throw Invalid("expected \(kind.expected), found \(found)") }
    }

    /// A value that does not fit the setting.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

extension TrainingSetting.Kind {
    /// The kind in words, for errors and the help.
    public var expected: String {
        switch self {
        case let .integer(min): return "an integer of at least \(min)"
        case let .number(min): return "a number of at least \(Value.plainNumber(min))"
        case .flag: return "true or false"
        case .text: return "a string"
        case let .choice(choices): return "one of \(choices.joined(separator: ", "))"
        case .numbers: return "numbers"
        case let .file(what): return "the path of a \(what)"
        case .threads: return "a number of threads (at least 1), or auto"
        }
    }
}

extension TrainingSetting {
    /// Every training setting, in the order the help lists them.
    public static var all: [TrainingSetting] {
        [
            // how the data is read
            .init("data", \.data, .text, .data,
                  help: "fashion-mnist (Debian's dataset-fashion-mnist), fashion-mnist:DIR, cifar10:DIR, or folder:ROOT (JPEGs in ROOT/train/<class>/ and ROOT/val/<class>/)."),
            .init("resize", \.resize, .integer(min: 1), .data, help: "The network's input size N x N: images are resized (antialiased bilinear) or cropped to it."),
            .init("resize_shorter", \.resizeShorter, .integer(min: 1), .data,
                  help: "Evaluation: resize the shorter side to N, then center-crop to resize (torchvision's Resize + CenterCrop)."),
            .init("skip_bad_images", \.skipBadImages, .flag, .data, help: "Skip unreadable images (counted in the log and metrics) instead of stopping."),
            .init("limit_train", \.limitTrain, .integer(min: 1), .data, help: "Use only the first N training images."),
            .init("limit_test", \.limitTest, .integer(min: 1), .data, help: "Use only the first N test images."),
            .init("mean", \.mean, .numbers, .data, help: "Per-channel mean to subtract (one number, or one per channel: 0.485,0.456,0.406)."),
            .init("std", \.std, .numbers, .data, help: "Per-channel standard deviation to divide by."),
            .init("threads", \.threads, .threads, .data,
                  help: "Threads for every kernel (oneDNN, OpenBLAS, ArchLab's own loops) and the data loader. auto (0, the default): as many as the cores other processes leave idle, re-chosen every 2 seconds, so that sharing the machine slows training instead of stalling it; results are bit-for-bit reproducible only for a fixed count."),
            .init("batch_size", \.batchSize, .integer(min: 1), .data, help: "Images per step."),
            // how the network is trained
            .init("epochs", \.epochs, .integer(min: 1), .training, help: "Epochs."),
            .init("optimizer", \.optimizer.kind, .choice(OptimizerConfig.Kind.allCases.map(\.rawValue)), .training, legacy: ["optimizer", "kind"], help: "Optimizer."),
            .init("lr", \.lr, .number(min: 0), .training, help: "Learning rate."),
            .init("momentum", \.optimizer.momentum, .number(min: 0), .training, legacy: ["optimizer", "momentum"], help: "Momentum (SGD, RMSprop)."),
            .init("nesterov", \.optimizer.nesterov, .flag, .training, legacy: ["optimizer", "nesterov"], help: "Nesterov momentum (SGD)."),
            .init("weight_decay", \.optimizer.weightDecay, .number(min: 0), .training, legacy: ["optimizer", "weightDecay"],
                  help: "Weight decay (L2 for SGD, Adam and RMSprop; decoupled for AdamW)."),
            .init("decay_norms_and_biases", \.optimizer.decayNormsAndBiases, .flag, .training, legacy: ["optimizer", "decayNormsAndBiases"],
                  canonical: { $0 == false ? false : nil },  // nil is true: PyTorch's one parameter group, as before the setting existed
                  help: "Weight decay on biases, norm scales and layer scales too (false: not on one-dimensional parameters, as ConvNeXt's recipe)."),
            .init("beta1", \.optimizer.beta1, .number(min: 0), .training, legacy: ["optimizer", "beta1"], help: "Adam and AdamW: the first moment's decay."),
            .init("beta2", \.optimizer.beta2, .number(min: 0), .training, legacy: ["optimizer", "beta2"], help: "Adam and AdamW: the second moment's decay."),
            .init("eps", \.optimizer.eps, .number(min: 0), .training, legacy: ["optimizer", "eps"], help: "Adam, AdamW and RMSprop: the term added to the denominator."),
            .init("alpha", \.optimizer.alpha, .number(min: 0), .training, legacy: ["optimizer", "alpha"], help: "RMSprop: the square average's decay."),
            .init("schedule", \.schedule.kind, .choice(Schedule.Kind.allCases.map(\.rawValue)), .training, legacy: ["schedule", "kind"],
                  help: "Learning-rate schedule."),
            .init("step_size", \.schedule.stepSize, .integer(min: 1), .training, legacy: ["schedule", "stepSize"], help: "Step schedule: epochs between decays."),
            .init("gamma", \.schedule.gamma, .number(min: 0), .training, legacy: ["schedule", "gamma"], help: "Step schedule: the decay factor."),
            .init("warmup", \.schedule.warmupEpochs, .number(min: 0), .training, legacy: ["schedule", "warmupEpochs"], help: "Linear warm-up epochs (fractions allowed)."),
            .init("label_smoothing", \.labelSmoothing, .number(min: 0), .training, help: "Label smoothing of the cross-entropy."),
            .init("validation", \.validationFraction, .number(min: 0), .training, legacy: ["validation_fraction"],
                  help: "Fraction of the training set held out to pick the best epoch (0: the last epoch counts)."),
            .init("flip", \.horizontalFlip, .flag, .training, legacy: ["horizontal_flip"], help: "Random horizontal flips."),
            .init("pad_crop", \.padCrop, .integer(min: 0), .training, help: "Zero padding before a random crop back to size (0: none)."),
            .init("random_resized_crop", \.randomResizedCrop, .flag, .training,
                  help: "Training crops like torchvision's RandomResizedCrop(resize, scale (0.08, 1), ratio (3/4, 4/3))."),
            .init("init_from", \.initFrom, .file("weights file"), .training,
                  help: "Start from these weights (transfer learning): tensors matching by name and shape are loaded, the rest (a new head) initialized."),
            .init("precision", \.precision, .choice(ComputePrecision.allCases.map(\.rawValue)), .training,
                  canonical: { $0 == .float32 ? nil : $0 },  // nil is float32, as before the setting existed
                  help: "float32, or bf16: convolutions on bfloat16 operands with float32 accumulation, everything else float32 (PyTorch's CPU autocast); needs AVX512_BF16 or AMX."),
            .init("freeze_loaded", \.freezeLoaded, .flag, .training, help: "With init_from: train only the tensors that were not loaded (freeze the rest)."),
            // the run's own
            .init("seed", \.seed, .integer(min: 0), .run, help: "Random seed (weights, shuffling, augmentation, dropout)."),
        ]
    }

    /// The setting called `name`, or nil.
    public static func named(_ name: String) -> TrainingSetting? { all.first { $0.name == name } }

    /// The names an experiment's `training:` takes (every setting but the run's own).
    public static var experimentKeys: [String] { all.filter { $0.scope != .run }.map(\.name) }
}

/// A coding key for any name (the settings' names, the legacy layout's nested keys).
public struct SettingKey: CodingKey, Sendable {
    public let stringValue: String
    public init(_ name: String) { stringValue = name }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public var intValue: Int? { nil }
    public init?(intValue: Int) { nil }
}

/// A type a setting holds: Codable for config.json, and read from JSON for YAML and the command line.
public protocol SettingValue: Codable, Sendable, Equatable {
    /// The value from JSON, nil when the JSON is not one.
    init?(json: JSONValue)
    var json: JSONValue { get }
    /// An unset optional (left out of config.json and identities).
    var isAbsent: Bool { get }
}

extension SettingValue {
    public var isAbsent: Bool { false }
}

extension Int: SettingValue {
    public init?(json: JSONValue) { guard let v = json.int else { return nil }; self = v }
    public var json: JSONValue { .int(self) }
}

extension UInt64: SettingValue {
    public init?(json: JSONValue) { guard let v = json.int, v >= 0 else { return nil }; self = UInt64(v) }
    public var json: JSONValue { self <= UInt64(Int.max) ? .int(Int(self)) : .double(Double(self)) }
}

extension Double: SettingValue {
    public init?(json: JSONValue) { guard let v = json.number else { return nil }; self = v }
    public var json: JSONValue { .double(self) }
}

extension Bool: SettingValue {
    public init?(json: JSONValue) { guard case let .bool(b) = json else { return nil }; self = b }
    public var json: JSONValue { .bool(self) }
}

extension String: SettingValue {
    public init?(json: JSONValue) { guard let s = json.string else { return nil }; self = s }
    public var json: JSONValue { .string(self) }
}

extension Array: SettingValue where Element == Float {
    /// Numbers, or one number for all channels.
    public init?(json: JSONValue) {
        if let one = json.number { self = [Float(one)]; return }
        guard case let .array(items) = json else { return nil }
        var out: [Float] = []
        for item in items {
            guard let v = item.number else { return nil }
            out.append(Float(v))
        }
        self = out
    }
    public var json: JSONValue { .array(map { .double(Double("\($0)") ?? Double($0)) }) }
}

extension Optional: SettingValue where Wrapped: SettingValue {
    public init?(json: JSONValue) {
        if case .null = json { self = .none; return }
        guard let v = Wrapped(json: json) else { return nil }
        self = .some(v)
    }
    public var json: JSONValue { map(\.json) ?? .null }
    public var isAbsent: Bool { self == nil }
}

extension OptimizerConfig.Kind: SettingValue {
    public init?(json: JSONValue) { guard let s = json.string, let v = Self(rawValue: s) else { return nil }; self = v }
    public var json: JSONValue { .string(rawValue) }
}

extension ComputePrecision: SettingValue {
    public init?(json: JSONValue) { guard let s = json.string, let v = Self(rawValue: s) else { return nil }; self = v }
    public var json: JSONValue { .string(rawValue) }
}

extension Schedule.Kind: SettingValue {
    public init?(json: JSONValue) { guard let s = json.string, let v = Self(rawValue: s) else { return nil }; self = v }
    public var json: JSONValue { .string(rawValue) }
}
