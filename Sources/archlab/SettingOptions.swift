import ArchJSON
import ArchSpec
import ArchTrain
import ArgumentParser
import Foundation

/// Training settings given as options on the command line (`--epochs 3`, `--flip`, `--no-flip`,
/// `--mean 0.5,0.4`, `--lr=0.1`): read from `TrainingSetting.all`, so that every setting is an
/// option under its own name without a second declaration here. The arguments that are not
/// options (the architecture file) are kept in order.
struct SettingOptions {
    /// The arguments that are not options, in order.
    var positionals: [String] = []
    /// The settings given, each with its value, in order (a later one wins).
    var given: [(setting: TrainingSetting, value: JSONValue)] = []

    /// Parses `arguments`, accepting the settings of `scopes`.
    init(_ arguments: [String], scopes: [TrainingSetting.Scope]) throws {
        let settings = TrainingSetting.all.filter { scopes.contains($0.scope) }
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("-"), Double(argument) == nil, argument != "-" else {
                positionals.append(argument)
                continue
            }
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            var option = parts[0], inline = parts.count > 1 ? parts[1] : nil
            var negated = false
            if option.hasPrefix("--no-"), let flag = settings.first(where: { $0.option == "--" + option.dropFirst(5) }), flag.kind == .flag {
                option = flag.option
                negated = true
            }
            guard let setting = settings.first(where: { $0.option == option }) else {
                let known = settings.map(\.option) + ["--help"]
                throw ValidationError("unknown option '\(option)'\(Suggestion.didYouMean(option, in: known)); see --help for the settings")
            }
            if setting.kind == .flag {
                if negated, inline != nil { throw ValidationError("\(argument): \(setting.option) takes no value") }
                guard let value = inline.map({ $0 == "true" ? true : $0 == "false" ? false : nil }) ?? !negated else {
                    throw ValidationError("\(setting.option): expected true or false, found '\(inline ?? "")'")
                }
                given.append((setting, .bool(value)))
                continue
            }
            if inline == nil {
                guard i < arguments.count else { throw ValidationError("\(setting.option): missing value (\(setting.kind.expected))") }
                inline = arguments[i]
                i += 1
            }
            given.append((setting, try Self.json(inline ?? "", for: setting)))
        }
    }

    /// The settings of `scopes` and exactly one positional argument, the architecture file; the
    /// settings are checked (kinds and combinations) here, before any data is read.
    static func withArchitecture(_ arguments: [String], scopes: [TrainingSetting.Scope]) throws -> (options: SettingOptions, file: String) {
        let options = try SettingOptions(arguments, scopes: scopes)
        guard options.positionals.count == 1, let file = options.positionals.first else {
            throw ValidationError(options.positionals.isEmpty ? "missing the architecture file"
                                  : "one architecture file expected, found \(options.positionals.map { "'\($0)'" }.joined(separator: ", "))")
        }
        var check = TrainingConfig(architecture: file)
        try options.apply(to: &check)
        return (options, file)
    }

    /// An option's text as the JSON its setting reads.
    static func json(_ text: String, for setting: TrainingSetting) throws -> JSONValue {
        func invalid() -> ValidationError { ValidationError("\(setting.option): expected \(setting.kind.expected), found '\(text)'") }
        switch setting.kind {
        case .integer:
            guard let v = Int(text) else { throw invalid() }
            return .int(v)
        case .threads:
            guard let v = TrainingSetting.Kind.threads(text) else { throw invalid() }
            return .int(v)
        case .number:
            guard let v = Double(text) else { throw invalid() }
            return .double(v)
        case .numbers:
            let parts = text.split(separator: ",")
            let values = parts.compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.count == parts.count else { throw invalid() }
            return .array(values.map { .double($0) })
        case .flag: return .bool(text == "true")
        case .text, .choice, .file: return .string(text)
        }
    }

    /// The given settings over `c`.
    func apply(to c: inout TrainingConfig) throws {
        for (setting, value) in given {
            do { try setting.set(value, in: &c) } catch { throw ValidationError("\(setting.option): \(error)") }
        }
        do { try c.checkCombination() } catch { throw ValidationError("\(error)") }
    }

    /// The settings of `scopes` as the help lists them: option, kind, what it does, default.
    static func help(scopes: [TrainingSetting.Scope]) -> String {
        let defaults = TrainingConfig(architecture: "")
        var lines = ["Settings (options here; the same names are the keys of an experiment's `training:` and of config.json):"]
        for setting in TrainingSetting.all where scopes.contains(setting.scope) {
            let value: String
            switch setting.kind {
            case .flag: value = ""
            case let .choice(choices): value = " " + choices.joined(separator: "|")
            case .integer: value = " <n>"
            case .threads: value = " <n|auto>"
            case .number: value = " <x>"
            case .numbers: value = " <x,...>"
            case .text: value = " <text>"
            case .file: value = " <path>"
            }
            let current = setting.value(defaults)
            var text = setting.help
            switch current {
            case .null, .array([]): break
            case let .double(d): text += " (default: \(Value.plainNumber(d)))"
            case .int(0) where setting.kind == .threads: text += " (default: auto)"
            default: text += " (default: \(current.string ?? current.text(.compact)))"
            }
            let option = "  " + (setting.kind == .flag ? "--[no-]" + setting.option.dropFirst(2) : setting.option) + value
            lines += wrap(text, first: option, column: 36, width: 79)
        }
        return lines.joined(separator: "\n")
    }

    /// Shell completion for the settings of `scopes` and, where no option is being typed, YAML
    /// files (the architecture).
    static func completion(scopes: [TrainingSetting.Scope]) -> CompletionKind {
        .custom { _, _, prefix in
            if prefix.hasPrefix("-") {
                let options = TrainingSetting.all.filter { scopes.contains($0.scope) }.flatMap { setting in
                    setting.kind == .flag ? [setting.option, "--no-" + setting.option.dropFirst(2)] : [setting.option]
                }
                return options.filter { $0.hasPrefix(prefix) }
            }
            let directory = prefix.lastIndex(of: "/").map { String(prefix[...$0]) } ?? ""
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
            return entries.sorted().compactMap { name in
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: directory + name, isDirectory: &isDirectory)
                let path = directory + name + (isDirectory.boolValue ? "/" : "")
                return path.hasPrefix(prefix) && (isDirectory.boolValue || name.hasSuffix(".yaml") || name.hasSuffix(".yml")) ? path : nil
            }
        }
    }

    /// `text` in lines of at most `width` characters from `column` on, the first after `first`
    /// (on a line of its own when `first` reaches the column).
    static func wrap(_ text: String, first: String, column: Int, width: Int) -> [String] {
        var lines: [String] = [], line = first
        if line.count >= column - 1 { lines.append(line); line = "" }
        line += String(repeating: " ", count: column - line.count)
        var empty = true
        for word in text.split(separator: " ") {
            if !empty, line.count + 1 + word.count > width {
                lines.append(line)
                line = String(repeating: " ", count: column)
                empty = true
            }
            line += (empty ? "" : " ") + word
            empty = false
        }
        return lines + [line]
    }
}
