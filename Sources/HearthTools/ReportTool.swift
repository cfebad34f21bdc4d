import Foundation
import HearthCore
import HearthSandbox
import HearthVault

/// Markdown reports: headings, paragraphs, tables with escaped cells, links to workspace files.
public struct MarkdownReport: Sendable {
    public private(set) var text = ""

    public init(title: String) {
        text = "# \(Self.inline(title))\n"
    }

    public mutating func paragraph(_ body: String) {
        text += "\n\(body.trimmingCharacters(in: .whitespacesAndNewlines))\n"
    }

    public mutating func heading(_ title: String, level: Int = 2) {
        text += "\n\(String(repeating: "#", count: max(2, min(level, 6)))) \(Self.inline(title))\n"
    }

    public mutating func bullets(_ items: [String]) {
        guard !items.isEmpty else { return }
        text += "\n" + items.map { "- \(Self.inline($0))" }.joined(separator: "\n") + "\n"
    }

    public mutating func table(columns: [String], rows: [[String]]) {
        guard !columns.isEmpty else { return }
        text += "\n| " + columns.map(Self.cell).joined(separator: " | ") + " |\n"
        text += "|" + String(repeating: "---|", count: columns.count) + "\n"
        for row in rows {
            let padded = row.prefix(columns.count) + Array(repeating: "", count: max(0, columns.count - row.count))
            text += "| " + padded.map(Self.cell).joined(separator: " | ") + " |\n"
        }
    }

    static func inline(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }

    static func cell(_ text: String) -> String {
        inline(text).replacingOccurrences(of: "|", with: "\\|")
    }
}

public struct WriteReportTool: Tool {
    public let spec = ToolSpec(
        name: "write_report",
        description:
            "Write a markdown report in the workspace: a title, a summary, optional sections and a table, with links to source files.",
        parameters: objectSchema(
            [
                ("path", stringProperty("where to write it, e.g. Reports/audit.md")),
                ("title", stringProperty("the report's title")),
                ("summary", stringProperty("the opening paragraph")),
                (
                    "sections",
                    [
                        "type": "array", "maxItems": 50,
                        "items": objectSchema(
                            [("heading", stringProperty("")), ("text", stringProperty(""))], required: ["heading", "text"]),
                    ]
                ),
                (
                    "table",
                    objectSchema(
                        [
                            ("columns", ["type": "array", "items": ["type": "string"], "minItems": 1, "maxItems": 20]),
                            ("rows", ["type": "array", "items": ["type": "array", "items": ["type": "string"]], "maxItems": 5000]),
                        ], required: ["columns", "rows"])
                ),
                ("sources", ["type": "array", "items": ["type": "string"], "maxItems": 5000, "description": "workspace files to link"]),
            ], required: ["path", "title", "summary"]))
    public let risk = ToolRisk.writeWorkspace
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        guard path.hasSuffix(".md") else { throw ToolError.invalidArguments(tool: name, problems: ["a report path must end in .md"]) }
        var report = MarkdownReport(title: requiredString(arguments, "title"))
        report.paragraph(requiredString(arguments, "summary"))
        for section in arguments["sections"]?.arrayValue ?? [] {
            report.heading(section["heading"]?.stringValue ?? "")
            report.paragraph(section["text"]?.stringValue ?? "")
        }
        if let table = arguments["table"] {
            let columns = table["columns"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let rows = table["rows"]?.arrayValue?.map { $0.arrayValue?.compactMap(\.stringValue) ?? [] } ?? []
            report.table(columns: columns, rows: rows)
        }
        let sources = arguments["sources"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if !sources.isEmpty {
            report.heading("Sources")
            report.bullets(sources.map { MarkdownLink.relative(to: $0, from: path) })
        }
        let (root, relative) = try context.locate(path, tool: name, writing: true)
        try confined(name) { () throws(WorkspaceError) in
            try WorkspaceFiles.write(Data(report.text.utf8), to: relative, in: root, replace: true)
        }
        return ToolOutput(
            text: "wrote the report \(path)", data: ["path": .string(path), "bytes": .number(Double(report.text.utf8.count))])
    }
}

/// Every built-in tool, in a stable order (prompts list them in this order).
public enum BuiltinTools {
    /// - Parameters:
    ///   - memory: adds `remember` and `recall`.
    ///   - journal: adds `notify` (findings queued for the digest).
    ///   - broker: adds `http_request`, through the credential broker at this socket.
    ///   - publish: where approved reports go (`publish_portal` when it names a portal, `post_summary`
    ///     when it names a channel and there is a broker): a tool with nowhere to go is not offered.
    ///   - extra: more tools (integrations, tests), after the built-in ones.
    public static func all(
        memory: (any AgentMemory)? = nil, journal: (any EventJournal)? = nil, broker: VaultClient? = nil, publish: PublishTarget? = nil,
        extra: [any Tool] = []
    ) -> ToolBox {
        var tools: [any Tool] = [
            ListFilesTool(), ReadFileTool(), WriteFileTool(), MoveFileTool(), SearchTextTool(), PDFTextTool(), OCRImageTool(),
            ReadCSVTool(), NormalizeMarkdownTool(), WriteReportTool(), CheckReceiptTool(), ShellTool(), ReadDocumentTool(),
            ExtractItemsTool(), CompareFilesTool(),
        ]
        if let memory { tools += [RememberTool(memory: memory), RecallTool(memory: memory)] }
        if let journal { tools.append(NotifyTool(journal: journal)) }
        if let broker { tools.append(HTTPRequestTool(broker: broker)) }
        if let publish {
            if publish.portal != nil { tools.append(PublishPortalTool(target: publish)) }
            if let broker, publish.channel != nil { tools.append(PostSummaryTool(target: publish, broker: broker)) }
        }
        return ToolBox(tools + extra)
    }
}
