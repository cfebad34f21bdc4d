import Foundation
import HearthCore
import Testing

@Suite("JSON values", .timeLimit(.minutes(10)))
struct JSONValueTests {
    @Test("round-trips objects with sorted keys, booleans distinct from numbers")
    func roundTrip() throws {
        let value = try JSONValue(parsing: #"{"b": [1, 2.5, true, null], "a": "x\ny \u00e9 \ud83d\ude00"}"#)
        #expect(value["a"]?.stringValue == "x\ny é 😀")
        #expect(value["b"] == [1, 2.5, true, nil])
        #expect(value.jsonText == #"{"a":"x\ny é 😀","b":[1,2.5,true,null]}"#)
        #expect(try JSONValue(parsing: value.jsonText) == value)
    }

    @Test("top-level scalars are documents too")
    func scalars() throws {
        #expect(try JSONValue(parsing: "42") == 42)
        #expect(try JSONValue(parsing: " \"hi\" ") == "hi")
        #expect(try JSONValue(parsing: "false") == false)
    }

    @Test(
        "malformed JSON is refused with line and column",
        arguments: [
            ("{\"a\": }", "line 1, column 7: unexpected character '}', expected a value"),
            ("{\"a\" 1}", "line 1, column 6: expected ':' after member name \"a\""),
            ("[1, 2", "line 1, column 6: expected ',' or ']' in array"),
            ("{\n  \"a\": tru\n}", "line 2, column 8: unexpected characters, expected 'true'"),
            ("\"abc", "unterminated string"),
            ("01", "leading zeros"),
            ("", "the document is empty"),
            ("{} {}", "unexpected text after the end of the document"),
            ("\"\\x\"", "unknown escape"),
        ])
    func malformed(text: String, expected: String) {
        #expect {
            try JSONValue(parsing: text)
        } throws: { error in
            String(describing: error).contains(expected)
        }
    }

    @Test("refuses invalid UTF-8 inside strings")
    func invalidUTF8() {
        let bytes = Data([0x22, 0xFF, 0xFE, 0x22])
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: bytes) }
    }

    @Test("refuses pathological nesting instead of overflowing the stack")
    func deepNesting() {
        let text = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: text) }
    }

    @Test("Codable agrees with the parser")
    func codable() throws {
        let value: JSONValue = ["n": 3, "f": 0.25, "s": "t", "l": [true, nil]]
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
        #expect(try JSONValue(parsing: data) == value)
    }
}
