import Foundation
import HearthCore
import HearthSandbox

/// Builds the JSON schema of an object of named properties, closed to others.
func objectSchema(_ properties: [(String, JSONValue)], required: [String]) -> JSONValue {
    [
        "type": "object",
        "properties": .object(Dictionary(properties, uniquingKeysWith: { first, _ in first })),
        "required": .array(required.map(JSONValue.string)),
        "additionalProperties": false,
    ]
}

func stringProperty(_ description: String) -> JSONValue { ["type": "string", "description": .string(description)] }
let pathProperty = stringProperty("a path relative to the workspace")

/// The path argument of a call (the schema already made it a string).
func requiredString(_ arguments: JSONValue, _ key: String) -> String { arguments[key]?.stringValue ?? "" }

/// Runs a workspace operation, turning a confinement error into a refusal and an I/O error into a failure.
func confined<T>(_ tool: String, _ body: () throws(WorkspaceError) -> T) throws(ToolError) -> T {
    do {
        return try body()
    } catch {
        switch error {
        case .io: throw .failed(tool: tool, message: error.description)
        default: throw .refused(tool: tool, reason: error.description)
        }
    }
}

/// Text of a file that must be text: UTF-8 without NUL bytes.
func decodeText(_ data: Data, path: String, tool: String) throws(ToolError) -> String {
    guard !data.contains(0), let text = String(data: data, encoding: .utf8) else {
        throw .failed(
            tool: tool, message: "\"\(path)\" is not a text file (binary or not UTF-8); for PDFs use pdf_text, for images ocr_image")
    }
    return text
}

/// Cuts text to at most `limit` characters, saying so.
func clipped(_ text: String, _ limit: Int) -> String {
    text.count <= limit ? text : String(text.prefix(limit)) + "\n… [\(text.count - limit) more characters not shown]"
}

public struct ListFilesTool: Tool {
    public let spec = ToolSpec(
        name: "list_files", description: "List the files in a workspace folder (and its subfolders), optionally matching a glob.",
        parameters: objectSchema(
            [
                ("path", stringProperty("a folder relative to the workspace; omit for the whole workspace")),
                ("pattern", stringProperty("a glob such as Receipts/*.pdf")),
            ], required: []))
    public let risk = ToolRisk.read
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let requested = arguments["path"]?.stringValue
        let (root, folder) =
            try requested.map { path throws(ToolError) in try context.locate(path, tool: name, writing: false) }
            ?? (context.workspace, "")
        var files = try confined(name) { () throws(WorkspaceError) in
            try WorkspaceFiles.list(under: folder.isEmpty ? nil : folder, in: root)
        }
        // Paths come back as the agent addresses them (`@name/…` inside a mount).
        if let requested, requested.hasPrefix("@") {
            let mount = String(requested.dropFirst().prefix { $0 != "/" })
            files = files.map { "@\(mount)/\($0)" }
        }
        if let pattern = arguments["pattern"]?.stringValue { files = files.filter { WorkspaceGlob.matches($0, glob: pattern) } }
        let text = files.isEmpty ? "no files" : clipped(files.joined(separator: "\n"), 4000)
        return ToolOutput(text: text, data: ["files": .array(files.map(JSONValue.string))])
    }
}

public struct ReadFileTool: Tool {
    public let spec = ToolSpec(
        name: "read_file", description: "Read a text file of the workspace.",
        parameters: objectSchema([("path", pathProperty)], required: ["path"]))
    public let risk = ToolRisk.read
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        let (root, relative) = try context.locate(path, tool: name, writing: false)
        let data = try confined(name) { () throws(WorkspaceError) in try WorkspaceFiles.read(relative, in: root) }
        let text = try decodeText(data, path: path, tool: name)
        return ToolOutput(text: clipped(text, 8000), data: ["path": .string(path), "text": .string(text)], untrusted: true)
    }
}

public struct WriteFileTool: Tool {
    public let spec = ToolSpec(
        name: "write_file", description: "Write a text file in the workspace (atomically).",
        parameters: objectSchema(
            [
                ("path", pathProperty), ("content", stringProperty("the whole new content")),
                ("overwrite", ["type": "boolean", "description": "replace an existing file"]),
            ], required: ["path", "content"]))
    public let risk = ToolRisk.writeWorkspace
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = requiredString(arguments, "path")
        let content = requiredString(arguments, "content")
        let replace = arguments["overwrite"]?.boolValue ?? false
        let (root, relative) = try context.locate(path, tool: name, writing: true)
        // The same content written again (a retry after a crash) is not a conflict.
        let existing = try? WorkspaceFiles.read(relative, in: root)
        if existing == Data(content.utf8) {
            return ToolOutput(text: "\(path) already has this content", data: ["path": .string(path), "written": false])
        }
        try confined(name) { () throws(WorkspaceError) in
            try WorkspaceFiles.write(Data(content.utf8), to: relative, in: root, replace: replace)
        }
        return ToolOutput(text: "wrote \(content.utf8.count) bytes to \(path)", data: ["path": .string(path), "written": true])
    }
}

public struct MoveFileTool: Tool {
    public let spec = ToolSpec(
        name: "move_file", description: "Move or rename a file within the workspace (never replaces a file).",
        parameters: objectSchema([("from", pathProperty), ("to", pathProperty)], required: ["from", "to"]))
    public let risk = ToolRisk.writeWorkspace
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let from = requiredString(arguments, "from")
        let to = requiredString(arguments, "to")
        let source = try context.locate(from, tool: name, writing: true)
        let destination = try context.locate(to, tool: name, writing: true)
        guard source.root == destination.root else {
            throw ToolError.refused(
                tool: name, reason: "a move stays within one tree (the workspace or one mount); copy with read_file and write_file instead")
        }
        let moved = try confined(name) { () throws(WorkspaceError) in
            try WorkspaceFiles.move(source.path, to: destination.path, in: source.root)
        }
        return ToolOutput(
            text: moved ? "moved \(from) to \(to)" : "\(from) was already moved to \(to)",
            data: ["from": .string(from), "to": .string(to), "moved": .bool(moved)])
    }
}

public struct SearchTextTool: Tool {
    public let spec = ToolSpec(
        name: "search_text", description: "Find lines containing a text (case-insensitive) in the workspace's text files.",
        parameters: objectSchema(
            [("query", stringProperty("the text to find")), ("pattern", stringProperty("a glob limiting the files, e.g. **/*.md"))],
            required: ["query"]))
    public let risk = ToolRisk.read
    public let idempotent = true

    public init() {}

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let query = requiredString(arguments, "query")
        guard !query.isEmpty else { throw ToolError.invalidArguments(tool: name, problems: ["query is empty"]) }
        var files = try confined(name) { () throws(WorkspaceError) in try WorkspaceFiles.list(under: nil, in: context.workspace) }
        if let pattern = arguments["pattern"]?.stringValue { files = files.filter { WorkspaceGlob.matches($0, glob: pattern) } }
        var matches: [JSONValue] = []
        var lines: [String] = []
        scan: for file in files {
            guard let data = try? WorkspaceFiles.read(file, in: context.workspace, limit: 4 << 20), !data.contains(0),
                let text = String(data: data, encoding: .utf8)
            else { continue }
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.range(of: query, options: .caseInsensitive) != nil {
                matches.append(["path": .string(file), "line": .number(Double(number + 1)), "text": .string(String(line.prefix(300)))])
                lines.append("\(file):\(number + 1): \(line.prefix(200))")
                if matches.count >= 100 { break scan }
            }
        }
        return ToolOutput(
            text: lines.isEmpty ? "no matches" : clipped(lines.joined(separator: "\n"), 6000), data: ["matches": .array(matches)],
            untrusted: true)
    }
}
