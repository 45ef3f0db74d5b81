import ArchJSON
import ArchTrain
import Foundation
import Testing

/// Training settings are declared once (`TrainingSetting.all`); these check that config.json
/// round-trips every one of them, that files written before settings had one spelling still read,
/// and that identities keep the layout recorded trials and checkpoints were hashed in.
@Suite struct TrainingSettingsTests {
    /// A recorded trial's config.json from before one spelling (nested optimizer and schedule,
    /// `horizontal_flip`, `validation_fraction`), from `reports/inception-widths`.
    static let legacyConfig = #"""
{
  "architecture": "architectures/googlenet-torchvision.yaml",
  "batch_size": 32,
  "data": "fashion-mnist",
  "epochs": 4,
  "freeze_loaded": false,
  "horizontal_flip": true,
  "label_smoothing": 0,
  "lr": 0.0003,
  "mean": [],
  "optimizer": {
    "alpha": 0.99,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-08,
    "kind": "adam",
    "momentum": 0.9,
    "nesterov": false,
    "weightDecay": 0
  },
  "overrides": [
    "num_classes=10",
    "aux_logits=false",
    "width=0.5"
  ],
  "pad_crop": 0,
  "random_resized_crop": false,
  "resize": 64,
  "schedule": {
    "gamma": 0.1,
    "kind": "cosine",
    "stepSize": 30,
    "warmupEpochs": 0
  },
  "seed": 0,
  "skip_bad_images": false,
  "std": [],
  "threads": 1,
  "validation_fraction": 0.1
}
"""#

    /// That trial's checkpoint identity (its `training` part), as the version that wrote it hashed it.
    static let legacyIdentity = #"{"architecture":"architectures\/googlenet-torchvision.yaml","batch_size":32,"data":"fashion-mnist","epochs":4,"freeze_loaded":false,"horizontal_flip":true,"label_smoothing":0,"lr":0.0003,"mean":[],"optimizer":{"alpha":0.99,"beta1":0.9,"beta2":0.999,"eps":1e-08,"kind":"adam","momentum":0.9,"nesterov":false,"weightDecay":0},"overrides":["num_classes=10","aux_logits=false","width=0.5"],"pad_crop":0,"random_resized_crop":false,"resize":64,"schedule":{"gamma":0.1,"kind":"cosine","stepSize":30,"warmupEpochs":0},"seed":0,"skip_bad_images":false,"std":[],"threads":0,"validation_fraction":0.1}"#

    @Test func oldConfigFilesStillRead() throws {
        let c = try JSONDecoder().decode(TrainingConfig.self, from: Data(Self.legacyConfig.utf8))
        #expect(c.horizontalFlip && c.validationFraction == 0.1 && c.optimizer.kind == .adam && c.schedule.kind == .cosine)
        #expect(c.lr == 0.0003 && c.batchSize == 32 && c.epochs == 4 && c.resize == 64 && c.threads == 1)
        #expect(c.overrides == ["num_classes=10", "aux_logits=false", "width=0.5"])
    }

    @Test func identitiesKeepTheRecordedLayout() throws {
        var c = try JSONDecoder().decode(TrainingConfig.self, from: Data(Self.legacyConfig.utf8))
        c.threads = 0
        #expect(c.identityText() == Self.legacyIdentity)
    }

    /// Every setting away from its default survives config.json (written by name, read back).
    @Test func everySettingRoundTripsThroughConfigJSON() throws {
        var c = TrainingConfig(architecture: "a.yaml")
        c.overrides = ["x=1"]
        for setting in TrainingSetting.all {
            try setting.set(Self.nonDefault(setting), in: &c)
            #expect(setting.value(c) != setting.value(TrainingConfig(architecture: "")), "\(setting.name) still at its default")
        }
        let text = c.jsonValue.text(.pretty(indent: 2))
        let back = try JSONDecoder().decode(TrainingConfig.self, from: Data(text.utf8))
        #expect(back == c)
        let object = try JSONValue.parse(text)
        for setting in TrainingSetting.all { #expect(object[setting.name] != nil, "\(setting.name) is not in config.json under its name") }
        // and the identity layout too
        let identity = try JSONDecoder().decode(TrainingConfig.self, from: Data(c.identityText().utf8))
        #expect(identity == c)
        // a setting left out (an unset optional) next to `optimizer` as a string
        let defaults = TrainingConfig(architecture: "a.yaml")
        #expect(try JSONDecoder().decode(TrainingConfig.self, from: Data(defaults.jsonValue.text().utf8)) == defaults)
    }

    @Test func valuesAreCheckedAgainstTheKind() {
        var c = TrainingConfig(architecture: "")
        #expect(throws: TrainingSetting.Invalid.self) { try TrainingSetting.named("epochs")!.set(.int(0), in: &c) }
        #expect(throws: TrainingSetting.Invalid.self) { try TrainingSetting.named("optimizer")!.set(.string("adan"), in: &c) }
        #expect(throws: TrainingSetting.Invalid.self) { try TrainingSetting.named("flip")!.set(.int(1), in: &c) }
        #expect(throws: TrainingSetting.Invalid.self) { try TrainingSetting.named("lr")!.set(.double(-1), in: &c) }
        #expect(c == TrainingConfig(architecture: ""))
        // decay_norms_and_biases: true is the default (nil), false is kept
        try? TrainingSetting.named("decay_norms_and_biases")!.set(.bool(true), in: &c)
        #expect(c.optimizer.decayNormsAndBiases == nil)
        try? TrainingSetting.named("decay_norms_and_biases")!.set(.bool(false), in: &c)
        #expect(c.optimizer.decayNormsAndBiases == false)
    }

    /// A value of `setting`'s kind that is not its default.
    static func nonDefault(_ setting: TrainingSetting) -> JSONValue {
        let current = setting.value(TrainingConfig(architecture: ""))
        switch setting.kind {
        case let .integer(min): return .int(max(min, current.int ?? 0) + 3)
        case .threads: return .int((current.int ?? 0) + 3)
        case let .number(min): return .double(max(min, current.number ?? 0) + 0.25)
        case .flag: return .bool(current == .bool(false) ? true : false)
        case .text, .file: return .string("other-" + setting.name)
        // the last choice: the first may be the default spelled out (precision: float32 is stored as unset)
        case let .choice(choices): return .string(choices.last { .string($0) != current } ?? "")
        case .numbers: return .array([.double(0.5), .double(0.25)])
        }
    }

    /// One reading of a thread count for the command line, YAML and bench: auto is 0, a count is
    /// at least 1, and 0 itself (config.json's spelling of auto) is not a count a user types.
    @Test func threadCountsReadOneWay() {
        #expect(TrainingSetting.Kind.threads("auto") == 0)
        #expect(TrainingSetting.Kind.threads("3") == 3)
        #expect(TrainingSetting.Kind.threads("0") == nil)
        #expect(TrainingSetting.Kind.threads("-1") == nil)
        #expect(TrainingSetting.Kind.threads("two") == nil)
    }
}
