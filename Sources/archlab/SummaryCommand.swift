import ArchGraph
import ArgumentParser

extension SummaryFormat: ExpressibleByArgument {}

/// `archlab summary FILE`: per-layer shapes, parameters and MACs, with totals.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Build an architecture file and print its layers, shapes, parameters and MACs.")

    @Argument(help: "Architecture file (YAML).")
    var file: String

    @OptionGroup var architecture: ArchitectureOptions

    @Option(help: "Output format: \(SummaryFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: SummaryFormat = .table

    func run() throws {
        let network = try architecture.build(file)
        print(NetworkSummary(network).render(format))
    }
}
