import ArchFiles
import ArchGraph
import ArchData
import ArchSpec
import ArchSweep
import ArchTensor
import ArgumentParser
import Foundation

/// `--input` and `--set`, shared by every command that builds a network.
struct ArchitectureOptions: ParsableArguments {
    @Option(name: .customLong("input"), help: ArgumentHelp("Input shape CxHxW, e.g. 3x224x224 (default: the file's input).", valueName: "CxHxW"))
    var input: String?

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a parameter or a document value: name=value, inception.4a.n5x5=64, layers.fc.out=10 (repeatable).",
        valueName: "path=value"))
    var overrides: [String] = []

    /// Loads and builds `file`; located errors are printed and become exit code 1.
    func build(_ file: String) throws -> Network {
        try Diagnostics.run {
            let shape = try input.map { try ArchitectureDocument.parseShape($0, at: .commandLine("--input \($0)")) }
            let sets = try overrides.map(Override.parse(commandLine:))
            let resolved = try ArchitectureLoader().load(file, overrides: sets, input: shape)
            return try Builder().build(resolved)
        }
    }
}

/// Prints located errors like a compiler: the `file:line:column: message` line, the source line
/// with a caret under the column, and notes.
enum Diagnostics {
    static func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SpecError {
            report(error)
            throw ExitCode(1)
        }
    }

    /// Runs file I/O; a `TensorFileError` or a failed write is printed and becomes exit code 1.
    @discardableResult
    static func file<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as TensorFileError {
            throw fail(error.description)
        } catch let error as AtomicFile.Failure {
            throw fail(error.description)
        }
    }

    /// Runs data loading and training; `DataError` and `TensorFileError` are printed and exit 1.
    static func data<T>(_ body: () throws -> T) throws -> T {
        do {
            return try file(body)
        } catch let error as DataError {
            throw fail(error.description)
        }
    }

    /// Prints `message` to standard error; the returned error exits with code 1.
    static func fail(_ message: String) -> ExitCode {
        emit(message + "\n")
        return ExitCode(1)
    }

    /// Writes an error to standard error and, for a sweep's trial, to the file the runner reads the
    /// failure's reason from (standard error alone is interleaved with progress lines in the log).
    static func emit(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
        guard let path = ProcessInfo.processInfo.environment[SweepRunner.errorFileVariable] else { return }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let file = FileHandle(forWritingAtPath: path) else { return }
        file.seekToEndOfFile()
        file.write(Data(text.utf8))
        try? file.close()
    }

    static func report(_ error: SpecError) {
        var text = error.description + "\n"
        if let location = error.location, let snippet = snippet(location) { text += snippet }
        for note in error.notes { text += "note: \(note)\n" }
        emit(text)
    }

    static func snippet(_ location: SourceLocation) -> String? {
        guard location.line >= 1, let data = FileManager.default.contents(atPath: location.file), data.count <= 4 << 20,
              let text = String(data: data, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard location.line <= lines.count else { return nil }
        let line = String(lines[location.line - 1].prefix(200))
        let caret = String(repeating: " ", count: max(0, min(location.column - 1, line.count))) + "^"
        return "  \(line)\n  \(caret)\n"
    }
}
