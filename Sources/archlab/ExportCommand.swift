import ArchFiles
import ArchGraph
import ArchONNX
import ArchTensor
import ArgumentParser
import Foundation

/// `archlab export FILE --weights W --format onnx --output model.onnx`: the inference graph as an
/// ONNX model (opset 17, symbolic batch dimension).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a network and its weights as an ONNX model (inference graph: aux heads, dropout and stochastic depth left out).")

    enum Format: String, ExpressibleByArgument { case onnx }

    @Argument(help: "Architecture file (YAML).") var file: String
    @OptionGroup var architecture: ArchitectureOptions
    @Option(help: "Weights (safetensors, PyTorch state-dict names). A training run's config.json beside them supplies its --set values and input shape when these are not given.")
    var weights: String
    @Option(help: "Output format.") var format: Format = .onnx
    @Option(help: "Where to write the model.") var output: String

    func run() throws {
        var options = architecture
        let configPath = URL(fileURLWithPath: weights).deletingLastPathComponent().appendingPathComponent("config.json").path
        if let data = FileManager.default.contents(atPath: configPath),
           let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let input = (config["network"] as? [String: Any])?["input"] as? [Int] {
            if options.input == nil { options.input = input.map(String.init).joined(separator: "x") }
            if options.overrides.isEmpty { options.overrides = config["overrides"] as? [String] ?? [] }
        }
        let model = Model(network: try options.build(file))
        try Diagnostics.file { try model.load(safetensors: weights) }
        let graph: ONNXGraph
        do {
            graph = try ONNXGraph(network: model.network) { model.store[$0] }
        } catch let error as ONNXGraph.ExportError {
            throw Diagnostics.fail("cannot export to ONNX: \(error.description)")
        }
        let bytes = ONNXModel.serialize(graph, name: model.network.name)
        try Diagnostics.file { try AtomicFile.write(Data(bytes), to: output) }
        print("\(output): \(graph.nodes.count) nodes, \(graph.initializers.count) initializers, opset \(ONNXGraph.opset), input [batch, \(model.network.input.dims.map(String.init).joined(separator: ", "))]")
    }
}
