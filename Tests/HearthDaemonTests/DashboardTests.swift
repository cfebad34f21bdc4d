import Foundation
import HearthBench
import HearthCore
import HearthDashboard
import HearthServer
import HearthStore
import HearthTesting
import Testing

/// The dashboard over HTTP against a real daemon: login links, sessions, CSRF, escaping, the
/// approvals and goals pages, and confined workspace files.
@Suite("The dashboard over HTTP", .timeLimit(.minutes(2)))
struct DashboardTests {
    /// A daemon, a signed-in browser, and the store beside them.
    func signedIn(_ sandbox: Sandbox, prepared: Bool = false) async throws -> (DaemonUnderTest, WebClient, HearthDatabase) {
        if !prepared { try sandbox.prepareDaemon() }
        let daemon = try await sandbox.startDaemon()
        let printed = try await sandbox.hearth(["dashboard", "--print-url"])
        #expect(printed.status == 0, "\(printed.stderr)")
        let url = try #require(URL(string: printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(url.host == "127.0.0.1" && url.port == daemon.port && url.path == "/login")
        let browser = WebClient(port: daemon.port)
        let login = try await browser.get(url.path + "?" + (url.query ?? ""))
        #expect(login.status == 303)
        #expect(login.header("Location") == "/")
        let cookie = try #require(login.header("Set-Cookie"))
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "\(cookie)")
        return (daemon, browser, try HearthDatabase.open(at: sandbox.data.appending(path: "hearth.sqlite")))
    }

    static func csrf(in page: String) throws -> String {
        let marker = "name=\"csrf\" value=\""
        let start = try #require(page.range(of: marker))
        return String(page[start.upperBound...].prefix { $0 != "\"" })
    }

    @Test("a login link signs in once; a reused, unknown or missing one gets a page saying how to get a new one")
    func login() async throws {
        let sandbox = try Sandbox()
        let (daemon, browser, _) = try await signedIn(sandbox)
        defer { Task { try? await browser.shutdown() } }
        let home = try await browser.get("/")
        #expect(home.status == 200)
        #expect(home.header("Content-Security-Policy")?.hasPrefix("default-src 'self'") == true)
        #expect(home.body.contains("<h1>Brief</h1>"))

        let printed = try await sandbox.hearth(["dashboard", "--print-url"])
        let url = try #require(URL(string: printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let stranger = WebClient(port: daemon.port)
        defer { Task { try? await stranger.shutdown() } }
        #expect(try await stranger.get("/").status == 401)
        #expect(try await stranger.get("/").body.contains("hearth dashboard"))
        #expect(try await stranger.get(url.path + "?" + (url.query ?? "")).status == 303)
        let again = WebClient(port: daemon.port)
        defer { Task { try? await again.shutdown() } }
        let reused = try await again.get(url.path + "?" + (url.query ?? ""))
        #expect(reused.status == 403)
        #expect(
            reused.body.contains("already used") && reused.body.contains("Run &#39;hearth dashboard&#39; for a new one"), "\(reused.body)")
        #expect(try await again.get("/login?token=nope").status == 403)
        #expect(try await again.get("/approvals").status == 401)
        _ = await daemon.stop()
    }

    @Test("approve and deny from the page: the CSRF token is required, the first answer wins, untrusted arguments are marked")
    func approvals() async throws {
        let sandbox = try Sandbox()
        let (daemon, browser, database) = try await signedIn(sandbox)
        defer { Task { try? await browser.shutdown() } }
        let run = try await GoalSQLStore(database: database).createGoal("Send the summary", budget: GoalBudget())
        let book = ApprovalSQLStore(database: database)
        let first = try await book.request(
            Approval(
                runID: run.id, taskID: "send", position: 0, tool: "send_mail", risk: .sendExternal,
                arguments: ["to": "boss@evil.test", "body": "<script>alert(1)</script>"], origins: ["to": .untrusted, "body": .trusted],
                reason: "to came from untrusted content", expiresAt: Date().addingTimeInterval(3600)))
        let second = try await book.request(
            Approval(
                runID: run.id, taskID: "send", position: 1, tool: "http_request", risk: .network, arguments: ["url": "https://x.test"],
                origins: [:], reason: "network", expiresAt: Date().addingTimeInterval(3600)))

        let page = try await browser.get("/approvals")
        #expect(page.body.contains("data-approval-id=\"\(first.id)\"") && page.body.contains("data-approval-id=\"\(second.id)\""))
        #expect(page.body.contains("name=\"approve\"") && page.body.contains("name=\"deny\""))
        #expect(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.body.contains("<script>alert"))
        #expect(page.body.contains("from untrusted content"))
        let token = try Self.csrf(in: page.body)

        let forged = try await browser.post("/approvals/\(first.id)/approve", form: ["approve": "1"])
        #expect(forged.status == 403)
        #expect(try await book.approvals(states: nil).first { $0.id == first.id }?.state == .pending, "nothing changed")
        let wrong = try await browser.post("/approvals/\(first.id)/approve", form: ["approve": "1", "csrf": String(token.reversed())])
        #expect(wrong.status == 403)

        let approved = try await browser.post("/approvals/\(first.id)/approve", form: ["approve": "1", "csrf": token])
        #expect(approved.status == 303)
        #expect(try await book.approvals(states: nil).first { $0.id == first.id }?.state == .approved)
        let twice = try await browser.post("/approvals/\(first.id)/deny", form: ["deny": "1", "csrf": token, "reason": "late"])
        #expect(twice.status == 409)
        #expect(twice.body.contains("already approved"))

        let noReason = try await browser.post("/approvals/\(second.id)/deny", form: ["deny": "1", "csrf": token])
        #expect(noReason.status == 400)
        let denied = try await browser.post("/approvals/\(second.id)/deny", form: ["deny": "1", "csrf": token, "reason": "not this site"])
        #expect(denied.status == 303)
        let answer = try #require(try await book.approvals(states: nil).first { $0.id == second.id })
        #expect(answer.state == .denied && answer.note == "not this site")
        #expect(try await browser.get("/approvals").body.contains("Nothing waits for your approval."))
        _ = await daemon.stop()
    }

    @Test("goals: hostile titles and reports render as text, links stay in the workspace, unknown goals get a 404 page")
    func goals() async throws {
        let sandbox = try Sandbox()
        let (daemon, browser, database) = try await signedIn(sandbox)
        defer { Task { try? await browser.shutdown() } }
        let run = try await GoalSQLStore(database: database).createGoal("<script>alert('t')</script> Sum up", budget: GoalBudget())
        try sandbox.write([
            "Reports/run-\(run.id).md":
                "# Report <img src=x onerror=alert(1)>\n- [notes](../Notes/a.md)\n- [evil](javascript:alert(1))\n- [up](../../etc/passwd)\n",
            "Notes/a.md": "# A\nWe launch in March.\n",
        ])
        let list = try await browser.get("/goals")
        #expect(list.status == 200)
        #expect(list.body.contains("&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt; Sum up") && !list.body.contains("<script>alert"))
        let detail = try await browser.get("/goals/\(run.id)")
        #expect(detail.status == 200)
        #expect(detail.body.contains("Report &lt;img src=x onerror=alert(1)&gt;"))
        #expect(detail.body.contains("<a href=\"/files/Notes/a.md\">notes</a>"))
        #expect(!detail.body.contains("href=\"javascript"))
        #expect(detail.body.contains("evil (javascript:alert(1))"))
        #expect(!detail.body.contains("/files/../") && !detail.body.contains("etc/passwd\">"))
        let note = try await browser.get("/files/Notes/a.md")
        #expect(note.status == 200 && note.body == "# A\nWe launch in March.\n")
        #expect(try await browser.get("/files/..%2F..%2Fetc%2Fpasswd").status == 404)
        #expect(try await browser.get("/goals/999").status == 404)
        #expect(try await browser.get("/goals/999").body.contains("There is no goal"))

        // Start and cancel from the page, with its token.
        let token = try Self.csrf(in: list.body)
        let started = try await browser.post("/goals", form: ["csrf": token, "goal": "Summarise each note in Notes/"])
        #expect(started.status == 303)
        let location = try #require(started.header("Location"))
        let cancelled = try await browser.post(location + "/cancel", form: ["csrf": token])
        #expect(cancelled.status == 303)
        #expect(try await browser.get(location).body.contains("cancelled"))
        _ = await daemon.stop()
    }
}

/// Markdown from the agent (reports, briefs) rendered so that it can carry no markup or script.
@Suite("Safe markdown for reports", .timeLimit(.minutes(10)))
struct SafeMarkdownTests {
    @Test("text and markup in the source are escaped; headings, lists, tables, code, bold and links become elements")
    func rendering() {
        let html = SafeMarkdown.html(
            """
            # Audit <b>done</b>
            Some **bold** and `<code>` text.
            - [a note](../Notes/a b.md)
            1. first
            | file | total |
            |---|---|
            | <i>x</i> | 9.00 |
            """, base: "Reports")
        #expect(html.contains("<h2>Audit &lt;b&gt;done&lt;/b&gt;</h2>"))
        #expect(html.contains("<strong>bold</strong>") && html.contains("<code>&lt;code&gt;</code>"))
        #expect(html.contains("<a href=\"/files/Notes/a%20b.md\">a note</a>"))
        #expect(html.contains("<ol>\n<li>first</li>"))
        #expect(html.contains("<th>file</th><th>total</th>") && html.contains("<td>&lt;i&gt;x&lt;/i&gt;</td>"))
        #expect(!html.contains("<b>") && !html.contains("<i>"))
    }

    @Test("links to other schemes, other hosts by path, or out of the workspace stay text")
    func hostileLinks() {
        for target in [
            "javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "data:text/html,<script>", "vbscript:x",
            "file:///etc/passwd",
            "//evil.test/x", "/etc/passwd", "../../secret", "Reports/../../../x",
        ] {
            #expect(SafeMarkdown.href(target, base: "Reports") == nil, "\(target)")
        }
        #expect(SafeMarkdown.href("https://example.com/a?b=1", base: "") == "https://example.com/a?b=1")
        #expect(SafeMarkdown.href("run-1.md#top", base: "Reports") == "/files/Reports/run-1.md")
        #expect(SafeMarkdown.html("[x\" onmouseover=\"alert(1)](https://e.test)").contains("x&quot; onmouseover=&quot;alert(1)"))
    }
}
