import ArgumentParser
import ArchTensor
import Foundation

/// `archlab`: CNN architecture experiments driven by declarative YAML.
@main
struct ArchLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archlab",
        abstract: "CNN architecture experiments driven by declarative YAML.",
        subcommands: [SummaryCommand.self, ValidateCommand.self, OpsCommand.self, InitCommand.self, ForwardCommand.self, TrainCommand.self, EvalCommand.self, SweepCommand.self, ReportCommand.self, PredictCommand.self, DataCommand.self, ModelBenchCommand.self, SgemmCommand.self]
    )

    static func main() {
        CPUCheck.exitUnlessKernelsCanRun()
        // OpenBLAS picks its kernels when it is loaded: restart once with the better core type
        // (see BLAS.preferredCoreType); if exec fails, go on with the detected kernels.
        if let core = BLAS.preferredCoreType() {
            setenv("OPENBLAS_CORETYPE", core, 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
        }
        main(Array(CommandLine.arguments.dropFirst()))
    }
}
