import ArchGraph
import ArchSpec
import ArchSweep
import ArchTestSupport
import Foundation
import Testing

/// Issue 7's malformed-input corpus (Tests/Fixtures/malformed, written by
/// scripts/reliability/make_corpus.py): every broken architecture and experiment file gives an
/// error located at file:line:column, quickly, and nothing crashes. The CLI side (exit codes,
/// time and memory per process) is checked by scripts/reliability/run.py.
@Suite struct MalformedCorpusTests {
    static let root = repositoryRoot
    static func files(_ kind: String) -> [String] {
        let dir = root.appendingPathComponent("Tests/Fixtures/malformed/\(kind)").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted().map { dir + "/" + $0 }
    }

    /// `path:line:column: ` at the start of the message (the file itself, or the file it refers to
    /// where the problem is: an `extends` target, the architecture of an experiment).
    /// The message starts with `file:line:column: ` where the file is `path` or a file it names
    /// (an `extends` base, a `--set`).
    static func isLocated(_ message: String, in path: String) -> Bool {
        guard message.range(of: #"^[^\s:][^:]*\.yaml:\d+:\d+: "#, options: .regularExpression) != nil else { return false }
        let file = String(message.prefix { $0 != ":" })
        return file == path || FileManager.default.fileExists(atPath: file)
    }

    static func check(_ path: String, _ load: () throws -> Void) -> String? {
        let start = Date()
        var problem: String?
        do {
            try load()
            problem = "accepted (not an error)"
        } catch let error as SpecError {
            if !isLocated(error.description, in: path) { problem = "not located: \(error.description)" }
        } catch {
            problem = "unexpected error type \(type(of: error)): \(error)"
        }
        let seconds = Date().timeIntervalSince(start)
        if seconds > 1 { problem = (problem.map { $0 + "; " } ?? "") + String(format: "took %.2f s", seconds) }
        return problem.map { URL(fileURLWithPath: path).lastPathComponent + ": " + $0 }
    }

    @Test func corpusHasAtLeastAHundredFiles() {
        #expect(Self.files("architectures").count + Self.files("experiments").count >= 100)
    }

    @Test func everyBrokenArchitectureGivesALocatedError() {
        let problems = Self.files("architectures").compactMap { path in
            Self.check(path) { _ = try Builder().build(try ArchitectureLoader().load(path)) }
        }
        #expect(problems.isEmpty, "\(problems.count) files:\n\(problems.joined(separator: "\n"))")
    }

    @Test func everyBrokenExperimentGivesALocatedError() {
        let problems = Self.files("experiments").compactMap { path in
            Self.check(path) { _ = try Experiment.load(path).trials() }
        }
        #expect(problems.isEmpty, "\(problems.count) files:\n\(problems.joined(separator: "\n"))")
    }
}
