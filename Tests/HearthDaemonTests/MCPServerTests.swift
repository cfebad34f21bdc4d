import Foundation
import HearthBench
import HearthCore
import HearthServer
import HearthTesting
import Testing

/// A Python with the official MCP SDK (`mcp`); nil when this machine lacks it.
enum MCPClientTools {
    static let python: String? = {
        let environment = ProcessInfo.processInfo.environment
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? (NSHomeDirectory() + "/.local/share")
        let candidates = [environment["HEARTH_TEST_PYTHON"], dataHome + "/hearth/cache/test-venv/bin/python"].compactMap { $0 }
        return candidates.first { path in
            guard FileManager.default.isExecutableFile(atPath: path) else { return false }
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: path)
            probe.arguments = ["-c", "import mcp"]
            probe.standardError = FileHandle.nullDevice
            guard (try? probe.run()) != nil else { return false }
            probe.waitUntilExit()
            return probe.terminationStatus == 0
        }
    }()

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "MCP/mcp_client.py")
}

@Suite(
    "Hearth's MCP server, called by the official Python SDK", .timeLimit(.minutes(3)),
    .enabled(if: Preconditions.run(if: MCPClientTools.python != nil)))
struct MCPServerTests {
    /// What the client saw, checked the same way for both transports.
    func check(_ seen: JSONValue, transport: String, started: Int = 1) {
        #expect(seen["server"] == "hearth", "\(transport)")
        #expect(
            seen["tools"]?.arrayValue?.compactMap(\.stringValue)
                == ["approvals_list", "brief_latest", "goal_start", "goal_status", "memory_profile", "memory_remember", "memory_search"],
            "\(transport)")
        #expect(seen["schemas"]?["memory_search"]?["required"] == ["query"])
        let calls = seen["calls"] ?? [:]
        for name in ["memory_remember", "memory_search", "memory_profile", "goal_start", "goal_status", "approvals_list", "brief_latest"] {
            #expect(calls[name]?["error"] == false, "\(transport) \(name): \(calls[name]?["text"] ?? .null)")
        }
        let remembered = (try? JSONValue(parsing: calls["memory_remember"]?["text"]?.stringValue ?? "")) ?? .null
        #expect(remembered["provenance"] == "untrusted")
        let hits = (try? JSONValue(parsing: calls["memory_search"]?["text"]?.stringValue ?? "")) ?? .null
        #expect(
            hits.arrayValue?.contains { $0["text"]?.stringValue?.contains("board meeting moved to Thursday") == true } == true, "\(hits)")
        #expect(calls["memory_profile"]?["text"]?.stringValue?.contains("EUR") == true)
        let startedGoal = (try? JSONValue(parsing: calls["goal_start"]?["text"]?.stringValue ?? "")) ?? .null
        #expect(startedGoal["id"]?.intValue == started)
        let status = (try? JSONValue(parsing: calls["goal_status"]?["text"]?.stringValue ?? "")) ?? .null
        #expect(status["id"] == 1 && status["state"] != nil)
        #expect(calls["approvals_list"]?["text"]?.stringValue?.contains("answered by the user") == true)
        let bad = seen["bad"] ?? [:]
        #expect(bad["goal_status"]?["error"] == true && bad["goal_status"]?["text"]?.stringValue?.contains("no goal 999") == true)
        #expect(bad["memory_search"]?["error"] == true)
        #expect(bad["no_such_tool"]?["error"] == true)
        #expect(seen["resources"]?.arrayValue?.contains("hearth://profile") == true)
        #expect(seen["profile"]?.stringValue?.contains("EUR") == true)
        #expect(seen["bad_resource"]?.stringValue?.contains("hearth://nothing") == true, "\(seen["bad_resource"] ?? .null)")
    }

    @Test("stdio: 'hearth mcp serve' answers initialise, lists, every tool, a resource and bad calls")
    func stdio() async throws {
        let python = try #require(MCPClientTools.python, "the mcp Python SDK is missing: run scripts/setup --deps-only")
        let sandbox = try Sandbox()
        let model = ScriptedModelServer(responder: { _ in .chat("(the model is not needed here)") })
        let modelURL = try await model.start()
        defer { model.stop() }
        try sandbox.prepareDaemon(
            extraConfig: "[inference]\nprovider = \"openai\"\nbase_url = \"\(modelURL)\"\nchat_model = \"scripted\"\n")
        #expect(try await sandbox.hearth(["memory", "remember", "I prefer spreadsheets in EUR"]).status == 0)
        // A finished goal with a report, for the resources.
        #expect(try await sandbox.hearth(["demo", "compliance", "--into", sandbox.workspace.path, "--specs", "3"]).status == 0)
        let review = try await sandbox.hearth(["goal", "Check the specs in Projects/NextGen for compliance with Regulation.pdf"])
        #expect(review.status == 0, "\(review.stderr)")
        let result = try await ChildProcess.run(
            URL(fileURLWithPath: python),
            [
                MCPClientTools.script.path, "stdio", HearthBinary.url.path, "--data-dir", sandbox.data.path, "--workspace",
                sandbox.workspace.path,
            ],
            environment: sandbox.environment)
        #expect(result.status == 0, "\(result.stderr)")
        let seen = try JSONValue(parsing: result.stdout)
        check(seen, transport: "stdio", started: 2)
        #expect(seen["resources"]?.arrayValue?.contains("hearth://reports/1") == true)
        #expect(seen["report"]?.stringValue?.contains("# Report: Check the specs") == true, "\(seen["report"] ?? .null)")
        // The goal waits for a daemon.
        let runs = try await sandbox.hearth(["run", "2", "--json"])
        #expect((try JSONValue(parsing: runs.stdout))["state"] == "pending")
    }

    @Test("stdio: a message larger than the server reads and a line that is not JSON get JSON-RPC errors, and the next request is served")
    func stdioBadLines() async throws {
        let python = try #require(MCPClientTools.python, "the mcp Python SDK is missing: run scripts/setup --deps-only")
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        let script = MCPClientTools.script.deletingLastPathComponent().appending(path: "raw_stdio.py")
        let result = try await ChildProcess.run(
            URL(fileURLWithPath: python),
            [script.path, HearthBinary.url.path, "mcp", "serve", "--data-dir", sandbox.data.path, "--workspace", sandbox.workspace.path],
            environment: sandbox.environment)
        #expect(result.status == 0, "\(result.stderr)")
        let seen = try JSONValue(parsing: result.stdout).arrayValue ?? []
        #expect(seen.first?["result"]?["serverInfo"]?["name"] == "hearth", "\(seen)")
        let oversized = seen.first { $0["error"]?["message"]?.stringValue?.contains("at most \(4 << 20) are read") == true }
        #expect(oversized?["id"] == .null && oversized?["error"]?["code"] == -32600, "\(seen)")
        #expect(!seen.contains { $0["id"] == 2 }, "the oversized request is not answered as if it had been read")
        let served = try #require(seen.last, "\(seen)")
        #expect(served["id"] == 3 && (served["result"]?["tools"]?.arrayValue?.count ?? 0) == 7, "\(served)")
    }

    @Test("stdio: a client that writes its requests and closes its end at once still gets every answer")
    func stdioAnswersAfterEndOfInput() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        let requests = [
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"pipe","version":"1"}}}"#,
            #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            #"{"jsonrpc":"2.0","id":"three","method":"resources/list"}"#,
        ]
        let result = try await ChildProcess.run(
            HearthBinary.url, ["mcp", "serve", "--data-dir", sandbox.data.path, "--workspace", sandbox.workspace.path],
            environment: sandbox.environment, input: Data((requests.joined(separator: "\n") + "\n").utf8))
        #expect(result.status == 0, "\(result.stderr)")
        let answers = try result.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(Set(answers.compactMap { $0["id"] }) == [1, 2, "three"], "\(result.stdout)")
        #expect(answers.first { $0["id"] == 1 }?["result"]?["serverInfo"]?["name"] == "hearth", "\(answers)")
    }

    @Test("streamable HTTP at /mcp on the daemon's port, behind the API token")
    func http() async throws {
        let python = try #require(MCPClientTools.python, "the mcp Python SDK is missing: run scripts/setup --deps-only")
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        #expect(try await sandbox.hearth(["memory", "remember", "I prefer spreadsheets in EUR"]).status == 0)
        let daemon = try await sandbox.startDaemon()
        let token = try String(contentsOf: sandbox.data.appending(path: "api-token"), encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        let url = "http://127.0.0.1:\(daemon.port)/mcp"
        let result = try await ChildProcess.run(URL(fileURLWithPath: python), [MCPClientTools.script.path, "http", url, token])
        #expect(result.status == 0, "\(result.stderr)")
        check(try JSONValue(parsing: result.stdout), transport: "http")

        // Without the token (or with another), nothing is answered.
        let refused = try await ChildProcess.run(URL(fileURLWithPath: python), [MCPClientTools.script.path, "http", url, "wrong-token"])
        #expect(refused.status != 0)
        let web = WebClient(port: daemon.port)
        defer { Task { try? await web.shutdown() } }
        let anonymous = try await web.post("/mcp", form: [:])
        #expect(anonymous.status == 401)

        // A message over 4 MiB is a JSON-RPC error, and the server goes on serving.
        let client = DaemonClient(port: daemon.port, token: token, timeout: .seconds(30))
        let huge = try await client.post(
            "/mcp",
            [
                "jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": ["name": "memory_remember", "arguments": ["text": .string(String(repeating: "x", count: 5 << 20))]],
            ])
        #expect(huge.status == 413 && huge.body["error"]?["code"] == -32600, "\(huge.status) \(huge.body)")
        let after = try await ChildProcess.run(URL(fileURLWithPath: python), [MCPClientTools.script.path, "http", url, token])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(await daemon.stop() == 0)
    }
}
