import Foundation

/// A binding sentence of a regulation, cited by article and page.
public struct RegulationRequirement: Sendable, Hashable {
    public var article: Int
    /// 1-based page of the PDF where the sentence starts.
    public var page: Int
    public var text: String
    /// The limit it sets, when code can check it.
    public var limit: Limit?

    /// A requirement read from `text` (its limit read by code).
    public init(article: Int, page: Int, text: String) {
        self.article = article
        self.page = page
        self.text = text
        limit = Limit.read(text)
    }
}

/// Reads a regulation's pages (as `pdftotext` gives them) into its binding sentences.
public enum RegulationReader {
    /// Binding sentences ("shall", "must", "is required to"), each with the article it is in and
    /// the page it starts on. Lines are re-joined across hyphenation and pages; running headers
    /// and page numbers ("- 97 -") are dropped. A sentence before the first article heading has
    /// article 0.
    public static func requirements(pages: [String]) -> [RegulationRequirement] {
        var found: [RegulationRequirement] = []
        var article = 0
        var sentence = ""
        var sentencePage = 1
        var sentenceArticle = 0
        func finish() {
            let text = sentence.trimmingCharacters(in: .whitespaces)
            sentence = ""
            guard Limit.isBinding(text) else { return }
            // "3. Passwords shall …": the paragraph number is not part of the rule.
            let body = text.replacing(/^\d+\.\s+/, with: "")
            found.append(RegulationRequirement(article: sentenceArticle, page: sentencePage, text: body))
        }
        for (index, page) in pages.enumerated() {
            for rawLine in page.split(separator: "\n", omittingEmptySubsequences: false) {
                let line = rawLine.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.wholeMatch(of: /[-–—\s]*\d+[-–—\s]*/) != nil { continue }
                if let heading = line.prefixMatch(of: /(?i)article\s+(\d+)\b/), let number = Int(heading.1) {
                    if !sentence.isEmpty { finish() }
                    article = number
                    continue
                }
                if sentence.isEmpty {
                    sentencePage = index + 1
                    sentenceArticle = article
                }
                // Join a hyphenated word ("super-" + "visory"), else a space.
                if sentence.hasSuffix("-"), let first = line.first, first.isLowercase {
                    sentence.removeLast()
                    sentence += line
                } else {
                    sentence += sentence.isEmpty ? line : " " + line
                }
                // Split off every finished sentence.
                while let end = sentence.firstMatch(of: /[.;!?]\s+(?=[A-Z0-9(])/) {
                    let rest = String(sentence[end.range.upperBound...])
                    sentence = String(sentence[..<end.range.lowerBound]) + "."
                    finish()
                    sentence = rest
                    sentencePage = index + 1
                    sentenceArticle = article
                }
                if sentence.hasSuffix(".") {
                    finish()
                }
            }
        }
        if !sentence.isEmpty { finish() }
        return found
    }
}

/// A feature spec in markdown, read strictly: a file a strict reader rejects is reported, never
/// half-read.
public struct SpecDocument: Sendable, Hashable {
    public enum Problem: Error, Sendable, Hashable, CustomStringConvertible {
        case empty
        case binary
        case notUTF8(line: Int)
        case unclosedFence(line: Int)
        case brokenTable(line: Int, expected: Int, found: Int)

        public var description: String {
            switch self {
            case .empty: "the file is empty"
            case .binary: "the file is binary, not markdown"
            case .notUTF8(let line): "line \(line) is not UTF-8 (mixed encodings)"
            case .unclosedFence(let line): "the code fence opened on line \(line) is never closed"
            case .brokenTable(let line, let expected, let found):
                "the table row on line \(line) has \(found) cells where its header has \(expected)"
            }
        }
    }

    /// 1-based line number and text, outside code fences.
    public var lines: [(number: Int, text: String)]

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.lines.elementsEqual(rhs.lines) { $0 == $1 } }
    public func hash(into hasher: inout Hasher) { for line in lines { hasher.combine(line.text) } }

    public static func parse(_ data: Data) throws(Problem) -> SpecDocument {
        guard !data.isEmpty, data.contains(where: { !Character(UnicodeScalar($0)).isWhitespace }) else { throw .empty }
        if data.prefix(4_096).contains(0) { throw .binary }
        let rawLines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var lines: [(Int, String)] = []
        var fenceOpened: Int?
        var tableColumns: Int?
        for (index, raw) in rawLines.enumerated() {
            let number = index + 1
            guard let text = String(data: Data(raw), encoding: .utf8) else { throw .notUTF8(line: number) }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                fenceOpened = fenceOpened == nil ? number : nil
                continue
            }
            if fenceOpened != nil { continue }
            if trimmed.hasPrefix("|") {
                let cells = trimmed.split(separator: "|", omittingEmptySubsequences: false).count - 2
                if let expected = tableColumns {
                    if cells != expected { throw .brokenTable(line: number, expected: expected, found: cells) }
                } else {
                    tableColumns = cells
                }
            } else {
                tableColumns = nil
            }
            lines.append((number, text))
        }
        if let fenceOpened { throw .unclosedFence(line: fenceOpened) }
        return SpecDocument(lines: lines)
    }
}
