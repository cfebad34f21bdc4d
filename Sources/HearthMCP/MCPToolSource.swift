import Foundation
import HearthCore
import Logging
import MCP

/// The external MCP servers of `[[mcp.servers]]` and their tools, as Hearth tools. A server is
/// started (or reached) when its tools are first listed and kept while it is used; one that
/// hangs is stopped at its timeout, one that crashes is started again on the next call, and
/// neither stops the other servers' tools. A tool whose input schema is not a JSON Schema object
/// is left out, with the reason in `skipped`.
public actor MCPToolSource {
    public struct Skipped: Sendable, Equatable {
        public var server: String
        public var tool: String?
        public var reason: String
    }

    let launches: [MCPServerLaunch]
    let logger: Logger
    /// A server unused this long is stopped (its transport polls its pipe while it runs); the
    /// next call starts it again.
    let idleTimeout: Duration
    private var connections: [String: MCPConnection] = [:]
    private var lastUse: [String: ContinuousClock.Instant] = [:]
    private var discovered: [any HearthCore.Tool]?
    public private(set) var skipped: [Skipped] = []

    public init(_ launches: [MCPServerLaunch], logger: Logger = Logger(label: "hearth.mcp"), idleTimeout: Duration = .seconds(120)) {
        self.launches = launches
        self.logger = logger
        self.idleTimeout = idleTimeout
    }

    /// Every usable tool of every server (listed once; a server that could not be listed is
    /// tried again at the next `tools()` after a failure).
    public func tools() async -> [any HearthCore.Tool] {
        if let discovered { return discovered }
        var tools: [any HearthCore.Tool] = []
        var skipped: [Skipped] = []
        var complete = true
        for launch in launches {
            do {
                let listed = try await connection(launch).listTools()
                for tool in listed {
                    let problems = MCPSchemaCheck.problems(in: tool.inputSchema)
                    guard problems.isEmpty else {
                        skipped.append(
                            Skipped(
                                server: launch.name, tool: tool.name,
                                reason: "its input schema is not usable: \(problems.joined(separator: "; "))"))
                        logger.warning("MCP server \"\(launch.name)\": tool \(tool.name) left out: \(problems.joined(separator: "; "))")
                        continue
                    }
                    tools.append(MCPTool(server: launch, remote: tool, source: self))
                }
            } catch {
                complete = false
                skipped.append(Skipped(server: launch.name, tool: nil, reason: "\(error)"))
                logger.warning("\(error)")
            }
        }
        self.skipped = skipped
        if complete { discovered = tools }
        return tools
    }

    /// Calls one tool, starting its server when it is not running.
    func call(_ launch: MCPServerLaunch, tool: String, arguments: JSONValue) async throws(MCPClientError) -> (
        content: [MCP.Tool.Content], isError: Bool
    ) {
        let connection = try await connection(launch)
        do {
            return try await connection.call(tool, arguments: arguments)
        } catch {
            // A server that hung or died is started afresh next time.
            connections[launch.name] = nil
            await connection.close()
            throw error
        }
    }

    private func connection(_ launch: MCPServerLaunch) async throws(MCPClientError) -> MCPConnection {
        let used = ContinuousClock.now
        lastUse[launch.name] = used
        // (Never before a call still running could have timed out.)
        Task { [idleTimeout] in
            try? await Task.sleep(for: max(idleTimeout, launch.timeout + .seconds(5)))
            await self.closeIfIdle(launch.name, since: used)
        }
        if let existing = connections[launch.name], await existing.isAlive { return existing }
        if let stale = connections.removeValue(forKey: launch.name) { await stale.close() }
        let connection = MCPConnection(launch: launch)
        try await connection.open()
        connections[launch.name] = connection
        return connection
    }

    private func closeIfIdle(_ name: String, since used: ContinuousClock.Instant) async {
        guard lastUse[name] == used, let connection = connections.removeValue(forKey: name) else { return }
        await connection.close()
    }

    /// Stops every server program and closes every connection.
    public func shutdown() async {
        for connection in connections.values { await connection.close() }
        connections = [:]
    }
}

/// One live session with one server.
actor MCPConnection {
    let launch: MCPServerLaunch
    private var process: MCPServerProcess?
    private var client: Client?

    init(launch: MCPServerLaunch) { self.launch = launch }

    var isAlive: Bool { client != nil && (process?.isRunning ?? true) }

    /// Starting a program (an interpreter loading its packages) may take longer than a call.
    var startTimeout: Duration { max(launch.timeout, .seconds(30)) }

    func open() async throws(MCPClientError) {
        let transport: any Transport
        if let url = launch.url {
            do {
                transport = try MCPHTTPTransport(
                    endpoint: url, headers: launch.headers, broker: launch.broker, caller: "mcp \(launch.name)")
            } catch {
                throw .unusable(server: launch.name, reason: (error as? MCPError)?.localizedDescription ?? "\(error)")
            }
        } else {
            let process = try await MCPServerProcess(launch: launch)
            self.process = process
            transport = MCPLineTransport(
                input: process.output.fileDescriptor, output: process.input.fileDescriptor, maxLine: MCPHTTPTransport.maxResponse,
                answersOversized: false)
        }
        let client = Client(name: "hearth", version: HearthVersion.current)
        self.client = client
        do {
            try await within("starting", timeout: startTimeout) { _ = try await client.connect(transport: transport) }
        } catch {
            await close()
            throw error
        }
    }

    func listTools() async throws(MCPClientError) -> [MCP.Tool] {
        guard let client else { throw .unusable(server: launch.name, reason: "not connected") }
        return try await within("listing its tools", timeout: startTimeout) {
            var tools: [MCP.Tool] = []
            var cursor: String?
            repeat {
                let page = try await client.listTools(cursor: cursor)
                tools += page.tools
                cursor = page.nextCursor
            } while cursor != nil && tools.count < 1_000
            return tools
        }
    }

    func call(_ tool: String, arguments: JSONValue) async throws(MCPClientError) -> (content: [MCP.Tool.Content], isError: Bool) {
        guard let client else { throw .unusable(server: launch.name, reason: "not connected") }
        let values = MCPValues.object(arguments)
        return try await within("running \(tool)") {
            let result = try await client.callTool(name: tool, arguments: values)
            return (result.content, result.isError ?? false)
        }
    }

    /// Runs `work` against the server's timeout, and fails at once when the server program dies.
    /// A call that hangs is abandoned (its task cancelled), never waited for.
    private func within<T: Sendable>(_ doing: String, timeout: Duration? = nil, _ work: @escaping @Sendable () async throws -> T)
        async throws(MCPClientError) -> T
    {
        let launch = launch
        let timeout = timeout ?? launch.timeout
        let process = process
        let outcome = Race<T>()
        let worker = Task {
            do { outcome.finish(.success(try await work())) } catch { outcome.finish(.failure(error)) }
        }
        let watchdog = Task {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline && !outcome.isFinished {
                try? await Task.sleep(for: .milliseconds(50))
                if let process, !process.isRunning {
                    try? await Task.sleep(for: .milliseconds(100))  // its last words on stderr
                    outcome.finish(.failure(Self.exited(process, launch: launch, doing: doing)))
                }
            }
            outcome.finish(.failure(MCPClientError.timedOut(server: launch.name, seconds: Int(timeout.components.seconds))))
        }
        let result = await outcome.value()
        worker.cancel()
        watchdog.cancel()
        switch result {
        case .success(let value): return value
        case .failure(let error as MCPClientError): throw error
        case .failure(let error):
            // A write to a program that already ended fails first: say that it ended, and why.
            if let process, await process.hasExited(within: .seconds(1)) { throw Self.exited(process, launch: launch, doing: doing) }
            if let error = error as? MCPError { throw .unusable(server: launch.name, reason: "\(doing): \(error.localizedDescription)") }
            throw .unusable(server: launch.name, reason: "\(doing): \(error)")
        }
    }

    private static func exited(_ process: MCPServerProcess, launch: MCPServerLaunch, doing: String) -> MCPClientError {
        let said = process.stderrText
        return .unusable(server: launch.name, reason: "the program exited while \(doing)" + (said.isEmpty ? "" : ": \(said)"))
    }

    /// Stops the program, then ends the session; the pipes are closed later (`closePipes`).
    func close() async {
        let client = client
        self.client = nil
        let process = process
        self.process = nil
        // The program goes first: its pipe then ends, and the transport's reading with it.
        await process?.stop()
        if let client { await client.disconnect() }
        process?.closePipes()
    }
}

/// Hearth's JSON values and the SDK's, through their common JSON text (for Hearth as a server
/// and as a client).
enum MCPValues {
    static func value(_ json: JSONValue) -> Value {
        (try? JSONDecoder().decode(Value.self, from: Data(json.jsonText.utf8))) ?? .null
    }

    /// Tool-call arguments: the members of a JSON object (none for anything else).
    static func object(_ json: JSONValue) -> [String: Value] {
        guard case .object(let members) = value(json) else { return [:] }
        return members
    }

    static func json(_ value: Value) -> JSONValue {
        guard let data = try? JSONEncoder().encode(value), let parsed = try? JSONValue(parsing: String(decoding: data, as: UTF8.self))
        else { return .null }
        return parsed
    }
}

/// Whether a server's input schema is one Hearth can offer to a model and check arguments
/// against: an object schema whose properties are schemas, whose `required` names strings.
enum MCPSchemaCheck {
    static let types: Set<String> = ["object", "array", "string", "number", "integer", "boolean", "null"]

    static func problems(in value: Value) -> [String] {
        problems(in: MCPValues.json(value), at: "$", root: true)
    }

    static func problems(in schema: JSONValue, at path: String, root: Bool = false) -> [String] {
        if !root, case .bool = schema { return [] }  // true and false are schemas too
        guard case .object(let members) = schema else { return ["\(path) is not a JSON Schema (an object)"] }
        var problems: [String] = []
        switch members["type"] {
        case nil: break
        case .string(let type)?:
            if !types.contains(type) { problems.append("\(path).type \"\(type)\" is not a JSON Schema type") }
            if root && type != "object" { problems.append("\(path).type must be \"object\" for tool arguments") }
        case .array(let list)?:
            if list.contains(where: { $0.stringValue.map { !types.contains($0) } ?? true }) {
                problems.append("\(path).type lists something that is not a JSON Schema type")
            }
        default: problems.append("\(path).type must be a string or a list of strings")
        }
        if let properties = members["properties"] {
            guard case .object(let fields) = properties else { return problems + ["\(path).properties is not an object"] }
            for (name, field) in fields.sorted(by: { $0.key < $1.key }) {
                problems += Self.problems(in: field, at: "\(path).properties.\(name)")
            }
        }
        if let required = members["required"], required.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
            problems.append("\(path).required must be a list of property names")
        }
        if let items = members["items"], case .object = items {
            problems += Self.problems(in: items, at: "\(path).items")
        }
        return problems
    }
}
