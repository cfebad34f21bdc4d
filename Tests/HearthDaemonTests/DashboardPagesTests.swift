import Foundation
import HearthBench
import HearthCore
import HearthDaemon
import HearthServer
import HearthStore
import HearthTesting
import Testing

/// The Chat, Memory, Trace, Usage and Health pages and the inbox's feedback, over HTTP against a
/// real daemon (no model server: the pages that need one say so, the others work).
@Suite("The dashboard's work pages over HTTP", .timeLimit(.minutes(3)))
struct DashboardPagesTests {
    @Test("chat: a turn from the form is stored and shown as text, the event stream carries the answer, bad input is refused")
    func chat() async throws {
        let sandbox = try Sandbox()
        let (daemon, browser, database) = try await DashboardTests().signedIn(sandbox)
        defer { Task { try? await browser.shutdown() } }
        let empty = try await browser.get("/chat")
        #expect(empty.status == 200)
        #expect(empty.body.contains("No conversations yet."))
        let token = try DashboardTests.csrf(in: empty.body)

        #expect(try await browser.post("/chat", form: ["message": "hello"]).status == 403)
        #expect(try await browser.post("/chat", form: ["csrf": token, "message": "   "]).status == 400)
        let sent = try await browser.post("/chat", form: ["csrf": token, "message": "My dog is called <b>Biscuit</b>", "session": ""])
        #expect(sent.status == 303)
        let location = try #require(sent.header("Location"))
        #expect(location.hasPrefix("/chat/"))
        let conversation = try await browser.get(location)
        #expect(conversation.status == 200)
        #expect(conversation.body.contains("My dog is called &lt;b&gt;Biscuit&lt;/b&gt;") && !conversation.body.contains("<b>Biscuit"))
        #expect(conversation.body.contains("turn-agent"), "the answer is part of the conversation")
        let session = String(location.dropFirst("/chat/".count))

        let streamed = try await browser.post(
            "/chat", form: ["csrf": token, "message": "What is my dog called?", "session": session], accept: "text/event-stream")
        #expect(streamed.status == 200)
        #expect(streamed.header("Content-Type")?.hasPrefix("text/event-stream") == true)
        let done = try #require(streamed.body.components(separatedBy: "event: done\ndata: ").last?.components(separatedBy: "\n").first)
        let outcome = try JSONValue(parsing: Data(done.utf8))
        #expect(outcome["session"]?.stringValue == session)
        #expect(outcome["answer"]?.stringValue?.contains("Biscuit") == true, "\(outcome)")
        let list = try await browser.get("/chat")
        #expect(list.body.contains("href=\"/chat/\(session)\""))
        #expect(try await browser.get("/chat/no-such-session").status == 404)
        #expect(!list.body.contains("wait for your approval") && !list.body.contains("waits for your approval"))
        let run = try await GoalSQLStore(database: database).createGoal("Send it", budget: GoalBudget())
        _ = try await ApprovalSQLStore(database: database).request(
            Approval(
                runID: run.id, taskID: "send", position: 0, tool: "send_mail", risk: .sendExternal, arguments: [:], origins: [:],
                reason: "mail", expiresAt: Date().addingTimeInterval(3600)))
        #expect(try await browser.get("/chat/\(session)").body.contains("1 action waits for your approval: <a href=\"/approvals\">"))
        let unknown = try await browser.post("/chat", form: ["csrf": token, "message": "hi", "session": "no-such-session"])
        #expect(unknown.status == 400)
        #expect(unknown.body.contains("no-such-session"))
        _ = await daemon.stop()
    }

    @Test(
        "memory: search says why each hit matched, the profile shows with its history, pending facts are confirmed or rejected, forget removes a record"
    )
    func memory() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        #expect(try await sandbox.hearth(["memory", "remember", "I prefer spreadsheets in EUR"]).status == 0)
        #expect(try await sandbox.hearth(["memory", "remember", "The <script>alert(1)</script> launch is on Friday"]).status == 0)
        let (daemon, browser, database) = try await DashboardTests().signedIn(sandbox, prepared: true)
        defer { Task { try? await browser.shutdown() } }
        let store = MemorySQLStore(database: database)
        let pending = try await store.insertFacts([
            Fact(
                kind: .rule, subject: "user", predicate: "wants", object: "every invoice paid at once", provenance: .untrusted,
                status: .pending),
            Fact(
                kind: .fact, subject: "Ann", predicate: "works at", object: "<img src=x onerror=alert(2)>", provenance: .untrusted,
                status: .pending),
        ])

        let page = try await browser.get("/memory?q=launch")
        #expect(page.status == 200)
        #expect(page.body.contains("The &lt;script&gt;alert(1)&lt;/script&gt; launch is on Friday") && !page.body.contains("<script>alert"))
        #expect(page.body.contains("<strong>Why:</strong> keywords"), "each hit says why it matched")
        #expect(page.body.contains("spreadsheets"), "the profile is shown")
        #expect(page.body.contains("data-fact-id=\"\(pending[0].id)\""))
        #expect(page.body.contains("&lt;img src=x onerror=alert(2)&gt;") && !page.body.contains("<img src=x"))
        let token = try DashboardTests.csrf(in: page.body)

        #expect(try await browser.post("/memory/facts/\(pending[0].id)/confirm", form: [:]).status == 403)
        #expect(try await browser.post("/memory/facts/\(pending[0].id)/confirm", form: ["csrf": token]).status == 303)
        #expect(try await browser.post("/memory/facts/\(pending[1].id)/reject", form: ["csrf": token]).status == 303)
        #expect(try await browser.post("/memory/facts/\(pending[1].id)/reject", form: ["csrf": token]).status == 409)
        let facts = try await store.facts(FactQuery(statuses: [.active, .rejected, .pending]))
        #expect(facts.first { $0.id == pending[0].id }?.status == .active)
        #expect(facts.first { $0.id == pending[1].id }?.status == .rejected)

        let hit = try #require(page.body.components(separatedBy: "/memory/records/").dropFirst().first?.prefix { $0.isNumber })
        let forgot = try await browser.post("/memory/records/\(hit)/forget", form: ["csrf": token])
        #expect(forgot.status == 303)
        #expect(try await store.records(ids: [Int64(hit)!]).isEmpty)
        #expect(try await browser.get(try #require(forgot.header("Location"))).body.contains("Forgot record \(hit)"))
        #expect(try await browser.post("/memory/records/\(hit)/forget", form: ["csrf": token]).status == 404)
        _ = await daemon.stop()
    }

    @Test("trace: a goal's model calls, tool calls and policy decisions on one timeline with tokens and outcomes")
    func trace() async throws {
        let sandbox = try Sandbox()
        let (daemon, browser, database) = try await DashboardTests().signedIn(sandbox)
        defer { Task { try? await browser.shutdown() } }
        let goals = GoalSQLStore(database: database)
        let run = try await goals.createGoal("Check the receipts", budget: GoalBudget())
        let start = Date()
        try await goals.trace(
            TraceEvent(
                runID: run.id, taskID: nil, kind: .model, name: "plan", detail: ["cachedTokens": 300], promptTokens: 812,
                completionTokens: 64,
                milliseconds: 1500, at: start.addingTimeInterval(1.5)))
        try await goals.trace(
            TraceEvent(
                runID: run.id, taskID: "t1", kind: .tool, name: "read_file", detail: ["ok": false, "result": "error: <missing>"],
                milliseconds: 20, at: start.addingTimeInterval(1.6)))
        try await goals.trace(
            TraceEvent(runID: run.id, taskID: "t2", kind: .policy, name: "ask", detail: [:], at: start.addingTimeInterval(1.7)))
        let page = try await browser.get("/goals/\(run.id)/trace")
        #expect(page.status == 200)
        #expect(page.body.contains("812 in (300 cached) · 64 out"))
        #expect(page.body.contains("read_file") && page.body.contains("class=\"error\">failed"))
        #expect(page.body.contains("class=\"span-model\"") && page.body.contains("class=\"span-policy\""))
        #expect(page.body.contains("1 model calls (812 prompt tokens, 300 cached, 64 completion) · 1 tool calls"))
        #expect(try await browser.get("/goals/\(run.id)").body.contains("href=\"/goals/\(run.id)/trace\""))
        #expect(try await browser.get("/goals/4242/trace").status == 404)
        let api = try await daemon.client.get("/v1/goals/\(run.id)/trace")
        #expect(api.status == 200 && api.body.arrayValue?.map { $0["name"] } == ["plan", "read_file", "ask"])
        #expect(try await daemon.client.get("/v1/goals/4242/trace").status == 404)
        _ = await daemon.stop()
    }

    @Test("goals: the list's progress comes from one query and matches each goal's own detail; long lists page")
    func goalProgress() async throws {
        let sandbox = try Sandbox()
        let (daemon, browser, database) = try await DashboardTests().signedIn(sandbox)
        defer { Task { try? await browser.shutdown() } }
        let goals = GoalSQLStore(database: database)
        var ids: [Int64] = []
        for index in 0..<55 {
            let run = try await goals.createGoal("Goal \(index)", budget: GoalBudget())
            let draft = PlanDraft(tasks: ["a", "b", "c"].map { PlanDraft.Task(id: $0, title: $0, instructions: $0, tools: ["read_file"]) })
            try await goals.savePlan(run.id, draft: draft, tasks: try draft.expand(knownTools: ["read_file"]) { _ in [] })
            for task in ["a", "b", "c"].prefix(index % 4) {
                try await goals.setTaskState(run.id, task: task, state: .succeeded, result: nil, error: nil)
            }
            var usage = GoalUsage()
            usage.promptTokens = index * 10
            try await goals.addUsage(run.id, usage)
            _ = try await goals.cancelGoal(run.id)
            ids.append(run.id)
        }
        let progress = try await goals.progress(ids + [9_999])
        #expect(progress.count == 55)
        for id in ids {
            let detail = try await goals.goal(id)
            #expect(
                progress[id]
                    == GoalProgress(
                        done: detail.tasks.filter { $0.state == .succeeded }.count, total: detail.tasks.count, tokens: detail.usage.tokens))
        }
        let first = try await browser.get("/goals")
        #expect(first.body.contains("Goal 54") && !first.body.contains(">Goal 4<"), "newest first, 50 a page")
        #expect(first.body.contains("<td>2 of 3</td>") && first.body.contains("href=\"/goals?page=2\""))
        let second = try await browser.get("/goals?page=2")
        #expect(second.body.contains(">Goal 0<") && second.body.contains("href=\"/goals?page=1\""))
        _ = await daemon.stop()
    }

    @Test("approvals: a long list pages 20 at a time, expired ones left out, a page past the end shows the last")
    func approvalPages() async throws {
        let sandbox = try Sandbox()
        let (daemon, browser, database) = try await DashboardTests().signedIn(sandbox)
        defer { Task { try? await browser.shutdown() } }
        let run = try await GoalSQLStore(database: database).createGoal("Mail everyone", budget: GoalBudget())
        let book = ApprovalSQLStore(database: database)
        for index in 0..<45 {
            _ = try await book.request(
                Approval(
                    runID: run.id, taskID: "send", position: index, tool: "send_mail", risk: .sendExternal,
                    arguments: ["to": .string("p\(index)@example.test")], origins: [:], reason: "mail",
                    expiresAt: Date().addingTimeInterval(index == 7 ? -60 : 3600)))
        }
        let now = Date()
        let page = try await book.waiting(now: now, limit: 20, offset: 20)
        let all = try await book.approvals(states: [.pending]).filter { $0.expiresAt > now }
        #expect(page.total == 44 && page.approvals.map(\.id) == Array(all[20..<40]).map(\.id))
        let first = try await browser.get("/approvals")
        #expect(first.body.components(separatedBy: "data-approval-id=").count - 1 == 20)
        #expect(first.body.contains("1–20 of 44 approvals waiting") && first.body.contains("href=\"/approvals?page=2\""))
        #expect(!first.body.contains("p7@example.test"), "an expired approval is not offered")
        let last = try await browser.get("/approvals?page=9")
        #expect(last.body.components(separatedBy: "data-approval-id=").count - 1 == 4)
        #expect(last.body.contains("41–44 of 44") && last.body.contains("href=\"/approvals?page=2\""))
        _ = await daemon.stop()
    }

    @Test("usage: totals, tokens per day, model and purpose as SVG charts, speeds, cache reuse and the day's budget left")
    func usage() async throws {
        let sandbox = try Sandbox()
        let (daemon, browser, database) = try await DashboardTests().signedIn(sandbox)
        defer { Task { try? await browser.shutdown() } }
        let usage = UsageStore(database: database)
        for (model, purpose, prompt) in [("qwen-7b", "chat", 1000), ("qwen-7b", "plan", 3000), ("<script>m</script>", "extract", 500)] {
            try await usage.record(
                UsageRecord(
                    at: Date(), provider: "llama", model: model, context: UsageContext(purpose: purpose),
                    usage: ModelUsage(
                        promptTokens: prompt, completionTokens: 100, cachedPromptTokens: prompt / 2, prefillTokensPerSecond: 400,
                        decodeTokensPerSecond: 20, latencySeconds: 2),
                    costMicrodollars: 1500, succeeded: true))
        }
        let page = try await browser.get("/usage?days=7")
        #expect(page.status == 200)
        #expect(page.body.contains("<dt>Model calls</dt><dd>3</dd>") && page.body.contains("<dt>Tokens</dt><dd>4800</dd>"))
        #expect(page.body.contains("<dt>Prompt cache reuse</dt><dd>50%</dd>"))
        #expect(page.body.contains("20.0 tok/s") && page.body.contains("400.0 tok/s"))
        #expect(page.body.components(separatedBy: "<svg class=\"chart\"").count == 4, "three charts")
        #expect(page.body.contains("&lt;script&gt;m&lt;/script&gt;") && !page.body.contains("<script>m"))
        #expect(page.body.contains("$0.0045"))
        #expect(page.body.contains("Tokens today: 4800 of ") && page.body.contains("% left"), "the default daily budget and what is left")
        #expect(try await browser.get("/usage?days=-5").status == 200, "an out-of-range period is clamped")
        _ = await daemon.stop()
    }

    @Test("health: the daemon, the model server (down, said so), the sandbox checks and the triggers")
    func health() async throws {
        let sandbox = try Sandbox()
        let (daemon, browser, _) = try await DashboardTests().signedIn(sandbox)
        defer { Task { try? await browser.shutdown() } }
        #expect(try await sandbox.hearth(["schedule", "add", "standup", "0 9 * * 1-5"]).status == 0)
        let page = try await browser.get("/health")
        #expect(page.status == 200)
        for part in [
            "<h2>Daemon</h2>", "<h2>Model server</h2>", "<h2>Sandbox</h2>", "openat2", "landlock", "schedule standup", "0 9 * * 1-5",
        ] {
            #expect(page.body.contains(part), "\(part)")
        }
        for other in ["/", "/goals", "/approvals", "/memory", "/usage", "/chat"] {
            #expect(try await browser.get(other).status == 200, "\(other) works without a model server")
        }
        #expect(
            try await browser.get("/chat").body.contains("Inference is off ([inference] enabled = false): answers come from memory only."))
        #expect(try await browser.get("/goals").body.contains("New goals wait for it."))
        #expect(!(try await browser.get("/memory").body.contains("Inference is off")), "pages that do not need the model do not warn")
        _ = await daemon.stop()
    }

    @Test("the model's state in words: ready or external says nothing, off and down say what the user gets and what to run")
    func modelProblem() {
        #expect(HealthView.modelProblem(status: ["live": ["inference": ["phase": "ready"]]]) == nil)
        #expect(
            HealthView.modelProblem(status: ["live": ["inference": ["phase": "external", "baseURL": "http://127.0.0.1:11434/v1"]]]) == nil)
        #expect(
            HealthView.modelProblem(status: ["live": ["inference": ["phase": "disabled"]]])?.contains("[inference] enabled = false") == true
        )
        let down = HealthView.modelProblem(status: [
            "live": ["inference": ["phase": "backingOff", "lastError": "llama-server exited with 1"]]
        ])
        #expect(
            down
                == "The model server is backingOff (llama-server exited with 1): answers come from memory until it is ready; 'hearth doctor' says why."
        )
    }

    @Test("inbox: urgent or not from the page teaches the scorer and clears the item; the API route refuses bad input")
    func inboxFeedback() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon(extraConfig: "[attention]\nme = [\"sam@acme.test\"]\n")
        #expect(try await sandbox.hearth(["memory", "remember", "Ann Lee is my manager"]).status == 0)
        let (daemon, browser, database) = try await DashboardTests().signedIn(sandbox, prepared: true)
        defer { Task { try? await browser.shutdown() } }
        let mail = sandbox.data.appending(path: "mail/new")
        try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
        try Data("From: Ann Lee <ann@acme.test>\nTo: sam@acme.test\nSubject: <script>x</script> deck\n\nBy noon?\n".utf8)
            .write(to: mail.appending(path: "1.host"))
        let id = try await withTimeout(30, "the inbox item") {
            while true {
                if let item = try await daemon.client.get("/v1/inbox").body.arrayValue?.first, let id = item["id"]?.intValue { return id }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let home = try await browser.get("/")
        #expect(home.body.contains("&lt;script&gt;x&lt;/script&gt; deck") && !home.body.contains("<script>x"))
        #expect(home.body.contains("action=\"/inbox/\(id)/feedback\""))
        let token = try DashboardTests.csrf(in: home.body)
        #expect(try await browser.post("/inbox/\(id)/feedback", form: ["csrf": token, "verdict": "maybe"]).status == 400)
        #expect(try await browser.post("/inbox/999/feedback", form: ["csrf": token, "verdict": "urgent"]).status == 404)
        let noted = try await browser.post("/inbox/\(id)/feedback", form: ["csrf": token, "verdict": "not-urgent"])
        #expect(noted.status == 303)
        #expect(try await browser.get(try #require(noted.header("Location"))).body.contains("Noted: sender:ann@acme.test is not-urgent"))
        #expect(try await daemon.client.get("/v1/inbox").body.arrayValue?.isEmpty == true, "the item is done")
        let facts = try await MemorySQLStore(database: database).facts(FactQuery(slot: nil))
        #expect(facts.contains { $0.subject == "sender:ann@acme.test" && $0.predicate == "feedback" && $0.object == "not-urgent" })

        #expect(try await daemon.client.post("/v1/inbox/\(id)/feedback", ["urgent": true]).status == 200)
        #expect(try await daemon.client.post("/v1/inbox/\(id)/feedback", ["urgent": "yes"]).status == 400)
        #expect(try await daemon.client.post("/v1/inbox/999/feedback", ["urgent": true]).status == 404)
        #expect(try await daemon.client.post("/v1/inbox/\(id)/ack", nil).status == 200)
        #expect(try await daemon.client.post("/v1/inbox/999/ack", nil).status == 404)
        _ = await daemon.stop()
    }
}
