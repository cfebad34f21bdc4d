import AsyncHTTPClient
import Foundation
import Glibc
import HearthBench
import HearthCore
import HearthModels
import HearthServer
import HearthTesting
import HearthVault
import Logging
import MCP
import NIOCore
import Synchronization
import Testing

@testable import HearthMCP

/// Hearth as an MCP client: a small server written with the official Python SDK
/// (`MCP/fixture_server.py`) offers tools; Hearth starts it confined, lists its tools and calls
/// them, and survives it hanging, crashing and offering a schema that is no schema.
@Suite(
    "Other programs' tools through MCP", .timeLimit(.minutes(3)),
    .enabled(if: Preconditions.run(if: MCPClientTools.python != nil)))
struct MCPClientTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "MCP/fixture_server.py")

    /// The directories the confined fixture must read: the virtual environment, the Python it
    /// was made from (under /usr on Debian, elsewhere with pyenv) and the script's folder.
    static let readable: [URL] = {
        let python = URL(fileURLWithPath: MCPClientTools.python!)
        let probe = Process()
        let output = Pipe()
        probe.executableURL = python
        probe.arguments = ["-c", "import sys; print(sys.base_prefix)"]
        probe.standardOutput = output
        try? probe.run()
        probe.waitUntilExit()
        let base = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return [python.deletingLastPathComponent().deletingLastPathComponent(), fixture.deletingLastPathComponent()]
            + (base.isEmpty ? [] : [URL(fileURLWithPath: base)])
    }()

    /// Whether something accepts TCP connections on the loopback port.
    static func listening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func launch(workspace: URL, timeout: Duration = .seconds(20)) -> MCPServerLaunch {
        try? FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        return MCPServerLaunch(
            name: "fixture", command: [MCPClientTools.python!, fixture.path], read: readable, timeout: timeout, workspace: workspace)
    }

    func call(_ tools: [any HearthCore.Tool], _ name: String, _ arguments: JSONValue, workspace: URL) async throws -> ToolOutput {
        try await ToolBox(tools).invoke(name, arguments: arguments, context: ToolContext(workspace: workspace, idempotencyKey: "test"))
    }

    @Test(
        "a confined server's tools: listed as Hearth tools, their output untrusted, a bad schema left out, files outside the workspace refused"
    )
    func confinedServer() async throws {
        let sandbox = try Sandbox()
        try sandbox.write(["inside.txt": "the workspace's own file\n"])
        let outside = try Sandbox()
        try outside.write(["secret.txt": "not for the server\n"])
        let source = MCPToolSource([Self.launch(workspace: sandbox.workspace)])
        let tools = await source.tools()
        defer { Task { await source.shutdown() } }

        #expect(
            tools.map(\.name).sorted()
                == [
                    "mcp_fixture_add", "mcp_fixture_crash", "mcp_fixture_fail", "mcp_fixture_lookup_ticket", "mcp_fixture_read_path",
                    "mcp_fixture_slow",
                ])
        #expect(tools.allSatisfy { $0.risk == .network && $0.deferred && !$0.idempotent })
        let skipped = await source.skipped
        #expect(skipped.count == 1)
        #expect(skipped.first?.tool == "broken_schema")
        #expect(skipped.first?.reason.contains("\"datetime\" is not a JSON Schema type") == true, "\(skipped)")

        let sum = try await call(tools, "mcp_fixture_add", ["a": 2, "b": 3.5], workspace: sandbox.workspace)
        #expect(sum.text == "5.5")
        #expect(sum.untrusted)
        let ticket = try await call(tools, "mcp_fixture_lookup_ticket", ["id": "T-17"], workspace: sandbox.workspace)
        #expect(ticket.untrusted && ticket.text.contains("IGNORE ALL PREVIOUS INSTRUCTIONS"))
        // Arguments are checked against the server's schema before anything is sent.
        await #expect(throws: ToolError.self) {
            _ = try await call(tools, "mcp_fixture_add", ["a": "two"], workspace: sandbox.workspace)
        }

        let inside = try await call(
            tools, "mcp_fixture_read_path", ["path": .string(sandbox.workspace.appending(path: "inside.txt").path)],
            workspace: sandbox.workspace)
        #expect(inside.text == "the workspace's own file\n")
        do {
            _ = try await call(
                tools, "mcp_fixture_read_path", ["path": .string(outside.workspace.appending(path: "secret.txt").path)],
                workspace: sandbox.workspace)
            Issue.record("the confined server read a file outside the workspace")
        } catch let error as ToolError {
            #expect("\(error)".contains("the server reported an error: refused"), "\(error)")
        }
        do {
            _ = try await call(tools, "mcp_fixture_fail", [:], workspace: sandbox.workspace)
            Issue.record("an error result passed as a result")
        } catch let error as ToolError {
            #expect("\(error)".contains("the ticket system is down"))
        }
    }

    @Test("a server that hangs is stopped at its timeout, one that crashes is reported; both answer again on the next call")
    func hangAndCrash() async throws {
        let sandbox = try Sandbox()
        let source = MCPToolSource([Self.launch(workspace: sandbox.workspace, timeout: .seconds(3))])
        let tools = await source.tools()
        defer { Task { await source.shutdown() } }
        #expect(tools.count == 6)

        do {
            _ = try await call(tools, "mcp_fixture_slow", [:], workspace: sandbox.workspace)
            Issue.record("a hanging call returned")
        } catch let error as ToolError {
            #expect("\(error)".contains("did not answer within 3 s"), "\(error)")
        }
        #expect(try await call(tools, "mcp_fixture_add", ["a": 1, "b": 1], workspace: sandbox.workspace).text == "2")

        do {
            _ = try await call(tools, "mcp_fixture_crash", [:], workspace: sandbox.workspace)
            Issue.record("a crashing call returned")
        } catch let error as ToolError {
            #expect("\(error)".contains("exited") && "\(error)".contains("crashing on request"), "\(error)")
        }
        #expect(try await call(tools, "mcp_fixture_add", ["a": 2, "b": 2], workspace: sandbox.workspace).text == "4")
    }

    @Test("a server reached over streamable HTTP (answers as server-sent events)")
    func httpServer() async throws {
        let sandbox = try Sandbox()
        let port = try LlamaServerSupervisor.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: MCPClientTools.python!)
        server.arguments = [Self.fixture.path, "http", "\(port)"]
        server.standardError = FileHandle.nullDevice
        // (Its output must not hold the test runner's: a server left behind would keep it open.)
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL) }
        let url = URL(string: "http://127.0.0.1:\(port)/mcp")!
        try await waitUntil("the fixture listens", seconds: 30) { Self.listening(port) }
        try FileManager.default.createDirectory(at: sandbox.workspace, withIntermediateDirectories: true)
        let source = MCPToolSource([MCPServerLaunch(name: "web", url: url, timeout: .seconds(10), workspace: sandbox.workspace)])
        let tools = await source.tools()
        defer { Task { await source.shutdown() } }
        let skipped = await source.skipped
        #expect(tools.count == 6, "\(skipped)")
        #expect(try await call(tools, "mcp_web_add", ["a": 20, "b": 22], workspace: sandbox.workspace).text == "42")
        #expect(try await call(tools, "mcp_web_lookup_ticket", ["id": "T-1"], workspace: sandbox.workspace).untrusted)
    }

    @Test("a server behind a bearer token kept in the vault: the broker puts the token in, Hearth never holds it")
    func bearerThroughVault() async throws {
        let sandbox = try Sandbox()
        let port = try LlamaServerSupervisor.freePort()
        let token = "mcp_\(String(UInt64.random(in: 1...UInt64.max), radix: 36))"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: MCPClientTools.python!)
        server.arguments = [Self.fixture.path, "http", "\(port)", token]
        server.standardError = FileHandle.nullDevice
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL) }
        let url = "http://127.0.0.1:\(port)/mcp"
        try sandbox.prepareDaemon(
            extraConfig: """
                [vault]
                key_file = "\(sandbox.home.appending(path: "keys/vault.key").path)"
                [[mcp.servers]]
                name = "web"
                url = "\(url)"
                headers = { Authorization = "Bearer {{secret:web-token}}" }
                [[mcp.servers]]
                name = "bare"
                url = "\(url)"

                """)
        // Before the vault exists: a clear error naming what to add.
        let early = try await sandbox.hearth(["mcp", "tools", "--json"])
        let earlyReport = try JSONValue(parsing: early.stdout)
        let noVault = earlyReport["skipped"]?.arrayValue?.first { $0["server"] == "web" }?["reason"]?.stringValue ?? ""
        #expect(noVault.contains("no vault") && noVault.contains("hearth vault add web-token"), "\(early.stdout) \(early.stderr)")

        let added = try await sandbox.hearth(
            ["vault", "add", "web-token", "--host", "127.0.0.1:\(port)", "--method", "POST", "--method", "DELETE"],
            input: Data((token + "\n").utf8))
        #expect(added.status == 0, "\(added.stderr)")
        let daemon = try await sandbox.startDaemon()
        try await waitUntil("the daemon's broker listens", seconds: 30) {
            VaultClient(socket: sandbox.data.appending(path: "runtime/vault.sock")).isListening
        }
        try await waitUntil("the fixture listens", seconds: 30) { Self.listening(port) }

        let listed = try await sandbox.hearth(["mcp", "tools", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let report = try JSONValue(parsing: listed.stdout)
        let names = report["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.contains("mcp_web_add") && !names.contains { $0.hasPrefix("mcp_bare_") }, "\(listed.stdout)")
        // The same server without the token is refused by it, and says so.
        let refused = report["skipped"]?.arrayValue?.first { $0["server"] == "bare" }?["reason"]?.stringValue ?? ""
        #expect(refused.contains("HTTP 401"), "\(listed.stdout)")

        let sum = try await sandbox.hearth(["tool", "run", "mcp_web_add", "--args", "{\"a\": 20, \"b\": 22}"])
        #expect(sum.status == 0 && sum.stdout.contains("42"), "\(sum.stdout) \(sum.stderr)")
        for output in [early, listed, sum] { #expect(!(output.stdout + output.stderr).contains(token)) }
        #expect(try !String(contentsOf: sandbox.data.appending(path: "config.toml"), encoding: .utf8).contains(token))
        try await daemon.stop()
    }

    @Test(
        "a server program that ends leaves its client waiting for the session to close: the ended stream is not read again and again"
    )
    func endedProgramIsQuiet() async throws {
        let sandbox = try Sandbox()
        let process = try await MCPServerProcess(launch: Self.launch(workspace: sandbox.workspace))
        defer { process.closePipes(after: .zero) }
        let transport = CountingTransport(
            MCPLineTransport(
                input: process.output.fileDescriptor, output: process.input.fileDescriptor, maxLine: 1 << 20, answersOversized: false))
        let client = Client(name: "test", version: "1")
        _ = try await withTimeout(60, "the session") { try await client.connect(transport: transport) }
        // The program ends before it answers; the call waits until the session closes.
        let call = Task { try await client.callTool(name: "crash") }
        try await waitUntil("the client to ask for messages again once the program ended", seconds: 60) { await transport.receives >= 2 }
        // The SDK's loop asks again whenever the stream it reads ends: handed an ended stream, it
        // asked thousands of times a second, holding the client's actor and a thread.
        try await Task.sleep(for: .milliseconds(200))
        let receives = await transport.receives
        #expect(receives == 2, "the client asked for messages \(receives) times")
        try await withTimeout(30, "the session to close") { await client.disconnect() }
        await #expect(throws: (any Error).self) { try await call.value }
        await process.stop()
    }

    @Test("a server that cannot start is reported with its reason, and the other servers' tools still work")
    func unusableServer() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.workspace, withIntermediateDirectories: true)
        let source = MCPToolSource([
            MCPServerLaunch(name: "missing", command: ["/nonexistent/server"], workspace: sandbox.workspace),
            Self.launch(workspace: sandbox.workspace),
        ])
        let tools = await source.tools()
        defer { Task { await source.shutdown() } }
        #expect(tools.count == 6)
        let skipped = await source.skipped.filter { $0.server == "missing" }
        #expect(skipped.count == 1 && skipped.first?.tool == nil, "\(skipped)")
        #expect(try await call(tools, "mcp_fixture_add", ["a": 1, "b": 2], workspace: sandbox.workspace).text == "3")
    }
}

/// A transport that counts how often its messages are asked for.
actor CountingTransport: Transport {
    let inner: MCPLineTransport
    private(set) var receives = 0
    nonisolated var logger: Logger { inner.logger }

    init(_ inner: MCPLineTransport) { self.inner = inner }

    func connect() async throws { try await inner.connect() }
    func disconnect() async { await inner.disconnect() }
    func send(_ data: Data) async throws { try await inner.send(data) }
    func receive() -> AsyncThrowingStream<Data, any Error> {
        receives += 1
        return inner.receive()
    }
}

@Suite("MCP over HTTP: what is sent again, how an event stream is read", .timeLimit(.minutes(10)))
struct MCPHTTPTransportTests {
    @Test("a request is sent again only when its connection was closed before anything was written")
    func sentAgain() {
        #expect(MCPHTTPTransport.neverSent(ChannelError.ioOnClosedChannel))
        // The server may have acted on these: they are the caller's to report.
        #expect(!MCPHTTPTransport.neverSent(HTTPClientError.remoteConnectionClosed))
        #expect(!MCPHTTPTransport.neverSent(HTTPClientError.readTimeout))
        #expect(!MCPHTTPTransport.neverSent(ChannelError.eof))
    }

    @Test("stdio lines: split across reads, empty lines left out, a line past the limit skipped as it streams and reported at its end")
    func lines() {
        var splitter = LineSplitter(maxLine: 10)
        #expect(splitter.feed(Array("{\"a\":1}\n\n{\"b\"".utf8)) == [.line(Data("{\"a\":1}".utf8))])
        #expect(splitter.feed(Array(":2}\n".utf8)) == [.line(Data("{\"b\":2}".utf8))])
        // Twenty-five bytes in three reads: never kept, reported once with its length.
        #expect(splitter.feed(Array(String(repeating: "x", count: 8).utf8)).isEmpty)
        #expect(splitter.feed(Array(String(repeating: "y", count: 12).utf8)).isEmpty)
        #expect(splitter.feed(Array("zzzzz\n{}\n".utf8)) == [.skipped(25), .line(Data("{}".utf8))])
        // Exactly the limit is read.
        #expect(splitter.feed(Array("0123456789\n".utf8)) == [.line(Data("0123456789".utf8))])
    }

    @Test(
        "server-sent events: multi-line data joined, comments and other fields ignored, a last event without its blank line kept, CR LF lines"
    )
    func events() {
        let stream = ": keep-alive\nevent: message\ndata: {\"a\":\ndata: 1}\nid: 7\n\ndata:{\"b\":2}\n\n\ndata: {\"c\":3}"
        #expect(MCPHTTPTransport.events(in: stream) == ["{\"a\":\n1}", "{\"b\":2}", "{\"c\":3}"])
        // Lines may end in CR LF (sse-starlette's), which Swift reads as one character.
        #expect(MCPHTTPTransport.events(in: "event: message\r\ndata: {\"d\":4}\r\n\r\n") == ["{\"d\":4}"])
    }
}

/// Requests a scripted model received, as JSON text.
final class RequestLog: Sendable {
    private let bodies = Mutex<[String]>([])
    func append(_ body: JSONValue) { bodies.withLock { $0.append(body.jsonText) } }
    var all: [String] { bodies.withLock { $0 } }
}

@Suite(
    "The daemon's chat and goals use other programs' tools", .timeLimit(.minutes(3)),
    .enabled(if: Preconditions.run(if: MCPClientTools.python != nil)))
struct MCPDaemonTests {
    @Test(
        "chat finds a read-only server's tool with find_tools, its schema loaded only then, its answer fenced as data; a goal's call to a network tool waits for approval, then runs"
    )
    func chatAndGoal() async throws {
        let sandbox = try Sandbox()
        let log = RequestLog()
        let server = ScriptedModelServer { body in
            log.append(body)
            let messages = body["messages"]?.arrayValue ?? []
            let last = messages.last?["content"]?.stringValue ?? ""
            if messages.first?["content"]?.stringValue?.hasPrefix("You are the planner") == true {
                return .chat(
                    ([
                        "tasks": [
                            [
                                "id": "sum", "title": "Add", "instructions": "Add 2 and 3 with the calculator tool.", "dependsOn": [],
                                "expectedOutput": "the sum", "tools": ["mcp_calc_add"],
                            ]
                        ]
                    ] as JSONValue).jsonText)
            }
            if body.jsonText.contains("Add 2 and 3 with the calculator tool.") {
                return last.contains("Result of mcp_calc_add")
                    ? ChatToolTests.choice("final_answer", ["text": "The sum is 5."])
                    : ChatToolTests.choice("mcp_calc_add", ["a": 2, "b": 3])
            }
            if last.contains("Result of mcp_desk_lookup_ticket") {
                return ChatToolTests.choice("final_answer", ["text": "Floor 3's printer jams."])
            }
            if last.contains("Result of find_tools") { return ChatToolTests.choice("mcp_desk_lookup_ticket", ["id": "T-17"]) }
            if last.contains("ticket T-17") { return ChatToolTests.choice("find_tools", ["query": "support ticket"]) }
            return .chat("(unexpected)")
        }
        let url = try await server.start()
        defer { server.stop() }
        let command = "[\"\(MCPClientTools.python!)\", \"\(MCPClientTests.fixture.path)\"]"
        let read = "[" + MCPClientTests.readable.map { "\"\($0.path)\"" }.joined(separator: ", ") + "]"
        try sandbox.prepareDaemon(
            extraConfig: """
                [inference]
                provider = "openai"
                base_url = "\(url)"
                chat_model = "scripted"
                tool_calls = "constrained"
                [chat]
                tools = true
                [[mcp.servers]]
                name = "desk"
                command = \(command)
                read = \(read)
                risk = "read"
                [[mcp.servers]]
                name = "calc"
                command = \(command)
                read = \(read)

                """)
        let daemon = try await sandbox.startDaemon()

        let token = try String(contentsOf: sandbox.data.appending(path: "api-token"), encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        // (Two Python servers start with the daemon: under a loaded CI machine that takes a while.)
        let client = DaemonClient(port: daemon.port, token: token, timeout: .seconds(120))
        let turn = try await client.post("/v1/chat", ["message": "What does ticket T-17 say?"])
        #expect(turn.body["answer"] == "Floor 3's printer jams.", "\(turn.body)")
        let calls = turn.body["calls"]?.arrayValue ?? []
        #expect(calls.map { $0["tool"]?.stringValue ?? "" } == ["find_tools", "mcp_desk_lookup_ticket"], "\(calls)")
        #expect(calls.allSatisfy { $0["ok"] == true })
        let bodies = log.all
        let asked = try #require(bodies.firstIndex { $0.contains("ticket T-17 say") })
        // The full description (its second sentence) reaches the model only after the search.
        #expect(!bodies[asked].contains("Returns the ticket's title and text"))
        #expect(bodies[(asked + 1)...].contains { $0.contains("Returns the ticket's title and text") })
        #expect(bodies.contains { $0.contains("Result of mcp_desk_lookup_ticket:\\n<data>") }, "the ticket's text is fenced as data")

        let goal = try await daemon.client.post("/v1/goals", ["goal": "Add two and three with the calculator"])
        let run = try #require(goal.body["id"]?.intValue, "\(goal.body)")
        var approval: Int?
        for _ in 0..<300 where approval == nil {
            let listed = try await daemon.client.get("/v1/approvals").body.arrayValue ?? []
            approval = listed.first { $0["runID"]?.intValue == run && $0["tool"] == "mcp_calc_add" }?["id"]?.intValue
            if approval == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let shown = try await daemon.client.get("/v1/runs/\(run)").body
        let waiting = try #require(approval, "the network tool's call asks first: \(shown)")
        #expect(try await daemon.client.post("/v1/approvals/\(waiting)/approve", ["note": "fine"]).status == 200)
        var state = ""
        for _ in 0..<300 where !["succeeded", "failed", "needsReview"].contains(state) {
            state = try await daemon.client.get("/v1/runs/\(run)").body["run"]?["state"]?.stringValue ?? ""
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(state == "succeeded")
        #expect(log.all.contains { $0.contains("Result of mcp_calc_add:\\n<data>\\n5") }, "the approved call ran")
        try await daemon.stop()
    }
}
