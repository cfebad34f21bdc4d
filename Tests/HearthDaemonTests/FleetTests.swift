import Foundation
import GRDB
import HearthBench
import HearthCore
import HearthDemo
import HearthPostgres
import HearthServer
import HearthTesting
import PostgresNIO
import Testing

/// Two agents sharing one store (two configs, one data dir): keys, signed messages, replay and
/// tampering refused, rotation and revocation, a key file others can read refused.
@Suite("hearth fleet: identities and signed messages", .timeLimit(.minutes(2)))
struct FleetTests {
    @Test("members list with their keys; a signed handover is accepted once; a replay, a tampered copy and a revoked sender are refused")
    func twoAgents() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        for name in ["alpha", "bravo"] {
            try Data("[fleet]\nname = \"\(name)\"\nrole = \"\(name == "alpha" ? "planner" : "worker")\"\n".utf8).write(
                to: sandbox.root.appending("\(name).toml"))
        }
        func as_(_ name: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await sandbox.hearth(["fleet"] + arguments + ["--config", sandbox.root.appending("\(name).toml").path])
        }
        let alpha = try JSONValue(parsing: try await as_("alpha", ["status", "--json"]).stdout)
        #expect(alpha["name"] == "alpha" && alpha["role"] == "planner")
        let listed = try JSONValue(parsing: try await as_("bravo", ["list", "--json"]).stdout).arrayValue ?? []
        #expect(listed.map { $0["name"]?.stringValue ?? "" } == ["alpha", "bravo"])
        #expect(listed.first?["key"] == alpha["key"] && listed.allSatisfy { $0["state"] == "active" && $0["lastSeen"]?.stringValue != nil })
        #expect(Set(listed.compactMap { $0["role"]?.stringValue }) == ["planner", "worker"])

        let sent = try await as_("alpha", ["send", "bravo", "--kind", "handover", "Review the Q3 specs"])
        #expect(sent.status == 0, "\(sent.stderr)")
        // Someone with the database copies the message (a replay) and changes a copy's text.
        let database = try DatabaseQueue(path: sandbox.data.appending(path: "hearth.sqlite").path)
        try await database.write { db in
            let payload = try String.fetchOne(db, sql: "SELECT payload FROM fleet_message ORDER BY id LIMIT 1") ?? ""
            for text in [payload, payload.replacingOccurrences(of: "Review the Q3 specs", with: "Delete the Q3 specs")] {
                try db.execute(
                    sql:
                        "INSERT INTO fleet_message (sender, recipient, nonce, payload, sentAt) SELECT sender, recipient, nonce, ?, sentAt FROM fleet_message ORDER BY id LIMIT 1",
                    arguments: [text])
            }
        }
        let inbox = try JSONValue(parsing: try await as_("bravo", ["inbox", "--json"]).stdout).arrayValue ?? []
        #expect(inbox.count == 3)
        #expect(
            inbox.first?["accepted"] == true && inbox.first?["body"]?["text"] == "Review the Q3 specs" && inbox.first?["kind"] == "handover"
        )
        #expect(inbox.dropFirst().first?["reason"]?.stringValue?.hasPrefix("a replay") == true, "\(inbox)")
        #expect(inbox.last?["reason"]?.stringValue?.contains("signature does not match") == true, "\(inbox)")
        #expect(try JSONValue(parsing: try await as_("bravo", ["inbox", "--json"]).stdout) == [], "each message is checked once")

        // Rotation: a new key, listed; messages signed with it are accepted.
        let rotated = try await as_("alpha", ["rotate", "--overlap-minutes", "5"])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        let newKey = try JSONValue(parsing: try await as_("alpha", ["status", "--json"]).stdout)["key"]
        #expect(newKey != alpha["key"])
        _ = try await as_("alpha", ["send", "bravo", "After the rotation"])
        // Revocation, effective at once: a message already waiting is refused, and the revoked
        // agent can send nothing more.
        _ = try await as_("alpha", ["send", "bravo", "Just before the revocation"])
        #expect(try await as_("bravo", ["revoke", "alpha"]).status == 0)
        let late = try JSONValue(parsing: try await as_("bravo", ["inbox", "--json"]).stdout).arrayValue ?? []
        #expect(late.map { $0["accepted"]?.boolValue ?? true } == [false, false], "\(late)")
        #expect(late.allSatisfy { $0["reason"] == "alpha's key was revoked" })
        let refused = try await as_("alpha", ["send", "bravo", "Still here?"])
        #expect(refused.status != 0 && refused.stderr.contains("alpha was revoked"), "\(refused.stderr)")
        let states = try JSONValue(parsing: try await as_("bravo", ["list", "--json"]).stdout).arrayValue ?? []
        #expect(states.first { $0["name"] == "alpha" }?["state"] == "revoked")

        // A key file others can read is refused, with the command that fixes it.
        let keyFile = sandbox.data.appending(path: "fleet/bravo.key")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile.path)
        let loose = try await as_("bravo", ["status"])
        #expect(loose.status != 0 && loose.stderr.contains("chmod 600 \(keyFile.path)"), "\(loose.stderr)")
    }

    @Test(
        "two agents on two data directories share one PostgreSQL: each lists the other, a signed message is accepted once, a revocation holds for the other at once"
    )
    func sharedPostgres() async throws {
        let url = ProcessInfo.processInfo.environment["HEARTH_TEST_POSTGRES_URL"]
        try #require(url != nil || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let shared = try await TestPostgres.freshLocation(prefix: "fleet")
        var agents: [String: Sandbox] = [:]
        for name in ["alpha", "bravo"] {
            let sandbox = try Sandbox()
            try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
            try Data("[fleet]\nname = \"\(name)\"\n[store]\nurl = \"\(shared.url)\"\n".utf8).write(
                to: sandbox.data.appending(path: "config.toml"))
            agents[name] = sandbox
        }
        func as_(_ name: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await agents[name]!.hearth(["fleet"] + arguments)
        }
        let alpha = try await as_("alpha", ["status", "--json"])
        #expect(alpha.status == 0, "\(alpha.stderr)")
        let listed = try JSONValue(parsing: try await as_("bravo", ["list", "--json"]).stdout).arrayValue ?? []
        #expect(listed.map { $0["name"]?.stringValue ?? "" } == ["alpha", "bravo"], "\(listed)")
        #expect(listed.first?["key"] == (try JSONValue(parsing: alpha.stdout))["key"])
        #expect(
            !FileManager.default.fileExists(atPath: agents["alpha"]!.data.appending(path: "hearth.sqlite").path), "nothing kept locally")

        #expect(try await as_("alpha", ["send", "bravo", "--kind", "handover", "Review the Q3 specs"]).status == 0)
        // A copy of it put in the store again is a replay.
        let database = try await TestPostgres.open(shared)
        defer { database.close() }
        try await database.client.query(
            "INSERT INTO fleet_message (sender, recipient, nonce, payload, sentAt) SELECT sender, recipient, nonce, payload, sentAt FROM fleet_message"
        )
        let inbox = try JSONValue(parsing: try await as_("bravo", ["inbox", "--json"]).stdout).arrayValue ?? []
        #expect(inbox.map { $0["accepted"]?.boolValue ?? false } == [true, false], "\(inbox)")
        #expect(inbox.last?["reason"]?.stringValue?.hasPrefix("a replay") == true, "\(inbox)")

        // bravo revokes alpha on its machine; alpha, on its own, can send nothing more.
        #expect(try await as_("bravo", ["revoke", "alpha"]).status == 0)
        let refused = try await as_("alpha", ["send", "bravo", "Still here?"])
        #expect(refused.status != 0 && refused.stderr.contains("alpha was revoked"), "\(refused.stderr)")
        // Status reads the shared store's counts; the demo looks for its last run there too.
        let status = try await agents["alpha"]!.hearth(["status", "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(try JSONValue(parsing: status.stdout)["daemon"]?["running"] == false)
        let demo = try await agents["alpha"]!.hearth(["demo", "--last", "--json"])
        #expect(demo.status != 0 && demo.stderr.contains("no demo has run here yet"), "\(demo.stderr)")
    }

    @Test("two machines on one PostgreSQL share the journal, runs, goals and approvals through the same commands")
    func sharedCommands() async throws {
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let shared = try await TestPostgres.freshLocation(prefix: "cli")
        var machines: [String: Sandbox] = [:]
        for name in ["alpha", "bravo"] {
            let sandbox = try Sandbox()
            try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
            try Data("[fleet]\nname = \"\(name)\"\n[store]\nurl = \"\(shared.url)\"\n".utf8).write(
                to: sandbox.data.appending(path: "config.toml"))
            machines[name] = sandbox
        }
        func on(_ name: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await machines[name]!.hearth(arguments)
        }
        func json(_ name: String, _ arguments: [String]) async throws -> JSONValue {
            let result = try await on(name, arguments)
            #expect(result.status == 0, "hearth \(arguments.joined(separator: " ")) on \(name): \(result.stderr)")
            return try JSONValue(parsing: result.stdout)
        }

        // The journal: an event keyed on one machine is a duplicate on the other.
        let added = try await json(
            "alpha", ["event", "add", "--kind", "note.added", "--key", "k1", "--payload", #"{"text":"hi"}"#, "--json"])
        #expect(added["duplicate"] == false)
        let again = try await json("bravo", ["event", "add", "--kind", "note.added", "--key", "k1", "--json"])
        #expect(again["duplicate"] == true && again["id"] == added["id"])
        let events = try await json("bravo", ["events", "--json"]).arrayValue ?? []
        #expect(events.count == 1 && events.first?["payload"]?["text"] == "hi")

        // Runs: queued on one, found by key on the other, cancelled there, seen cancelled everywhere.
        let queued = try await json(
            "alpha", ["effect", "append-line", "--file", "notes.txt", "--text", "hello", "--key", "demo-1", "--json"])
        #expect(queued["created"] == true)
        let same = try await json(
            "bravo", ["effect", "append-line", "--file", "notes.txt", "--text", "hello", "--key", "demo-1", "--json"])
        #expect(same["created"] == false && same["id"] == queued["id"])
        let runID = String(queued["id"]?.intValue ?? 0)
        #expect((try await json("bravo", ["runs", "--json"]).arrayValue ?? []).map { $0["id"] } == [queued["id"]])
        #expect(try await on("bravo", ["cancel", runID]).stdout.contains("cancelled"))
        #expect(try await json("alpha", ["run", runID, "--json"])["state"] == "cancelled")

        // A goal waiting for approval (as a daemon of the fleet left it): listed on both, answered once.
        let database = try await TestPostgres.open(shared)
        defer { database.close() }
        let goals = PostgresGoalStore(database: database)
        let goal = try await goals.createGoal("Send the Q3 summary", budget: GoalBudget(), workspace: nil)
        let task = PlanTask(
            id: "send", group: "send", item: nil, title: "Send", instructions: "Send it.", dependsOn: [], expectedOutput: "",
            tools: ["send_message"])
        try await goals.savePlan(goal.id, draft: PlanDraft(tasks: []), tasks: [task])
        try await goals.setTaskState(goal.id, task: "send", state: .awaitingApproval, result: nil, error: nil)
        try await goals.setRunState(goal.id, state: .awaitingApproval, pauseReason: nil)
        try await goals.trace(TraceEvent(runID: goal.id, taskID: "send", kind: .policy, name: "ask", detail: ["reason": "sends outside"]))
        let approval = try await PostgresApprovalBook(database: database).request(
            Approval(
                runID: goal.id, taskID: "send", position: 0, tool: "send_message", risk: .sendExternal,
                arguments: ["to": "ann@example.com"], origins: [:], reason: "sends outside", expiresAt: Date().addingTimeInterval(3600)))
        let waiting = try await json("alpha", ["approvals", "--json"]).arrayValue ?? []
        #expect(waiting.map { $0["id"] } == [.number(Double(approval.id))] && waiting.first?["tool"] == "send_message")
        let approved = try await on("bravo", ["approve", String(approval.id), "--note", "fine"])
        #expect(approved.status == 0 && approved.stdout.contains("approved"), "\(approved.stderr)")
        let late = try await on("alpha", ["deny", String(approval.id)])
        #expect(late.status != 0 && late.stderr.contains("already approved"), "\(late.stderr)")
        #expect(try await json("alpha", ["run", String(goal.id), "--json"])["state"] == "pending", "the answer put the goal back to work")
        #expect(try await on("bravo", ["trace", String(goal.id)]).stdout.contains("ask"))
        // Schedules: added on one machine, listed and removed on the other.
        #expect(try await on("alpha", ["schedule", "add", "nightly", "0 2 * * *", "--tz", "UTC"]).status == 0)
        let schedules = try await json("bravo", ["schedule", "list", "--json"]).arrayValue ?? []
        #expect(schedules.map { $0["name"] } == ["nightly"] && schedules.first?["nextFireAt"]?.stringValue != nil, "\(schedules)")
        #expect(try await on("bravo", ["schedule", "remove", "nightly"]).status == 0)
        #expect(try await on("alpha", ["schedule", "remove", "nightly"]).stderr.contains("no schedule named"))

        // Routines: added on one machine, listed (and paused) on the other.
        let routine = try await on("alpha", ["routine", "add", "invoices", "--on", "kind=mail.received", "--goal", "File the invoices"])
        #expect(routine.status == 0, "\(routine.stderr)")
        #expect(try await on("bravo", ["routine", "pause", "invoices"]).status == 0)
        let routines = try await json("alpha", ["routine", "list", "--json"]).arrayValue ?? []
        #expect(routines.map { $0["name"] } == ["invoices"] && routines.first?["paused"] == true, "\(routines)")

        // Memory: remembered on one machine, found (keywords, then facts) on the other.
        let remembered = try await on("alpha", ["memory", "remember", "My dog is called Biscuit"])
        #expect(remembered.status == 0, "\(remembered.stderr)")
        let hits = try await json("bravo", ["memory", "search", "--bm25", "--json", "Biscuit"])["hits"]?.arrayValue ?? []
        #expect(hits.first?["text"] == "My dog is called Biscuit", "\(hits)")
        let stats = try await json("bravo", ["memory", "stats", "--json"])
        #expect(stats["records"] == 1, "\(stats)")
        #expect(
            !FileManager.default.fileExists(atPath: machines["alpha"]!.data.appending(path: "hearth.sqlite").path), "nothing kept locally")
    }
}

@Suite("A goal on the fleet's store, from the CLI", .timeLimit(.minutes(3)))
struct FleetGoalTests {
    @Test(
        "a goal runs against the shared PostgreSQL: planned, its tool calls journaled and its model calls accounted there; the other machine sees its plan and trace"
    )
    func goalOnSharedStore() async throws {
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let shared = try await TestPostgres.freshLocation(prefix: "goal")
        let server = ScriptedModelServer { body in
            if ScriptedGoal.isPlanner(body) {
                return ScriptedGoal.plan([
                    [
                        "id": "list", "title": "List the notes", "instructions": "List the files in Notes.", "dependsOn": [],
                        "expectedOutput": "the file names", "tools": ["list_files"],
                    ]
                ])
            }
            let messages = body["messages"]?.arrayValue ?? []
            return messages.count <= 2
                ? ScriptedGoal.call("list_files", ["path": "Notes"]) : ScriptedGoal.call("final_answer", ["text": "two notes: a.md, b.md"])
        }
        let url = try await server.start()
        defer { server.stop() }
        var machines: [String: Sandbox] = [:]
        for name in ["alpha", "bravo"] {
            let sandbox = try Sandbox()
            try sandbox.useScriptedModel(url, extra: "[fleet]\nname = \"\(name)\"\n[store]\nurl = \"\(shared.url)\"\n")
            try sandbox.write(["Notes/a.md": "alpha\n", "Notes/b.md": "beta\n"])
            machines[name] = sandbox
        }
        let ran = try await machines["alpha"]!.hearth(["goal", "--json", "--planner", "model", "List my notes"])
        #expect(ran.status == 0, "\(ran.stderr)")
        let detail = try JSONValue(parsing: ran.stdout)
        #expect(detail["state"] == "succeeded", "\(ran.stdout)")
        let runID = String(detail["id"]?.intValue ?? 0)
        let seen = try JSONValue(parsing: try await machines["bravo"]!.hearth(["run", runID, "--json"]).stdout)
        #expect(seen["state"] == "succeeded" && seen["tasks"]?.arrayValue?.count == 1, "\(seen)")
        let trace = try await machines["bravo"]!.hearth(["trace", runID])
        #expect(trace.stdout.contains("list_files"), "\(trace.stdout)")
        let database = try await TestPostgres.open(shared)
        defer { database.close() }
        let usage = try await PostgresUsageStore(database: database).totals(UsageFilter(runID: Int64(runID)))
        #expect(usage.calls >= 3 && usage.promptTokens > 0, "every model call accounted in the shared store: \(usage)")
        #expect(!FileManager.default.fileExists(atPath: machines["alpha"]!.data.appending(path: "hearth.sqlite").path))
    }
}

@Suite("The demo on the fleet's store", .timeLimit(.minutes(3)))
struct FleetDemoTests {
    @Test("hearth demo runs its audit against the shared PostgreSQL (nothing kept locally) and --last finds it there")
    func demoOnSharedStore() async throws {
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let shared = try await TestPostgres.freshLocation(prefix: "demo")
        let server = ScriptedModelServer(responder: ScriptedAuditModel.reply)
        let url = try await server.start()
        defer { server.stop() }
        let sandbox = try Sandbox()
        try sandbox.useScriptedModel(url, extra: "[fleet]\nname = \"alpha\"\n[store]\nurl = \"\(shared.url)\"\n")
        let ran = try await sandbox.hearth(["demo", "--json"])
        #expect(ran.status == 0, "\(ran.stderr)")
        let result = try JSONValue(parsing: ran.stdout)
        #expect((result["receipts"]?.arrayValue?.count ?? 0) == 20, "\(ran.stdout.prefix(400))")
        let last = try await sandbox.hearth(["demo", "--last", "--json"])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try JSONValue(parsing: last.stdout)["run"] == result["run"])
        let database = try await TestPostgres.open(shared)
        defer { database.close() }
        let goal = try await PostgresGoalStore(database: database).goal(Int64(result["run"]?.intValue ?? 0))
        #expect(goal.goal == SampleWorkspace.goal && goal.run.state == .succeeded)
        #expect(!FileManager.default.fileExists(atPath: sandbox.data.appending(path: "hearth.sqlite").path))
    }
}

@Suite("A conversation on the fleet's store", .timeLimit(.minutes(3)))
struct FleetChatTests {
    @Test("told on one machine, asked on the other in a new session: the answer comes from the shared memory")
    func chatAcrossMachines() async throws {
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let shared = try await TestPostgres.freshLocation(prefix: "chat")
        let server = ScriptedModelServer([.chat("Noted.")])
        let url = try await server.start()
        defer { server.stop() }
        var machines: [String: Sandbox] = [:]
        for name in ["alpha", "bravo"] {
            let sandbox = try Sandbox()
            try sandbox.useScriptedModel(url, extra: "[fleet]\nname = \"\(name)\"\n[store]\nurl = \"\(shared.url)\"\n")
            machines[name] = sandbox
        }
        let told = try await machines["alpha"]!.hearth(["chat", "--json", "My dog is called Biscuit."])
        #expect(told.status == 0, "\(told.stderr)")
        let first = try JSONValue(parsing: told.stdout)
        let asked = try await machines["bravo"]!.hearth(["chat", "--new", "--json", "What is my dog called?"])
        #expect(asked.status == 0, "\(asked.stderr)")
        let answer = try JSONValue(parsing: asked.stdout)
        #expect(answer["answer"]?.stringValue?.contains("Biscuit") == true, "\(answer)")
        #expect(answer["session"] != first["session"], "a new session, on the other machine")
        let sessions =
            try JSONValue(parsing: try await machines["alpha"]!.hearth(["chat", "--sessions", "--json"]).stdout).arrayValue ?? []
        #expect(sessions.count == 2, "\(sessions)")
    }
}

@Suite("hearth bench fleet: rates and memory latency on both backends", .timeLimit(.minutes(5)))
struct FleetBenchTests {
    @Test("measured figures for both backends in one run, memory latency beside SQLite's, as JSON")
    func figures() async throws {
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let sandbox = try Sandbox()
        let result = try await sandbox.hearth([
            "bench", "fleet", "--store", try #require(TestPostgres.url), "--events", "100", "--memory-records", "1000",
            "--memory-queries", "20", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let figures = try JSONValue(parsing: result.stdout)
        for backend in ["sqlite", "postgres"] {
            #expect((figures[backend]?["1"]?.doubleValue ?? 0) > 0 && (figures["claims"]?[backend]?["4"]?.doubleValue ?? 0) > 0)
            let hybrid = figures["memory"]?[backend]?["hybrid"]
            #expect((hybrid?["p99_ms"]?.doubleValue ?? 0) >= (hybrid?["p50_ms"]?.doubleValue ?? .infinity), "\(figures)")
        }
        #expect((figures["memory"]?["hybrid_p99_ratio"]?.doubleValue ?? 0) > 0)
        // The goal service's own path: runs leased, finished under the fence and released.
        for daemons in ["1", "2", "4"] {
            #expect((figures["claims"]?["postgres_run_leases"]?[daemons]?.doubleValue ?? 0) > 0, "\(figures)")
        }
        let refused = try await sandbox.hearth(["bench", "fleet", "--store", try #require(TestPostgres.url), "--memory-records", "5"])
        #expect(refused.status != 0 && refused.stderr.contains("--memory-records must be 0 or 1000"))
    }
}

@Suite("Two daemons on one PostgreSQL", .timeLimit(.minutes(3)))
struct FleetDaemonTests {
    @Test("both run on the shared store: queued runs are performed once between them, an event is ingested once, status counts the store")
    func twoDaemons() async throws {
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let shared = try await TestPostgres.freshLocation(prefix: "daemons")
        var machines: [String: Sandbox] = [:]
        var daemons: [String: DaemonUnderTest] = [:]
        for name in ["alpha", "bravo"] {
            let sandbox = try Sandbox()
            try sandbox.prepareDaemon(extraConfig: "[fleet]\nname = \"\(name)\"\n[store]\nurl = \"\(shared.url)\"\n")
            machines[name] = sandbox
            daemons[name] = try await sandbox.startDaemon()
        }
        // Runs queued from one machine's command line; either daemon may perform each, once.
        for index in 0..<6 {
            let queued = try await machines["alpha"]!.hearth([
                "effect", "append-line", "--file", "notes.txt", "--text", "line \(index)", "--key", "k\(index)",
            ])
            #expect(queued.status == 0, "\(queued.stderr)")
        }
        var lines: [String] = []
        for _ in 0..<300 {
            lines = ["alpha", "bravo"].flatMap { name in
                ((try? String(contentsOf: machines[name]!.workspace.appending(path: "notes.txt"), encoding: .utf8)) ?? "")
                    .split(separator: "\n").map(String.init)
            }
            if lines.count >= 6 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(lines.count == 6 && Set(lines.map { $0.prefix(6) }).count == 6, "every run performed once: \(lines)")
        var runs: [JSONValue] = []
        for _ in 0..<150 {
            runs = try await daemons["bravo"]!.client.get("/v1/runs").body.arrayValue ?? []
            if runs.count == 6 && runs.allSatisfy({ $0["state"] == "succeeded" }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(runs.count == 6 && runs.allSatisfy { $0["state"] == "succeeded" }, "\(runs.map(\.jsonText))")

        // An event posted to one daemon is in the other's journal; it is ingested once.
        let posted = try await daemons["alpha"]!.client.post(
            "/v1/events", [["source": "webhook", "kind": "build.failed", "key": "b-1", "payload": ["text": "main is red"]]])
        #expect(posted.status < 300, "\(posted.body.jsonText)")
        var seen: [JSONValue] = []
        for _ in 0..<100 {
            seen = (try await daemons["bravo"]!.client.get("/v1/events?limit=100").body.arrayValue ?? []).filter {
                $0["kind"] == "build.failed"
            }
            if !seen.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(seen.count == 1)
        let database = try await TestPostgres.open(shared)
        defer { database.close() }
        var items: [AttentionItem] = []
        for _ in 0..<150 {
            items = try await PostgresAttentionStore(database: database).items(AttentionQuery(limit: 1_000)).filter {
                $0.kind == "build.failed"
            }
            if !items.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .milliseconds(500))
        let again = try await PostgresAttentionStore(database: database).items(AttentionQuery(limit: 1_000)).filter {
            $0.kind == "build.failed"
        }
        #expect(items.count == 1 && again.count == 1, "scored once by the two daemons")
        let status = try await machines["bravo"]!.status()
        #expect(status["daemon"]?["running"] == true && status["counts"]?["runs"]?["succeeded"] == 6, "\(status)")
        for name in ["alpha", "bravo"] { #expect(await daemons[name]!.stop() == 0) }
    }
}

@Suite("A goal run's lease across daemons", .timeLimit(.minutes(3)))
struct FleetLeaseTests {
    @Test(
        "a daemon paused past its goal run's lease loses the run: another takes it over and finishes it, and the paused one, resumed, records and writes nothing"
    )
    func pausedDaemonIsFenced() async throws {
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let shared = try await TestPostgres.freshLocation(prefix: "lease")
        let plan = ScriptedGoal.plan([
            [
                "id": "status", "title": "Write the status", "instructions": "Write the fleet's status into Reports/status.txt.",
                "dependsOn": [], "expectedOutput": "the file", "tools": ["write_file"],
            ]
        ])
        // Each daemon has its own model server: alpha's answers its task's first step slowly (it
        // is paused while the answer is on its way), bravo's at once.
        func model(writing text: String, after delay: Double) -> ScriptedModelServer {
            ScriptedModelServer { body in
                if ScriptedGoal.isPlanner(body) { return plan }
                guard (body["messages"]?.arrayValue ?? []).count <= 2 else { return ScriptedGoal.call("final_answer", ["text": "written"]) }
                let call: JSONValue = ["tool": "write_file", "arguments": ["path": "Reports/status.txt", "content": .string(text)]]
                return delay > 0 ? .delayed(seconds: delay, then: .init(call.jsonText)) : .chat(call.jsonText)
            }
        }
        let servers = ["alpha": model(writing: "from alpha", after: 2), "bravo": model(writing: "from bravo", after: 0)]
        var machines: [String: Sandbox] = [:]
        for name in ["alpha", "bravo"] {
            let sandbox = try Sandbox()
            try sandbox.prepareDaemon(
                scriptedModel: try await servers[name]!.start(),
                extra: "tool_calls = \"constrained\"\n[fleet]\nname = \"\(name)\"\nlease_seconds = 2\n[store]\nurl = \"\(shared.url)\"\n")
            machines[name] = sandbox
        }
        defer { for server in servers.values { server.stop() } }
        let alpha = try await machines["alpha"]!.startDaemon()
        let created = try await alpha.client.post("/v1/goals", ["goal": "Record the fleet's status in a file"])
        #expect(created.status == 201, "\(created.body)")
        let run = try #require(created.body["id"]?.intValue ?? created.body["run"]?["id"]?.intValue, "\(created.body)")
        // Alpha works on the run: once its task has asked the model, it is stopped (SIGSTOP).
        for _ in 0..<300 where !servers["alpha"]!.requests.contains(where: { !ScriptedGoal.isPlanner($0.body) }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(servers["alpha"]!.requests.contains { !ScriptedGoal.isPlanner($0.body) }, "alpha never started the task")
        alpha.process.signal(SIGSTOP)

        // Bravo takes the run over once alpha's lease ran out, and finishes it.
        let bravo = try await machines["bravo"]!.startDaemon()
        var state = ""
        for _ in 0..<300 where state != "succeeded" {
            state = (try await bravo.client.get("/v1/goals/\(run)").body["run"]?["state"]?.stringValue) ?? ""
            if state != "succeeded" { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(state == "succeeded")
        let written = machines["bravo"]!.workspace.appending(path: "Reports/status.txt")
        #expect((try? String(contentsOf: written, encoding: .utf8)) == "from bravo")

        // Alpha wakes up with its model's answer in hand: it records nothing and writes nothing.
        alpha.process.signal(SIGCONT)
        var told = false
        for _ in 0..<150 where !told {
            told = alpha.process.standardError.contains("the lease on goal run \(run) was lost")
            if !told { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(told, "alpha says it lost the run: \(alpha.process.standardError.suffix(2_000))")
        #expect(!FileManager.default.fileExists(atPath: machines["alpha"]!.workspace.appending(path: "Reports/status.txt").path))
        #expect((try await bravo.client.get("/v1/goals/\(run)").body["run"]?["state"]?.stringValue) == "succeeded")
        let database = try await TestPostgres.open(shared)
        defer { database.close() }
        var claims: [String] = []
        for try await holder in try await database.client.query("SELECT holder FROM run_claim WHERE runId = \(run) ORDER BY fence").decode(
            String.self)
        {
            claims.append(holder)
        }
        #expect(claims.first == "alpha" && claims.contains("bravo") && !claims.dropFirst().contains("alpha"), "\(claims)")
        var fences: [Int64] = []
        for try await fence in try await database.client.query("SELECT fence FROM task_action WHERE runId = \(run)").decode(Int64.self) {
            fences.append(fence)
        }
        #expect(!fences.isEmpty && fences.allSatisfy { $0 > 1 }, "every tool call recorded under bravo's fence: \(fences)")
        #expect(await alpha.stop() == 0)
        #expect(await bravo.stop() == 0)
    }
}
