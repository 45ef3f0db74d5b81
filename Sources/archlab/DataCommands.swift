import ArchData
import ArchGraph
import ArchJSON
import ArchSpec
import ArchTensor
import ArchTrain
import ArgumentParser
import Foundation

/// `archlab data split|bench`.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "Prepare and measure image data.",
                                                    subcommands: [SplitCommand.self, BenchCommand.self, SynthCommand.self, SampleCommand.self])
}

/// `archlab data synth ROOT`: a generated ImageFolder of JPEGs to try the workflow.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "synth",
        abstract: "Write a generated ImageFolder (ROOT/<class>/*.jpg, 5 classes of shapes) to try the JPEG workflow.")

    @Argument(help: "Output folder.") var root: String
    @Option(help: "Images per class.") var perClass = 100
    @Option(help: "Image size WxH.") var size = "500x375"
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
        let parts = size.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 > 0 && $0 <= 8192 }) else { throw ValidationError("--size must be WxH, e.g. 500x375") }
        try Diagnostics.data { try SyntheticImages.write(root: root, perClass: perClass, width: parts[0], height: parts[1], seed: seed) }
        print("\(root): \(SyntheticImages.classNames.count) classes x \(perClass) JPEGs of \(size)")
    }
}

/// `archlab data sample fashion-mnist --index 7 --out x.jpg`: one image of a data set, to try
/// `archlab predict` on an image of the data a run trained on.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample",
        abstract: "Write one image of a data set (its test split by default) as .npy, .jpg or .jpeg, and print its class.")

    @Argument(help: "Data set: fashion-mnist, cifar10[:DIR] or fashion-mnist:DIR.") var data: String
    @Option(help: "Index of the image in the split.") var index = 0
    @Option(help: "train or test.") var split = "test"
    @Option(help: "Output file (.npy: float32 [C, H, W] in [0, 1]; .jpg: 8-bit).") var out: String

    func run() throws {
        guard split == "train" || split == "test" else { throw ValidationError("--split must be train or test, found '\(split)'") }
        let source = try Diagnostics.data { try DataSource.parse(data) }
        guard case .folder = source else {
            let (train, test) = try Diagnostics.data { try source.loadInMemory() }
            let set = split == "train" ? train : test
            guard index >= 0, index < set.count else { throw ValidationError("--index must be in 0..<\(set.count) (the \(split) split), found \(index)") }
            try Diagnostics.data { try ImageFile.write(set, index: index, to: out) }
            print("\(out): \(split) image \(index) of \(data), \(set.channels)x\(set.height)x\(set.width), class \(set.labels[index]) (\(set.classNames[set.labels[index]]))")
            return
        }
        throw Diagnostics.fail("\(data): a JPEG folder's images are files already; give one of them to predict")
    }
}

/// `archlab data split SRC --out ROOT --val 0.1 --seed S`.
struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "split",
        abstract: "Split SRC/<class>/*.jpg into ROOT/train and ROOT/val (hard links; a rerun copies nothing twice).")

    @Argument(help: "Folder of class folders.") var source: String
    @Option(help: "Output root (gets train/ and val/).") var out: String
    @Option(help: "Fraction of each class held out for val/.") var val = 0.1
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
        let s = try Diagnostics.data { try FolderSplit.split(source: source, out: out, validation: val, seed: seed) }
        print("\(s.classes) classes: \(s.train) train, \(s.validation) val images in \(out) (\(s.written) written, \(s.unchanged) already in place)")
    }
}

/// `archlab data bench --data folder:ROOT --resize 224`: images per second of the loader alone.
struct BenchCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "bench", abstract: "Measure the data loader alone (decode, augment, batch) in images/s.",
                             discussion: SettingOptions.help(scopes: [.data]))
    }

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Data settings as options (listed below).", valueName: "--setting value"),
              completion: SettingOptions.completion(scopes: [.data]))
    var arguments: [String] = []
    @Flag(help: "Use RandomResizedCrop and flips as in training.") var randomResizedCrop = false
    @Option(help: "Stop after this many batches.") var batches: Int?
    @Option(help: "Timed passes over the data (after --warm-up untimed ones).") var passes = 1
    @Option(help: "Untimed passes first (file cache, allocator).") var warmUp = 0
    @Option(help: "text or json.") var format: PredictCommand.Format = .text

    func validate() throws {
        _ = try settings()
        guard passes >= 1, warmUp >= 0 else { throw ValidationError("--passes must be at least 1 and --warm-up at least 0") }
    }

    func settings() throws -> TrainingConfig {
        let options = try SettingOptions(arguments, scopes: [.data])
        guard options.positionals.isEmpty else { throw ValidationError("unexpected argument '\(options.positionals[0])'") }
        var settings = TrainingConfig(architecture: "")
        try options.apply(to: &settings)
        return settings
    }

    func run() throws {
        let settings = try settings()
        // auto (0): the idle cores, chosen once for the pass
        let parallel = Parallelism(threads: settings.threads == 0 ? ThreadGovernor().threads : settings.threads)
        let (train, _, skipped) = try Diagnostics.data {
            try DataSource.parse(settings.data).load(skipBadImages: settings.skipBadImages, parallel: parallel)
        }
        var transform = Transform(size: settings.resize.map { ($0, $0) }, horizontalFlip: randomResizedCrop, mean: settings.mean, std: settings.std)
        transform.randomResizedCrop = randomResizedCrop
        let loader = BatchLoader(source: train, batchSize: settings.batchSize, transform: transform, training: randomResizedCrop,
                                 shuffle: true, dropLast: false, seed: 0, parallel: parallel)
        var images = 0
        var start = Date()
        try Diagnostics.data {
            for pass in 0..<(warmUp + passes) {
                if pass == warmUp { (start, images) = (Date(), 0) }
                try loader.forEachBatch(epoch: pass) { b, _, labels in
                    images += labels.count
                    return batches.map { b + 1 < $0 } ?? true
                }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        switch format {
        case .text:
            print(String(format: "%d images in %.2f s: %.1f images/s (batch %d of %@, %d threads%@)", images, seconds, Double(images) / seconds,
                         settings.batchSize, loader.outputShape.map(String.init).joined(separator: "x"), parallel.threads,
                         skipped.isEmpty ? "" : ", \(skipped.count) unreadable skipped"))
        case .json:
            print(JSONValue.object([("images", .int(images)), ("seconds", .double(seconds)), ("images_per_second", .double(Double(images) / seconds)),
                                    ("batch", .int(settings.batchSize)), ("shape", .array(loader.outputShape.map { .int($0) })),
                                    ("threads", .int(parallel.threads)), ("skipped", .int(skipped.count))]).text(.pretty(indent: 1)))
        }
    }
}

/// `archlab predict FILE --weights W --classes class_indices.json IMAGE...`.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict", abstract: "Classify images: the top-k classes with probabilities.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Architecture file (YAML).") var file: String
    @Argument(help: "Images: JPEG (colour or grayscale; converted to what the network was trained on) or .npy (float32 [C, H, W] in [0, 1]).")
    var images: [String]
    @Option(help: "Weights (safetensors).") var weights: String
    @Option(help: "class_indices.json ({\"0\": \"daisy\", ...}); the run's config.json beside it supplies its --set, input shape and normalization.")
    var classes: String
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter or document value (repeatable).", valueName: "path=value"))
    var overrides: [String] = []
    @Option(help: "Input size N x N (default: the training run's).") var resize: Int?
    @Option(help: "Resize the shorter side to N, then center-crop (default: the training run's).") var resizeShorter: Int?
    @Option(help: "Input channels, 1 or 3 (default: the training run's).") var channels: Int?
    @Option(help: "Per-channel mean (default: the training run's).") var mean: String?
    @Option(help: "Per-channel std (default: the training run's).") var std: String?
    @Option(help: "Classes to print per image.") var top = 5
    @Option(help: "Output format: text or json.") var format: Format = .text

    func run() throws {
        let names = try Diagnostics.data { try Self.readClasses(classes) }
        let configPath = URL(fileURLWithPath: classes).deletingLastPathComponent().appendingPathComponent("config.json").path
        let config = Self.runConfig(beside: classes)
        let setting = overrides.isEmpty ? (config?["overrides"] as? [String] ?? []) : overrides
        // the network's recorded input [C, H, W]: Fashion-MNIST runs have no `resize`, but their input is 1x28x28
        let recorded = (config?["network"] as? [String: Any])?["input"] as? [Int]
        guard let size = resize ?? config?["resize"] as? Int ?? recorded?.last else {
            throw Diagnostics.fail(config == nil
                ? "give --resize N and --channels C: there is no config.json beside \(classes) (the training run writes one)"
                : "give --resize N: \(configPath) records no input shape (a run from an older ArchLab?)")
        }
        let inputChannels = channels ?? recorded?.first ?? 3
        var transform = Transform(size: (size, size))
        transform.resizeShorter = resizeShorter ?? config?["resize_shorter"] as? Int
        transform.mean = try mean.map(commaSeparatedFloats) ?? (config?["mean"] as? [Double] ?? []).map(Float.init)
        transform.std = try std.map(commaSeparatedFloats) ?? (config?["std"] as? [Double] ?? []).map(Float.init)
        var options = ArchitectureOptions()
        options.input = "\(inputChannels)x\(size)x\(size)"
        options.overrides = setting
        let model = Model(network: try options.build(file))
        guard model.network.output.dims == [names.count] else {
            throw Diagnostics.fail("\(classes): \(names.count) classes, but the network gives \(model.network.output) outputs (--set num_classes=\(names.count)?)")
        }
        try Diagnostics.file { try model.load(safetensors: weights) }
        let batch = Tensor(shape: [images.count, inputChannels, size, size])
        let sample = inputChannels * size * size
        for (i, path) in images.enumerated() {
            var random = RandomSource(seed: 0)
            try Diagnostics.data {
                let image = try ImageFile.read(path, channels: inputChannels)
                try batch.withUnsafeMutableBufferPointer { dst in
                    guard let start = dst.baseAddress else { return }  // (a batch of at least one image)
                    try image.write(0, transform: transform, training: false, into: start + i * sample, random: &random)
                }
            }
        }
        let logits = model.predict(batch)
        var results: [(String, [(Int, Double)])] = []
        for (i, path) in images.enumerated() {
            let row = (0..<names.count).map { Double(logits[i * names.count + $0]) }
            let maxV = row.max() ?? 0
            let exps = row.map { exp($0 - maxV) }
            let sum = exps.reduce(0, +)
            let ranked = exps.enumerated().map { ($0.offset, $0.element / sum) }.sorted { $0.1 > $1.1 }.prefix(top)
            results.append((path, Array(ranked)))
        }
        switch format {
        case .text:
            for (path, ranked) in results {
                print(path)
                for (index, p) in ranked { print(String(format: "  %@ %.4f", names[index].padding(toLength: max(12, names.map(\.count).max() ?? 0), withPad: " ", startingAt: 0), p)) }
            }
        case .json:
            let items: [JSONValue] = results.map { path, ranked in
                .styled(.object([("image", .string(path)), ("top", .array(ranked.map {
                    .object([("class", .string(names[$0.0])), ("index", .int($0.0)), ("probability", .double($0.1))])
                }))]), .spaced)
            }
            print(JSONValue.array(items).text(.pretty(indent: 1)))
        }
    }

    static func readClasses(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: String] else {
            throw DataError(path, "expected a JSON object {\"0\": \"class name\", ...}")
        }
        let named = object.compactMap { key, name in Int(key).map { ($0, name) } }.sorted { $0.0 < $1.0 }
        guard named.map(\.0) == Array(0..<object.count) else { throw DataError(path, "keys must be 0 ..< \(object.count)") }
        return named.map(\.1)
    }

    static func runConfig(beside classes: String) -> [String: Any]? {
        let path = URL(fileURLWithPath: classes).deletingLastPathComponent().appendingPathComponent("config.json").path
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }
}
