import ArchJSON
import Foundation
import Testing

/// The one JSON writer and strict parser: styles, order, escapes, and what is refused.
@Suite struct JSONValueTests {
    static let sample = JSONValue.object([("b", .int(1)), ("a", .array([.double(0.5), .double(1e-05), .null, .bool(true)])),
                                          ("s", .string("q\"\\\n\u{1}é")), ("e", .object([])), ("l", .array([]))])

    @Test func stylesAndOrder() {
        #expect(Self.sample.text(.compact) == #"{"b":1,"a":[0.5,1e-05,null,true],"s":"q\"\\\n\u0001é","e":{},"l":[]}"#)
        #expect(Self.sample.text(.spaced) == #"{"b": 1, "a": [0.5, 1e-05, null, true], "s": "q\"\\\n\u0001é", "e": {}, "l": []}"#)
        #expect(JSONValue.object([("k", .array([.int(1), .int(2)])), ("o", .array([.object([("a", .null)])]))]).text(.pretty(indent: 2))
                == "{\n  \"k\": [1, 2],\n  \"o\": [\n    {\n      \"a\": null\n    }\n  ]\n}")
        #expect(JSONValue.object([("k", .styled(.array([.int(1), .int(2)]), .spaced))]).text(.compact) == #"{"k":[1, 2]}"#)
        #expect(JSONValue.double(.nan).text() == "null")
    }

    @Test func parsesWhatItWritesAndWhatFoundationWrites() throws {
        for style in [JSONValue.Style.compact, .spaced, .pretty(indent: 3)] {
            #expect(try JSONValue.parse(Self.sample.text(style)) == Self.sample)
        }
        let foundation = try JSONSerialization.data(withJSONObject: ["x": [1, 2.5, "\u{1F600}"], "y": ["z": NSNull()]], options: [.sortedKeys])
        let parsed = try JSONValue.parse(foundation)
        #expect(parsed["x"] == .array([.int(1), .double(2.5), .string("\u{1F600}")]) && parsed["y"]?["z"] == .null)
        #expect(try JSONValue.parse(#""\ud83d\ude00""#) == .string("\u{1F600}"), "a surrogate pair is one scalar")
        #expect(try JSONValue.parse("[1, -2, 3.0, 4e2]") == .array([.int(1), .int(-2), .double(3), .double(400)]))
    }

    @Test(arguments: [("{\"a\": 1, \"a\": 2}", "duplicate key 'a'"), ("[1, 2] x", "trailing characters"), ("{\"a\" 1}", "expected ':'"),
                      ("[1, 2", "unexpected end"), ("\"abc", "unterminated string"), ("{1: 2}", "expected a key"),
                      (String(repeating: "[", count: 65) + String(repeating: "]", count: 65), "nesting deeper than 64"), ("nul", "unexpected literal")])
    func refuses(text: String, message: String) {
        #expect {
            _ = try JSONValue.parse(text)
        } throws: { error in
            (error as? JSONValue.ParseError)?.message.contains(message) == true
        }
    }
}
