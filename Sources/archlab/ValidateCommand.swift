import ArchGraph
import ArchSweep
import ArchSpec
import ArgumentParser

/// `archlab validate FILE...`: checks files (syntax, types, templates, shapes) without tensors.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check architecture and experiment files without building tensors; exit 1 with located errors.")

    @Argument(help: "Architecture or experiment files (YAML); an experiment has every trial's network built and shape-checked.")
    var files: [String]

    @OptionGroup var architecture: ArchitectureOptions

    func run() throws {
        var failed = 0
        for file in files {
            do {
                if Self.isExperiment(file) {
                    let experiment = try Diagnostics.run { try Experiment.load(file) }
                    let trials = try Diagnostics.run { try experiment.trials() }
                    print("\(file): ok (experiment \(experiment.name), \(experiment.configurations.count) configurations, \(trials.count) trials, every network built)")
                    continue
                }
                let network = try architecture.build(file)
                print("\(file): ok (\(network.name), \(Count.grouped(NetworkSummary(network).totalParams)) params)")
            } catch {
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// An experiment file names its `architecture:` at the top level; an architecture file has `layers:`.
    static func isExperiment(_ file: String) -> Bool {
        guard let tree = try? YAMLLoader().load(file: file), let entries = tree.entries else { return false }
        let keys = Set(entries.map(\.key.text))
        return keys.contains("architecture") && !keys.contains("layers")
    }
}

/// `archlab ops`: the primitive ops the builder knows.
struct OpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ops", abstract: "List the primitive ops.")

    func run() throws {
        let width = OpRegistry.descriptions.map(\.name.count).max() ?? 0
        for (name, summary) in OpRegistry.descriptions {
            print(name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + summary)
        }
    }
}
