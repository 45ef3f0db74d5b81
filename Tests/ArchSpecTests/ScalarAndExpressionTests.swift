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
        ("${range(5)[1:3]}", .list([.int(1), .int(2)])), ("${range(5)[:2]}", .list([.int(0), .int(1)])),
        ("${range(5)[3:]}", .list([.int(3), .int(4)])), ("${range(5)[-1:]}", .list([.int(4)])), ("${range(3)[5:9]}", .list([])),
        ("${sum(range(5))}", .int(10)), ("${sum([0.5, 1])}", .float(1.5)), ("${sum(range(4)[:0])}", .int(0)),
        ("${[x * 2 for x in range(3)]}", .list([.int(0), .int(2), .int(4)])), ("${[v.n5x5 for v in values(table)]}", .list([.int(48)])),
        ("${keys(table)}", .list([.string("4a")])), ("${unique([3, 3, 5, 3])}", .list([.int(3), .int(5)])),
        ("${count([3, 3, 5], 3)}", .int(2)), ("${round(log(exp(2.0)))}", .int(2)), ("${pow(2, 10)}", .float(1024)),
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
        ("${frobnicate(1)}", "in '${frobnicate(1)}': unknown function 'frobnicate' (built-in functions: round, int, float, min, max, sum, len, keys, values, unique, count, log, exp, pow, range, ceil, floor, str; a file may declare more under functions:)"),
        ("${a if a else 1}", "in '${a if a else 1}': the condition must be true or false, found int 7"),
        ("${a", "unterminated '${' in '${a': expected a closing '}'"),
        ("$1abc", "'$1abc' is not a reference: write $name or ${expression}"),
        ("${a @ 2}", "in expression 'a @ 2': unexpected character '@'"),
        ("${9223372036854775807 * 2}", "in '${9223372036854775807 * 2}': integer overflow in 9223372036854775807 * 2"),
        ("${log(0)}", "in '${log(0)}': log() of 0.0, which is not positive"),
        ("${a[1:2]}", "in '${a[1:2]}': only lists can be sliced"),
        ("${[x for y]}", "in expression '[x for y]': expected 'in' after 'for y'"),
        ("${sum(a)}", "in '${sum(a)}': sum() takes a list, found int"),
    ])
    func reportsErrors(text: String, message: String) {
        #expect(throws: SpecError(message, at: here)) { try Evaluator.value(of: YScalar(text, at: here), in: Self.scope) }
    }
}

@Suite struct FileFunctionTests {
    static func function(_ name: String, _ args: [String], _ body: String) throws -> FunctionDecl {
        guard case let .expression(e) = try ScalarForm.of(YScalar(body, at: here)) else { throw SpecError("not an expression", at: here) }
        return FunctionDecl(name: name, arguments: args, body: e, source: body, location: here)
    }

    @Test func callsSeeOnlyTheirArgumentsAndOtherFunctions() throws {
        let functions = ["make_divisible": try Self.function("make_divisible", ["v", "d"], "${down(v, d) + (d if down(v, d) < 0.9 * v else 0)}"),
                         "down": try Self.function("down", ["v", "d"], "${max(d, int(v + d / 2) // d * d)}"),
                         "leak": try Self.function("leak", [], "${a}"),
                         "forever": try Self.function("forever", ["x"], "${forever(x)}")]
        let scope = Scope(["a": .int(7)], functions: functions)
        func eval(_ text: String) throws -> Value { try Evaluator.value(of: YScalar(text, at: here), in: scope) }
        // torchvision's _make_divisible: 32 * 0.35 = 11.2 -> 16 (never below 8); 96 * 0.75 = 72 -> 72; 10 -> 16 (8 loses > 10 %)
        #expect(try eval("${make_divisible(32 * 0.35, 8)}") == .int(16))
        #expect(try eval("${make_divisible(72, 8)}") == .int(72))
        #expect(try eval("${make_divisible(10, 8)}") == .int(16))
        #expect(throws: SpecError("in '${a}': unknown name 'a'", at: here)) { try eval("${leak()}") }
        #expect(throws: SpecError("in '${make_divisible(1)}': make_divisible() takes 2 argument(s) (v, d), found 1", at: here)) {
            try eval("${make_divisible(1)}")
        }
        #expect(throws: SpecError("in '${forever(x)}': forever(): calls nest deeper than 32 (does a function call itself?)", at: here)) {
            try eval("${forever(1)}")
        }
    }
}
