import Foundation
import HearthConfig
import HearthCore
import HearthTesting
import Testing

/// Random valid TOML 1.0 documents: every value type, nested and dotted tables, arrays of
/// tables, strings with every escape, numbers at their limits, dates.
struct TOMLGenerator {
    var random: SplitMix64
    private var counter = 0

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func below(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// A key unique within the document.
    mutating func key() -> String {
        counter += 1
        switch below(4) {
        case 0: return "\"quoted key \(counter) \u{e9}\""
        case 1: return "'literal.key-\(counter)'"
        default: return pick(["name", "port", "a-b", "x_y", "Key", "1234"]) + "\(counter)"
        }
    }

    static let pieces = [
        "plain", " ", "é", "中文", "😀", "\"", "\\", "\n", "\t", "\r", "\u{08}", "\u{0C}", "'", "#", "=", "[x]", "\u{7F}", "\u{1F}",
        "\u{FFFF}", "a b", "",
    ]

    mutating func stringText() -> String { (0..<below(5)).map { _ in pick(Self.pieces) }.joined() }

    /// `text` written as a TOML string, in a form that can hold it.
    mutating func string(_ text: String) -> String {
        let hasControl = text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }
        if !hasControl && !text.contains("'") && chance(30) { return "'\(text)'" }
        if !text.contains("'''") && !text.contains("'")
            && !text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t" && $0 != "\n") || $0.value == 0x7F })
            && !text.contains("\r") && chance(15)
        {
            return "'''\n\(text)'''"
        }
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += chance(50) ? "\\t" : "\t"
            case "\r": escaped += "\\r"
            case "\u{08}": escaped += "\\b"
            case "\u{0C}": escaped += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    escaped += String(format: "\\u%04X", scalar.value)
                } else if scalar.value > 0x7F && chance(20) {
                    escaped += scalar.value > 0xFFFF ? String(format: "\\U%08X", scalar.value) : String(format: "\\u%04x", scalar.value)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        if chance(15) { return "\"\"\"\\\n   \(escaped)\"\"\"" }  // a line-ending backslash trims the break and the indent
        return "\"\(escaped)\""
    }

    mutating func integer() -> String {
        switch below(8) {
        case 0: return "9223372036854775807"
        case 1: return "-9223372036854775808"
        case 2: return "0x" + String(random.next() >> 8, radix: 16, uppercase: chance(50))
        case 3: return "0o" + String(random.next() >> 40, radix: 8)
        case 4: return "0b" + String(random.next() >> 50, radix: 2)
        case 5: return "1_000_\(below(900) + 100)"
        case 6: return pick(["+", "-", ""]) + "\(below(100_000))"
        default: return "0"
        }
    }

    mutating func float() -> String {
        pick([
            "3.1415", "-0.0", "+0.0", "1e10", "6.626e-34", "-2E+3", "1_000.000_1", "inf", "-inf", "+inf", "nan", "+nan",
            "1.7976931348623157e308", "5e-324", "0.1", "224_617.445_991_228", "\(below(1000)).\(below(1000))",
        ])
    }

    mutating func datetime() -> String {
        let date = String(format: "%04d-%02d-%02d", 1900 + below(200), 1 + below(12), 1 + below(28))
        let time = String(format: "%02d:%02d:%02d", below(24), below(60), below(60))
        let fraction = chance(40) ? "." + String(below(1_000_000)) : ""
        switch below(6) {
        case 0: return "\(date)T\(time)\(fraction)Z"
        case 1: return "\(date)T\(time)\(fraction)" + pick(["+05:30", "-07:00", "+00:00"])
        case 2: return "\(date) \(time)\(fraction)z"
        case 3: return "\(date)T\(time)\(fraction)"
        case 4: return date
        default: return time + fraction
        }
    }

    mutating func value(depth: Int) -> String {
        switch below(depth > 1 ? 6 : 8) {
        case 0, 1: return string(stringText())
        case 2: return integer()
        case 3: return float()
        case 4: return pick(["true", "false"])
        case 5: return datetime()
        case 6:
            let items = (0..<below(4)).map { _ in value(depth: depth + 1) }
            return "[" + items.joined(separator: pick([", ", ",\n  ", " ,"])) + (chance(30) && !items.isEmpty ? ",]" : "]")
        default:
            let items = (0..<below(3)).map { _ in "\(key()) = \(value(depth: depth + 1))" }
            return "{" + (items.isEmpty ? "" : " " + items.joined(separator: ", ") + " ") + "}"
        }
    }

    mutating func pairs(_ count: Int) -> [String] {
        (0..<count).map { _ in
            let comment = chance(20) ? "  # note = \"x\"" : ""
            // A dotted key defines nested tables inline.
            if chance(15) { return "\(key()).\(key()) = \(value(depth: 0))\(comment)" }
            return "\(key()) = \(value(depth: 0))\(comment)"
        }
    }

    mutating func document() -> String {
        var lines = pairs(below(4))
        for _ in 0..<below(3) {
            let name = key()
            lines.append(chance(30) ? "[\(name).\(key())]" : "[\(name)]")
            lines += pairs(below(4))
        }
        if chance(40) {
            let name = key()
            for _ in 0..<(1 + below(3)) {
                lines.append("[[\(name)]]")
                lines += pairs(below(3))
            }
        }
        if chance(20) { lines.insert("# a comment line", at: below(lines.count + 1)) }
        return lines.joined(separator: chance(10) ? "\r\n" : "\n") + "\n"
    }
}

/// Hearth's TOML parser against Python's `tomllib` (TOML 1.0) as the oracle.
@Suite("TOML parser: tomllib as the oracle", .timeLimit(.minutes(2)))
struct TOMLOracleTests {
    static let oracle = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "Oracle/toml_oracle.py")

    /// Invalid documents both parsers must reject (ours names a line).
    static let invalid: [(document: String, line: Int)] = [
        ("a = \n", 1), ("a = 1\na = 2\n", 2), ("[t]\n[t]\n", 2), ("a = \"unterminated\n", 1), ("a = 'x\n", 1),
        ("a = \"\\e\"\n", 1), ("a = \"\\x41\"\n", 1), ("a = 01\n", 1), ("a = 1__0\n", 1), ("a = _1\n", 1), ("a = 1_\n", 1),
        ("a = 0x\n", 1), ("a = .5\n", 1), ("a = 5.\n", 1), ("a = 1e\n", 1),
        ("a = tru\n", 1), ("a = [1, 2\n", 1), ("a = {b = 1\n", 1), ("a = {b = 1,}\n", 1), ("\n\nkey\n", 3), ("= 1\n", 1),
        ("a = 1 b = 2\n", 1), ("[a\nb = 1\n", 1), ("[[a]\n", 1), ("a = 1\n[a]\n", 2), ("a.b = 1\na = 2\n", 2),
        ("a = {b = 1}\n[a]\n", 2), ("a = \"\"\"x\n", 1), ("a = 1979-13-01\n", 1), ("a = 2023-02-29\n", 1),
        ("a = 12:60:00\n", 1), ("a = 1979-05-27T25:00:00Z\n", 1), ("a = 1979-05-27T07:32:00+25:00\n", 1), ("a = \"\\uD800\"\n", 1),
        ("a = nan1\n", 1),
        ("[t]\nx = 1\n[t.x]\n", 3),
    ]

    /// Hearth's parse as tagged JSON leaves (`{"type", "value"}`) in plain objects and arrays.
    static func tagged(_ value: TOMLValue) -> JSONValue {
        switch value {
        case .string(let text): ["type": "string", "value": .string(text)]
        case .integer(let number): ["type": "integer", "value": .string(String(number))]
        case .float(let number):
            ["type": "float", "value": .string(number.isNaN ? "nan" : number.isInfinite ? (number > 0 ? "inf" : "-inf") : "\(number)")]
        case .boolean(let flag): ["type": "bool", "value": .bool(flag)]
        case .datetime(let text): ["type": "datetime", "value": .string(text)]
        case .array(let items): .array(items.map(tagged))
        case .table(let table): tagged(table)
        }
    }

    static func tagged(_ table: TOMLTable) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: table.keys.compactMap { key in table[key].map { (key, tagged($0.value)) } }))
    }

    /// Runs the oracle over `cases`; returns its disagreements and how many it checked.
    func judge(_ cases: [JSONValue]) async throws -> (problems: [JSONValue], checked: Int) {
        let directory = try TemporaryDirectory(prefix: "toml-oracle")
        let input = directory.appending("cases.jsonl")
        try Data(cases.map { $0.jsonText + "\n" }.joined().utf8).write(to: input)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.oracle.path]
        process.standardInput = try FileHandle(forReadingFrom: input)
        let output = Pipe()
        let errors = directory.appending("stderr.txt")
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "the oracle failed: \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        let lines = String(decoding: stdout, as: UTF8.self).split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
        return (lines.filter { $0["checked"] == nil }, lines.last?["checked"]?.intValue ?? 0)
    }

    func parsedCase(_ document: String, valid: Bool) -> JSONValue {
        do {
            let table = try TOMLParser.parse(document)
            return ["doc": .string(document), "ours": Self.tagged(table), "error": .null, "valid": .bool(valid)]
        } catch {
            return ["doc": .string(document), "ours": .null, "error": .string(error.description), "valid": .bool(valid)]
        }
    }

    @Test("thousands of generated documents parse to exactly what tomllib reads (seed printed; HEARTH_TOML_SEED replays)")
    func generated() async throws {
        let seed = ProcessInfo.processInfo.environment["HEARTH_TOML_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0..<(1 << 53))
        print("toml oracle: seed \(seed) (replay with HEARTH_TOML_SEED=\(seed))")
        var generator = TOMLGenerator(seed: seed)
        let cases = (0..<3_000).map { _ in parsedCase(generator.document(), valid: true) }
        let (problems, checked) = try await judge(cases)
        #expect(checked == 3_000, "seed \(seed)")
        #expect(problems.isEmpty, "seed \(seed): \(problems.count) disagreements; first: \(problems.prefix(3).map(\.jsonText))")
    }

    @Test("invalid documents are rejected by both, ours naming the line")
    func invalidCorpus() async throws {
        for (document, line) in Self.invalid {
            do {
                _ = try TOMLParser.parse(document)
                Issue.record("accepted invalid TOML: \(document.debugDescription)")
            } catch {
                #expect(error.line == line, "\(document.debugDescription): \(error)")
            }
        }
        let (problems, checked) = try await judge(Self.invalid.map { parsedCase($0.document, valid: false) })
        #expect(checked == Self.invalid.count)
        #expect(problems.isEmpty, "\(problems.map(\.jsonText))")
    }

    @Test("integers beyond 64 bits are refused (tomllib keeps them; TOML lets an implementation refuse what it cannot hold)")
    func overflow() {
        #expect(throws: TOMLError.self) { try TOMLParser.parse("a = 9223372036854775808\n") }
        #expect(throws: TOMLError.self) { try TOMLParser.parse("a = -9223372036854775809\n") }
    }

    @Test("\\e (TOML 1.1) is refused with the version named")
    func escapeE() {
        do {
            _ = try TOMLParser.parse("[a]\nb = \"x\\e\"\n")
            Issue.record("\\e was accepted")
        } catch {
            #expect(error.line == 2)
            #expect(error.message.contains("TOML 1.1; Hearth reads TOML 1.0"))
        }
    }
}
