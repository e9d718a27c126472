import ArgumentParser

@main
struct QuantdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantd",
        abstract: "Self-hosted model compression: quantize weights and serve the results over HTTP.",
        subcommands: [ServeCommand.self, CompressCommand.self, EvaluateCommand.self, RunCommand.self, EstimateCommand.self, CalibrateCommand.self, TokenCommand.self],
        defaultSubcommand: ServeCommand.self)
}
