import Foundation

/// Markdown as the agent writes it (reports, briefs) rendered to HTML that can hold no markup of
/// its own: every character of the source is escaped, then a few constructs become elements —
/// headings, lists, tables, paragraphs, `code`, **bold** and links. A link is kept only when it
/// points at http(s) or at a workspace file (served read-only under `/files/`); `javascript:`,
/// `data:` and paths that climb out of the workspace stay plain text.
public enum SafeMarkdown {
    /// - Parameter base: the workspace directory the document sits in (`Reports` for a report), for
    ///   its relative links.
    public static func html(_ markdown: String, base: String = "") -> String {
        var out: [String] = []
        var list: String?
        var table: [[String]] = []
        var paragraph: [String] = []
        func flushParagraph() {
            if !paragraph.isEmpty { out.append("<p>" + paragraph.map { inline($0, base: base) }.joined(separator: " ") + "</p>") }
            paragraph.removeAll()
        }
        func closeList() {
            if let tag = list { out.append("</\(tag)>") }
            list = nil
        }
        /// An item of a `ul` or `ol`, opening that list when the previous line was not in it.
        func listItem(_ tag: String, _ text: String) {
            flushParagraph()
            if list != tag {
                closeList()
                out.append("<\(tag)>")
                list = tag
            }
            out.append("<li>\(inline(text, base: base))</li>")
        }
        func flushTable() {
            guard !table.isEmpty else { return }
            let rows = table.filter { !$0.allSatisfy { cell in cell.allSatisfy { "-: ".contains($0) } } }
            out.append("<div class=\"table\"><table>")
            for (index, row) in rows.enumerated() {
                let tag = index == 0 ? "th" : "td"
                out.append("<tr>" + row.map { "<\(tag)>\(inline($0, base: base))</\(tag)>" }.joined() + "</tr>")
            }
            out.append("</table></div>")
            table.removeAll()
        }
        for raw in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("|") && line.hasSuffix("|") && line.count > 1 {
                flushParagraph()
                closeList()
                table.append(
                    line.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false).map {
                        $0.trimmingCharacters(in: .whitespaces)
                    })
                continue
            }
            flushTable()
            if line.isEmpty {
                flushParagraph()
                closeList()
                continue
            }
            if let level = heading(line) {
                flushParagraph()
                closeList()
                let text = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
                let tag = "h\(min(level + 1, 6))"  // the page has its own h1
                out.append("<\(tag)>\(inline(text, base: base))</\(tag)>")
                continue
            }
            if line.hasPrefix("- ") || line.hasPrefix("* ") {
                listItem("ul", String(line.dropFirst(2)))
                continue
            }
            if let dot = line.firstIndex(of: "."), line[..<dot].allSatisfy(\.isNumber), !line[..<dot].isEmpty,
                line[line.index(after: dot)...].hasPrefix(" ")
            {
                listItem("ol", String(line[line.index(dot, offsetBy: 2)...]))
                continue
            }
            closeList()
            paragraph.append(line)
        }
        flushTable()
        flushParagraph()
        closeList()
        return out.joined(separator: "\n")
    }

    static func heading(_ line: String) -> Int? {
        let hashes = line.prefix { $0 == "#" }.count
        guard (1...6).contains(hashes), line.dropFirst(hashes).first == " " else { return nil }
        return hashes
    }

    /// One line's inline markup, over text that is escaped first.
    static func inline(_ text: String, base: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(where: { $0 == "[" || $0 == "`" || $0 == "*" }) {
            result += escape(String(rest[..<open]))
            let tail = rest[open...]
            if tail.hasPrefix("`"), let close = tail.dropFirst().firstIndex(of: "`") {
                result += "<code>" + escape(String(tail[tail.index(after: open)..<close])) + "</code>"
                rest = tail[tail.index(after: close)...]
            } else if tail.hasPrefix("**"), let close = tail.dropFirst(2).range(of: "**") {
                result += "<strong>" + escape(String(tail[tail.index(open, offsetBy: 2)..<close.lowerBound])) + "</strong>"
                rest = tail[close.upperBound...]
            } else if tail.hasPrefix("["), let middle = tail.range(of: "]("), let close = tail[middle.upperBound...].firstIndex(of: ")") {
                let label = String(tail[tail.index(after: open)..<middle.lowerBound])
                let target = String(tail[middle.upperBound..<close])
                if let href = href(target, base: base) {
                    result += "<a href=\"\(escape(href))\">\(escape(label))</a>"
                } else {
                    result += escape(label) + " (" + escape(target) + ")"
                }
                rest = tail[tail.index(after: close)...]
            } else {
                result += escape(String(tail.prefix(1)))
                rest = tail.dropFirst()
            }
        }
        return result + escape(String(rest))
    }

    /// Where a link may go: an http(s) URL, or a workspace file under `/files/`; nil otherwise.
    public static func href(_ target: String, base: String) -> String? {
        let trimmed = target.trimmingCharacters(in: .whitespaces)
        let lower = trimmed.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            return URL(string: trimmed).map { _ in trimmed }
        }
        // Any other scheme (javascript:, data:, file:, vbscript:) is refused.
        if let colon = trimmed.firstIndex(of: ":"), !trimmed[..<colon].contains("/") { return nil }
        guard let path = workspacePath(trimmed.removingPercentEncoding ?? trimmed, base: base) else { return nil }
        return "/files/"
            + path.split(separator: "/").map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "" }
            .joined(separator: "/")
    }

    /// `target` resolved against `base` inside the workspace; nil when it climbs out or is absolute.
    public static func workspacePath(_ target: String, base: String) -> String? {
        guard !target.hasPrefix("/"), !target.isEmpty else { return nil }
        let pathPart = target.split(separator: "#", maxSplits: 1).first.map(String.init) ?? target
        var parts = base.split(separator: "/").map(String.init)
        for part in pathPart.split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            default: parts.append(String(part))
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    /// Text made safe for HTML element content and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
