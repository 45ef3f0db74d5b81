import ArchJSON
import Foundation

/// `config.json` and the settings file a sweep hands its trial: the architecture, the overrides,
/// and every setting of `TrainingSetting.all` under its name. Files written before settings had one
/// spelling (`horizontal_flip`, `validation_fraction`, nested `optimizer` and `schedule` objects)
/// still read: a setting missing under its name is looked up at its legacy place.
extension TrainingConfig: Codable {
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: SettingKey.self)
        try container.encode(architecture, forKey: SettingKey("architecture"))
        try container.encode(overrides, forKey: SettingKey("overrides"))
        for setting in TrainingSetting.all { try setting.encode(self, &container, SettingKey(setting.name)) }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: SettingKey.self)
        self.init(architecture: try container.decodeIfPresent(String.self, forKey: SettingKey("architecture")) ?? "")
        overrides = try container.decodeIfPresent([String].self, forKey: SettingKey("overrides")) ?? []
        for setting in TrainingSetting.all {
            do {
                if container.contains(SettingKey(setting.name)) {
                    try setting.decode(&self, container, SettingKey(setting.name))
                    continue
                }
            } catch DecodingError.typeMismatch where setting.legacyPath.count > 1 && setting.legacyPath[0] == setting.name {
                // `optimizer` and `schedule` were objects: the setting is inside
            }
            guard setting.legacyPath != [setting.name] else { continue }
            var nested: KeyedDecodingContainer<SettingKey>? = container
            for key in setting.legacyPath.dropLast() {
                // (a new file's `optimizer` is a string: nothing of the old layout there)
                nested = try? nested?.nestedContainer(keyedBy: SettingKey.self, forKey: SettingKey(key))
            }
            if let nested, let last = setting.legacyPath.last, nested.contains(SettingKey(last)) { try setting.decode(&self, nested, SettingKey(last)) }
        }
    }

    /// The settings as JSON in declaration order (architecture, overrides, then every setting by name).
    public var jsonValue: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("architecture", .string(architecture)), ("overrides", .array(overrides.map { .string($0) }))]
        for setting in TrainingSetting.all {
            let v = setting.value(self)
            if v != .null { members.append((setting.name, v)) }
        }
        return .object(members)
    }

    /// The settings in the layout identities hash (the one `config.json` had before settings had
    /// one spelling, key-sorted, compact), so that trial ids and checkpoints recorded before stay
    /// valid. Settings at `defaults`' values are left out when `defaults` is given.
    public func identityText(leavingOut defaults: TrainingConfig? = nil) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(IdentityLayout(config: self, defaults: defaults))) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Checks that settings fit together (what one setting alone cannot check).
    public func checkCombination() throws(TrainingSetting.Invalid) {
        if freezeLoaded && initFrom == nil {
            throw TrainingSetting.Invalid("freeze_loaded: needs init_from (the weights whose tensors it freezes)")
        }
    }
}

/// Encodes a configuration in the identity layout: each setting at its legacy path, nested
/// objects for shared prefixes (`optimizer`, `schedule`).
private struct IdentityLayout: Encodable {
    let config: TrainingConfig
    let defaults: TrainingConfig?

    /// A node of the layout: a setting at a leaf, or named children.
    private final class Node {
        var setting: TrainingSetting?
        var children: [(String, Node)] = []
        func child(_ key: String) -> Node {
            if let existing = children.first(where: { $0.0 == key }) { return existing.1 }
            let node = Node()
            children.append((key, node))
            return node
        }
    }

    func encode(to encoder: Encoder) throws {
        let root = Node()
        for setting in TrainingSetting.all {
            if let defaults, setting.value(config) == setting.value(defaults) { continue }
            var node = root
            for key in setting.legacyPath { node = node.child(key) }
            node.setting = setting
        }
        var container = encoder.container(keyedBy: SettingKey.self)
        if defaults == nil || config.architecture != defaults?.architecture { try container.encode(config.architecture, forKey: SettingKey("architecture")) }
        if defaults == nil || config.overrides != defaults?.overrides { try container.encode(config.overrides, forKey: SettingKey("overrides")) }
        try write(root, into: &container)
    }

    private func write(_ node: Node, into container: inout KeyedEncodingContainer<SettingKey>) throws {
        for (key, child) in node.children {
            if let setting = child.setting {
                try setting.encode(config, &container, SettingKey(key))
            } else {
                var nested = container.nestedContainer(keyedBy: SettingKey.self, forKey: SettingKey(key))
                try write(child, into: &nested)
            }
        }
    }
}
