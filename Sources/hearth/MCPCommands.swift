import ArgumentParser
import Foundation
import HearthConfig
import HearthCore
import HearthDaemon
import HearthMCP
import HearthMemory
import HearthStore

struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Hearth over the Model Context Protocol, for your other tools (editors, desktop assistants, coding agents).",
        discussion: """
            Tools: memory_search, memory_remember, memory_profile, goal_start, goal_status, approvals_list, brief_latest; \
            resources: hearth://profile, hearth://brief/latest, hearth://reports/RUN. Answering approvals stays with you. \
            A running daemon also serves MCP over streamable HTTP at http://127.0.0.1:PORT/mcp with its API token as a bearer token.
            """,
        subcommands: [MCPServeCommand.self, MCPToolsCommand.self])
}

struct MCPServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve MCP over stdin and stdout (for a client that starts Hearth as a command).",
        discussion: """
            Example client entry: {"command": "hearth", "args": ["mcp", "serve"]}. Memory is searched by full text here \
            (no model server is started); goals are handed to the daemon, which runs them when it is running.
            """)

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        let memory = MemoryEngine(store: stores.memory, embedder: nil)
        try await memory.open()
        let hooks = MCPWiring.hooks(stores: stores, memory: memory, workspace: context.paths.workspace) {
            await context.nudgeDaemon(["goals"])
        }
        try await HearthMCPServer.serveStdio(hooks)
    }
}

struct MCPToolsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tools",
        abstract: "List the tools of the MCP servers in [[mcp.servers]] (starting each server once), and what they cost a prompt.",
        discussion: """
            Each tool becomes mcp_<server>_<tool> with the server's declared risk (default network: the policy asks before \
            each call); what it returns is untrusted. Their schemas are not put in every prompt: the model sees find_tools, \
            which names them, and a search loads the schemas it needs ("index tokens" beside "schema tokens"). A tool whose \
            schema is not a JSON Schema object is left out, with the reason.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON: {servers, tools: [{name, server, risk, description}], skipped, index_tokens, schema_tokens}.")
    var json = false

    func run() async throws {
        let context = try common.load()
        guard let source = context.paths.mcpToolSource(context.configuration) else {
            throw CLIError(
                "no MCP servers are configured; add a [[mcp.servers]] entry to \(context.paths.configFile.path) (see the example there)")
        }
        let tools = await source.tools()
        let skipped = await source.skipped
        await source.shutdown()
        let index = ToolBox(tools).withToolIndex()[FindToolsTool.toolName].map { Self.tokens($0.spec) } ?? 0
        let schemas = tools.reduce(0) { $0 + Self.tokens($1.spec) }
        if json {
            printJSON([
                "servers": .array(context.configuration.mcpServers.map { .string($0.name) }),
                "tools": .array(
                    tools.map { tool in
                        [
                            "name": .string(tool.name), "risk": .string(tool.risk.rawValue), "description": .string(tool.spec.description),
                            "parameters": tool.spec.parameters,
                        ]
                    }),
                "skipped": .array(
                    skipped.map {
                        ["server": .string($0.server), "tool": $0.tool.map(JSONValue.string) ?? .null, "reason": .string($0.reason)]
                    }
                ),
                "index_tokens": .number(Double(index)), "schema_tokens": .number(Double(schemas)),
            ])
            return
        }
        let width = tools.map(\.name.count).max() ?? 0
        for tool in tools {
            print(
                "\(tool.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(tool.risk.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(ToolIndex.short(tool.spec.description))"
            )
        }
        for item in skipped { print("left out: \(item.server)\(item.tool.map { "/\($0)" } ?? ""): \(item.reason)") }
        print("\(tools.count) tool(s); a prompt carries find_tools (~\(index) tokens) instead of every schema (~\(schemas) tokens)")
    }

    /// Tokens a tool's spec costs a prompt (its name, description and schema as JSON text).
    static func tokens(_ spec: ToolSpec) -> Int {
        ChatContext.tokens(spec.name + " " + spec.description + " " + spec.parameters.jsonText)
    }
}
