import ArchSpec
import Testing

private let here = SourceLocation(file: "t.yaml", line: 3, column: 7)
private func scalar(_ text: String, quoted: Bool = false) -> YScalar { YScalar(text, quoted: quoted, at: here) }

@Suite struct ScalarReadingTests {
    @Test(arguments: [("42", 42), ("-7", -7), ("0", 0), ("0x1F", 31), ("0o17", 15), ("+5", 5)])
    func integers(text: String, value: Int) throws {
        #expect(try ScalarReading.int(scalar(text)) == value)
    }

    @Test(arguments: ["abc", "1.5", "", "0x", "1e3"])
    func notIntegers(text: String) throws {
        #expect(try ScalarReading.int(scalar(text)) == nil)
    }

    @Test func quotedNumbersAreStrings() throws {
        #expect(try ScalarReading.int(scalar("42", quoted: true)) == nil)
        #expect(try ScalarReading.untyped(scalar("no", quoted: true)) == .string("no"))
        #expect(try ScalarReading.untyped(scalar("010", quoted: true)) == .string("010"))
    }

    @Test(arguments: [
        ("010", "t.yaml:3:7: ambiguous number '010': YAML 1.1 reads it as octal 8, YAML 1.2 as decimal 10; write 10, or 0o10 for octal"),
        ("09", "t.yaml:3:7: ambiguous number '09': YAML 1.1 reads a leading zero as octal, YAML 1.2 as decimal 9; write 9, or 0o9 for octal"),
    ])
    func leadingZeroIsAnError(text: String, message: String) {
        #expect(throws: SpecError(String(message.dropFirst("t.yaml:3:7: ".count)), at: here)) { try ScalarReading.int(scalar(text)) }
    }

    @Test(arguments: [("yes", "true"), ("no", "false"), ("on", "true"), ("Off", "false"), ("y", "true"), ("N", "false")])
    func yaml11BooleansAreErrors(text: String, meant: String) {
        #expect(throws: SpecError("'\(text)' is a boolean only in YAML 1.1; write \(meant)", at: here)) { try ScalarReading.bool(scalar(text)) }
    }

    @Test(arguments: [("true", Value.bool(true)), ("False", .bool(false)), ("12", .int(12)), ("0.5", .float(0.5)),
                      ("1e-3", .float(0.001)), ("M", .string("M")), ("~", .null), (".inf", .float(.infinity))])
    func untypedScalars(text: String, value: Value) throws {
        #expect(try ScalarReading.untyped(scalar(text)) == value)
    }
}

@Suite struct ExpressionTests {
    static let scope = Scope(["a": .int(7), "w": .float(0.5), "cfg": .list([.int(64), .string("M")]),
                              "table": .map([("4a", .map([("n5x5", .int(48))]))]), "flag": .bool(true)])

    @Test(arguments: [
        ("${a * 2 + 1}", Value.int(15)), ("${a / 2}", .float(3.5)), ("${a // 2}", .int(3)), ("${-a // 2}", .int(-4)),
        ("${a % 3}", .int(1)), ("${round(64 * w)}", .int(32)), ("${round(2.5)}", .int(2)), ("${int(3.9)}", .int(3)),
        ("${cfg[1] == 'M'}", .bool(true)), ("${cfg[-2]}", .int(64)), ("$table.4a.n5x5", .int(48)),
        ("${table['4a'].n5x5 + 16}", .int(64)), ("${1 if flag else 2}", .int(1)), ("${2 if not flag else 3}", .int(3)),
        ("${a > 3 and a < 10}", .bool(true)), ("${len(cfg)}", .int(2)), ("${range(3)}", .list([.int(0), .int(1), .int(2)])),
        ("${max(a, 9, 2)}", .int(9)), ("${min([4, 2])}", .int(2)), ("layer${a + 1}", .string("layer8")),
        ("${ceil(a / 2)}", .int(4)), ("plain text", .string("plain text")), ("$a", .int(7)),
    ])
    func evaluates(text: String, value: Value) throws {
        #expect(try Evaluator.value(of: YScalar(text, at: here), in: Self.scope) == value)
    }

    @Test(arguments: [
        ("${b + 1}", "in '${b + 1}': unknown name 'b'; did you mean 'a'?"),
        ("${a +}", "in expression 'a +': expected a value, found the end of the expression"),
        ("${a / 0}", "in '${a / 0}': division by zero"),
        ("${cfg[5]}", "in '${cfg[5]}': index 5 is out of range for a list of 2"),
        ("${table.4x}", "in '${table.4x}': no key '4x'; did you mean '4a'? (keys: 4a)"),
        ("${frobnicate(1)}", "in '${frobnicate(1)}': unknown function 'frobnicate' (functions: round, int, float, min, max, len, range, ceil, floor, str)"),
        ("${a if a else 1}", "in '${a if a else 1}': the condition must be true or false, found int 7"),
        ("${a", "unterminated '${' in '${a': expected a closing '}'"),
        ("$1abc", "'$1abc' is not a reference: write $name or ${expression}"),
        ("${a @ 2}", "in expression 'a @ 2': unexpected character '@'"),
        ("${9223372036854775807 * 2}", "in '${9223372036854775807 * 2}': integer overflow in 9223372036854775807 * 2"),
    ])
    func reportsErrors(text: String, message: String) {
        #expect(throws: SpecError(message, at: here)) { try Evaluator.value(of: YScalar(text, at: here), in: Self.scope) }
    }
}
