import HearthConfig
import Testing

@Suite("TOML parser", .timeLimit(.minutes(10)))
struct TOMLParserTests {
    @Test("reads the value kinds a config uses, with lines")
    func values() throws {
        let table = try TOMLParser.parse(
            """
            # comment
            title = "Hearth \\u00e9"   # trailing comment
            literal = 'C:\\path'
            count = 1_000
            hex = 0xff
            ratio = 0.5
            big = 1e3
            on = true
            list = [1, 2,
              3, # comment inside
            ]
            when = 1979-05-27T07:32:00Z
            multi = \"\"\"
            a \\
              b\"\"\"

            [server]
            port = 8080
            inline = { a = 1, b.c = "x" }
            [[jobs]]
            name = "one"
            [[jobs]]
            name = "two"
            """)
        #expect(table["title"]?.value == .string("Hearth é"))
        #expect(table["title"]?.line == 2)
        #expect(table["literal"]?.value == .string("C:\\path"))
        #expect(table["count"]?.value == .integer(1000))
        #expect(table["hex"]?.value == .integer(255))
        #expect(table["ratio"]?.value == .float(0.5))
        #expect(table["big"]?.value == .float(1000))
        #expect(table["on"]?.value == .boolean(true))
        #expect(table["list"]?.value == .array([.integer(1), .integer(2), .integer(3)]))
        #expect(table["when"]?.value == .datetime("1979-05-27T07:32:00Z"))
        #expect(table["multi"]?.value == .string("a b"))
        guard case .table(let server) = table["server"]?.value else {
            Issue.record("no server table")
            return
        }
        #expect(server["port"]?.value == .integer(8080))
        #expect(server["port"]?.line == 18)
        guard case .table(let inline) = server["inline"]?.value, case .table(let b) = inline["b"]?.value else {
            Issue.record("no inline table")
            return
        }
        #expect(b["c"]?.value == .string("x"))
        guard case .array(let jobs) = table["jobs"]?.value else {
            Issue.record("no jobs")
            return
        }
        #expect(jobs.count == 2)
    }

    @Test(
        "syntax errors name the line and column",
        arguments: [
            ("a = ", "line 1, column 5: expected a value after '='"),
            ("a = hello", "line 1, column 5: unexpected value \"hello\"; strings need quotes"),
            ("\n\nport 8080", "line 3, column 6: expected '=' after key \"port\""),
            ("a = \"open", "line 1, column 10: unterminated string"),
            ("a = 1\na = 2", "line 2, column 1: key \"a\" is already defined on line 1"),
            ("[t]\n[t]", "line 2, column 1: table [t] is defined twice"),
            ("a = [1, 2", "unterminated array"),
            ("a = 1 b = 2", "line 1, column 7: expected the end of the line, found 'b'"),
            ("a = 01", "leading zeros are not allowed"),
            ("a = 1__0", "underscores must sit between digits"),
            ("a = \"\\q\"", "unknown escape '\\q'"),
            ("a = 1\n[a]", "\"a\" is an integer (line 1), not a table"),
        ])
    func syntaxErrors(text: String, expected: String) {
        #expect {
            try TOMLParser.parse(text)
        } throws: { error in
            let message = String(describing: error)
            return message.contains(expected)
        }
    }
}
