import ArchFiles
import ArchData
import ArchGraph
import ArchJSON
import ArchSpec
import ArchTrain
import Foundation

/// One run of a sweep: a configuration with a seed, fully resolved and validated.
public struct Trial: Sendable {
    /// A stable hash of the resolved configuration and seed.
    public var id: String
    /// Position in the experiment's expansion (configuration-major, then seeds).
    public var index: Int
    public var configurationIndex: Int
    public var configuration: Experiment.Configuration
    public var seed: UInt64
    public var training: TrainingConfig
    /// Architecture file and `--set` arguments for `archlab train`.
    public var architecture: String
    public var overrides: [String]
    /// Every architecture parameter's resolved value, as JSON.
    public var parametersJSON: String
    public var params: Int
    public var macs: Int
    public var input: [Int]
    /// The resolved configuration as canonical JSON (what the id hashes).
    public var configJSON: String
    /// Cost of each top-level module of the network (name, params, inference MACs), for the
    /// report's per-layer comparison.
    public var modules: [(name: String, params: Int, macs: Int)]
    /// Every inference layer of the built network and its output shape, so that reports show the
    /// channels a configuration really has (a table cell of 96 at width 0.5 builds 48).
    public var layers: [(path: String, output: [Int])] = []
}

extension Experiment {
    /// Resolves and builds every trial (all networks shape-checked) before anything trains.
    public func trials() throws -> [Trial] {
        var out: [Trial] = []
        for (ci, configuration) in configurations.enumerated() {
            var training = try Self.trainingConfig(configuration.training, architecture: configuration.architecture)
            let sample = try Self.sampleShape(data: training.data, resize: training.resize, at: configuration.training.first { $0.key.text == "data" }?.value.location)
            let overrides = configuration.set.map { "\($0.dottedPath)=\($0.value.flowText)" }
            let resolved = try ArchitectureLoader().load(configuration.architecture, overrides: configuration.set, input: sample)
            let network = try Builder().build(resolved)
            let summary = NetworkSummary(network)
            let modules = network.nodes.compactMap(Self.moduleCost)
            let layers = network.layers.filter { !$0.isAux }.map { ($0.path, $0.output.dims) }
            let parameters = resolved.parametersJSON
            // the starting weights by content: the same file reached by another path is the same trial,
            // a file rewritten in place is not
            let initFromContent = try training.initFrom.map { path in
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw SpecError("training.init_from: cannot read '\(path)'", at: configuration.training.first { $0.key.text == "init_from" }?.value.location)
                }
                return "sha256 " + SHA256.hex(data)
            }
            for seed in seeds {
                training.seed = seed
                training.architecture = configuration.architecture
                training.overrides = overrides
                var identity = training
                identity.initFrom = initFromContent
                let canonical = Self.canonicalJSON(architecture: fileStem(configuration.architecture), document: network.name,
                                                   parameters: parameters, input: network.input.dims, training: identity)
                out.append(Trial(id: StableHash.hex(canonical), index: out.count, configurationIndex: ci, configuration: configuration,
                                 seed: seed, training: training, architecture: configuration.architecture, overrides: overrides,
                                 parametersJSON: parameters, params: summary.totalParams, macs: summary.macs,
                                 input: network.input.dims, configJSON: canonical, modules: modules, layers: layers))
            }
        }
        var seen: [String: Int] = [:]
        for t in out {
            if let other = seen[t.id] {
                throw SpecError("configurations '\(out[other].configuration.label)' and '\(t.configuration.label)' resolve to the same network and settings (seed \(t.seed)); remove one",
                                at: SourceLocation(file: file, line: 1, column: 1))
            }
            seen[t.id] = t.index
        }
        return out
    }

    /// A top-level node's name and cost; aux heads count their parameters but no inference MACs.
    static func moduleCost(_ node: GraphNode) -> (name: String, params: Int, macs: Int)? {
        var params = 0, macs = 0, name = ""
        node.forEachRow { row in
            params += row.parameters
            if !row.isAux { macs += row.macs }
            if name.isEmpty { name = String(row.path.split(separator: ".").first ?? "") }
        }
        return name.isEmpty ? nil : (name, params, macs)
    }

    /// Input shape [C, H, W] the data gives, without loading it.
    static func sampleShape(data: String, resize: Int?, at location: SourceLocation?) throws -> [Int] {
        let source: DataSource
        do { source = try DataSource.parse(data) } catch let e as DataError {
            throw SpecError("training.data: \(e.message)", at: location)
        }
        guard let shape = source.nativeShape ?? resize.map({ [source.channels, $0, $0] }) else {
            throw SpecError("training.resize: JPEG folders need the network's input size (resize: N)", at: location)
        }
        return [shape[0], resize ?? shape[1], resize ?? shape[2]]
    }

    /// The canonical text a trial id hashes: keys sorted, threads excluded (a resource, not a
    /// setting), and only the training settings that differ from `TrainingConfig`'s defaults, so
    /// that a version of ArchLab which adds a setting (at a default that changes nothing) keeps
    /// every recorded trial's id.
    static func canonicalJSON(architecture: String, document: String, parameters: String, input: [Int], training: TrainingConfig) -> String {
        var t = training
        t.threads = 0
        t.architecture = architecture
        var defaults = TrainingConfig(architecture: architecture)
        defaults.threads = 0
        // compact, but for the input and the parameters, which keep the spaced form they were first hashed in
        return JSONValue.object([("architecture", .string(architecture)), ("input", .styled(.array(input.map { .int($0) }), .spaced)),
                                 ("network", .string(document)), ("parameters", .verbatim(parameters)),
                                 ("training", .verbatim(t.identityText(leavingOut: defaults)))]).text(.compact)
    }

    /// A recorded trial's training settings (its `config` JSON's `training`, in the identity
    /// layout) by their names, without those at `TrainingConfig`'s defaults.
    public static func nonDefaultTraining(_ training: JSONValue) -> [(name: String, value: JSONValue)] {
        guard let config = try? JSONDecoder().decode(TrainingConfig.self, from: Data(training.text(.compact).utf8)) else { return [] }
        let defaults = TrainingConfig(architecture: config.architecture)
        var out: [(name: String, value: JSONValue)] = []
        if config.overrides != defaults.overrides { out.append(("overrides", .array(config.overrides.map { .string($0) }))) }
        for setting in TrainingSetting.all where setting.value(config) != setting.value(defaults) {
            out.append((setting.name, setting.value(config)))
        }
        return out
    }

    /// Reads the `training:` settings into a training configuration (types checked, located).
    static func trainingConfig(_ entries: [YEntry], architecture: String) throws -> TrainingConfig {
        var c = TrainingConfig(architecture: architecture)
        c.epochs = 1
        c.threads = 2
        for e in entries {
            guard let setting = TrainingSetting.named(e.key.text), setting.scope != .run else { continue }  // (unknown keys are refused on loading)
            let what = "training.\(setting.name)"
            var json = try settingJSON(e.value, kind: setting.kind, what: what)
            if case let .file(fileKind) = setting.kind, let path = json.string {
                // a file, like the architecture: relative to the experiment file it is written in
                let resolved = ArchitectureLoader.resolve(path, relativeTo: e.value.location.file)
                guard FileManager.default.isReadableFile(atPath: resolved) else {
                    throw SpecError("\(what): no readable \(fileKind) at '\(resolved)'", at: e.value.location)
                }
                json = .string(resolved)
            }
            do { try setting.set(json, in: &c) } catch { throw SpecError("\(what): \(error)", at: e.value.location) }
        }
        do { try c.checkCombination() } catch {
            throw SpecError("training.\(error)", at: entries.first { $0.key.text == "freeze_loaded" }?.value.location)
        }
        return c
    }

    /// A YAML value as the JSON a setting of `kind` reads (YAML's typing rules, located errors).
    static func settingJSON(_ node: YNode, kind: TrainingSetting.Kind, what: String) throws -> JSONValue {
        switch kind {
        case .integer:
            guard case let .int(v) = try TypedReading.read(node, as: .int, what: what) else { return .null }
            return .int(v)
        case .threads:
            guard let text = node.scalar?.text, let v = TrainingSetting.Kind.threads(text) else {
                throw SpecError("\(what): expected a number of threads (at least 1) or auto, found \(node.scalar.map { "'\($0.text)'" } ?? node.kindDescription)",
                                at: node.location)
            }
            return .int(v)
        case .number:
            guard case let .float(v) = try TypedReading.read(node, as: .float, what: what) else { return .null }
            return .double(v)
        case .flag:
            guard case let .bool(b) = try TypedReading.read(node, as: .bool, what: what) else { return .null }
            return .bool(b)
        case .text, .choice, .file:
            guard case let .string(v) = try TypedReading.read(node, as: .string, what: what) else { return .null }
            return .string(v)
        case .numbers:
            let items = node.items ?? [node]
            return .array(try items.map { item in
                guard let s = item.scalar, let v = try ScalarReading.float(s) else {
                    throw SpecError("\(what): expected numbers, found \(item.kindDescription)", at: item.location)
                }
                return .double(v)
            })
        }
    }
}

/// A stable 128-bit hash (two FNV-1a streams) as 32 hex characters: trial ids that do
/// not change between runs, machines or Swift versions.
public enum StableHash {
    public static func hex(_ text: String) -> String { hex(bytes: text.utf8) }

    /// The same hash of a file's bytes.
    public static func hex(_ data: Data) -> String { data.withUnsafeBytes { hex(bytes: $0) } }

    static func hex<Bytes: Sequence>(bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var a: UInt64 = 0xCBF2_9CE4_8422_2325, b: UInt64 = 0x6C62_272E_07BB_0142
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x100_0000_01B3
            b = (b ^ UInt64(byte)) &* 0x100_0000_01B3 ^ (b >> 29)
        }
        return String(format: "%016llx%016llx", a, b)
    }
}
