import Foundation
import HearthCore
import MCP

/// One tool of an external MCP server as a Hearth tool: named `mcp_<server>_<tool>`, carrying the
/// risk the user declared for the server (never the server's own hints), deferred (its schema
/// joins a prompt when `find_tools` loads it or a planned task names it), and what it returns is
/// untrusted: fenced as data, never an instruction, never a profile fact unconfirmed.
struct MCPTool: HearthCore.Tool {
    let server: MCPServerLaunch
    let remote: MCP.Tool
    let source: MCPToolSource

    var spec: ToolSpec {
        ToolSpec(
            name: Self.localName(server: server.name, tool: remote.name),
            description: "[\(server.name), via MCP] " + (remote.description ?? remote.title ?? remote.name),
            parameters: Self.parameters(MCPValues.json(remote.inputSchema)))
    }
    var risk: ToolRisk { server.risk }
    /// A repeat after a crash may do the work twice: nothing is known about the server.
    var idempotent: Bool { false }
    var deferred: Bool { true }

    func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let name = spec.name
        let result: (content: [MCP.Tool.Content], isError: Bool)
        do {
            result = try await source.call(server, tool: remote.name, arguments: arguments)
        } catch {
            throw ToolError.failed(tool: name, message: error.description)
        }
        let text = Self.text(of: result.content)
        if result.isError {
            throw ToolError.failed(tool: name, message: "the server reported an error: " + String(text.prefix(2_000)))
        }
        return ToolOutput(
            text: text.count > 6_000 ? String(text.prefix(6_000)) + "\n… (\(text.count) characters in all)" : text,
            data: ["server": .string(server.name), "tool": .string(remote.name), "text": .string(text)], untrusted: true)
    }

    /// The content blocks as text: text as it is, anything else named by its kind.
    static func text(of content: [MCP.Tool.Content]) -> String {
        content.map { block in
            switch block {
            case .text(let text, _, _): text
            case .image(_, let mimeType, _, _): "[an image, \(mimeType)]"
            case .audio(_, let mimeType, _, _): "[audio, \(mimeType)]"
            case .resource(let resource, _, _): resource.text ?? "[a resource: \(resource.uri)]"
            case .resourceLink(let uri, let name, _, _, _, _): "[a link: \(name) \(uri)]"
            }
        }.joined(separator: "\n")
    }

    /// `mcp_<server>_<tool>` in the letters a model's tool-call format allows, at most 64.
    static func localName(server: String, tool: String) -> String {
        let cleaned = String(tool.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
        return String("mcp_\(server)_\(cleaned)".prefix(64))
    }

    /// The server's schema, with an absent `type` made explicit so constrained output knows the shape.
    static func parameters(_ schema: JSONValue) -> JSONValue {
        guard case .object(var members) = schema else { return ["type": "object"] }
        if members["type"] == nil { members["type"] = "object" }
        if members["properties"] == nil { members["properties"] = .object([:]) }
        return .object(members)
    }
}
