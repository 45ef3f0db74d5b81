import ArchGraph
import ArchSpec
import ArchTestSupport
import Foundation


/// Loads and builds an architecture file with `--set` style overrides.
func build(_ path: String, set: [String] = [], input: [Int]? = nil) throws -> Network {
    let overrides = try set.map(Override.parse(commandLine:))
    return try Builder().build(try ArchitectureLoader().load(path, overrides: overrides, input: input))
}

func summary(_ name: String, set: [String] = [], input: [Int]? = nil) throws -> NetworkSummary {
    NetworkSummary(try build(architecturePath(name), set: set, input: input))
}

/// Builds YAML text written to a temporary file; returns the error's one-line description.
func buildError(_ path: String, set: [String] = [], input: [Int]? = nil) -> String? {
    do {
        _ = try build(path, set: set, input: input)
        return nil
    } catch let error as SpecError {
        return error.description
    } catch {
        return "unexpected error type: \(error)"
    }
}

/// Writes `text` to a fresh temporary directory as `name`; returns the path.
func temporaryFile(_ name: String, _ text: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archlab-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try? text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}
