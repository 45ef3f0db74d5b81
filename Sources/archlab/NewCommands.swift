import ArchFiles
import ArchGraph
import ArchSpec
import ArchSweep
import ArchTensor
import ArgumentParser
import Foundation

/// `archlab new architecture NAME` / `archlab new experiment NAME --from ARCH.yaml`.
struct NewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "new", abstract: "Write a commented starting file that validates and runs.",
                                                    subcommands: [NewArchitectureCommand.self, NewExperimentCommand.self])
}

/// Writes `text` to `path` unless a file is there; returns the path.
private func writeNew(_ text: String, to path: String) throws {
    guard !FileManager.default.fileExists(atPath: path) else { throw Diagnostics.fail("\(path) exists; give another name or --out") }
    let folder = (path as NSString).deletingLastPathComponent
    if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    try Diagnostics.file { try AtomicFile.write(Data(text.utf8), to: path) }
}

/// Builds `file` as written (no --set, its own input).
private func buildAsWritten(_ file: String) throws -> Network {
    var options = ArchitectureOptions()
    options.input = nil
    options.overrides = []
    return try options.build(file)
}

private func checkName(_ name: String) throws {
    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
        throw ValidationError("a name of letters, digits, '-', '_' and '.' (it becomes the file name), found '\(name)'")
    }
}

struct NewArchitectureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "architecture", abstract: "A small residual CNN to edit: params, a function, a template block, a loop.")
    @Argument(help: "The architecture's name.") var name: String
    @Option(help: "Where to write it (default: NAME.yaml).") var out: String?

    func validate() throws { try checkName(name) }

    func run() throws {
        let path = out ?? "\(name).yaml"
        try writeNew(StarterFiles.architecture(name: name), to: path)
        let network = try buildAsWritten(path)
        let s = NetworkSummary(network)
        print("wrote \(path): \(network.name), input \(network.input), \(Count.grouped(s.totalParams)) params, \(Count.grouped(s.macs)) MACs")
        print("next: archlab summary \(path); archlab train \(path) --epochs 2 --out runs/\(name); archlab new experiment NAME --from \(path)")
    }
}

struct NewExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "experiment", abstract: "A sweep over one parameter of an architecture, with adaptive seeds.")
    @Argument(help: "The experiment's name.") var name: String
    @Option(help: "The architecture file the experiment varies.") var from: String
    @Option(help: ArgumentHelp("The axis: a parameter of the architecture and its values (default: its first numeric parameter other than num_classes, at half, once and twice its default).",
                               valueName: "key=v1,v2,..."))
    var axis: String?
    @Option(help: "Where to write it (default: NAME.yaml).") var out: String?

    func validate() throws { try checkName(name) }

    func run() throws {
        let path = out ?? "\(name).yaml"
        let network = try buildAsWritten(from)
        let (key, values) = try axis.map(Self.parse) ?? Self.defaultAxis(network.architecture, file: from)
        let folder = (path as NSString).deletingLastPathComponent
        let relative = Multirun.relativePath(from, from: folder.isEmpty ? "." : folder)
        try writeNew(StarterFiles.experiment(name: name, architecture: relative, axisKey: key, values: values), to: path)
        let experiment = try Diagnostics.run { try Experiment.load(path) }
        let trials = try Diagnostics.run { try experiment.trials() }
        print("wrote \(path): \(experiment.configurations.count) configurations of \(network.name) (\(key): \(values.joined(separator: ", "))), \(trials.count) possible trials")
        print("next: archlab sweep \(path) --dry-run; archlab sweep \(path) --jobs 2")
    }

    static func parse(_ text: String) throws -> (String, [String]) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else { throw ValidationError("--axis \(text): expected key=v1,v2,...") }
        return (parts[0], Multirun.items(parts[1]))
    }

    /// The first int or float parameter other than `num_classes`, at half, once and twice its value.
    static func defaultAxis(_ architecture: ResolvedArchitecture, file: String) throws -> (String, [String]) {
        for (name, value) in architecture.parameters where name != "num_classes" {
            switch value {
            case .int(let v) where v > 1: return (name, [v / 2, v, v * 2].map(String.init))
            case .float(let v) where v > 0: return (name, [v / 2, v, v * 2].map { Value.plainNumber($0) })
            default: continue
            }
        }
        throw Diagnostics.fail("\(file) has no numeric parameter to vary; give --axis key=v1,v2,...")
    }
}

/// `archlab completion bash|zsh|fish`: the shell completion script of every command and option.
struct CompletionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completion",
        abstract: "Print a shell completion script (bash: source <(archlab completion bash); zsh and fish: save it in the shell's completion folder).")

    enum Shell: String, ExpressibleByArgument, CaseIterable {
        case bash, zsh, fish
        var completionShell: CompletionShell {
            switch self {
            case .bash: return .bash
            case .zsh: return .zsh
            case .fish: return .fish
            }
        }
    }
    @Argument(help: "bash, zsh or fish.") var shell: Shell

    func run() throws {
        print(ArchLab.completionScript(for: shell.completionShell))
    }
}
