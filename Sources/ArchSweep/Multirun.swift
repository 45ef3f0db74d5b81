import ArchSpec
import Foundation

/// A sweep given on the command line instead of in a file (Hydra's multirun habit):
///
///     archlab sweep --base architectures/googlenet.yaml --axis width=0.25,0.5,1 --seeds 0,1,2 --training epochs=3
///
/// becomes the experiment file it stands for, which the sweep then loads like any other (and
/// which `--save` keeps): one grid over the axes, the seeds, and the training settings.
public struct Multirun: Sendable {
    public var base: String
    /// `key=v1,v2,...`: an architecture parameter, a `--set` path or `training.<setting>`.
    public var axes: [String]
    public var seeds: [String]
    /// `setting=value` for `training:`.
    public var training: [String]
    public var name: String?

    public init(base: String, axes: [String], seeds: [String], training: [String], name: String?) {
        self.base = base; self.axes = axes; self.seeds = seeds; self.training = training; self.name = name
    }

    /// What is wrong with a command-line argument.
    public struct Invalid: Error, CustomStringConvertible { public var description: String }

    /// The experiment's name: `--name`, or the base file's stem and the axes' keys.
    public var experimentName: String {
        if let name { return name }
        let stem = URL(fileURLWithPath: base).deletingPathExtension().lastPathComponent
        let keys = axes.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) }
        return ([stem] + keys).joined(separator: "-").map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }.reduce("") { $0 + String($1) }
    }

    /// The experiment file's text, with the base architecture's path relative to `directory`
    /// (where the file will be written).
    public func yaml(in directory: String) throws -> String {
        guard !axes.isEmpty else { throw Invalid(description: "--base needs at least one --axis key=v1,v2,...") }
        var lines = ["# Written by archlab sweep --base (the command line below); run it again with archlab sweep THIS_FILE.",
                     "# " + commandLine, "name: \(experimentName)", "architecture: \(Self.relativePath(base, from: directory))"]
        if !training.isEmpty {
            lines.append("training:")
            for setting in training {
                let (key, value) = try Self.split(setting, option: "--training")
                lines.append("  \(key): \(value)")
            }
        }
        if !seeds.isEmpty { lines.append("seeds: [\(seeds.joined(separator: ", "))]") }
        lines += ["strategy: grid", "axes:"]
        for axis in axes {
            let (key, values) = try Self.split(axis, option: "--axis")
            lines.append("  \(key): [\(Self.items(values).joined(separator: ", "))]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    var commandLine: String {
        (["archlab sweep --base \(base)"] + axes.map { "--axis \($0)" } + (seeds.isEmpty ? [] : ["--seeds \(seeds.joined(separator: ","))"])
            + training.map { "--training \($0)" } + (name.map { ["--name \($0)"] } ?? [])).joined(separator: " ")
    }

    static func split(_ text: String, option: String) throws -> (String, String) {
        let parts = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
              parts[0].allSatisfy({ $0.isLetter || $0.isNumber || "_.-".contains($0) }) else {
            throw Invalid(description: "\(option) \(text): expected key=value (a key of letters, digits, '_', '.' and '-')")
        }
        guard !parts[1].contains("\n"), !parts[1].contains("#") else { throw Invalid(description: "\(option) \(text): a value on one line, without '#'") }
        return (parts[0], parts[1])
    }

    /// `0.25,0.5,[64, 96]` → `0.25`, `0.5`, `[64, 96]`: commas inside brackets stay in their item.
    public static func items(_ text: String) -> [String] {
        var items: [String] = [], current = "", depth = 0
        for c in text {
            if c == "[" || c == "{" { depth += 1 }
            if c == "]" || c == "}" { depth -= 1 }
            if c == ",", depth == 0 {
                items.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(c)
            }
        }
        items.append(current.trimmingCharacters(in: .whitespaces))
        return items.filter { !$0.isEmpty }
    }

    /// `path` as seen from `directory` (both made absolute first); the absolute path when the two
    /// share no folder but the root.
    public static func relativePath(_ path: String, from directory: String) -> String {
        let target = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let origin = URL(fileURLWithPath: directory).standardizedFileURL.pathComponents
        var common = 0
        while common < min(target.count, origin.count), target[common] == origin[common] { common += 1 }
        if common <= 1 { return URL(fileURLWithPath: path).standardizedFileURL.path }
        return (Array(repeating: "..", count: origin.count - common) + target[common...]).joined(separator: "/")
    }
}
