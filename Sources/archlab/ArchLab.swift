import ArgumentParser
import ArchSpec
import ArchTensor
import Foundation

/// `archlab`: CNN architecture experiments driven by declarative YAML.
@main
struct ArchLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archlab",
        abstract: "CNN architecture experiments driven by declarative YAML.",
        subcommands: [SummaryCommand.self, ValidateCommand.self, OpsCommand.self, InitCommand.self, ForwardCommand.self, TrainCommand.self, EvalCommand.self, SweepCommand.self, ReportCommand.self, PredictCommand.self, DataCommand.self, ModelBenchCommand.self, SgemmCommand.self, ExportCommand.self, NewCommand.self, CompletionCommand.self]
    )

    static func main() {
        CPUCheck.exitUnlessKernelsCanRun()
        // OpenBLAS picks its kernels when it is loaded: restart once with the better core type
        // (see BLAS.preferredCoreType); if exec fails, go on with the detected kernels.
        if let core = BLAS.preferredCoreType() {
            setenv("OPENBLAS_CORETYPE", core, 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let first = arguments.first, !first.hasPrefix("-"), !first.contains("/"), !first.contains("."),
           !commandNames.contains(first), first != "help" {
            let hint = Suggestion.didYouMean(first, in: commandNames)
            FileHandle.standardError.write(Data("archlab: unknown command '\(first)'\(hint) (commands: \(commandNames.joined(separator: ", ")); archlab --help)\n".utf8))
            Foundation.exit(64)
        }
        main(arguments)
    }

    /// The subcommands' names, for the suggestion on a mistyped one.
    static var commandNames: [String] { configuration.subcommands.compactMap { $0.configuration.commandName } }
}
