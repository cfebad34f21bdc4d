import ArgumentParser
import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthDaemon
import HearthMCP
import HearthMemory
import HearthStore
import HearthTools
import HearthVault

struct ToolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tool",
        abstract: "List the agent's tools (built-in and those of [[mcp.servers]]), or run one by hand to see what the agent would see.",
        subcommands: [ToolListCommand.self, ToolRunCommand.self])
}

struct ToolListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the tools with their risk class, idempotency and argument schema.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON: [{name, description, risk, idempotent, parameters}].")
    var json = false

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        let tools = try await context.withTools(stores: stores, memory: MemoryEngine(store: stores.memory, embedder: nil)) {
            $0.all
        }
        if json {
            printJSON(
                .array(
                    tools.map { tool in
                        [
                            "name": .string(tool.name), "description": .string(tool.spec.description), "risk": .string(tool.risk.rawValue),
                            "idempotent": .bool(tool.idempotent), "parameters": tool.spec.parameters,
                        ]
                    }))
            return
        }
        let width = tools.map(\.name.count).max() ?? 0
        for tool in tools {
            let name = tool.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let risk = tool.risk.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
            print("\(name)  \(risk) \(tool.spec.description)")
        }
    }
}

struct ToolRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one tool on the workspace with JSON arguments.",
        discussion: """
            Example: hearth tool run read_file --args '{"path": "Policy.md"}'. Paths are confined to the \
            workspace (--workspace, default ~/HearthWorkspace): a path outside it is refused. --args takes \
            inline JSON, @file or @- (stdin).
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "The tool's name (see 'hearth tool list').")
    var name: String

    @Option(help: ArgumentHelp("The arguments as a JSON object.", valueName: "json"))
    var args: String = "{}"

    @Flag(help: "Print JSON: {tool, text, data, untrusted}.")
    var json = false

    func run() async throws {
        let context = try common.load()
        let arguments = try readJSONArgument(args, option: "--args")
        guard case .object = arguments else { throw CLIError.usage("--args must be a JSON object, e.g. '{\"path\": \"notes.md\"}'") }
        let workspace = context.paths.workspace
        guard FileManager.default.fileExists(atPath: workspace.path) else {
            throw CLIError("the workspace \(workspace.path) does not exist; create it (or run 'hearth init'), or pass --workspace")
        }
        let toolContext = ToolContext(
            workspace: workspace, idempotencyKey: "cli-\(UUID().uuidString.prefix(8))", mounts: context.paths.mounts)
        // Memory tools search full text here (no model server is started for one tool call).
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        let memory = MemoryEngine(store: stores.memory, embedder: nil)
        try await memory.open()
        let output = try await context.withTools(stores: stores, memory: memory) { tools in
            try await tools.invoke(name, arguments: arguments, context: toolContext)
        }
        if json {
            printJSON(["tool": .string(name), "text": .string(output.text), "data": output.data, "untrusted": .bool(output.untrusted)])
        } else {
            print(output.text)
        }
    }
}

extension HearthContext {
    /// Every tool a goal may use here (the built-in ones, the compliance review's and those of
    /// `[[mcp.servers]]`), for the length of `body`: the servers' programs stop after it.
    func withTools<T>(stores: SharedStores, memory: MemoryEngine, _ body: (ToolBox) async throws -> T) async throws -> T {
        let external = paths.mcpToolSource(configuration)
        let tools = paths.goalTools(
            configuration: configuration, memory: memory, journal: stores.journal, goals: stores.goals,
            external: await external?.tools() ?? [])
        do {
            let result = try await body(tools)
            await external?.shutdown()
            return result
        } catch {
            await external?.shutdown()
            throw error
        }
    }
}
