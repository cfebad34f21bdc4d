import Foundation

/// Finds the items people ask for in notes and documents — open questions, to-dos, dates,
/// amounts, links, e-mail addresses — with code, not a model: every item carries its line (and
/// page, for PDFs), so a report can point at it.
public enum TextItems {
    public enum Kind: String, Sendable, CaseIterable, Hashable {
        case questions, todos, dates, amounts, links, emails

        /// The singular, for counts ("1 question").
        public var singular: String {
            switch self {
            case .questions: "question"
            case .todos: "to-do"
            case .dates: "date"
            case .amounts: "amount"
            case .links: "link"
            case .emails: "e-mail address"
            }
        }
    }

    public struct Item: Sendable, Hashable {
        public var kind: Kind
        /// What was found: the question, the to-do, the date or amount as written.
        public var text: String
        /// 1-based line in the document (within its page for PDFs).
        public var line: Int
        public var page: Int?
        /// The line it was found on, for dates and amounts.
        public var context: String
    }

    /// Every item of the requested kinds in `pages` (one entry for a plain text file), in document order.
    public static func find(_ kinds: Set<Kind>, in pages: [String]) -> [Item] {
        var items: [Item] = []
        for pageIndex in pages.indices {
            let page = pages.count > 1 ? pageIndex + 1 : nil
            var heading = ""
            var inFence = false
            for (index, raw) in pages[pageIndex].components(separatedBy: "\n").enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.hasPrefix("```") || line.hasPrefix("~~~") {
                    inFence.toggle()
                    continue
                }
                if inFence || line.isEmpty { continue }
                if let title = headingText(line) {
                    heading = title.lowercased()
                    continue
                }
                let number = index + 1
                let body = stripMarker(line)
                if kinds.contains(.questions) {
                    items += questions(in: line, body: body, heading: heading).map {
                        Item(kind: .questions, text: $0, line: number, page: page, context: line)
                    }
                }
                if kinds.contains(.todos), let todo = todo(in: line, body: body, heading: heading) {
                    items.append(Item(kind: .todos, text: todo, line: number, page: page, context: line))
                }
                for kind in [Kind.dates, .amounts, .links, .emails] where kinds.contains(kind) {
                    for match in matches(of: kind, in: line) {
                        items.append(Item(kind: kind, text: match, line: number, page: page, context: String(line.prefix(200))))
                    }
                }
            }
        }
        return items
    }

    // MARK: Lines

    /// The title of a markdown heading (`## Open questions`) or of a line that is only a label (`Open questions:`).
    static func headingText(_ line: String) -> String? {
        if line.hasPrefix("#") {
            return line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
        }
        if line.hasSuffix(":") && line.count <= 40 && !line.hasPrefix("-") && !line.hasPrefix("*") && line.split(separator: " ").count <= 4
        {
            return String(line.dropLast())
        }
        return nil
    }

    /// The line without a list marker (`- `, `* `, `1. `, `- [ ] `).
    static func stripMarker(_ line: String) -> String {
        var text = Substring(line)
        for marker in ["- ", "* ", "+ ", "• "] where text.hasPrefix(marker) {
            text = text.dropFirst(marker.count)
            break
        }
        if let dot = text.firstIndex(where: { !$0.isNumber }), dot != text.startIndex, [".", ")"].contains(text[dot]) {
            text = text[text.index(after: dot)...]
        }
        text = Substring(text.trimmingCharacters(in: .whitespaces))
        for box in ["[ ] ", "[x] ", "[X] "] where text.hasPrefix(box) { text = text.dropFirst(box.count) }
        return text.trimmingCharacters(in: .whitespaces)
    }

    static func isListItem(_ line: String) -> Bool {
        ["- ", "* ", "+ ", "• "].contains { line.hasPrefix($0) } || line.range(of: #"^\d+[.)] "#, options: .regularExpression) != nil
    }

    /// Sentences ending in a question mark, labelled questions, and the items of a questions section.
    static func questions(in line: String, body: String, heading: String) -> [String] {
        let lower = body.lowercased()
        for label in ["open question:", "question:", "q:", "unclear:", "tbd:"] where lower.hasPrefix(label) {
            return [body.dropFirst(label.count).trimmingCharacters(in: .whitespaces)].filter { !$0.isEmpty }
        }
        var found: [String] = []
        var sentence = ""
        // A link's "?" and "." are not sentence marks.
        let prose = body.replacingOccurrences(of: #"https?://\S+"#, with: "<link>", options: .regularExpression)
        for character in prose {
            sentence.append(character)
            if character == "?" {
                let trimmed = sentence.trimmingCharacters(in: .whitespaces)
                // Not a URL's query string: the mark ends a word.
                if trimmed.count > 3 && !trimmed.contains("://") { found.append(trimmed) }
                sentence = ""
            } else if ".!".contains(character) {
                sentence = ""
            }
        }
        // A checkbox is a to-do, even under a questions heading.
        let checkbox = ["[ ]", "[x]", "[X]"].contains { line.contains($0) }
        if found.isEmpty && heading.contains("question") && isListItem(line) && !body.isEmpty && !checkbox { found.append(body) }
        return found
    }

    /// An open to-do: `TODO`/`FIXME` markers, unchecked boxes, "action item:", and the items of a to-do section.
    static func todo(in line: String, body: String, heading: String) -> String? {
        if line.contains("[x]") || line.contains("[X]") { return nil }  // done
        if line.hasPrefix("- [ ]") || line.hasPrefix("* [ ]") || line.hasPrefix("[ ]") { return body }
        let lower = body.lowercased()
        for label in [
            "todo:", "todo ", "to do:", "to-do:", "fixme:", "fixme ", "action item:", "action items:", "action:", "follow up:",
            "follow-up:",
            "next step:", "next steps:",
        ]
        where lower.hasPrefix(label) {
            let rest = body.dropFirst(label.count).trimmingCharacters(in: .whitespaces)
            return rest.isEmpty ? nil : rest
        }
        if let range = body.range(of: #"\b(TODO|FIXME)\b:?"#, options: .regularExpression) {
            let rest = body[range.upperBound...].trimmingCharacters(in: .whitespaces)
            return rest.isEmpty ? body : rest
        }
        let sections = ["todo", "to do", "to-do", "action item", "next step", "follow-up", "follow up", "tasks"]
        if sections.contains(where: heading.contains) && isListItem(line) && !body.isEmpty { return body }
        return nil
    }

    // MARK: Patterns

    static let months =
        "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"

    static let patterns: [Kind: NSRegularExpression] = {
        let currency = #"(?:[$€£¥₹]|\b(?:usd|eur|gbp|chf|jpy|cad|aud|rm|myr|sgd|inr)\b)"#
        let number = #"\d{1,3}(?:[,.' ]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"#
        let sources: [Kind: String] = [
            .dates: [
                #"\b\d{4}-\d{2}-\d{2}\b"#,
                #"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b"#,
                #"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:\#(months))\.?(?:,?\s+\d{4})?\b"#,
                #"\b(?:\#(months))\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?\b"#,
                #"\b(?:\#(months))\s+\d{4}\b"#,
            ].joined(separator: "|"),
            .amounts: [
                #"\#(currency)\s?(?:\#(number))"#,
                #"(?:\#(number))\s?\#(currency)"#,
                #"\b(?:\#(number))\s(?:dollars|euros|pounds|cents)\b"#,
            ].joined(separator: "|"),
            .links: #"\bhttps?://[^\s<>()\[\]"']+[^\s<>()\[\]"'.,;:!?]"#,
            .emails: #"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"#,
        ]
        return sources.mapValues { try! NSRegularExpression(pattern: $0, options: [.caseInsensitive]) }
    }()

    static func matches(of kind: Kind, in line: String) -> [String] {
        guard let expression = patterns[kind] else { return [] }
        let range = NSRange(line.startIndex..., in: line)
        return expression.matches(in: line, range: range).compactMap { match in
            Range(match.range, in: line).map { String(line[$0]).trimmingCharacters(in: .whitespaces) }
        }
    }
}

/// What changed between two texts, line by line (a longest-common-subsequence diff).
public enum LineDiff {
    public struct Line: Sendable, Hashable {
        public var line: Int
        public var text: String
    }

    public struct Result: Sendable, Hashable {
        public var removed: [Line]
        public var added: [Line]
        public var common: Int
    }

    /// Lines only in `old` (removed) and only in `new` (added), ignoring blank lines and
    /// trailing spaces. Quadratic in lines; callers cap the input.
    public static func compare(_ old: String, _ new: String) -> Result {
        func lines(_ text: String) -> [Line] {
            text.components(separatedBy: "\n").enumerated().compactMap { index, line in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                return trimmed.isEmpty ? nil : Line(line: index + 1, text: trimmed)
            }
        }
        let a = lines(old)
        let b = lines(new)
        // lengths[i][j]: LCS of a[i...] and b[j...].
        var lengths = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lengths[i][j] = a[i].text == b[j].text ? lengths[i + 1][j + 1] + 1 : max(lengths[i + 1][j], lengths[i][j + 1])
            }
        }
        var result = Result(removed: [], added: [], common: 0)
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            if a[i].text == b[j].text {
                result.common += 1
                i += 1
                j += 1
            } else if lengths[i + 1][j] >= lengths[i][j + 1] {
                result.removed.append(a[i])
                i += 1
            } else {
                result.added.append(b[j])
                j += 1
            }
        }
        result.removed += a[i...]
        result.added += b[j...]
        return result
    }
}
