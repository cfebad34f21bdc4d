import Foundation
import HearthCore

/// Reads any document of the workspace as text: text files as they are, PDFs page by page, images by OCR.
public struct ReadDocumentTool: Tool {
    public let spec = ToolSpec(
        name: "read_document",
        description: "Read a document of the workspace as text, whatever its format (text, markdown, PDF page by page, image by OCR).",
        parameters: objectSchema([("path", pathProperty)], required: ["path"]))
    public let risk = ToolRisk.read
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        let document = try await DocumentText.extract(path, context: context, tool: name)
        let text =
            document.pages.count > 1
            ? document.pages.enumerated().map { "[page \($0.offset + 1)]\n\($0.element)" }.joined(separator: "\n") : document.text
        return ToolOutput(
            text: clipped(text, 8000),
            data: ["path": .string(path), "kind": .string(document.kind.rawValue), "pages": .number(Double(document.pages.count))],
            untrusted: true)
    }
}

/// Lists the open questions, to-dos, dates, amounts, links or e-mail addresses of a document, by code.
public struct ExtractItemsTool: Tool {
    public let spec = ToolSpec(
        name: "extract_items",
        description:
            "List the open questions, to-dos, dates, amounts, links or e-mail addresses in a document (text, PDF or image), each with its line.",
        parameters: objectSchema(
            [
                ("path", pathProperty),
                (
                    "kinds",
                    stringProperty("comma-separated: \(TextItems.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                ),
            ], required: ["path", "kinds"]))
    public let risk = ToolRisk.read
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        var kinds: [TextItems.Kind] = []
        var unknown: [String] = []
        for word in requiredString(arguments, "kinds").split(whereSeparator: { $0 == "," || $0 == " " }) {
            if let kind = TextItems.Kind(rawValue: word.lowercased()) {
                if !kinds.contains(kind) { kinds.append(kind) }
            } else {
                unknown.append(String(word))
            }
        }
        guard unknown.isEmpty, !kinds.isEmpty else {
            throw ToolError.invalidArguments(
                tool: name,
                problems: [
                    "kinds must name one or more of \(TextItems.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
                        + (unknown.isEmpty ? "" : " (not: \(unknown.joined(separator: ", ")))")
                ])
        }
        let document = try await DocumentText.extract(path, context: context, tool: name)
        let items = TextItems.find(Set(kinds), in: document.pages)
        var data: [String: JSONValue] = ["path": .string(path)]
        var found: [String: JSONValue] = [:]
        var lines: [String] = []
        for kind in kinds {
            let mine = items.filter { $0.kind == kind }
            data[kind.rawValue] = .number(Double(mine.count))
            found[kind.rawValue] = .array(
                mine.map { item in
                    var entry: [String: JSONValue] = [
                        "text": .string(item.text), "line": .number(Double(item.line)), "context": .string(item.context),
                    ]
                    if let page = item.page { entry["page"] = .number(Double(page)) }
                    return .object(entry)
                })
            lines.append("\(kind.rawValue): \(mine.count)")
            lines += mine.map { "  \(path):\($0.page.map { "p\($0):" } ?? "")\($0.line): \($0.text)" }
        }
        data["items"] = .object(found)
        return ToolOutput(text: clipped(lines.joined(separator: "\n"), 8000), data: .object(data), untrusted: true)
    }
}

/// Compares two documents line by line: what is only in the first, only in the second, and how much they share.
public struct CompareFilesTool: Tool {
    public let spec = ToolSpec(
        name: "compare_files",
        description: "Compare two documents of the workspace line by line: lines only in the first, only in the second, lines in common.",
        parameters: objectSchema(
            [("a", stringProperty("the first document (the older one)")), ("b", stringProperty("the second document (the newer one)"))],
            required: ["a", "b"]))
    public let risk = ToolRisk.read
    public let idempotent = true

    /// Lines compared per document; the diff is quadratic in lines.
    static let maxLines = 4000

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let first = requiredString(arguments, "a")
        let second = requiredString(arguments, "b")
        let a = try await DocumentText.extract(first, context: context, tool: name).text
        let b = try await DocumentText.extract(second, context: context, tool: name).text
        func capped(_ text: String) -> String { text.components(separatedBy: "\n").prefix(Self.maxLines).joined(separator: "\n") }
        let diff = LineDiff.compare(capped(a), capped(b))
        func entries(_ lines: [LineDiff.Line]) -> JSONValue {
            .array(lines.prefix(200).map { ["line": .number(Double($0.line)), "text": .string(String($0.text.prefix(300)))] })
        }
        var text = [
            "\(first) and \(second): \(diff.common) line(s) in common, \(diff.removed.count) only in \(first), \(diff.added.count) only in \(second)"
        ]
        if !diff.removed.isEmpty { text += ["only in \(first):"] + diff.removed.prefix(60).map { "  - \($0.line): \($0.text)" } }
        if !diff.added.isEmpty { text += ["only in \(second):"] + diff.added.prefix(60).map { "  + \($0.line): \($0.text)" } }
        return ToolOutput(
            text: clipped(text.joined(separator: "\n"), 8000),
            data: [
                "a": .string(first), "b": .string(second), "common": .number(Double(diff.common)),
                "onlyInA": .number(Double(diff.removed.count)), "onlyInB": .number(Double(diff.added.count)),
                "removed": entries(diff.removed), "added": entries(diff.added),
            ],
            untrusted: true)
    }
}
