import Foundation
import HearthBench
import HearthCore
import HearthServer
import HearthStore
import HearthTesting
import Synchronization
import Testing

/// The dashboard in a real headless Chromium (Debian's `chromium` and `chromium-driver`, driven by
/// selenium from the test tools' Python that `scripts/setup` installs), against a real daemon with
/// a scripted model server: log in with the link, watch an interruption arrive, approve one action
/// and see its run finish, deny another with a reason and see the agent told, hostile content that
/// does not run, a streamed chat answer, and every page at 1280 and 390 px without console errors.
/// Screenshots are kept under `.build/test-artifacts/dashboard/`.
@Suite("The dashboard in a real Chromium", .timeLimit(.minutes(5)), .enabled(if: Preconditions.run(if: BrowserTools.found != nil)))
struct BrowserTests {}

/// A Python that has selenium, and Chromium with its driver; nil when this machine lacks them.
enum BrowserTools {
    static let found: (python: String, chromium: String, driver: String)? = {
        let environment = ProcessInfo.processInfo.environment
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? (NSHomeDirectory() + "/.local/share")
        let pythons = [environment["HEARTH_TEST_PYTHON"], dataHome + "/hearth/cache/test-venv/bin/python"].compactMap { $0 }
        let files = FileManager.default
        guard let python = pythons.first(where: { files.isExecutableFile(atPath: $0) }),
            files.isExecutableFile(atPath: "/usr/bin/chromium"), files.isExecutableFile(atPath: "/usr/bin/chromedriver")
        else { return nil }
        return (python, "/usr/bin/chromium", "/usr/bin/chromedriver")
    }()
}

extension BrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "Browser/dashboard_browser.py")
    static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appending(path: ".build/test-artifacts/dashboard")

    @Test("log in, live inbox, approve to done, deny and the agent is told, hostile content inert, chat streams, every page at both widths")
    func dashboard() async throws {
        let tools = try #require(BrowserTools.found, "chromium, chromium-driver and selenium are missing: run scripts/setup --deps-only")
        let reason = "not on a Friday"
        let seen = Mutex<[String]>([])
        let server = ScriptedModelServer { body in
            seen.withLock { $0.append(body.jsonText) }
            if let reply = NoteWriter.reply(body) { return reply }
            return .chat("Biscuit is a good name for a dog.")
        }
        let url = try await server.start()
        defer { server.stop() }
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon(
            extraConfig:
                "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\ntool_calls = \"constrained\"\n"
                + "[policy]\nautonomy = \"suggest\"\n[chat]\ntools = false\n[attention]\nme = [\"sam@acme.test\"]\n")
        #expect(try await sandbox.hearth(["memory", "remember", "Ann Lee is my manager"]).status == 0)

        // A goal with a hostile title and report, finished before the daemon starts.
        let database = try HearthDatabase.open(at: sandbox.data.appending(path: "hearth.sqlite"))
        let goals = GoalSQLStore(database: database)
        let hostile = try await goals.createGoal("<script>window.hearthHacked=1</script> Sum up", budget: GoalBudget())
        _ = try await goals.cancelGoal(hostile.id)
        try sandbox.write([
            "Reports/run-\(hostile.id).md":
                "# Report <img src=x onerror=\"window.hearthHacked=1\">\n- [notes](../Notes/a.md)\n- [evil](javascript:window.hearthHacked=1)\n",
            "Notes/a.md": "# A\n",
        ])

        let daemon = try await sandbox.startDaemon()
        var runs: [Int64] = []
        for goal in ["Write note A", "Write note B"] {
            let handed = try await sandbox.hearth(["goal", "--detach", "--json", goal])
            runs.append(try #require(try JSONValue(parsing: handed.stdout)["id"]?.intValue.map(Int64.init)))
        }
        let approvals = try await withTimeout(60, "both approvals") {
            while true {
                let pending = try await daemon.client.get("/v1/approvals").body.arrayValue ?? []
                if pending.count == 2 { return pending }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        func approval(for run: Int64) throws -> Int {
            try #require(approvals.first { $0["runID"]?.intValue == Int(run) }?["id"]?.intValue)
        }
        let printed = try await sandbox.hearth(["dashboard", "--print-url"])
        let login = printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let subject = "<script>window.hearthHacked=1</script> Board deck by noon"
        try FileManager.default.createDirectory(at: sandbox.data.appending(path: "mail/new"), withIntermediateDirectories: true)
        let plan: JSONValue = [
            "base": .string("http://127.0.0.1:\(daemon.port)"), "login": .string(login), "artifacts": .string(Self.artifacts.path),
            "chromium": .string(tools.chromium), "chromedriver": .string(tools.driver),
            "mail": [
                "path": .string(sandbox.data.appending(path: "mail/new/1.host").path), "subject": .string(subject),
                "text": .string("From: Ann Lee <ann@acme.test>\nTo: sam@acme.test\nSubject: \(subject)\n\nCan you send it?\n"),
            ],
            "approve": ["approval": .number(Double(try approval(for: runs[0]))), "run": .number(Double(runs[0]))],
            "deny": ["approval": .number(Double(try approval(for: runs[1]))), "run": .number(Double(runs[1])), "reason": .string(reason)],
            "hostile": .number(Double(hostile.id)),
            "pages": [
                "/", "/chat", "/goals", .string("/goals/\(runs[0])"), .string("/goals/\(runs[0])/trace"), "/approvals", "/memory?q=deck",
                "/usage", "/health",
            ],
        ]
        let browser = try await ChildProcess.run(
            URL(fileURLWithPath: tools.python), [Self.script.path], environment: ProcessInfo.processInfo.environment,
            input: Data(plan.jsonText.utf8))
        #expect(browser.status == 0, "\(browser.stderr.suffix(3000))")
        let outcome = try JSONValue(parsing: Data((browser.stdout.split(separator: "\n").last.map(String.init) ?? "").utf8))
        let checks = outcome["checks"]?.arrayValue ?? []
        #expect(checks.count >= 30, "every step ran: \(checks.count) checks")
        for check in checks {
            #expect(check["ok"]?.boolValue == true, "\(check["name"]?.stringValue ?? ""): \(check["detail"]?.stringValue ?? "")")
        }
        #expect(outcome["console"]?.arrayValue?.isEmpty == true, "console errors: \(outcome["console"]?.jsonText ?? "")")
        #expect(outcome["screenshots"]?.arrayValue?.count == 18)

        // What the browser saw is what the daemon holds.
        #expect(try String(contentsOf: sandbox.workspace.appending(path: "note.txt"), encoding: .utf8) == "hello")
        let all = try await daemon.client.get("/v1/approvals?all=1").body.arrayValue ?? []
        #expect(all.first { $0["runID"]?.intValue == Int(runs[1]) }?["state"] == "denied")
        #expect(seen.withLock { $0.contains { $0.contains(reason) } }, "the agent was told why it was denied")
        _ = await daemon.stop()
    }
}
