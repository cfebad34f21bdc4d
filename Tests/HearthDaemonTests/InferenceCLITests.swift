import Foundation
import Glibc
import HearthBench
import HearthCore
import HearthTesting
import Testing

/// `hearth ask`, `models` and `usage` end to end, against a scripted OpenAI-compatible server
/// named in config (fast and deterministic); the real local models are covered by the
/// integration suites.
@Suite("hearth ask, models and usage, end to end", .timeLimit(.minutes(3)))
struct InferenceCLITests {
    func sandbox(_ server: ScriptedModelServer, extra: String = "") async throws -> Sandbox {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        let url = try await server.start()
        try Data(
            """
            [inference]
            provider = "openai"
            base_url = "\(url)"
            chat_model = "scripted-chat"
            \(extra)
            """.utf8
        ).write(to: sandbox.data.appending(path: "config.toml"))
        return sandbox
    }

    @Test("ask streams the answer, reports usage on stderr, and records the call")
    func ask() async throws {
        let server = ScriptedModelServer([.chat("Paris is the capital.", promptTokens: 20, completionTokens: 5)])
        let sandbox = try await sandbox(server)
        let result = try await sandbox.hearth(["ask", "Capital of France?", "--system", "Be brief."])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Paris is the capital.\n")
        #expect(result.stderr.contains("(scripted-chat: 20 prompt tokens (0 cached), 5 generated"))
        let body = server.requests[0].body
        #expect(body["messages"]?.arrayValue?.map { $0["role"] } == ["system", "user"])
        #expect(body["stream"] == true)
        let usage = try JSONValue(parsing: try await sandbox.hearth(["usage", "--json", "--recent", "5"]).stdout)
        #expect(usage["totals"]?["calls"] == 1)
        #expect(usage["totals"]?["promptTokens"] == 20)
        #expect(usage["recent"]?.arrayValue?.first?["context"]?["purpose"] == "ask")
        let human = try await sandbox.hearth(["usage"])
        #expect(human.stdout.contains("scripted-chat  ask  1 calls  20 prompt (0 cached) + 5 generated tokens"))
    }

    @Test("ask --json carries the answer and the usage record")
    func askJSON() async throws {
        let server = ScriptedModelServer([.chat("4", promptTokens: 9, completionTokens: 1)])
        let sandbox = try await sandbox(server)
        let result = try await sandbox.hearth(["ask", "--json", "2+2?"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try JSONValue(parsing: result.stdout)
        #expect(document["answer"] == "4")
        #expect(document["usage"]?["promptTokens"] == 9)
        #expect(document["endpoint"]?["origin"] == "external")
        #expect(document["repetitive"] == false && document["note"] == .null)
        // Streamed under the hood too, so a loop can be stopped early.
        #expect(server.requests[0].body["stream"] == true)
    }

    @Test("a daily call budget is a hard cap: the second ask is refused with a clear line and nothing is sent")
    func budget() async throws {
        let server = ScriptedModelServer([.chat("ok")])
        let sandbox = try await sandbox(server, extra: "[budgets]\nday_calls = 1\n")
        #expect(try await sandbox.hearth(["ask", "one"]).status == 0)
        let second = try await sandbox.hearth(["ask", "two"])
        #expect(second.status == 1)
        #expect(
            second.stderr
                == "hearth: budget exhausted for today: limit 1 calls, used 1 calls; raise it in [budgets] or wait for the next period\n")
        #expect(server.requests.count == 1)
    }

    @Test("an unreachable server is one line naming the URL and what to do")
    func unreachable() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        try Data("[inference]\nprovider = \"ollama\"\nbase_url = \"http://127.0.0.1:9\"\n".utf8).write(
            to: sandbox.data.appending(path: "config.toml"))
        let result = try await sandbox.hearth(["ask", "hello"])
        #expect(result.status == 1)
        #expect(result.stderr.lines.count == 1)
        #expect(
            result.stderr.hasPrefix(
                "hearth: no model server answers at http://127.0.0.1:9 (connection refused); start Ollama ('ollama serve')"))
    }

    @Test("a question longer than the context window is refused, never cut")
    func overflow() async throws {
        let server = ScriptedModelServer([.chat("never")])
        let sandbox = try await sandbox(server, extra: "context_tokens = 256\n")
        let result = try await sandbox.hearth(["ask", String(repeating: "receipt ", count: 400)])
        #expect(result.status == 1)
        #expect(result.stderr.contains("the prompt needs"))
        #expect(result.stderr.contains("shorten the input or raise [inference] context_tokens"))
        #expect(server.requests.isEmpty)
    }

    @Test("models --verify checks each model file against its pinned sha256: a changed file is named and fails the command")
    func verifyModels() async throws {
        let sandbox = try Sandbox()
        let bin = sandbox.data.appending(path: "bin")
        let models = sandbox.data.appending(path: "models")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try Data("#!/bin/sh\nexit 0\n".utf8).write(to: bin.appending(path: "llama-server"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin.appending(path: "llama-server").path)
        // Over a MiB, so the hash is read in more than one piece.
        let chat = Data((0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let embed = Data("an embedding model".utf8)
        try chat.write(to: models.appending(path: "chat.gguf"))
        try embed.write(to: models.appending(path: "embed.gguf"))
        // The pinned digests, from Hearth's own SHA-256 (an implementation independent of swift-crypto).
        try Data(
            """
            [{"name": "chat", "kind": "chat", "file": "chat.gguf", "sha256": "\(SHA256.hex(chat))", "source": "test"},
             {"name": "embed", "kind": "embedding", "file": "embed.gguf", "sha256": "\(SHA256.hex(embed))", "source": "test"}]
            """.utf8
        ).write(to: models.appending(path: "catalog.json"))
        let good = try await sandbox.hearth(["models", "--verify", "--json"])
        #expect(good.status == 0, "\(good.stderr)")
        let entries = try JSONValue(parsing: good.stdout)["models"]?.arrayValue ?? []
        #expect(entries.map { $0["sha256Verified"] } == [true, true])
        try Data("an embedding modem".utf8).write(to: models.appending(path: "embed.gguf"))
        let bad = try await sandbox.hearth(["models", "--verify"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("embed does not match its sha256; run scripts/setup to reinstall it"), "\(bad.stderr)")
        #expect(bad.stdout.contains("sha256 MISMATCH"))
    }

    @Test("without local inference installed, ask and models say to run scripts/setup")
    func notInstalled() async throws {
        let sandbox = try Sandbox()
        let ask = try await sandbox.hearth(["ask", "hello"])
        #expect(ask.status == 1)
        #expect(
            ask.stderr
                == "hearth: llama-server is not installed at \(sandbox.data.path)/bin/llama-server; run 'scripts/setup' (it builds llama-server and installs the models)\n"
        )
        let models = try await sandbox.hearth(["models", "--json"])
        #expect(models.status == 0)
        let document = try JSONValue(parsing: models.stdout)
        #expect(document["installed"] == false)
        #expect(document["server"]?["phase"] == "no daemon running")
    }

    @Test(
        "bad [inference], [budgets] and [pricing] settings name file, line and key",
        arguments: [
            ("[inference]\nprovider = \"gpt\"\n", ":2: inference.provider: unknown provider \"gpt\""),
            ("[inference]\nprovider = \"ollama\"\n", ":2: inference.base_url: provider \"ollama\" needs base_url"),
            ("[inference]\nbase_url = \"localhost:8080\"\n", ":2: inference.base_url: \"localhost:8080\" is not an http(s) URL"),
            ("[inference]\ntool_calls = \"sometimes\"\n", ":2: inference.tool_calls: unknown mode \"sometimes\""),
            ("[budgets]\nday_tokens = -5\n", ":2: budgets.day_tokens: -5 is out of range"),
            ("[budgets]\nweek_tokens = 5\n", ":2: budgets.week_tokens: unknown key"),
            ("[pricing]\ngpt = 3\n", ":2: pricing.gpt: expected { input = DOLLARS, output = DOLLARS }"),
        ])
    func badSettings(config: String, expected: String) async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        try Data(config.utf8).write(to: sandbox.data.appending(path: "config.toml"))
        let result = try await sandbox.hearth(["ask", "hi"])
        #expect(result.status == 1)
        #expect(result.stderr.lines.count == 1)
        #expect(result.stderr.contains(expected), "\(result.stderr)")
    }

    @Test("usage --since rejects what it cannot read")
    func usageSince() async throws {
        let sandbox = try Sandbox()
        _ = try await sandbox.hearth(["init"])
        let bad = try await sandbox.hearth(["usage", "--since", "last tuesday"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--since: \"last tuesday\" is not today, 7d, 24h"))
        #expect(try await sandbox.hearth(["usage", "--since", "7d"]).status == 0)
    }
}

/// The installation `scripts/setup` made (`$HEARTH_DATA_DIR`, else the XDG data dir).
enum InstalledInference {
    static var dataDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["HEARTH_DATA_DIR"], !directory.isEmpty { return URL(fileURLWithPath: directory) }
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? (NSHomeDirectory() + "/.local/share")
        return URL(fileURLWithPath: dataHome).appending(path: "hearth")
    }

    /// A daemon config that runs the installed llama-server and models (no Maildir).
    static var daemonConfig: String {
        """
        [maildir]
        enabled = false
        [inference]
        llama_server = "\(dataDirectory.appending(path: "bin/llama-server").path)"
        models_dir = "\(dataDirectory.appending(path: "models").path)"
        """
    }

    static var available: Bool {
        FileManager.default.fileExists(atPath: dataDirectory.appending(path: "models/catalog.json").path)
            || ProcessInfo.processInfo.environment["HEARTH_REQUIRE_MODELS"] == "1"
    }
}

@Suite("The daemon with local inference", .enabled(if: InstalledInference.available), .timeLimit(.minutes(5)))
struct DaemonInferenceTests {
    @Test("the daemon supervises llama-server; ask and models use it; SIGTERM leaves no server behind")
    func supervised() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon(extraConfig: InstalledInference.daemonConfig)
        let daemon = try await sandbox.startDaemon()
        let ask = try await sandbox.hearth(["ask", "--json", "--max-tokens", "8", "Say hello."])
        #expect(ask.status == 0, "\(ask.stderr)")
        let answer = try JSONValue(parsing: ask.stdout)
        #expect(answer["endpoint"]?["origin"] == "daemon")
        #expect((answer["usage"]?["completionTokens"]?.intValue ?? 0) > 0)
        let models = try JSONValue(parsing: try await sandbox.hearth(["models", "--json"]).stdout)
        #expect(models["server"]?["phase"] == "ready")
        let pid = try #require(models["server"]?["pid"]?.intValue)
        #expect(await daemon.stop() == 0)
        #expect(kill(Int32(pid), 0) != 0)
        let usage = try JSONValue(parsing: try await sandbox.hearth(["usage", "--json"]).stdout)
        #expect(usage["totals"]?["calls"] == 1)
    }

    /// Processes whose parent is `pid` (llama-server's router starts one worker per model).
    static func children(of pid: Int32) -> [Int32] {
        ProcessTable.commandLines().compactMap { process -> Int32? in
            guard let stat = try? String(contentsOfFile: "/proc/\(process.pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? process.pid : nil
        }
    }

    static func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !stat.contains(") Z ")
    }

    @Test(
        "after kill -9 the next daemon reaps the old model server and its workers, waits for its own, and finishes the goal",
        // Four real summaries on one thread, the model server started twice: two minutes alone,
        // over five with every core kept busy (scripts/test --under-load); its waits allow nine.
        .timeLimit(.minutes(10)))
    func killNine() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon(extraConfig: InstalledInference.daemonConfig)
        var notes: [String: String] = [:]
        for index in 1...4 {
            notes["Notes/note-\(index).md"] =
                "# Meeting \(index)\nWe reviewed item \(index) of the launch plan. Is the budget for item \(index) approved?\n"
        }
        try sandbox.write(notes)
        var daemon = try await sandbox.startDaemon()
        let handed = try await sandbox.hearth(["goal", "--detach", "--json", "Summarise each note in Notes/"])
        #expect(handed.status == 0, "\(handed.stderr)")
        // Wait until the model has written at least one summary: the server is up and working.
        var done = 0
        for _ in 0..<1_200 where done == 0 {
            try await Task.sleep(for: .milliseconds(200))
            let run = try? JSONValue(parsing: try await sandbox.hearth(["run", "1", "--json"]).stdout)
            done = run?["tasks"]?.arrayValue?.filter { $0["group"] == "summary" && $0["state"] == "succeeded" }.count ?? 0
        }
        #expect(done > 0)
        let presets = sandbox.data.appending(path: "runtime/llama-presets.ini").path
        let router = try #require(ProcessTable.commandLines().first { $0.arguments.contains(presets) }?.pid)
        let workers = Self.children(of: router)
        #expect(!workers.isEmpty, "the router runs its models as child processes")
        await daemon.kill()
        #expect(Self.alive(router), "a SIGKILLed daemon leaves its model server behind")

        daemon = try await sandbox.startDaemon()
        var left = [router] + workers
        for _ in 0..<100 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            left = left.filter(Self.alive)
        }
        #expect(left.isEmpty, "orphaned model server processes still run: \(left)")
        var state = ""
        for _ in 0..<1_500 where !["succeeded", "failed", "needsReview", "cancelled"].contains(state) {
            try await Task.sleep(for: .milliseconds(200))
            state = (try? JSONValue(parsing: try await sandbox.hearth(["run", "1", "--json"]).stdout))?["state"]?.stringValue ?? ""
        }
        #expect(state == "succeeded", "the resumed goal ended \(state)")
        let status = try await sandbox.status()
        #expect(status["lastStart"]?["recovery"]?["goals"]?["resumed"] == [1])
        #expect(status["counts"]?["runsNeedingReview"] == 0)
        let text = try await sandbox.hearth(["status"])
        #expect(text.stdout.contains("1 interrupted goal(s) resumed once the model server was ready"), "\(text.stdout)")
        #expect(await daemon.stop() == 0)
    }
}
