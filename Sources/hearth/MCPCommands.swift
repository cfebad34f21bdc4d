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
        subcommands: [MCPServeCommand.self])
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
        let database = try context.openForWriting()
        let memory = MemoryEngine(store: MemorySQLStore(database: database), embedder: nil)
        try await memory.open()
        let hooks = MCPWiring.hooks(database: database, memory: memory, workspace: context.paths.workspace) {
            await context.nudgeDaemon(["goals"])
        }
        try await HearthMCPServer.serveStdio(hooks)
    }
}
