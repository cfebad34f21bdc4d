import Foundation
import HearthCore
import Hummingbird
import Logging
import MCP
import NIOCore

/// What Hearth's MCP server reads and changes: the same stores the API and the dashboard use,
/// as hooks, so the stdio server (`hearth mcp serve`) and `/mcp` on the daemon answer alike.
///
/// Answering approvals is not here on purpose: that stays with humans.
public struct HearthMCPHooks: Sendable {
    /// Hybrid (or full-text) search: `[{id, text, kind, source, when, provenance, why}]`.
    public var search: @Sendable (_ query: String, _ k: Int) async throws -> JSONValue
    /// Stores a note from another tool (untrusted: facts in it wait for the user's confirmation).
    public var remember: @Sendable (_ text: String) async throws -> JSONValue
    /// The profile's lines (preferences and standing rules).
    public var profile: @Sendable () async throws -> [String]
    /// Creates a goal for the daemon to run: `{id, state, daemon}`.
    public var startGoal: @Sendable (_ goal: String) async throws -> JSONValue
    /// A goal's state, tasks and report path; nil for an unknown id.
    public var goalStatus: @Sendable (_ id: Int64) async throws -> JSONValue?
    /// The approvals waiting for a human.
    public var approvals: @Sendable () async throws -> JSONValue
    /// The latest brief, nil when none was written.
    public var latestBrief: @Sendable () async throws -> JSONValue?
    /// Goal reports: `(run, title, path)`, newest first.
    public var reports: @Sendable () async throws -> [(run: Int64, title: String, path: String)]
    /// A workspace file's text (a report, a brief); nil when it cannot be read.
    public var readFile: @Sendable (_ path: String) async throws -> String?

    public init(
        search: @escaping @Sendable (String, Int) async throws -> JSONValue,
        remember: @escaping @Sendable (String) async throws -> JSONValue,
        profile: @escaping @Sendable () async throws -> [String], startGoal: @escaping @Sendable (String) async throws -> JSONValue,
        goalStatus: @escaping @Sendable (Int64) async throws -> JSONValue?, approvals: @escaping @Sendable () async throws -> JSONValue,
        latestBrief: @escaping @Sendable () async throws -> JSONValue?,
        reports: @escaping @Sendable () async throws -> [(run: Int64, title: String, path: String)],
        readFile: @escaping @Sendable (String) async throws -> String?
    ) {
        self.search = search
        self.remember = remember
        self.profile = profile
        self.startGoal = startGoal
        self.goalStatus = goalStatus
        self.approvals = approvals
        self.latestBrief = latestBrief
        self.reports = reports
        self.readFile = readFile
    }
}

/// Hearth as an MCP server: what it remembers and what it is doing, for the user's other tools.
public enum HearthMCPServer {
    /// The tools, their schemas, and whether each only reads.
    static let tools: [MCP.Tool] = [
        tool(
            "memory_search", "Search what Hearth remembers (conversations, events, briefs, reports, notes); each hit says why it matched.",
            ["query": ["type": "string", "minLength": 1], "k": ["type": "integer", "minimum": 1, "maximum": 50]], required: ["query"],
            readOnly: true),
        tool(
            "memory_remember",
            "Store a note in Hearth's memory. Notes from other tools are kept as untrusted: facts in them wait for the user's confirmation.",
            ["text": ["type": "string", "minLength": 1, "maxLength": 8000]], required: ["text"], readOnly: false),
        tool("memory_profile", "The user's preferences and standing rules, one per line.", [:], required: [], readOnly: true),
        tool(
            "goal_start",
            "Hand Hearth a goal: it is planned, run with its tools under its policy (risky steps wait for the user's approval) and reported.",
            ["goal": ["type": "string", "minLength": 8, "maxLength": 2000]], required: ["goal"], readOnly: false),
        tool(
            "goal_status", "A goal's state, its tasks and its report.", ["id": ["type": "integer", "minimum": 1]], required: ["id"],
            readOnly: true),
        tool(
            "approvals_list", "Actions waiting for the user's approval (answering them stays with the user).", [:], required: [],
            readOnly: true),
        tool("brief_latest", "The latest brief: what arrived, what matters, what waits.", [:], required: [], readOnly: true),
    ]

    static func tool(_ name: String, _ description: String, _ properties: [String: JSONValue], required: [String], readOnly: Bool)
        -> MCP.Tool
    {
        let schema: JSONValue = [
            "type": "object", "properties": .object(properties), "required": .array(required.map(JSONValue.string)),
            "additionalProperties": false,
        ]
        return MCP.Tool(
            name: name, description: description, inputSchema: MCPValues.value(schema),
            annotations: .init(readOnlyHint: readOnly, destructiveHint: false, openWorldHint: false))
    }

    /// A server with every handler registered. One per connection: an MCP server answers one
    /// client's `initialize`.
    public static func make(_ hooks: HearthMCPHooks) async -> Server {
        let server = Server(
            name: "hearth", version: HearthVersion.current,
            instructions:
                "Hearth is the user's local agent daemon. Search its memory before asking the user something they may have told it; hand it longer work as a goal.",
            capabilities: .init(resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: tools) }
        await server.withMethodHandler(CallTool.self) { params in
            do {
                let result = try await call(params.name, arguments: MCPValues.json(.object(params.arguments ?? [:])), hooks: hooks)
                return CallTool.Result(content: [.text(text: result.jsonText, annotations: nil, _meta: nil)], isError: false)
            } catch let error as ToolCallError {
                return CallTool.Result(content: [.text(text: error.message, annotations: nil, _meta: nil)], isError: true)
            }
        }
        await server.withMethodHandler(ListResources.self) { _ in
            var resources = [
                Resource(
                    name: "profile", uri: "hearth://profile", description: "The user's preferences and standing rules",
                    mimeType: "text/plain"),
                Resource(name: "latest brief", uri: "hearth://brief/latest", description: "The latest brief", mimeType: "text/markdown"),
            ]
            for report in try await hooks.reports().prefix(50) {
                resources.append(
                    Resource(
                        name: "report of run \(report.run)", uri: "hearth://reports/\(report.run)", description: report.title,
                        mimeType: "text/markdown"))
            }
            return ListResources.Result(resources: resources)
        }
        await server.withMethodHandler(ReadResource.self) { params in
            ReadResource.Result(contents: [try await read(params.uri, hooks: hooks)])
        }
        return server
    }

    /// A tool's error the caller can act on (an unknown goal, a missing argument).
    struct ToolCallError: Error {
        let message: String
    }

    static func call(_ name: String, arguments: JSONValue, hooks: HearthMCPHooks) async throws -> JSONValue {
        func text(_ key: String) throws -> String {
            guard let value = arguments[key]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                throw ToolCallError(message: "\(name) needs \"\(key)\" (a non-empty string)")
            }
            return value
        }
        switch name {
        case "memory_search":
            let k = arguments["k"]?.intValue ?? 10
            guard (1...50).contains(k) else { throw ToolCallError(message: "k must be between 1 and 50") }
            return try await hooks.search(try text("query"), k)
        case "memory_remember": return try await hooks.remember(try text("text"))
        case "memory_profile": return .array(try await hooks.profile().map(JSONValue.string))
        case "goal_start":
            let goal = try text("goal")
            guard goal.count >= 8 else { throw ToolCallError(message: "say what the goal is in a sentence (8 characters or more)") }
            return try await hooks.startGoal(goal)
        case "goal_status":
            guard let id = arguments["id"]?.intValue, id > 0 else { throw ToolCallError(message: "goal_status needs \"id\", a run id") }
            guard let status = try await hooks.goalStatus(Int64(id)) else {
                throw ToolCallError(message: "there is no goal \(id); goal_start returns the id of a new one")
            }
            return status
        case "approvals_list": return try await hooks.approvals()
        case "brief_latest": return try await hooks.latestBrief() ?? ["brief": .null, "note": "no brief has been written yet"]
        default: throw ToolCallError(message: "unknown tool \"\(name)\"; the tools are \(tools.map { $0.name }.joined(separator: ", "))")
        }
    }

    static func read(_ uri: String, hooks: HearthMCPHooks) async throws -> Resource.Content {
        switch uri {
        case "hearth://profile":
            let lines = try await hooks.profile()
            return .text(
                lines.isEmpty ? "(no preferences or standing rules yet)" : lines.joined(separator: "\n"), uri: uri, mimeType: "text/plain")
        case "hearth://brief/latest":
            guard let brief = try await hooks.latestBrief() else { return .text("(no brief yet)", uri: uri, mimeType: "text/markdown") }
            if let path = brief["path"]?.stringValue, let text = try await hooks.readFile(path) {
                return .text(text, uri: uri, mimeType: "text/markdown")
            }
            return .text(brief.jsonText, uri: uri, mimeType: "application/json")
        default:
            if uri.hasPrefix("hearth://reports/"), let run = Int64(uri.dropFirst("hearth://reports/".count)),
                let report = try await hooks.reports().first(where: { $0.run == run }), let text = try await hooks.readFile(report.path)
            {
                return .text(text, uri: uri, mimeType: "text/markdown")
            }
            throw MCPError.invalidParams("no resource \(uri); resources/list names them")
        }
    }

    // MARK: Transports

    /// Serves one client over stdin and stdout until it closes its end; the requests read before
    /// that are answered before this returns.
    public static func serveStdio(_ hooks: HearthMCPHooks) async throws {
        let server = await make(hooks)
        let transport = MCPLineTransport(maxLine: maxMessage, answersOversized: true)
        try await server.start(transport: transport)
        await server.waitUntilCompleted()
        // The input ended; requests read before it are still answered (each runs in a task of its own).
        await transport.answered(within: .seconds(300))
    }

    /// The largest message `/mcp` and the stdio transport read.
    public static let maxMessage = 4 << 20

    /// Adds `/mcp` (streamable HTTP, stateless: each request gets its own server, so any number of
    /// clients may call at once) to `router`, behind the bearer token `token`.
    public static func register(on router: Router<BasicRequestContext>, hooks: HearthMCPHooks, token: String, logger: Logger) {
        @Sendable func answer(_ request: Request) async throws -> Response {
            guard Self.authorised(request.headers[.authorization], token: token) else {
                return Response(
                    status: .unauthorized, headers: [.wwwAuthenticate: "Bearer", .contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":"a bearer token is required (the daemon's API token)"}"#)))
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxMessage)
            } catch {
                // Too large to read: a JSON-RPC error (no id can be known), and the server goes on.
                return Response(
                    status: .contentTooLarge, headers: [.contentType: "application/json"],
                    body: .init(
                        byteBuffer: ByteBuffer(
                            string:
                                #"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"the message is larger than \#(maxMessage >> 20) MiB"}}"#
                        )))
            }
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let incoming = MCP.HTTPRequest(
                method: request.method.rawValue, headers: headers, body: Data(body.readableBytesView), path: request.uri.path)
            let transport = StatelessHTTPServerTransport(logger: logger)
            let server = await make(hooks)
            try await server.start(transport: transport)
            let answered = await transport.handleRequest(incoming)
            await server.stop()
            var fields = HTTPFields()
            for (name, value) in answered.headers {
                if let field = HTTPFields.Element.Name(name) { fields[field] = value }
            }
            let bytes = answered.bodyData.map { ByteBuffer(bytes: $0) } ?? ByteBuffer()
            return Response(status: .init(code: answered.statusCode), headers: fields, body: .init(byteBuffer: bytes))
        }
        router.post("/mcp") { request, _ in try await answer(request) }
        router.get("/mcp") { request, _ in try await answer(request) }
        router.delete("/mcp") { request, _ in try await answer(request) }
    }

    /// Constant-time comparison of a `Bearer` header with the token.
    static func authorised(_ header: String?, token: String) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.dropFirst(7).utf8)
        let expected = Array(token.utf8)
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

}
