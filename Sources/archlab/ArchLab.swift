import ArgumentParser

/// `archlab`: CNN architecture experiments driven by declarative YAML.
@main
struct ArchLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archlab",
        abstract: "CNN architecture experiments driven by declarative YAML.",
        subcommands: [SummaryCommand.self, ValidateCommand.self, OpsCommand.self, InitCommand.self, ForwardCommand.self, TrainCommand.self, EvalCommand.self, SweepCommand.self, ReportCommand.self, PredictCommand.self, DataCommand.self, ModelBenchCommand.self, SgemmCommand.self]
    )
}
