import ArchGraph
import ArgumentParser

/// `archlab validate FILE...`: checks files (syntax, types, templates, shapes) without tensors.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check architecture files without building tensors; exit 1 with located errors.")

    @Argument(help: "Architecture files (YAML).")
    var files: [String]

    @OptionGroup var architecture: ArchitectureOptions

    func run() throws {
        var failed = 0
        for file in files {
            do {
                let network = try architecture.build(file)
                print("\(file): ok (\(network.name), \(Count.grouped(NetworkSummary(network).totalParams)) params)")
            } catch {
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode(1) }
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
