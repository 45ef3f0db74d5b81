import ArchSpec
import ArchTensor
import ArchTrain
import Foundation

/// An experiment file (`experiments/*.yaml`): a base architecture, training settings, seeds, and
/// the axes to vary with a strategy.
///
///     name: branch3-kernel
///     architecture: ../architectures/googlenet-torchvision.yaml
///     set: {num_classes: 10}                 # applied to every trial
///     training: {data: fashion-mnist, resize: 64, epochs: 2, batch_size: 32, lr: 0.01}
///     seeds: [0, 1, 2]
///     strategy: grid                         # grid | zip | variants | ablation
///     axes:
///       branch3_kernel: [3, 5]               # any architecture parameter or --set path
///       training.lr: [0.01, 0.05]            # any training setting
///
/// `variants:` lists named override sets (`{name, architecture?, set: {...}, training: {...}}`);
/// `ablation` varies one axis at a time from `baseline:` (default: the file's own values).
/// `extends:` inherits another experiment; the child's keys replace the base's (`set` and
/// `training` merge key by key).
public struct Experiment: Sendable {
    public var file: String
    public var name: String
    public var doc: String?
    public var architecture: String
    public var set: [Override]
    public var training: [YEntry]
    public var seeds: [UInt64]
    /// `seeds: {min, max, until}`: seeds 0..<max exist, and rounds add them only where the
    /// question is still open (`AdaptiveSeeds`); nil for a fixed list.
    public var seedPolicy: SeedPolicy?
    /// `halving: {min_epochs, eta}`: successive halving over the configurations (`Halving`).
    public var halving: Halving?
    /// `tensorboard: false` turns off the TensorBoard event files every trial writes by default
    /// into `DIR/tensorboard/<configuration>,seed=<seed>/`.
    public var tensorboard = true
    public var strategy: Strategy
    public var configurations: [Configuration]

    public enum Strategy: String, Sendable, CaseIterable { case grid, zip, variants, ablation, random }

    public static let keys = ["name", "doc", "extends", "architecture", "set", "training", "seeds", "strategy", "axes", "variants", "baseline",
                              "samples", "sample_seed", "halving", "tensorboard"]
    /// The keys of `training:`: every setting of `TrainingSetting.all` but the run's own (seed).
    public static var trainingKeys: [String] { TrainingSetting.experimentKeys }

    /// One point of the sweep before seeds: a label, the varied values, and the overrides.
    public struct Configuration: Sendable {
        public var label: String
        /// The varied values as `key: value` text, in axis order (for tables).
        public var varied: [(key: String, value: String)]
        public var architecture: String
        public var set: [Override]
        public var training: [YEntry]
        public var isBaseline: Bool
    }

    /// Loads, merges `extends`, and expands the configurations.
    public static func load(_ path: String) throws -> Experiment {
        let root = try mergedTree(path)
        guard let entries = root.entries else {
            throw SpecError("expected a mapping with \(keys.joined(separator: ", ")); found \(root.kindDescription)", at: root.location)
        }
        for e in entries where !keys.contains(e.key.text) {
            throw SpecError("unknown key '\(e.key.text)'\(Suggestion.didYouMean(e.key.text, in: keys)) (experiment keys: \(keys.joined(separator: ", ")))",
                            at: e.key.location)
        }
        let name = root["name"]?.scalar?.text ?? fileStem(path)
        guard let archNode = root["architecture"], let archScalar = archNode.scalar, !archScalar.isNull else {
            throw SpecError("missing 'architecture', the architecture file to build", at: root.location)
        }
        let architecture = try existingArchitecture(archScalar)
        let set = try root["set"].map(Override.parse(setSection:)) ?? []
        let training = try trainingEntries(root["training"])
        var seeds: [UInt64] = [0]
        var seedPolicy: SeedPolicy?
        if let s = root["seeds"], s.entries != nil {
            let policy = try SeedPolicy(s)
            seedPolicy = policy
            seeds = (0..<UInt64(policy.max)).map { $0 }
        } else if let s = root["seeds"] {
            guard let items = s.items, !items.isEmpty else {
                throw SpecError("'seeds' must be a non-empty list of integers, or {min: N, max: M, until: decided}", at: s.location)
            }
            seeds = try items.map {
                guard let sc = $0.scalar, let v = try ScalarReading.int(sc), v >= 0 else {
                    throw SpecError("seeds: expected a non-negative integer, found \($0.kindDescription)", at: $0.location)
                }
                return UInt64(v)
            }
            if Set(seeds).count != seeds.count { throw SpecError("seeds: duplicate seed", at: s.location) }
        }
        var strategy = Strategy.grid
        if let s = root["strategy"] {
            guard let text = s.scalar?.text, let v = Strategy(rawValue: text) else {
                throw SpecError("strategy: expected one of grid, zip, variants, ablation, random; found \(s.kindDescription)", at: s.location)
            }
            strategy = v
        }
        var experiment = Experiment(file: path, name: name, doc: root["doc"]?.scalar?.text, architecture: architecture, set: set,
                                    training: training, seeds: seeds, seedPolicy: seedPolicy, strategy: strategy, configurations: [])
        experiment.configurations = try experiment.expand(root)
        if let t = root["tensorboard"] {
            guard let s = t.scalar, let on = try ScalarReading.bool(s) else {
                throw SpecError("tensorboard: expected true or false, found \(t.kindDescription)", at: t.location)
            }
            experiment.tensorboard = on
        }
        if let h = root["halving"] {
            experiment.halving = try Halving(h)
            if seedPolicy != nil {
                throw SpecError("halving: adaptive seeds and successive halving both decide which trials run; use a list of seeds with halving", at: h.location)
            }
        }
        return experiment
    }

    /// The architecture file a scalar names, relative to the experiment file; a missing one is an
    /// error at the scalar, with the YAML file beside it that it most likely meant.
    static func existingArchitecture(_ s: YScalar) throws -> String {
        let path = ArchitectureLoader.resolve(s.text, relativeTo: s.location.file)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw SpecError("architecture '\(s.text)': no such file (looked for \(path))", at: s.location, notes: YAMLLoader.similarFiles(to: path))
        }
        return path
    }

    static func trainingEntries(_ node: YNode?) throws -> [YEntry] {
        guard let node else { return [] }
        guard let entries = node.entries else { throw SpecError("'training' must be a mapping of settings", at: node.location) }
        for e in entries where !trainingKeys.contains(e.key.text) {
            throw SpecError("training: unknown setting '\(e.key.text)'\(Suggestion.didYouMean(e.key.text, in: trainingKeys)) (settings: \(trainingKeys.joined(separator: ", ")))",
                            at: e.key.location)
        }
        return entries
    }

    /// The experiment file merged over its `extends` chain: the child's keys replace the base's,
    /// `set` and `training` merge key by key.
    static func mergedTree(_ path: String) throws -> YNode {
        try ExtendsChain(merge: { base, child in
            guard case .map(var result, let location) = base, let entries = child.entries else { return child }
            for e in entries where e.key.text != "extends" {
                if let i = result.firstIndex(where: { $0.key.text == e.key.text }) {
                    if ["set", "training"].contains(e.key.text), let old = result[i].value.entries, let new = e.value.entries {
                        var merged = old
                        for n in new {
                            if let j = merged.firstIndex(where: { $0.key.text == n.key.text }) { merged[j] = n } else { merged.append(n) }
                        }
                        result[i].value = .map(merged, e.value.location)
                    } else {
                        result[i] = e
                    }
                } else {
                    result.append(e)
                }
            }
            return .map(result, location)
        }, finish: { merged, _ in
            guard case let .map(entries, location) = merged else { return merged }
            return .map(entries.filter { $0.key.text != "extends" }, location)
        }).load(path)
    }

    /// An axis: a key (architecture path, `training.X` or `architecture`) and its values.
    struct Axis {
        var key: String
        var keyLocation: SourceLocation
        var values: [YNode]
        /// `strategy: random` only: a range to draw from instead of a list of values.
        var distribution: Distribution? = nil
    }

    /// `{int: [lo, hi]}` (inclusive), `{uniform: [lo, hi]}`, `{log_uniform: [lo, hi]}`.
    enum Distribution {
        case int(Int, Int), uniform(Double, Double), logUniform(Double, Double)

        static let kinds = ["int", "uniform", "log_uniform"]

        init(_ node: YNode, axis: String) throws {
            guard let entries = node.entries, entries.count == 1, let e = entries.first, Self.kinds.contains(e.key.text) else {
                throw SpecError("axis '\(axis)': expected a list of values or one of {int: [lo, hi]}, {uniform: [lo, hi]}, {log_uniform: [lo, hi]}, found \(node.kindDescription)",
                                at: node.location)
            }
            let bounds = try (e.value.items ?? []).map { item -> Double in
                guard let s = item.scalar, let v = try ScalarReading.float(s), v.isFinite else {
                    throw SpecError("axis '\(axis)': \(e.key.text) bounds must be numbers", at: item.location)
                }
                return v
            }
            guard bounds.count == 2, bounds[0] < bounds[1] else {
                throw SpecError("axis '\(axis)': \(e.key.text) needs [lo, hi] with lo < hi", at: e.value.location)
            }
            switch e.key.text {
            case "int":
                guard bounds.allSatisfy({ $0 == $0.rounded() }) else { throw SpecError("axis '\(axis)': int bounds must be integers", at: e.value.location) }
                self = .int(Int(bounds[0]), Int(bounds[1]))
            case "uniform": self = .uniform(bounds[0], bounds[1])
            default:
                guard bounds[0] > 0 else { throw SpecError("axis '\(axis)': log_uniform needs positive bounds", at: e.value.location) }
                self = .logUniform(bounds[0], bounds[1])
            }
        }

        /// One draw, as the YAML text of its value (floats with 4 significant digits).
        func draw(_ random: inout RandomSource) -> String {
            let u = Double(random.next() >> 11) / 9_007_199_254_740_992.0  // [0, 1) with 53 bits
            switch self {
            case let .int(lo, hi): return String(lo + Int(random.next() % UInt64(hi - lo + 1)))
            case let .uniform(lo, hi): return String(format: "%.4g", lo + u * (hi - lo))
            case let .logUniform(lo, hi): return String(format: "%.4g", exp(log(lo) + u * (log(hi) - log(lo))))
            }
        }
    }

    func axes(_ root: YNode) throws -> [Axis] {
        guard let node = root["axes"] else { return [] }
        guard let entries = node.entries else { throw SpecError("'axes' must map a path to a list of values", at: node.location) }
        return try entries.map { e in
            if strategy == .random, e.value.entries != nil {
                return Axis(key: e.key.text, keyLocation: e.key.location, values: [], distribution: try Distribution(e.value, axis: e.key.text))
            }
            guard let values = e.value.items, !values.isEmpty else {
                throw SpecError("axis '\(e.key.text)': expected a non-empty list of values, found \(e.value.kindDescription)", at: e.value.location)
            }
            if e.key.text.hasPrefix("training.") {
                let setting = String(e.key.text.dropFirst("training.".count))
                guard Self.trainingKeys.contains(setting) else {
                    throw SpecError("axis '\(e.key.text)': unknown training setting '\(setting)'\(Suggestion.didYouMean(setting, in: Self.trainingKeys))", at: e.key.location)
                }
            }
            return Axis(key: e.key.text, keyLocation: e.key.location, values: values)
        }
    }

    func configuration(_ assignments: [(Axis, YNode)], label: String? = nil, isBaseline: Bool = false) -> Configuration {
        var c = Configuration(label: "", varied: [], architecture: architecture, set: set, training: training, isBaseline: isBaseline)
        for (axis, value) in assignments {
            c.varied.append((axis.key, value.flowText))
            if axis.key == "architecture", let s = value.scalar {
                c.architecture = ArchitectureLoader.resolve(s.text, relativeTo: s.location.file)
            } else if axis.key.hasPrefix("training.") {
                let key = String(axis.key.dropFirst("training.".count))
                c.training.removeAll { $0.key.text == key }
                c.training.append(YEntry(key: YScalar(key, at: axis.keyLocation), value: value))
            } else {
                c.set.append(Override(path: axis.key.split(separator: ".", omittingEmptySubsequences: false).map(String.init), value: value,
                                      location: axis.keyLocation))
            }
        }
        c.label = label ?? (c.varied.isEmpty ? "base" : c.varied.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        return c
    }

    func expand(_ root: YNode) throws -> [Configuration] {
        let axes = try self.axes(root)
        switch strategy {
        case .grid:
            var out: [[(Axis, YNode)]] = [[]]
            for axis in axes { out = out.flatMap { prefix in axis.values.map { prefix + [(axis, $0)] } } }
            return out.map { configuration($0) }
        case .zip:
            guard let n = axes.first?.values.count else { return [configuration([])] }
            for a in axes where a.values.count != n {
                throw SpecError("zip: axis '\(a.key)' has \(a.values.count) values, '\(axes[0].key)' has \(n); zipped axes need equal lengths", at: a.keyLocation)
            }
            return (0..<n).map { i in configuration(axes.map { ($0, $0.values[i]) }) }
        case .variants:
            guard let node = root["variants"], let items = node.items, !items.isEmpty else {
                throw SpecError("strategy variants needs 'variants', a list of {name, set, training}", at: root["strategy"]?.location ?? root.location)
            }
            var names = Set<String>()
            var variants = try items.map { item in
                guard let entries = item.entries else { throw SpecError("a variant must be a mapping {name, set, training}", at: item.location) }
                for e in entries where !["name", "architecture", "set", "training"].contains(e.key.text) {
                    throw SpecError("variant: unknown key '\(e.key.text)' (keys: name, architecture, set, training)", at: e.key.location)
                }
                guard let name = item["name"]?.scalar?.text, names.insert(name).inserted else {
                    throw SpecError("each variant needs a unique 'name'", at: item.location)
                }
                var assignments: [(Axis, YNode)] = []
                if let a = item.entry("architecture") { assignments.append((Axis(key: "architecture", keyLocation: a.key.location, values: []), a.value)) }
                for e in item["set"]?.entries ?? [] { assignments.append((Axis(key: e.key.text, keyLocation: e.key.location, values: []), e.value)) }
                for e in try Self.trainingEntries(item["training"]) {
                    assignments.append((Axis(key: "training." + e.key.text, keyLocation: e.key.location, values: []), e.value))
                }
                return configuration(assignments, label: name)
            }
            // `baseline:` names the variant the others are compared with
            if let b = root["baseline"] {
                guard let name = b.scalar?.text, let i = variants.firstIndex(where: { $0.label == name }) else {
                    throw SpecError("baseline: expected the name of one of the variants (\(variants.map { "'\($0.label)'" }.joined(separator: ", "))), found \(b.scalar.map { "'\($0.text)'" } ?? b.kindDescription)",
                                    at: b.location)
                }
                variants[i].isBaseline = true
            }
            return variants
        case .random:
            guard let n = root["samples"] else {
                throw SpecError("strategy random needs 'samples', the number of configurations to draw", at: root["strategy"]?.location ?? root.location)
            }
            guard let ns = n.scalar, let count = try ScalarReading.int(ns), count >= 1, count <= 10_000 else {
                throw SpecError("samples: expected an integer from 1 to 10000, found \(n.kindDescription)", at: n.location)
            }
            var seed: UInt64 = 0
            if let sn = root["sample_seed"] {
                guard let s = sn.scalar, let v = try ScalarReading.int(s), v >= 0 else {
                    throw SpecError("sample_seed: expected a non-negative integer, found \(sn.kindDescription)", at: sn.location)
                }
                seed = UInt64(v)
            }
            // draws in axis order from one stream of the sweep's seed: the same file gives the same
            // configurations; repeated draws are skipped
            var random = RandomSource.stream(seed: seed, 0x5A3D1E)
            var out: [Configuration] = [], seen = Set<String>()
            for _ in 0..<(count * 50) where out.count < count {
                let assignments = axes.map { axis -> (Axis, YNode) in
                    if let d = axis.distribution { return (axis, .scalar(YScalar(d.draw(&random), at: axis.keyLocation))) }
                    return (axis, axis.values[Int(random.next() % UInt64(axis.values.count))])
                }
                let c = configuration(assignments)
                if seen.insert(c.label).inserted { out.append(c) }
            }
            guard out.count == count else {
                throw SpecError("samples: \(count) distinct configurations were asked for, the axes gave only \(out.count) in \(count * 50) draws; lower samples or widen the axes", at: n.location)
            }
            return out
        case .ablation:
            var baseline: [(Axis, YNode)] = []
            if let b = root["baseline"] {
                guard let entries = b.entries else { throw SpecError("'baseline' must map axis paths to values", at: b.location) }
                baseline = entries.map { (Axis(key: $0.key.text, keyLocation: $0.key.location, values: []), $0.value) }
            }
            var out = [configuration(baseline, label: "baseline", isBaseline: true)]
            for axis in axes {
                let base = baseline.first { $0.0.key == axis.key }?.1
                for value in axis.values where value.flowText != base?.flowText {
                    let others = baseline.filter { $0.0.key != axis.key }
                    var c = configuration(others + [(axis, value)])
                    c.varied = [(axis.key, value.flowText)]
                    c.label = "\(axis.key)=\(value.flowText)"
                    out.append(c)
                }
            }
            return out
        }
    }
}

