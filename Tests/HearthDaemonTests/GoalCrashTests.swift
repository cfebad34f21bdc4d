import Foundation
import GRDB
import Glibc
import HearthBench
import HearthCore
import HearthDemo
import HearthTesting
import Testing

@Suite("Goals survive kill -9", .timeLimit(.minutes(2)))
struct GoalCrashTests {
    @Test("a goal killed mid-plan resumes from its checkpoint: finished receipts are neither re-asked nor re-run")
    func killAndResume() async throws {
        let sandbox = try Sandbox()
        try SampleWorkspace.create(at: sandbox.workspace)
        let server = ScriptedModelServer { ScriptedAuditModel.reply($0, itemDelay: 0.15) }
        let url = try await server.start()
        defer { server.stop() }
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        try Data(
            "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\ntool_calls = \"constrained\"\n".utf8
        )
        .write(to: sandbox.data.appending(path: "config.toml"))

        let goal = try await ChildProcess(
            executable: HearthBinary.url,
            arguments: [
                "goal", SampleWorkspace.goal, "--concurrency", "1", "--data-dir", sandbox.data.path, "--workspace", sandbox.workspace.path,
            ], environment: sandbox.environment)
        // Kill it once a few receipts are done and journaled (the database exists once it has planned).
        _ = await goal.firstLine(containing: "planned")
        let database = sandbox.data.appending(path: "hearth.sqlite")
        var finishedBeforeKill: [String] = []
        var lastError = ""
        // Up to a minute: under a full suite on two cores a receipt can take seconds.
        for _ in 0..<3_000 {
            do {
                finishedBeforeKill = try Self.read(database, "SELECT taskId FROM task_action WHERE state = 'succeeded' ORDER BY taskId")
            } catch {
                lastError = "\(error)"
            }
            if finishedBeforeKill.count >= 6 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        goal.signal(SIGKILL)
        _ = await goal.waitForExit()
        #expect(
            finishedBeforeKill.count >= 6,
            "\(lastError) \(goal.standardOutput.suffix(1500)) \((try? Self.read(database, "SELECT taskId || state FROM task_action")) ?? [])"
        )
        let stateAfterKill = try Self.read(database, "SELECT state FROM run WHERE id = 1")
        #expect(stateAfterKill == ["running"])
        let requestsBeforeResume = server.requests.count
        let finished = try Self.read(database, "SELECT taskId FROM task_action WHERE state = 'succeeded' ORDER BY taskId")

        let resumed = try await sandbox.hearth(["resume", "1", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let detail = try JSONValue(parsing: resumed.stdout)
        #expect(detail["state"] == "succeeded")
        #expect(resumed.stderr.contains("resuming after an interruption"))

        // Every receipt ran check_receipt successfully exactly once...
        let perTask = try Self.read(
            database,
            "SELECT taskId || ' ' || COUNT(*) FROM trace WHERE kind = 'tool' AND name = 'check_receipt' AND json_extract(detail, '$.ok') = 1 GROUP BY taskId"
        )
        #expect(perTask.count == 19)
        // A call the kill caught between its result and its recorded outcome is replayed (the
        // tool is idempotent) and traced as a replay; every other receipt ran exactly once.
        let replayed = Set(try Self.read(database, "SELECT taskId FROM trace WHERE kind = 'state' AND name = 'replay'"))
        #expect(replayed.count <= 1, "\(replayed)")
        #expect(
            perTask.allSatisfy { row in row.hasSuffix(" 1") || (row.hasSuffix(" 2") && replayed.contains(String(row.dropLast(2)))) },
            "\(perTask)")
        // ...and the model was not asked again about the receipts finished before the kill.
        let askedAfter = server.requests.dropFirst(requestsBeforeResume).compactMap { request -> String? in
            let task = request.body["messages"]?.arrayValue?.dropFirst().first?["content"]?.stringValue ?? ""
            return task.range(of: "The file for this task: ").map { String(task[$0.upperBound...].prefix { !$0.isNewline }) }
        }
        for taskID in finished {
            let item = String(taskID.dropFirst("check[".count).dropLast())
            #expect(!askedAfter.contains(item), "\(item) was asked about again after the restart")
        }
        let flagged = detail["tasks"]?.arrayValue?.filter { $0["result"]?["data"]?["flags"]?.arrayValue?.isEmpty == false }.count
        #expect(flagged == 12)
    }

    @Test("the daemon runs a detached goal, and the CLI follows it with run and trace")
    func detachedGoal() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.workspace, withIntermediateDirectories: true)
        try SampleWorkspace.create(at: sandbox.workspace)
        let server = ScriptedModelServer(responder: ScriptedAuditModel.reply)
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.prepareDaemon(
            extraConfig:
                "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\ntool_calls = \"constrained\"\n")
        let refused = try await sandbox.hearth(["goal", "--detach", SampleWorkspace.goal])
        #expect(refused.status != 0 && refused.stderr.contains("--detach needs a running daemon"))
        let daemon = try await sandbox.startDaemon()
        let handed = try await sandbox.hearth(["goal", "--detach", "--json", SampleWorkspace.goal])
        #expect(handed.status == 0, "\(handed.stderr)")
        let id = try JSONValue(parsing: handed.stdout)["id"]?.intValue ?? 0
        var state = ""
        for _ in 0..<300 {
            let shown = try await sandbox.hearth(["run", "\(id)", "--json"])
            state = (try? JSONValue(parsing: shown.stdout))?["state"]?.stringValue ?? ""
            if state == "succeeded" || state == "failed" || state == "needsReview" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(state == "succeeded")
        let trace = try await sandbox.hearth(["trace", "\(id)"])
        #expect(trace.stdout.contains("├─ task check[Receipts/099.pdf]"))
        #expect(trace.stdout.contains("tool   check_receipt"))
        let shown = try await sandbox.hearth(["run", "\(id)"])
        #expect(shown.stdout.contains("fan-out   check"))
        #expect(FileManager.default.fileExists(atPath: sandbox.workspace.appending(path: "Reports/run-\(id).md").path))
        #expect(await daemon.stop() == 0)
    }

    @Test("hearth demo --json prints every receipt, the flagged ones with reasons, the failed one with its error, tokens and seconds")
    func demoJSON() async throws {
        let sandbox = try Sandbox()
        let server = ScriptedModelServer(responder: ScriptedAuditModel.reply)
        let url = try await server.start()
        defer { server.stop() }
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        try Data(
            "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\ntool_calls = \"constrained\"\n".utf8
        )
        .write(to: sandbox.data.appending(path: "config.toml"))
        let result = try await sandbox.hearth(["demo", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try JSONValue(parsing: result.stdout)
        #expect(summary["receipts"]?.arrayValue?.count == 20)
        #expect(summary["receipts"]?.arrayValue?.first == "000")
        #expect(summary["flagged"]?.arrayValue?.count == 12)
        #expect(summary["flagged"]?.arrayValue?.allSatisfy { $0["reasons"]?.arrayValue?.isEmpty == false } == true)
        #expect(summary["failed"] == [["id": "099", "error": summary["failed"]?.arrayValue?.first?["error"] ?? .null]])
        #expect((summary["tokens"]?.doubleValue ?? 0) > 0 && summary["seconds"]?.doubleValue != nil)
        let report = summary["report"]?.stringValue ?? ""
        #expect(report.hasPrefix(sandbox.workspace.appending(path: "demo").path) && FileManager.default.fileExists(atPath: report))
        #expect(result.stderr.contains("planned 21 task(s) (recipe:document-audit)"))
        // The plan fixes each receipt's one call: the model is asked only for the summary.
        #expect(server.requests.filter { $0.path == "/v1/chat/completions" }.count == 1)

        // The last result again, without running the demo again (and without the model).
        let requests = server.requests.count
        let last = try await sandbox.hearth(["demo", "--last", "--json"])
        #expect(last.status == 0, "\(last.stderr)")
        let again = try JSONValue(parsing: last.stdout)
        #expect(again["run"] == summary["run"] && again["flagged"] == summary["flagged"] && again["failed"] == summary["failed"])
        #expect(server.requests.count == requests)
        // Running it again says so, and names the shortcut.
        let rerun = try await sandbox.hearth(["demo", "--json"])
        #expect(rerun.stderr.contains("running the demo again (run 1 was the last one; 'hearth demo --last --json' shows its result"))
        #expect(try JSONValue(parsing: rerun.stdout)["run"] == 2)
        let none = try await Sandbox().hearth(["demo", "--last"])
        #expect(none.status == 1 && none.stderr.contains("no demo has run here yet"))
    }

    @Test("goal commands explain bad input")
    func badInput() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.workspace, withIntermediateDirectories: true)
        let empty = try await sandbox.hearth(["goal", "  "])
        // Usage errors exit 64, as the README promises.
        #expect(empty.status == 64 && empty.stderr.contains("the goal is empty"))
        let budget = try await sandbox.hearth(["goal", "x", "--max-tokens", "0"])
        #expect(budget.status == 64 && budget.stderr.contains("--max-tokens must be at least 1"))
        let trace = try await sandbox.hearth(["trace", "42"])
        #expect(trace.status == 1 && trace.stderr.contains("no run with id 42"))
        let tool = try await sandbox.hearth(["tool", "run", "shred", "--args", "{}"])
        #expect(tool.status == 1 && tool.stderr.contains("unknown tool \"shred\""), "\(tool.stderr)")
        let args = try await sandbox.hearth(["tool", "run", "read_file", "--args", "[1]"])
        #expect(args.status == 64 && args.stderr.contains("--args must be a JSON object"))
        let broken = try await sandbox.hearth(["tool", "run", "read_file", "--args", "{\"path\": "])
        #expect(broken.status == 64 && broken.stderr.contains("--args: invalid JSON"), "\(broken.stderr)")
        let escape = try await sandbox.hearth(["tool", "run", "read_file", "--args", "{\"path\": \"../../etc/passwd\"}"])
        #expect(escape.status == 1 && escape.stderr.contains("read_file refused"))
    }

    @Test("a call waiting for approval survives a daemon restart, and runs once after 'hearth approve'")
    func approvalAcrossRestart() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.workspace, withIntermediateDirectories: true)
        let server = ScriptedModelServer { body in NoteWriter.reply(body) ?? .chat("{}") }
        let url = try await server.start()
        defer { server.stop() }
        // Autonomy "suggest": every effect, a workspace write included, waits for approval.
        try sandbox.prepareDaemon(
            extraConfig:
                "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\ntool_calls = \"constrained\"\n"
                + "[policy]\nautonomy = \"suggest\"\n")
        var daemon = try await sandbox.startDaemon()
        let handed = try await sandbox.hearth(["goal", "--detach", "--json", "Write a note"])
        let id = try JSONValue(parsing: handed.stdout)["id"]?.intValue ?? 0
        var pending: [JSONValue] = []
        for _ in 0..<300 {
            pending = (try? JSONValue(parsing: try await sandbox.hearth(["approvals", "--json"]).stdout))?.arrayValue ?? []
            if !pending.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(pending.count == 1)
        #expect(pending.first?["tool"] == "write_file" && pending.first?["arguments"]?["path"] == "note.txt")
        #expect(try JSONValue(parsing: try await sandbox.hearth(["run", "\(id)", "--json"]).stdout)["state"] == "awaitingApproval")
        #expect(await daemon.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: sandbox.workspace.appending(path: "note.txt").path))

        let approval = pending.first?["id"]?.intValue ?? 0
        let approved = try await sandbox.hearth(["approve", "\(approval)", "--note", "fine"])
        #expect(approved.status == 0 && approved.stdout.contains("hearth resume \(id)"))
        daemon = try await sandbox.startDaemon()
        var state = ""
        for _ in 0..<300 {
            state = (try? JSONValue(parsing: try await sandbox.hearth(["run", "\(id)", "--json"]).stdout))?["state"]?.stringValue ?? ""
            if state == "succeeded" || state == "failed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(state == "succeeded")
        #expect(try String(contentsOf: sandbox.workspace.appending(path: "note.txt"), encoding: .utf8) == "hello")
        let all = try JSONValue(parsing: try await sandbox.hearth(["approvals", "--all", "--json"]).stdout).arrayValue ?? []
        #expect(all.map { $0["state"] } == ["used"])
        let again = try await sandbox.hearth(["approve", "\(approval)"])
        #expect(again.status == 1 && again.stderr.contains("already used"), "\(again.stderr)")
        #expect(await daemon.stop() == 0)
    }

    static func read(_ database: URL, _ sql: String) throws -> [String] {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: database.path, configuration: configuration)
        return try queue.read { db in try String.fetchAll(db, sql: sql) }
    }
}
