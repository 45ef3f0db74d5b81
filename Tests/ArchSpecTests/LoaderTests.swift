import ArchSpec
import Foundation
import Testing

@Suite struct LoaderTests {
    @Test func marksAreOneBased() throws {
        let root = try YAMLLoader().parse("a: 1\nlist:\n  - {b: x}\n", file: "f.yaml")
        #expect(root.entry("a")?.key.location == SourceLocation(file: "f.yaml", line: 1, column: 1))
        #expect(root["list"]?.items?.first?["b"]?.location == SourceLocation(file: "f.yaml", line: 3, column: 9))
    }

    @Test func scalarsKeepTheirText() throws {
        let root = try YAMLLoader().parse("a: no\nb: '010'\nc: 010\n", file: "f.yaml")
        #expect(root["a"]?.scalar?.text == "no")
        #expect(root["b"]?.scalar?.quoted == true)
        #expect(root["c"]?.scalar?.quoted == false)
    }

    @Test func deepFlowNestingIsRejectedBeforeParsing() {
        let text = "a: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: SpecError("nesting deeper than 100 levels", at: SourceLocation(file: "f.yaml", line: 1, column: 102))) {
            try YAMLLoader().parse(text, file: "f.yaml")
        }
    }

    @Test func legitimateNestingIsAccepted() throws {
        let text = "a: " + String(repeating: "[", count: 50) + String(repeating: "]", count: 50)
        _ = try YAMLLoader().parse(text, file: "f.yaml")
    }

    @Test func aliasesWithinBudgetAreExpanded() throws {
        let root = try YAMLLoader().parse("base: &b {out: 64}\nuse: *b\n", file: "f.yaml")
        #expect(root["use"]?["out"]?.scalar?.text == "64")
    }

    @Test func multipleDocumentsAreAnError() {
        #expect(throws: SpecError.self) { try YAMLLoader().parse("a: 1\n---\nb: 2\n", file: "f.yaml") }
    }

    @Test(arguments: [
        ("num_classes=10", ["num_classes"], "10"),
        ("inception.4a.n5x5=64", ["inception", "4a", "n5x5"], "64"),
        ("input=[1, 28, 28]", ["input"], "[1, 28, 28]"),
    ])
    func commandLineOverrides(text: String, path: [String], value: String) throws {
        let o = try Override.parse(commandLine: text)
        #expect(o.path == path)
        #expect(o.value.flowText == value)
    }

    @Test(arguments: [("noequals", "--set noequals: expected name=value"),
                      ("a..b=1", "--set a..b=1: expected name=value with a dotted name such as inception.4a.n5x5")])
    func badOverrides(text: String, message: String) {
        do {
            _ = try Override.parse(commandLine: text)
            Issue.record("expected an error")
        } catch let error as SpecError {
            #expect(error.description == message)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func tableParameterRowsByListOrMapping() throws {
        let root = try YAMLLoader().parse("""
        t:
          type: table
          columns: [x, y]
          rows:
            r1: [1, 2]
            r2: {y: 4, x: 3}
        """, file: "f.yaml")
        let decl = try ParamDecl.decode(try #require(root.entry("t")))
        #expect(decl.defaultValue == .map([("r1", .map([("x", .int(1)), ("y", .int(2))])), ("r2", .map([("x", .int(3)), ("y", .int(4))]))]))
    }

    @Test func tableRowWithWrongCellCount() throws {
        let root = try YAMLLoader().parse("t:\n  columns: [x, y]\n  rows:\n    r1: [1, 2, 3]\n", file: "f.yaml")
        #expect(throws: SpecError("parameter 't' row 'r1': expected 2 cells (x, y), found 3", at: SourceLocation(file: "f.yaml", line: 4, column: 9))) {
            try ParamDecl.decode(try #require(root.entry("t")))
        }
    }
}
