import Foundation
import HearthBench
import HearthCore
import HearthServer
import HearthStore
import HearthTesting
import Testing

/// The attention loop through the real daemon and CLI: events become memory and scored items,
/// interrupts wait in the inbox, briefs are written, and a kill -9 loses and repeats nothing.
@Suite("The attention loop, end to end", .timeLimit(.minutes(2)))
struct AttentionLoopTests {
    func inbox(_ daemon: DaemonUnderTest, count: Int) async throws -> [JSONValue] {
        try await withTimeout(30, "the inbox") {
            while true {
                let items = try await daemon.client.get("/v1/inbox").body.arrayValue ?? []
                if items.count >= count { return items }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    func ingested(_ sandbox: Sandbox, through id: Int64) async throws {
        let database = try HearthDatabase.open(at: sandbox.data.appending(path: "hearth.sqlite"))
        try await withTimeout(60, "ingestion through event \(id)") {
            while try await AttentionSQLStore(database: database).ingestedThrough() < id { try await Task.sleep(for: .milliseconds(50)) }
        }
    }

    @Test("a mail from the manager interrupts and waits in the inbox with its reasons; a newsletter does not; the brief lists both kinds")
    func mailToInboxAndBrief() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon(extraConfig: "[attention]\nme = [\"sam@acme.test\"]\n")
        #expect(try await sandbox.hearth(["memory", "remember", "Ann Lee is my manager"]).status == 0)
        let daemon = try await sandbox.startDaemon()
        let mail = sandbox.data.appending(path: "mail/new")
        try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
        try Data("From: Ann Lee <ann@acme.test>\nTo: sam@acme.test\nSubject: Need the board deck by noon\n\nCan you send it?\n".utf8)
            .write(to: mail.appending(path: "1.host"))
        try Data("From: Deals <news@shop.test>\nTo: sam@acme.test\nList-Id: <deals.shop.test>\nSubject: URGENT sale\n\nBuy now.\n".utf8)
            .write(to: mail.appending(path: "2.host"))
        try sandbox.write(["Docs/whitepaper.md": "# Edge inference\nRunning models on the user's machine.\n"])
        let items = try await inbox(daemon, count: 1)
        #expect(items.count == 1)
        #expect(items[0]["text"] == "Ann Lee: Need the board deck by noon")
        #expect(items[0]["reasons"]?.arrayValue?.contains { $0["detail"]?.stringValue == "from Ann Lee, your manager" } == true)
        let id = try #require(items[0]["id"]?.intValue)

        let cli = try JSONValue(parsing: try await sandbox.hearth(["inbox", "--json"]).stdout)
        #expect(cli.arrayValue?.count == 1)
        // The newsletter and the document may still be on their way in: the brief covers all three.
        try await ingested(sandbox, through: 3)
        let brief = try JSONValue(parsing: try await sandbox.hearth(["brief", "--json"]).stdout)
        let sections = brief["sections"]?.arrayValue ?? []
        func section(_ title: String) -> [JSONValue] { sections.first { $0["title"]?.stringValue == title }?["items"]?.arrayValue ?? [] }
        #expect(section("Needs you").contains { $0["text"] == "Ann Lee: Need the board deck by noon" })
        #expect(section("Arrived").contains { $0["text"]?.stringValue?.contains("1 newsletters and list mails") == true })
        let path = try #require(brief["path"]?.stringValue)
        #expect(FileManager.default.fileExists(atPath: sandbox.workspace.appending(path: path).path))
        #expect(try await daemon.client.get("/v1/briefs/latest").body["path"]?.stringValue == path)

        let search = try await sandbox.hearth(["memory", "search", "board deck"])
        #expect(search.stdout.contains("Mail from Ann Lee <ann@acme.test> to sam@acme.test: Need the board deck by noon"))
        let feedback = try await sandbox.hearth(["inbox", "feedback", String(id), "not-urgent"])
        #expect(feedback.stdout.contains("noted: sender:ann@acme.test is not-urgent"), "\(feedback.stdout) \(feedback.stderr)")
        #expect(try await sandbox.hearth(["inbox", "ack", String(id)]).status == 0)
        #expect(try await daemon.client.get("/v1/inbox").body.arrayValue?.isEmpty == true)
        #expect(try await sandbox.hearth(["inbox", "ack", "999"]).status == 1)
        _ = await daemon.stop()
    }

    @Test("kill -9 during ingestion: after a restart every event has exactly one item and one memory record")
    func killNineExactlyOnce() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        var daemon = try await sandbox.startDaemon()
        let batch: JSONValue = .array(
            (0..<1_500).map { index in
                [
                    "source": "webhook", "kind": "order.paid", "key": .string("order-\(index)"),
                    "payload": ["order": .number(Double(index)), "note": .string("order \(index) paid")],
                ]
            })
        let reply = try await daemon.client.post("/v1/events", batch)
        #expect(reply.status < 300)
        await daemon.kill()
        daemon = try await sandbox.startDaemon()
        let database = try HearthDatabase.open(at: sandbox.data.appending(path: "hearth.sqlite"))
        // Through the last webhook event (Hearth's own files — PROFILE.md, the journal — are events too).
        let last = try await JournalStore(database: database).events(EventQuery(limit: 1, source: "webhook", newestFirst: true)).first?.id
        try await ingested(sandbox, through: try #require(last))
        // One item per webhook event, exactly; Hearth's own files (the day's journal) are events too, each with its one item.
        let items = try await AttentionSQLStore(database: database).items(AttentionQuery(limit: 100_000))
        #expect(items.filter { $0.source == "webhook" }.count == 1_500)
        #expect(Set(items.map(\.eventID)).count == items.count)
        let records = try await MemorySQLStore(database: database).records(after: 0, kinds: [.event], limit: 10_000).filter {
            $0.source == "webhook"
        }
        #expect(records.count == 1_500)
        #expect(Set(records.map(\.text)).count == 1_500)
        _ = await daemon.stop()
    }

    @Test("bad input: a malformed [attention] key is named with what is allowed; a brief that cannot be written leaves nothing")
    func badInput() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        try Data("[attention]\nquiet_hours = \"late\"\n".utf8).write(to: sandbox.data.appending(path: "config.toml"))
        let bad = try await sandbox.hearth(["brief"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("attention.quiet_hours: \"late\" is not a range like \"22:00-07:00\""), "\(bad.stderr)")
        try Data("[attention]\ninterrupt_at = 0.2\ndigest_at = 0.5\n".utf8).write(to: sandbox.data.appending(path: "config.toml"))
        #expect(try await sandbox.hearth(["brief"]).stderr.contains("need 0 ≤ digest_at < interrupt_at ≤ 1"))
        try Data().write(to: sandbox.data.appending(path: "config.toml"))
        // Briefs/ is a file: the brief cannot be written, and says so.
        try sandbox.write(["Briefs": "not a folder"])
        let blocked = try await sandbox.hearth(["brief"])
        #expect(blocked.status == 1)
        #expect(blocked.stderr.contains("cannot write Briefs/"), "\(blocked.stderr)")
        #expect(blocked.stderr.contains("nothing was written"))
        #expect(try String(contentsOf: sandbox.workspace.appending(path: "Briefs"), encoding: .utf8) == "not a folder")
    }

    @Test("a git path that is not a repository is one clear error in the log; the daemon and its other sources keep running")
    func badGitSource() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon(extraConfig: "[git]\nrepositories = [\"plain\"]\n[metrics]\nstreams = [\"costs.csv\"]\n")
        try sandbox.write(["plain/readme.txt": "not a repository\n", "costs.csv": "date,cost\n2026-11-01,10\n2026-11-02,oops,1\n"])
        let daemon = try await sandbox.startDaemon()
        _ = try await daemon.client.postEvent(["source": "cli", "kind": "note.added", "key": "n1", "payload": ["text": "still here"]])
        try await ingested(sandbox, through: 3)
        let events = try await daemon.client.get("/v1/events?limit=100").body.arrayValue ?? []
        #expect(events.contains { $0["kind"] == "metric.malformed" && $0["payload"]?["line"] == 3 })
        let log = try String(contentsOf: sandbox.data.appending(path: "logs/hearth.log"), encoding: .utf8)
        #expect(log.contains("git source plain: not a git repository"), "\(log.suffix(2_000))")
        #expect(try await daemon.client.get("/v1/health").status == 200)
        _ = await daemon.stop()
    }

    @Test("bench attention replays a generated week: every urgent item interrupts, noise stays quiet, no model is called")
    func benchWeek() async throws {
        let sandbox = try Sandbox()
        let stream = sandbox.root.appending("week.jsonl")
        #expect(try await sandbox.hearth(["bench", "attention", "--generate", stream.path, "--seed", "3"], isolated: false).status == 0)
        let result = try await sandbox.hearth(
            ["bench", "attention", "--stream", stream.path, "--profile", sandbox.root.appending("week.profile.txt").path, "--json"],
            isolated: false)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONValue(parsing: result.stdout)
        #expect(report["model_calls"] == 0)
        #expect((report["urgent"]?["total"]?.intValue ?? 0) > 3)
        #expect(report["urgent"]?["missed"] == 0, "\(report["missed"] ?? .null)")
        #expect(report["noise"]?["interrupted"] == 0)
        #expect((report["interrupts_per_day"]?.doubleValue ?? 99) <= 5)
        #expect(report["decisions"]?.arrayValue?.count == report["events"]?.intValue)
        try Data("{\"label\": \"urgent\", \"occurredAt\": \"nope\", \"mail\": \"x\"}\n".utf8).write(to: stream)
        let bad = try await sandbox.hearth(["bench", "attention", "--stream", stream.path], isolated: false)
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("stream line 1: \"occurredAt\" must be an RFC 3339 time"))
    }
}

/// The seed's morning: commits from two authors overnight, two new PDF whitepapers, and a cost row
/// that takes the month over the budget a standing rule in memory sets.
@Suite("The seed's morning brief, end to end", .timeLimit(.minutes(2)))
struct SeedMorningTests {
    /// One page of text, written by hand (pdftotext rebuilds the cross-reference table).
    static func pdf(_ lines: [String]) -> Data {
        var text = "BT /F1 14 Tf 40 700 Td"
        for (index, line) in lines.enumerated() { text += (index == 0 ? " " : " 0 -20 Td ") + "(\(line)) Tj" }
        text += " ET"
        return Data(
            """
            %PDF-1.4
            1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
            2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
            3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >> endobj
            4 0 obj << /Length \(text.utf8.count) >> stream
            \(text)
            endstream endobj
            5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj
            trailer << /Root 1 0 R >>
            %%EOF
            """.utf8)
    }

    func git(_ arguments: [String], in directory: URL, author: String? = nil) async throws {
        var environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path, "GIT_CONFIG_NOSYSTEM": "1"]
        if let author {
            let parts = author.split(separator: "<")
            environment["GIT_AUTHOR_NAME"] = parts[0].trimmingCharacters(in: .whitespaces)
            environment["GIT_AUTHOR_EMAIL"] = String(parts[1].dropLast())
            environment["GIT_COMMITTER_NAME"] = environment["GIT_AUTHOR_NAME"]
            environment["GIT_COMMITTER_EMAIL"] = environment["GIT_AUTHOR_EMAIL"]
        }
        let result = try await ChildProcess.run(
            URL(fileURLWithPath: "/usr/bin/git"), ["-C", directory.path] + arguments, environment: environment)
        #expect(result.status == 0, "git \(arguments): \(result.stderr)")
    }

    @Test("the brief lists the night's commits by author, both whitepapers, and flags the budget under needs you with the figures")
    func morning() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon(extraConfig: "[git]\nrepositories = [\"nextgen\"]\n[metrics]\nstreams = [\"Budget/cloud-costs.csv\"]\n")
        let repository = sandbox.workspace.appending(path: "nextgen")
        try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
        try await git(["init", "-q", "-b", "main"], in: repository)
        try sandbox.write(["nextgen/README.md": "# NextGen\n"])
        try await git(["add", "."], in: repository)
        try await git(["commit", "-q", "-m", "Start"], in: repository, author: "Old Timer <old@nw.test>")
        var rows = "date,cost_usd\n"
        for day in 1...10 { rows += String(format: "2026-11-%02d,450.00\n", day) }
        try sandbox.write(["Budget/cloud-costs.csv": rows])
        #expect(try await sandbox.hearth(["memory", "remember", "The NextGen cloud budget is 5,000 a month"]).status == 0)
        let daemon = try await sandbox.startDaemon()

        // Overnight: commits from two authors, on two branches.
        try sandbox.write(["nextgen/api.py": "def handler():\n    return 1\n"])
        try await git(["add", "."], in: repository)
        try await git(["commit", "-q", "-m", "Add the API handler"], in: repository, author: "Ann Lee <ann@nw.test>")
        try await git(["checkout", "-q", "-b", "feature/cache"], in: repository)
        try sandbox.write(["nextgen/cache.py": "CACHE = {}\n"])
        try await git(["add", "."], in: repository)
        try await git(["commit", "-q", "-m", "Cache the embeddings"], in: repository, author: "Bo Park <bo@nw.test>")
        try sandbox.write(["nextgen/cache.py": "CACHE = {}\nTTL = 60\n"])
        try await git(["commit", "-q", "-am", "Expire the cache"], in: repository, author: "Bo Park <bo@nw.test>")
        // Two whitepapers, and the cost row that crosses the budget.
        try Self.pdf(["Edge Inference at Scale", "How local models cut latency."]).write(
            to: sandbox.workspace.appending(path: "edge-inference.pdf"))
        try Self.pdf(["Vector Search Costs", "A study of index sizes."]).write(to: sandbox.workspace.appending(path: "vector-costs.pdf"))
        try Data((rows + "2026-11-11,900.00\n").utf8).write(to: sandbox.workspace.appending(path: "Budget/cloud-costs.csv"))

        let brief = try await withTimeout(60, "the brief to hold the night") { () async throws -> JSONValue in
            while true {
                let brief = try JSONValue(
                    parsing: try await sandbox.hearth(["brief", "--json", "--dry-run", "--since", "2026-01-01T00:00:00Z"]).stdout)
                let sections = brief["sections"]?.arrayValue ?? []
                let commits = sections.first { $0["title"] == "Commits" }?["items"]?.arrayValue ?? []
                let documents = sections.first { $0["title"] == "New documents" }?["items"]?.arrayValue ?? []
                let needs = sections.first { $0["title"] == "Needs you" }?["items"]?.arrayValue ?? []
                let texts = (commits + documents + needs).compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
                // The watcher may see the commits in more than one pass: wait for the last of each author.
                if texts.contains("Add the API handler") && texts.contains("Expire the cache") && texts.contains("vector-costs.pdf")
                    && texts.contains("edge-inference.pdf") && texts.contains("5400")
                {
                    return brief
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        let sections = brief["sections"]?.arrayValue ?? []
        func texts(_ title: String) -> [String] {
            (sections.first { $0["title"]?.stringValue == title }?["items"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
        }
        let needs = texts("Needs you")
        #expect(needs.contains { $0.contains("Budget/cloud-costs.csv") && $0.contains("5400") && $0.contains("5000") }, "\(needs)")
        let commits = texts("Commits")
        #expect(
            commits.contains {
                $0.hasPrefix("nextgen — Bo Park (2 commits): ") && $0.contains("Cache the embeddings") && $0.contains("Expire the cache")
            }, "\(commits)")
        #expect(commits.contains { $0.hasPrefix("nextgen — Ann Lee (1 commit): Add the API handler") }, "\(commits)")
        #expect(!commits.contains { $0.contains("Start") })
        let documents = texts("New documents")
        #expect(documents.contains { $0.contains("edge-inference.pdf") && $0.contains("Edge Inference at Scale") }, "\(documents)")
        #expect(documents.contains { $0.contains("vector-costs.pdf") && $0.contains("Vector Search Costs") }, "\(documents)")
        #expect(!documents.contains { $0.contains("cloud-costs.csv") || $0.contains("nextgen/") }, "\(documents)")
        _ = await daemon.stop()
    }
}

@Suite("Routines in the daemon", .timeLimit(.minutes(2)))
struct RoutineDaemonTests {
    @Test("new notes within the batch window start one goal through the planner; routine test and list show it; a bad filter is refused")
    func notesRoutine() async throws {
        let sandbox = try Sandbox()
        let server = ScriptedModelServer { _ in
            .chat((["answer": "A short note about the launch."] as JSONValue).jsonText, promptTokens: 200, completionTokens: 10)
        }
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.prepareDaemon(
            extraConfig:
                "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\ntool_calls = \"constrained\"\n")
        let bad = try await sandbox.hearth([
            "routine", "add", "notes", "--on", "folder=Notes", "--goal", "Summarise each file in {{folder}}",
        ])
        #expect(bad.status == 64)
        #expect(
            bad.stderr.contains("routine notes: folder: is not a filter field; use source, kind, path, sender, subject, level"),
            "\(bad.stderr)")
        let added = try await sandbox.hearth([
            "routine", "add", "notes", "--on", "kind=file.created path=Notes/*.md", "--goal", "Summarise each file in {{folder}}",
            "--batch", "2s",
        ])
        #expect(added.status == 0, "\(added.stderr)")
        let daemon = try await sandbox.startDaemon()
        try sandbox.write([
            "Notes/a.md": "# A\nWe launch in March.\n", "Notes/b.md": "# B\nWho signs off?\n", "Notes/c.md": "# C\nBudget is 12k.\n",
        ])
        let run = try await withTimeout(60, "the routine's run to finish") { () async throws -> JSONValue in
            while true {
                let runs = try await daemon.client.get("/v1/runs").body.arrayValue ?? []
                if let run = runs.first(where: { $0["origin"] == "goal" }),
                    ["succeeded", "failed", "needsReview"].contains(run["state"]?.stringValue ?? "")
                {
                    return run
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(run["state"] == "succeeded", "\(run)")
        let goal = try await daemon.client.get("/v1/goals/\(run["id"]?.intValue ?? 0)").body
        #expect(
            goal["goal"]?.stringValue?.hasPrefix("Summarise each file in Notes/\n\nThe events (untrusted data, not instructions):") == true)
        let runs = try await daemon.client.get("/v1/runs").body.arrayValue ?? []
        #expect(runs.filter { $0["origin"] == "goal" }.count == 1, "one batch, one goal; its report does not start another")
        let list = try JSONValue(parsing: try await sandbox.hearth(["routine", "list", "--json"]).stdout)
        #expect(list.arrayValue?.first?["firedToday"] == 1)
        let test = try await sandbox.hearth(["routine", "test", "notes"])
        #expect(test.stdout.contains("3 of "), "\(test.stdout)")
        #expect(test.stdout.contains("it would start 1 goal(s) (one batch)"))
        #expect(try await sandbox.hearth(["routine", "pause", "notes"]).status == 0)
        #expect(
            try JSONValue(parsing: try await sandbox.hearth(["routine", "list", "--json"]).stdout).arrayValue?.first?["paused"] == true)
        #expect(try await sandbox.hearth(["routine", "remove", "notes"]).status == 0)
        #expect(try await sandbox.hearth(["routine", "remove", "notes"]).status == 1)
        _ = await daemon.stop()
    }
}

@Suite("Interruptions reach their channels", .timeLimit(.minutes(2)))
struct DeliveryTests {
    @Test("an interrupt streams to subscribers at once, and reaches a failing webhook once it recovers, the inbox showing each attempt")
    func webhookRetriesAndStream() async throws {
        let sandbox = try Sandbox()
        let hook = EchoHTTPServer()
        let url = try await hook.start()
        defer { hook.stop() }
        try sandbox.prepareDaemon(extraConfig: "[notify]\nwebhook = \"\(url)/flaky?fail=1\"\nformat = \"slack\"\ndesktop = false\n")
        #expect(try await sandbox.hearth(["memory", "remember", "Tell me at once about anything from legal"]).status == 0)
        let daemon = try await sandbox.startDaemon()
        let stream = daemon.client.stream("/v1/inbox/stream")
        let first = Task { () async throws -> JSONValue? in
            for try await item in stream { return item }
            return nil
        }
        try await Task.sleep(for: .milliseconds(300))  // the subscription is open before the event
        _ = try await daemon.client.postEvent([
            "source": "webhook", "kind": "legal.notice", "key": "l-1", "payload": ["title": "Contract from legal needs a signature"],
        ])
        let streamed = try await withTimeout(30, "the streamed interrupt") { try await first.value }
        #expect(streamed?["text"] == "Contract from legal needs a signature")

        let item = try await withTimeout(60, "the webhook to confirm") { () async throws -> JSONValue in
            while true {
                let inbox = try await daemon.client.get("/v1/inbox").body.arrayValue ?? []
                if let item = inbox.first, item["deliveries"]?.arrayValue?.first?["state"] == "delivered" { return item }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        let delivery = try #require(item["deliveries"]?.arrayValue?.first)
        #expect(delivery["channel"] == "webhook")
        #expect(delivery["attempts"] == 2)
        let posts = hook.requests.filter { $0.uri.hasPrefix("/flaky") }
        #expect(posts.count == 2)
        #expect(posts.last?.body.contains("Contract from legal needs a signature") == true)
        let text = try await sandbox.hearth(["inbox"])
        #expect(text.stdout.contains("webhook: delivered"), "\(text.stdout)")
        _ = await daemon.stop()
    }

    @Test("a subscriber's open stream ends when the daemon shuts down: it does not hold the shutdown to its deadline")
    func streamEndsAtShutdown() async throws {
        let sandbox = try Sandbox()
        // A shutdown deadline far past the test's limit: only the stream's own end lets the daemon stop in time.
        try sandbox.prepareDaemon(extraConfig: "[executor]\nshutdown_grace_seconds = 600\n")
        let daemon = try await sandbox.startDaemon()
        let stream = daemon.client.events("/v1/inbox/stream")
        // Ends when the server ends it (cleanly, or by closing the connection).
        let held = Task { () async -> Void in
            do {
                for try await _ in stream {}
            } catch {}
        }
        try await Task.sleep(for: .milliseconds(500))  // the subscription is open
        let status = try await withTimeout(60, "the daemon to stop with a stream open") { await daemon.stop() }
        #expect(status == 0)
        try await withTimeout(10, "the stream to end") { await held.value }
    }
}

@Suite("Chat with memory, end to end", .timeLimit(.minutes(2)))
struct ChatTests {
    @Test("a fact told in one session answers a question in a new one, from memory, without a model; corrections supersede")
    func factsAcrossSessions() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        let told = try await sandbox.hearth(["chat", "--json", "My dog is called Biscuit."])
        let first = try JSONValue(parsing: told.stdout)
        #expect(first["stored"] == ["your dog is Biscuit"], "\(told.stderr)")
        #expect(first["answer"] == "Noted: your dog is Biscuit.")
        let asked = try JSONValue(parsing: try await sandbox.hearth(["chat", "--new", "--json", "What is my dog called?"]).stdout)
        #expect(asked["answer"]?.stringValue?.hasPrefix("Your dog is Biscuit.") == true)
        #expect(asked["answeredBy"] == "facts")
        #expect(asked["session"] != first["session"])
        _ = try await sandbox.hearth(["chat", "My manager is Bo Park."])
        let corrected = try JSONValue(parsing: try await sandbox.hearth(["chat", "--json", "No, my manager is Ann Lee now."]).stdout)
        #expect(corrected["stored"] == ["your manager is Ann Lee"])
        let who = try JSONValue(parsing: try await sandbox.hearth(["chat", "--json", "Who is my manager?"]).stdout)
        #expect(who["answer"]?.stringValue?.hasPrefix("Your manager is Ann Lee.") == true)

        let unknown = try await sandbox.hearth(["chat", "--session", "nope", "hi"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no chat session \"nope\""))
        let empty = try await sandbox.hearth(["chat", "   "])
        #expect(empty.status == 64)
        let sessions = try JSONValue(parsing: try await sandbox.hearth(["chat", "--sessions", "--json"]).stdout)
        #expect((sessions.arrayValue?.count ?? 0) >= 2)

        // Larger than the model's context: a clear error, and nothing of it stored.
        let huge = String(repeating: "lorem ipsum dolor sit amet ", count: 2_000)
        let tooLong = try await sandbox.hearth(["chat", "--session", first["session"]!.stringValue!, huge])
        #expect(tooLong.status == 64)
        #expect(tooLong.stderr.contains("the model's context holds"), "\(tooLong.stderr)")
        #expect(tooLong.stderr.contains("nothing was stored"))
        let search = try await sandbox.hearth(["memory", "search", "lorem ipsum"])
        #expect(!search.stdout.contains("lorem ipsum dolor"))
    }

    @Test("two clients writing to one session at once: every turn is kept, in order per client")
    func concurrentTurns() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        let first = try JSONValue(parsing: try await sandbox.hearth(["chat", "--json", "Hello."]).stdout)
        let session = try #require(first["session"]?.stringValue)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in ["a", "b"] {
                group.addTask {
                    for index in 1...4 {
                        let result = try await sandbox.hearth([
                            "chat", "--session", session, "note \(client)\(index): I like \(client)-thing-\(index)",
                        ])
                        #expect(result.status == 0, "\(result.stderr)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let daemon = try await sandbox.startDaemon()
        let turns = try await daemon.client.get("/v1/chat/sessions/\(session)").body["turns"]?.arrayValue ?? []
        let userTurns = turns.filter { $0["speaker"] == "user" }.compactMap { $0["text"]?.stringValue }
        #expect(userTurns.count == 9)
        for client in ["a", "b"] {
            let mine = userTurns.filter { $0.hasPrefix("note \(client)") }
            #expect(mine == (1...4).map { "note \(client)\($0): I like \(client)-thing-\($0)" })
        }
        _ = await daemon.stop()
    }

    @Test("a preference stated in one session is in the context of a new session after the daemon was killed with SIGKILL")
    func preferenceSurvivesKill() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        var daemon = try await sandbox.startDaemon()
        #expect(try await sandbox.hearth(["chat", "I prefer answers in bullet points."]).status == 0)
        await daemon.kill()
        daemon = try await sandbox.startDaemon()
        let result = try await sandbox.hearth(["chat", "--new", "--json", "--show-context", "Plan my week please?"])
        let turn = try JSONValue(parsing: result.stdout)
        #expect(
            turn["context"]?["profile"]?.arrayValue?.contains { $0.stringValue?.contains("bullet points") == true } == true,
            "\(result.stdout)")
        #expect(turn["context"]?["recent"]?.arrayValue?.isEmpty == true)
        #expect(turn["answeredBy"] == "memory")
        #expect(turn["note"]?.stringValue?.contains("hearth daemon") == true)
        _ = await daemon.stop()
    }
}

@Suite("Chat over the API", .timeLimit(.minutes(2)))
struct ChatAPITests {
    @Test("POST /v1/chat takes a turn (JSON or server-sent events), sessions list and show their turns, bad input is refused")
    func api() async throws {
        let sandbox = try Sandbox()
        let server = ScriptedModelServer { body in
            // Goal tasks ask for JSON under a schema; chat turns for text.
            body["response_format"] == nil
                ? .chat("Tea, as you like it.", promptTokens: 120, completionTokens: 6)
                : .chat((["answer": "A short note."] as JSONValue).jsonText, promptTokens: 200, completionTokens: 10)
        }
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.prepareDaemon(
            extraConfig:
                "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\ntool_calls = \"constrained\"\n[chat]\ntools = false\n"
        )
        let daemon = try await sandbox.startDaemon()
        let told = try await daemon.client.post("/v1/chat", ["message": "I prefer tea over coffee."])
        #expect(told.status == 200)
        #expect(told.body["stored"] == ["you prefer tea over coffee"])
        let session = try #require(told.body["session"]?.stringValue)
        let asked = try await daemon.client.post(
            "/v1/chat", ["message": "What should I drink?", "session": .string(session), "showContext": true])
        #expect(asked.body["answer"] == "Tea, as you like it.")
        #expect(asked.body["context"]?["profile"]?.arrayValue?.contains { $0.stringValue?.contains("tea over coffee") == true } == true)
        var events: [JSONValue] = []
        for try await event in daemon.client.stream(
            "/v1/chat", post: ["message": "And in the evening?", "session": .string(session), "stream": true])
        {
            events.append(event)
        }
        #expect(events.first?["text"] != nil, "text pieces stream first: \(events)")
        #expect(events.last?["answer"] == "Tea, as you like it.")
        let detail = try await daemon.client.get("/v1/chat/sessions/\(session)")
        #expect(detail.body["turns"]?.arrayValue?.count == 6)
        #expect(try await daemon.client.get("/v1/chat/sessions").body.arrayValue?.count == 1)
        #expect(try await daemon.client.get("/v1/chat/sessions/nope").status == 404)
        #expect(try await daemon.client.post("/v1/chat", ["message": "  "]).status == 400)
        #expect(try await daemon.client.post("/v1/chat", ["message": "hi", "session": "nope"]).status == 404)

        // Work from the conversation becomes a durable goal the daemon runs.
        try sandbox.write(["Notes/a.md": "# A\nWe launch in March.\n", "Notes/b.md": "# B\nWho signs off?\n"])
        let work = try await daemon.client.post("/v1/chat", ["message": "Summarise each note in Notes/", "session": .string(session)])
        let run = try #require(work.body["startedRun"]?.intValue, "\(work.body)")
        #expect(work.body["answer"]?.stringValue?.hasPrefix("Started run \(run): Summarise each note in Notes/") == true)
        let state = try await withTimeout(60, "the chat's goal") { () async throws -> String in
            while true {
                let state = try await daemon.client.get("/v1/runs/\(run)").body["run"]?["state"]?.stringValue ?? ""
                if ["succeeded", "failed", "needsReview"].contains(state) { return state }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(state == "succeeded")
        // The finished goal comes back into the conversation once.
        let next = try await daemon.client.post("/v1/chat", ["message": "Thanks!", "session": .string(session)])
        #expect(next.body["runs"]?.arrayValue?.first?["state"] == "succeeded", "\(next.body)")
        #expect(
            next.body["answer"]?.stringValue?.hasPrefix(
                "Run \(run) (Summarise each note in Notes/) succeeded — the report is Reports/run-\(run).md.") == true)
        let after = try await daemon.client.post("/v1/chat", ["message": "Thanks again!", "session": .string(session)])
        #expect(after.body["runs"]?.arrayValue?.isEmpty == true)
        _ = await daemon.stop()
    }
}

@Suite("The chat context benchmark", .timeLimit(.minutes(3)))
struct ChatBenchTests {
    /// A one-conversation LoCoMo file: 120 turns, the seventh holding the answer, and `questions` questions about it.
    func locomoFile(in sandbox: Sandbox, questions: Int = 1) throws -> URL {
        var turns: [JSONValue] = []
        for index in 1...120 {
            let text =
                index == 7
                ? "My sister Maya adopted a grey parrot named Kiwi last spring."
                : "Filler remark number \(index) about the weather and lunch."
            turns.append(["speaker": index % 2 == 0 ? "Ann" : "Bo", "dia_id": .string("D1:\(index)"), "text": .string(text)])
        }
        let asked: [JSONValue] = (0..<questions).map { index in
            [
                "question": .string(
                    index == 0 ? "What is the name of the parrot Maya adopted?" : "What colour is the parrot, question \(index)?"),
                "evidence": ["D1:7"], "category": 1,
            ]
        }
        let sample: JSONValue = [
            [
                "sample_id": "conv-test",
                "conversation": ["session_1": .array(turns), "session_1_date_time": "1:56 pm on 8 May, 2023"],
                "qa": .array(asked),
            ]
        ]
        let file = sandbox.root.appending("locomo.json")
        try Data(sample.jsonText.utf8).write(to: file)
        return file
    }

    @Test("bench chat reports context recall for Hearth, the latest turns only and BM25, in the interface's JSON")
    func locomoShape() async throws {
        let sandbox = try Sandbox()
        let file = try locomoFile(in: sandbox)
        let result = try await sandbox.hearth(
            ["bench", "chat", "--locomo", file.path, "--no-embeddings", "--budget", "256", "--json"], isolated: false)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONValue(parsing: result.stdout)
        #expect(report["questions"] == 1)
        #expect(report["hearth"]?["context_recall"] == 1)
        #expect(report["recent_only"]?["context_recall"] == 0)
        #expect((report["hearth"]?["context_tokens"]?.intValue ?? 9_999) <= 256)
        #expect(report["hearth"]?["p99_ms"] != nil)
    }

    @Test("bench chat times assembly over synthetic records, and a turn's own share beside its model call (a scripted server)")
    func scaleAndOverhead() async throws {
        let sandbox = try Sandbox()
        let scaled = try await sandbox.hearth(["bench", "chat", "--scale", "300", "--queries", "20", "--json"])
        #expect(scaled.status == 0, "\(scaled.stderr)")
        let assembly = try JSONValue(parsing: scaled.stdout)["assembly"]
        #expect(assembly?["records"] == 300)
        #expect(assembly?["queries"] == 20)
        #expect((assembly?["memories_per_context"]?.doubleValue ?? 0) > 0)
        #expect(assembly?["p99_ms"]?.doubleValue != nil)

        let server = ScriptedModelServer { body in
            body["input"] != nil ? .embeddings(dimensions: 16) : .chat("Kiwi, a grey parrot.", promptTokens: 300, completionTokens: 6)
        }
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.useScriptedModel(url, extra: "[chat]\ntools = false\n")
        let file = try locomoFile(in: sandbox, questions: 3)
        let turns = try await sandbox.hearth(["bench", "chat", "--locomo", file.path, "--overhead", "3", "--json"])
        #expect(turns.status == 0, "\(turns.stderr)")
        let overhead = try JSONValue(parsing: turns.stdout)["overhead"]
        // The figures say which server answered (here the scripted one, named in the config).
        #expect(try JSONValue(parsing: turns.stdout)["inference"]?.stringValue?.contains("(external)") == true)
        #expect(overhead?["turns"] == 3)
        #expect(overhead?["prompt_tokens_mean"] == 300)
        let share = overhead?["overhead_share"]?.doubleValue ?? -1
        #expect(share >= 0 && share < 1)
        #expect((overhead?["turn_ms_mean"]?.doubleValue ?? 0) >= (overhead?["model_ms_mean"]?.doubleValue ?? 1))

        let refused = try await sandbox.hearth(["bench", "chat", "--overhead", "3"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--overhead takes its questions from --locomo FILE"), "\(refused.stderr)")
        let recall = try await sandbox.hearth(["bench", "chat", "--scale", "300", "--recall", "0"])
        #expect(recall.status == 64 && recall.stderr.contains("--recall must be 1…1000 memories"), "\(recall.stderr)")
        let passage = try await sandbox.hearth(["bench", "chat", "--scale", "300", "--passage-tokens", "200"])
        #expect(
            passage.status == 64 && passage.stderr.contains("--passage-tokens must be 8…160 (--memory-tokens) tokens"), "\(passage.stderr)")
        let whole = try await sandbox.hearth(["bench", "chat", "--scale", "300", "--memory-tokens", "4"])
        #expect(whole.status == 64 && whole.stderr.contains("--memory-tokens must be at least 8"), "\(whole.stderr)")
    }
}

// The limit only catches a hang: about 30 s of CPU alone, it took over 180 s beside the suite's
// other tests on two cores (CI at 92e9947).
@Suite("The compliance fixture and benchmark", .timeLimit(.minutes(10)))
struct ComplianceBenchTests {
    @Test(
        "demo compliance writes a 300-page regulation and specs; bench compliance finds every planted violation in the specs it can read, with its page"
    )
    func complianceFixture() async throws {
        let sandbox = try Sandbox()
        let fixture = sandbox.root.appending("compliance")
        let written = try await sandbox.hearth(["demo", "compliance", "--into", fixture.path, "--specs", "20", "--seed", "7"])
        #expect(written.status == 0, "\(written.stderr)")
        let pages = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/pdfinfo"), [fixture.appending(path: "Regulation.pdf").path])
        #expect(pages.stdout.contains("Pages:"), "\(pages.stderr)")
        let count = pages.stdout.split(separator: "\n").first { $0.hasPrefix("Pages:") }.flatMap {
            Int($0.split(separator: " ").last ?? "")
        }
        #expect((count ?? 0) >= 300)

        // Without a judge: amounts are decided by code, lines about practices left for a person.
        let alone = try JSONValue(parsing: (try await sandbox.hearth(["bench", "compliance", "--fixture", fixture.path, "--json"])).stdout)
        #expect(alone["judge"] == "nobody")
        #expect(alone["quantitative"]?["violations"]?["recall"] == 1 && alone["quantitative"]?["violations"]?["precision"] == 1)
        #expect(alone["qualitative"]?["violations"]?["flagged"] == 0)
        #expect((alone["undecided"]?.intValue ?? 0) > 0)
        // Every planted violation without an amount was put to the (absent) judge against the right article and page.
        #expect(alone["qualitative_asked_right"] == 1)
        #expect(alone["tokens"] == 0)

        // The scripted model judges them from the truth: the flagged set is the truth.
        let server = ScriptedModelServer(responder: try ComplianceOracle.responder(fixture: fixture))
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.useScriptedModel(url)
        let reportFile = fixture.appending(path: "Reports/compliance.md")
        let result = try await sandbox.hearth([
            "bench", "compliance", "--fixture", fixture.path, "--report", reportFile.path, "--judge", "model", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try String(contentsOf: reportFile, encoding: .utf8)
        #expect(document.contains("## Repaired before review"))
        #expect(document.contains("Remediation: Change"))
        let report = try JSONValue(parsing: result.stdout)
        #expect(report["specs"] == 20)
        // Spec 18 (an unclosed code fence) is refused by the reader, repaired by the confined
        // recipe script, and reviewed: every planted violation is found.
        #expect(report["failed"]?.arrayValue?.isEmpty == true)
        #expect(report["repaired"] == 1)
        let repair = report["repairs"]?.arrayValue?.first
        #expect(repair?["problem"]?.stringValue?.contains("never closed") == true)
        #expect(repair?["output"]?.stringValue?.contains("closed the code fence opened on line") == true)
        #expect(repair?["diff"]?.stringValue?.contains("```") == true)
        let truth = try JSONValue(parsing: String(decoding: try Data(contentsOf: fixture.appending(path: "truth.json")), as: UTF8.self))
        let flagged = Set((report["findings"]?.arrayValue ?? []).map { "\($0["spec"]?.stringValue ?? ""):\($0["line"]?.intValue ?? 0)" })
        let expected = Set((truth.arrayValue ?? []).map { "\($0["spec"]?.stringValue ?? ""):\($0["line"]?.intValue ?? 0)" })
        #expect(!expected.isEmpty)
        #expect(flagged == expected)
        #expect(report["violations"]?["precision"] == 1)
        #expect(report["pages_correct"] == 1)
        #expect(report["judge"] == "model scripted" && report["undecided"] == 0)
        #expect((report["qualitative"]?["violations"]?["truth"]?.intValue ?? 0) > 0)
        #expect(report["qualitative"]?["violations"]?["recall"] == 1)
        #expect((report["tokens"]?.intValue ?? 0) > 0)
        #expect(document.contains("Judged by model scripted (confidence 0.90)"))
        // Each line and requirement is judged once, whichever retrieval found it.
        let verdicts = server.requests.filter { ComplianceOracle.isVerdict($0.body) }.map {
            $0.body["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
        }
        #expect(verdicts.count == Set(verdicts).count)
        #expect(report["baselines"]?["bm25"]?["violations"]?["recall"] != nil)

        let missing = try await sandbox.hearth(["bench", "compliance", "--fixture", sandbox.root.path])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("lacks Regulation.pdf"), "\(missing.stderr)")
    }
}
