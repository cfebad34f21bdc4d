/// A parsed TOML value, with the line each key was defined on for error messages.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    /// Offset or local date-times, dates and times, kept as their RFC 3339 text.
    case datetime(String)
    case array([TOMLValue])
    case table(TOMLTable)

    /// A short name for the value's type, for "expected X, found Y" messages.
    public var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .boolean: "a boolean"
        case .datetime: "a date-time"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A TOML table: keys in the order they were written, each with its value and line.
public struct TOMLTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var value: TOMLValue
        public var line: Int
    }

    public private(set) var keys: [String] = []
    private var entries: [String: Entry] = [:]
    /// Whether the table was written as a `[header]` (or implied by one), not inline.
    var isExplicitHeader = false
    var isInline = false
    var isArrayElement = false

    public init() {}

    public subscript(key: String) -> Entry? { entries[key] }

    mutating func set(_ key: String, _ entry: Entry) {
        if entries[key] == nil { keys.append(key) }
        entries[key] = entry
    }

    mutating func update(_ key: String, _ body: (inout Entry) -> Void) {
        guard var entry = entries[key] else { return }
        body(&entry)
        entries[key] = entry
    }
}

/// Why a TOML document could not be read.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A TOML 1.0 parser.
///
/// Ours, because config errors must name the line a user has to fix and the config is small:
/// strings (basic, literal, multi-line), integers (decimal, hex, octal, binary, underscores),
/// floats, booleans, date-times (kept as text), arrays, inline tables, `[tables]`,
/// `[[arrays of tables]]` and dotted keys.
public struct TOMLParser {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var parser = TOMLParser(bytes: Array(text.utf8))
        return try parser.parseDocument()
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    // MARK: Document structure

    private mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        var root = TOMLTable()
        var currentPath: [String] = []
        while true {
            skipWhitespaceAndNewlinesAndComments()
            guard let byte = peek() else { break }
            if byte == UInt8(ascii: "[") {
                let headerLine = line
                if peek(offset: 1) == UInt8(ascii: "[") {
                    index += 2
                    let path = try parseKeyPath(terminator: "]")
                    guard peek() == UInt8(ascii: "]"), peek(offset: 1) == UInt8(ascii: "]") else {
                        throw failure("expected ']]' to close the array-of-tables header")
                    }
                    index += 2
                    try appendArrayTable(path, in: &root, line: headerLine)
                    currentPath = path
                } else {
                    index += 1
                    let path = try parseKeyPath(terminator: "]")
                    guard peek() == UInt8(ascii: "]") else { throw failure("expected ']' to close the table header") }
                    index += 1
                    try defineTable(path, in: &root, line: headerLine)
                    currentPath = path
                }
                try expectEndOfLine()
            } else {
                let keyLine = line
                let path = try parseKeyPath(terminator: "=")
                skipSpaces()
                guard peek() == UInt8(ascii: "=") else {
                    throw failure("expected '=' after key \"\(path.joined(separator: "."))\"")
                }
                index += 1
                skipSpaces()
                let value = try parseValue()
                try insert(value, at: currentPath, key: path, in: &root, line: keyLine)
                try expectEndOfLine()
            }
        }
        return root
    }

    private mutating func defineTable(_ path: [String], in root: inout TOMLTable, line: Int) throws(TOMLError) {
        try Self.withTable(at: path, in: &root, line: line) { (table) throws(TOMLError) in
            if table.isExplicitHeader || table.isInline {
                throw TOMLError(line: line, column: 1, message: "table [\(path.joined(separator: "."))] is defined twice")
            }
            table.isExplicitHeader = true
        }
    }

    private mutating func appendArrayTable(_ path: [String], in root: inout TOMLTable, line: Int) throws(TOMLError) {
        let parentPath = Array(path.dropLast())
        let name = path.last!
        try Self.withTable(at: parentPath, in: &root, line: line) { (parent) throws(TOMLError) in
            var element = TOMLTable()
            element.isExplicitHeader = true
            element.isArrayElement = true
            if let existing = parent[name] {
                guard case .array(var elements) = existing.value, elements.allSatisfy(Self.isArrayTableElement) else {
                    throw TOMLError(
                        line: line, column: 1,
                        message: "[[\(path.joined(separator: "."))]] conflicts with key defined on line \(existing.line)")
                }
                elements.append(.table(element))
                parent.set(name, TOMLTable.Entry(value: .array(elements), line: existing.line))
            } else {
                parent.set(name, TOMLTable.Entry(value: .array([.table(element)]), line: line))
            }
        }
    }

    private static func isArrayTableElement(_ value: TOMLValue) -> Bool {
        if case .table(let table) = value { return table.isArrayElement }
        return false
    }

    private mutating func insert(
        _ value: TOMLValue, at tablePath: [String], key: [String], in root: inout TOMLTable, line: Int
    ) throws(TOMLError) {
        let fullPath = tablePath + key.dropLast()
        let name = key.last!
        try Self.withTable(at: fullPath, in: &root, line: line) {
            (table) throws(TOMLError) in
            if let existing = table[name] {
                throw TOMLError(
                    line: line, column: 1,
                    message: "key \"\((key).joined(separator: "."))\" is already defined on line \(existing.line)")
            }
            table.set(name, TOMLTable.Entry(value: value, line: line))
        }
    }

    /// Walks (creating what is missing) to the table at `path` and applies `body` to it.
    ///
    /// An array of tables is entered through its last element, as TOML requires.
    private static func withTable(
        at path: [String], in table: inout TOMLTable, line: Int,
        _ body: (inout TOMLTable) throws(TOMLError) -> Void
    ) throws(TOMLError) {
        guard let first = path.first else {
            try body(&table)
            return
        }
        let rest = Array(path.dropFirst())
        if let existing = table[first] {
            switch existing.value {
            case .table(var child):
                if child.isInline {
                    throw TOMLError(line: line, column: 1, message: "inline table \"\(first)\" cannot be extended")
                }
                try withTable(at: rest, in: &child, line: line, body)
                table.update(first) { $0.value = .table(child) }
            case .array(var elements) where elements.last.map(isArrayTableElement) == true:
                guard case .table(var child) = elements.removeLast() else { return }
                try withTable(at: rest, in: &child, line: line, body)
                elements.append(.table(child))
                table.update(first) { $0.value = .array(elements) }
            default:
                throw TOMLError(
                    line: line, column: 1,
                    message: "\"\(first)\" is \(existing.value.typeName) (line \(existing.line)), not a table")
            }
        } else {
            var child = TOMLTable()
            try withTable(at: rest, in: &child, line: line, body)
            table.set(first, TOMLTable.Entry(value: .table(child), line: line))
        }
    }

    // MARK: Keys

    private mutating func parseKeyPath(terminator: Character) throws(TOMLError) -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            parts.append(try parseKey())
            skipSpaces()
            if peek() == UInt8(ascii: ".") {
                index += 1
                continue
            }
            return parts
        }
    }

    private mutating func parseKey() throws(TOMLError) -> String {
        guard let byte = peek() else { throw failure("expected a key") }
        if byte == UInt8(ascii: "\"") {
            if peek(offset: 1) == UInt8(ascii: "\""), peek(offset: 2) == UInt8(ascii: "\"") {
                throw failure("multi-line strings cannot be keys")
            }
            return try parseBasicString()
        }
        if byte == UInt8(ascii: "'") { return try parseLiteralString() }
        let start = index
        while let next = peek(), Self.isBareKeyByte(next) { index += 1 }
        guard index > start else { throw failure("expected a key, found \(describe(byte))") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private static func isBareKeyByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }

    // MARK: Values

    private mutating func parseValue() throws(TOMLError) -> TOMLValue {
        guard let byte = peek() else { throw failure("expected a value after '='") }
        switch byte {
        case UInt8(ascii: "\""):
            if peek(offset: 1) == UInt8(ascii: "\""), peek(offset: 2) == UInt8(ascii: "\"") {
                return .string(try parseMultilineBasicString())
            }
            return .string(try parseBasicString())
        case UInt8(ascii: "'"):
            if peek(offset: 1) == UInt8(ascii: "'"), peek(offset: 2) == UInt8(ascii: "'") {
                return .string(try parseMultilineLiteralString())
            }
            return .string(try parseLiteralString())
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "{"): return try parseInlineTable()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            let word = readWord()
            if word == "true" { return .boolean(true) }
            if word == "false" { return .boolean(false) }
            throw failure("unexpected value \"\(word)\"; strings need quotes", backtrack: word.utf8.count)
        case UInt8(ascii: "\n"), UInt8(ascii: "#"), UInt8(ascii: "\r"):
            throw failure("expected a value after '='")
        default:
            return try parseNumberOrDate()
        }
    }

    private mutating func readWord() -> String {
        let start = index
        while let next = peek(), !Self.isValueTerminator(next) { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private static func isValueTerminator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
            || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]")
            || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "#")
    }

    private mutating func parseNumberOrDate() throws(TOMLError) -> TOMLValue {
        var word = readWord()
        // A local date-time may use a space instead of 'T': "1979-05-27 07:32:00".
        if Self.looksLikeDate(word), peek() == UInt8(ascii: " "), let next = peek(offset: 1),
            next >= UInt8(ascii: "0"), next <= UInt8(ascii: "9")
        {
            index += 1
            word += " " + readWord()
        }
        let length = word.utf8.count
        if Self.looksLikeDate(word) || Self.looksLikeTime(word) {
            if let problem = Self.dateTimeProblem(word) { throw failure("invalid date-time \"\(word)\": \(problem)", backtrack: length) }
            return .datetime(word)
        }
        switch word {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where word.hasPrefix(prefix) {
            let digits = word.dropFirst(2)
            guard Self.underscoresAreValid(digits), let value = Int64(digits.replacing("_", with: ""), radix: radix) else {
                throw failure("invalid number \"\(word)\"", backtrack: length)
            }
            return .integer(value)
        }
        guard Self.underscoresAreValid(Substring(word)) else {
            throw failure("invalid number \"\(word)\": underscores must sit between digits", backtrack: length)
        }
        let plain = word.replacing("_", with: "")
        let unsigned = plain.hasPrefix("+") || plain.hasPrefix("-") ? plain.dropFirst() : Substring(plain)
        if unsigned.count > 1, unsigned.hasPrefix("0"), unsigned.dropFirst().first?.isNumber == true {
            throw failure("invalid number \"\(word)\": leading zeros are not allowed", backtrack: length)
        }
        if let value = Int64(plain) { return .integer(value) }
        if plain.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), Self.isValidFloat(plain),
            let value = Double(plain)
        {
            return .float(value)
        }
        if word.isEmpty { throw failure("expected a value") }
        throw failure("unexpected value \"\(word)\"; strings need quotes", backtrack: length)
    }

    private static func underscoresAreValid(_ text: Substring) -> Bool {
        guard text.contains("_") else { return true }
        let characters = Array(text)
        for (offset, character) in characters.enumerated() where character == "_" {
            guard offset > 0, offset < characters.count - 1, characters[offset - 1].isHexDigit,
                characters[offset + 1].isHexDigit
            else { return false }
        }
        return true
    }

    private static func isValidFloat(_ text: String) -> Bool {
        // TOML requires digits on both sides of '.', unlike Swift's Double(String).
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard let last = parts[0].last, last.isNumber, let first = parts[1].first, first.isNumber else { return false }
        }
        return true
    }

    private static func looksLikeDate(_ word: String) -> Bool {
        let scalars = Array(word.utf8)
        guard scalars.count >= 10 else { return false }
        let digits = [0, 1, 2, 3, 5, 6, 8, 9]
        return digits.allSatisfy { scalars[$0] >= UInt8(ascii: "0") && scalars[$0] <= UInt8(ascii: "9") }
            && scalars[4] == UInt8(ascii: "-") && scalars[7] == UInt8(ascii: "-")
    }

    /// Why `word` is not an RFC 3339 date, time or date-time as TOML 1.0 allows them, or nil.
    static func dateTimeProblem(_ word: String) -> String? {
        var bytes = Array(word.utf8)[...]
        func number(_ count: Int) -> Int? {
            guard bytes.count >= count, bytes.prefix(count).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            defer { bytes = bytes.dropFirst(count) }
            return bytes.prefix(count).reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        func take(_ byte: UInt8) -> Bool {
            guard bytes.first == byte else { return false }
            bytes = bytes.dropFirst()
            return true
        }
        func time() -> String? {
            guard let hour = number(2), take(UInt8(ascii: ":")), let minute = number(2), take(UInt8(ascii: ":")), let second = number(2)
            else { return "expected HH:MM:SS" }
            guard hour < 24, minute < 60, second <= 60 else { return "\(hour):\(minute):\(second) is not a time of day" }
            if take(UInt8(ascii: ".")) {
                guard bytes.first.map({ $0 >= 0x30 && $0 <= 0x39 }) == true else { return "expected digits after '.'" }
                while let first = bytes.first, first >= 0x30, first <= 0x39 { bytes = bytes.dropFirst() }
            }
            return nil
        }
        if word.utf8.count >= 3, Array(word.utf8)[2] == UInt8(ascii: ":") {
            if let problem = time() { return problem }
            return bytes.isEmpty ? nil : "unexpected text after the time"
        }
        guard let year = number(4), take(UInt8(ascii: "-")), let month = number(2), take(UInt8(ascii: "-")), let day = number(2) else {
            return "expected YYYY-MM-DD"
        }
        guard (1...12).contains(month) else { return "month \(month) does not exist" }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return "day \(day) does not exist in month \(month) of \(year)" }
        guard !bytes.isEmpty else { return nil }
        guard take(UInt8(ascii: "T")) || take(UInt8(ascii: "t")) || take(UInt8(ascii: " ")) else { return "expected 'T' before the time" }
        if let problem = time() { return problem }
        if bytes.isEmpty || take(UInt8(ascii: "Z")) || take(UInt8(ascii: "z")) {
            return bytes.isEmpty ? nil : "unexpected text after the offset"
        }
        guard take(UInt8(ascii: "+")) || take(UInt8(ascii: "-")), let hours = number(2), take(UInt8(ascii: ":")), let minutes = number(2)
        else { return "expected Z or ±HH:MM" }
        guard hours < 24, minutes < 60 else { return "offset \(hours):\(minutes) is out of range" }
        return bytes.isEmpty ? nil : "unexpected text after the offset"
    }

    private static func looksLikeTime(_ word: String) -> Bool {
        let scalars = Array(word.utf8)
        guard scalars.count >= 8 else { return false }
        return scalars[2] == UInt8(ascii: ":") && scalars[5] == UInt8(ascii: ":")
    }

    private mutating func parseArray() throws(TOMLError) -> TOMLValue {
        let opened = here
        index += 1
        var elements: [TOMLValue] = []
        while true {
            skipWhitespaceAndNewlinesAndComments()
            guard let byte = peek() else { throw failure("unterminated array (opened here): expected ']'", openedAt: opened) }
            if byte == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            elements.append(try parseValue())
            skipWhitespaceAndNewlinesAndComments()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            case nil: throw failure("unterminated array (opened here): expected ']'", openedAt: opened)
            default: throw failure("expected ',' or ']' in array")
            }
        }
    }

    private mutating func parseInlineTable() throws(TOMLError) -> TOMLValue {
        let tableLine = line
        index += 1
        var table = TOMLTable()
        table.isInline = true
        skipSpaces()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return .table(table)
        }
        while true {
            skipSpaces()
            let path = try parseKeyPath(terminator: "=")
            skipSpaces()
            guard peek() == UInt8(ascii: "=") else { throw failure("expected '=' in inline table") }
            index += 1
            skipSpaces()
            let value = try parseValue()
            try insert(value, at: [], key: path, in: &table, line: tableLine)
            skipSpaces()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .table(table)
            default: throw failure("expected ',' or '}' in inline table (inline tables must fit on one line)")
            }
        }
    }

    // MARK: Strings

    private mutating func parseBasicString() throws(TOMLError) -> String {
        index += 1
        var result = String.UnicodeScalarView()
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(result)
            case UInt8(ascii: "\\"):
                result.append(try parseEscape())
            case UInt8(ascii: "\n"):
                throw failure("unterminated string (use \"\"\" for multi-line strings)")
            default:
                result.append(contentsOf: try readUTF8Scalar())
            }
        }
        throw failure("unterminated string")
    }

    private mutating func parseMultilineBasicString() throws(TOMLError) -> String {
        let opened = here
        index += 3
        skipImmediateNewline()
        var result = String.UnicodeScalarView()
        while let byte = peek() {
            if byte == UInt8(ascii: "\""), peek(offset: 1) == UInt8(ascii: "\""), peek(offset: 2) == UInt8(ascii: "\"") {
                // Up to two quotes may sit right before the closing delimiter.
                var extra = 0
                while extra < 2, peek(offset: 3 + extra) == UInt8(ascii: "\"") { extra += 1 }
                for _ in 0..<extra { result.append("\"") }
                index += 3 + extra
                return String(result)
            }
            if byte == UInt8(ascii: "\\") {
                // A line-ending backslash trims the newline and leading whitespace that follow.
                var lookahead = index + 1
                while lookahead < bytes.count, bytes[lookahead] == UInt8(ascii: " ") || bytes[lookahead] == UInt8(ascii: "\t") {
                    lookahead += 1
                }
                if lookahead < bytes.count, bytes[lookahead] == UInt8(ascii: "\n") || bytes[lookahead] == UInt8(ascii: "\r") {
                    index = lookahead
                    skipWhitespaceAndNewlines()
                    continue
                }
                result.append(try parseEscape())
                continue
            }
            if byte == UInt8(ascii: "\n") {
                advanceLine()
                result.append("\n")
                continue
            }
            result.append(contentsOf: try readUTF8Scalar())
        }
        throw failure("unterminated multi-line string (opened here)", openedAt: opened)
    }

    private mutating func parseLiteralString() throws(TOMLError) -> String {
        index += 1
        let start = index
        while let byte = peek() {
            if byte == UInt8(ascii: "'") {
                let text = try utf8(start..<index)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\n") { throw failure("unterminated literal string") }
            index += 1
        }
        throw failure("unterminated literal string")
    }

    private mutating func parseMultilineLiteralString() throws(TOMLError) -> String {
        let opened = here
        index += 3
        skipImmediateNewline()
        let start = index
        while let byte = peek() {
            if byte == UInt8(ascii: "'"), peek(offset: 1) == UInt8(ascii: "'"), peek(offset: 2) == UInt8(ascii: "'") {
                var extra = 0
                while extra < 2, peek(offset: 3 + extra) == UInt8(ascii: "'") { extra += 1 }
                let text = try utf8(start..<(index + extra))
                index += 3 + extra
                return text
            }
            if byte == UInt8(ascii: "\n") { advanceLine() } else { index += 1 }
        }
        throw failure("unterminated multi-line literal string (opened here)", openedAt: opened)
    }

    private mutating func parseEscape() throws(TOMLError) -> Unicode.Scalar {
        index += 1
        guard let escape = peek() else { throw failure("unterminated escape") }
        index += 1
        switch escape {
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "e"):
            index -= 1
            throw failure("'\\e' is TOML 1.1; Hearth reads TOML 1.0 — write '\\u001B' for an escape character")
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = escape == UInt8(ascii: "u") ? 4 : 8
            guard index + count <= bytes.count, let value = UInt32(try utf8(index..<(index + count)), radix: 16),
                let scalar = Unicode.Scalar(value)
            else { throw failure("invalid unicode escape") }
            index += count
            return scalar
        default:
            index -= 1
            throw failure("unknown escape '\\\(Character(Unicode.Scalar(escape)))'; write '\\\\' for a backslash")
        }
    }

    private mutating func readUTF8Scalar() throws(TOMLError) -> String.UnicodeScalarView {
        let byte = bytes[index]
        let length = byte < 0x80 ? 1 : byte >> 5 == 0b110 ? 2 : byte >> 4 == 0b1110 ? 3 : byte >> 3 == 0b11110 ? 4 : 0
        guard length > 0, index + length <= bytes.count else { throw failure("invalid UTF-8") }
        if length == 1, byte < 0x20, byte != UInt8(ascii: "\t") {
            throw failure("control character \(describe(byte)) must be escaped")
        }
        let text = try utf8(index..<(index + length))
        index += length
        return text.unicodeScalars
    }

    private func utf8(_ range: Range<Int>) throws(TOMLError) -> String {
        guard let text = String(validating: bytes[range], as: UTF8.self) else { throw failure("invalid UTF-8") }
        return text
    }

    // MARK: Whitespace and positions

    private func peek(offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private mutating func skipSpaces() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    private mutating func skipImmediateNewline() {
        if peek() == UInt8(ascii: "\r"), peek(offset: 1) == UInt8(ascii: "\n") { index += 1 }
        if peek() == UInt8(ascii: "\n") { advanceLine() }
    }

    private mutating func advanceLine() {
        index += 1
        line += 1
        lineStart = index
    }

    private mutating func skipWhitespaceAndNewlines() {
        while let byte = peek() {
            if byte == UInt8(ascii: "\n") {
                advanceLine()
            } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                index += 1
            } else {
                return
            }
        }
    }

    private mutating func skipWhitespaceAndNewlinesAndComments() {
        while true {
            skipWhitespaceAndNewlines()
            guard peek() == UInt8(ascii: "#") else { return }
            while let byte = peek(), byte != UInt8(ascii: "\n") { index += 1 }
        }
    }

    private mutating func expectEndOfLine() throws(TOMLError) {
        skipSpaces()
        if peek() == UInt8(ascii: "#") {
            while let byte = peek(), byte != UInt8(ascii: "\n") { index += 1 }
        }
        if peek() == UInt8(ascii: "\r") { index += 1 }
        guard let byte = peek() else { return }
        guard byte == UInt8(ascii: "\n") else {
            throw failure("expected the end of the line, found \(describe(byte))")
        }
        advanceLine()
    }

    private func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    /// Where a construct opened (its line and column), for errors about its missing end.
    private var here: (line: Int, column: Int) {
        (line, String(decoding: bytes[lineStart..<min(index, bytes.count)], as: UTF8.self).count + 1)
    }

    private func failure(_ message: String, openedAt opened: (line: Int, column: Int)) -> TOMLError {
        TOMLError(line: opened.line, column: opened.column, message: message)
    }

    private func failure(_ message: String, backtrack: Int = 0) -> TOMLError {
        let position = max(lineStart, index - backtrack)
        let column = String(decoding: bytes[lineStart..<min(position, bytes.count)], as: UTF8.self).count + 1
        return TOMLError(line: line, column: column, message: message)
    }
}
