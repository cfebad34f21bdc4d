import Foundation
import HearthBench
import HearthCore
import HearthTesting
import Testing

@Suite("The compliance review as a goal", .timeLimit(.minutes(5)))
struct ComplianceGoalTests {
    static let goal =
        "Analyze all feature specs in Projects/NextGen against the new regulatory PDF framework. Build a matrix highlighting lines "
        + "that violate compliance, cite the exact page numbers of the regulations, and draft remediation text matching our engineering style guide."

    @Test(
        "a review goal is planned without the model, fans out over the specs, repairs the broken one, reports every planted violation with its page; a dismissal becomes a standing rule the next review applies"
    )
    func reviewDismissAndRerun() async throws {
        let sandbox = try Sandbox()
        let written = try await sandbox.hearth(["demo", "compliance", "--into", sandbox.workspace.path, "--specs", "20", "--seed", "11"])
        #expect(written.status == 0, "\(written.stderr)")
        // The scripted model judges lines about requirements without an amount, from the truth.
        let server = ScriptedModelServer(responder: try ComplianceOracle.responder(fixture: sandbox.workspace))
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.useScriptedModel(url)

        let result = try await sandbox.hearth(["goal", "--json", Self.goal])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("(recipe:compliance-review)"), "\(result.stderr)")
        // Planning, reading, amounts and reporting are code: the model is asked only for verdicts
        // on lines about requirements without an amount.
        let asked = server.requests.filter { $0.path == "/v1/chat/completions" }
        #expect(!asked.isEmpty && asked.allSatisfy { ComplianceOracle.isVerdict($0.body) })
        let run = try JSONValue(parsing: result.stdout)["id"]?.intValue ?? 0
        #expect(run == 1)

        let report = try String(contentsOf: sandbox.workspace.appending(path: "Reports/compliance-1.md"), encoding: .utf8)
        let truth = try JSONValue(
            parsing: String(decoding: try Data(contentsOf: sandbox.workspace.appending(path: "truth.json")), as: UTF8.self))
        let expected = (truth.arrayValue ?? []).map { entry in
            (spec: entry["spec"]?.stringValue ?? "", line: entry["line"]?.intValue ?? 0, page: entry["page"]?.intValue ?? 0)
        }
        #expect(!expected.isEmpty)
        let listed = try await sandbox.hearth(["finding", "list", "1", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let findings = try JSONValue(parsing: listed.stdout).arrayValue ?? []
        let flagged = Set(findings.map { "\($0["spec"]?.stringValue ?? ""):\($0["line"]?.intValue ?? 0):\($0["page"]?.intValue ?? 0)" })
        #expect(flagged == Set(expected.map { "\($0.spec):\($0.line):\($0.page)" }))
        for entry in expected {
            #expect(report.contains("Regulation.pdf#page=\(entry.page)"))
        }
        #expect(report.contains("Remediation texts follow the rules of StyleGuide.md"))
        #expect(report.contains("## Repaired before review"))
        #expect(report.contains("**violation**"))
        // The specs' originals are untouched; the repaired copy is kept under .hearth.
        let repaired = try FileManager.default.subpathsOfDirectory(
            atPath: sandbox.workspace.appending(path: ".hearth/compliance/run-1").path)
        #expect(repaired.contains { $0.hasSuffix("normalised.md") })

        // The user overrules the first finding; the reason becomes a rule in the profile.
        let first = try #require(findings.first)
        let id = first["id"]?.stringValue ?? ""
        #expect(id == "1-1")
        let dismissed = try await sandbox.hearth([
            "finding", "dismiss", id, "--reason", "this retention is agreed with the regulator", "--json",
        ])
        #expect(dismissed.status == 0, "\(dismissed.stderr)")
        let rewritten = try String(contentsOf: sandbox.workspace.appending(path: "Reports/compliance-1.md"), encoding: .utf8)
        #expect(rewritten != report)
        #expect(rewritten.contains("## Dismissed by standing rules"))
        #expect(rewritten.contains("dismissed (standing rule)"))
        let profile = try await sandbox.hearth(["memory", "profile"])
        #expect(profile.stdout.contains("do not flag lines containing"), "\(profile.stdout)")

        // The next review applies it: the same line is dismissed, the others still flagged.
        let again = try await sandbox.hearth(["goal", "--json", Self.goal])
        #expect(again.status == 0, "\(again.stderr)")
        let second = try JSONValue(parsing: (try await sandbox.hearth(["finding", "list", "2", "--json"])).stdout).arrayValue ?? []
        #expect(second.count == findings.count)
        // The rule covers this line's text under this article: the line, and any other spec's
        // line worded the same.
        let ruled = second.filter { $0["dismissed"] != nil }
        let same = findings.filter { $0["claim"] == first["claim"] && $0["article"] == first["article"] }
        #expect(!ruled.isEmpty && ruled.count == same.count)
        #expect(ruled.contains { $0["spec"] == first["spec"] && $0["line"] == first["line"] })
        #expect(ruled.allSatisfy { $0["claim"] == first["claim"] })
        let secondReport = try String(contentsOf: sandbox.workspace.appending(path: "Reports/compliance-2.md"), encoding: .utf8)
        #expect(secondReport.contains("\(same.count) dismissed by your standing rules"))

        // Bad ids say what to do.
        let unknown = try await sandbox.hearth(["finding", "dismiss", "1-999", "--reason", "no"])
        #expect(unknown.status != 0)
        let malformed = try await sandbox.hearth(["finding", "dismiss", "seven", "--reason", "because"])
        #expect(malformed.status != 0 && malformed.stderr.contains("RUN-N"), "\(malformed.stderr)")
    }
}

@Suite("A regulation that cannot be read", .timeLimit(.minutes(3)))
struct ComplianceBadRegulationTests {
    @Test("an encrypted, a truncated and a text-less regulation are refused with what to do; a review of one fails and says why")
    func unreadableRegulations() async throws {
        let sandbox = try Sandbox()
        let written = try await sandbox.hearth(["demo", "compliance", "--into", sandbox.workspace.path, "--specs", "3"])
        #expect(written.status == 0, "\(written.stderr)")
        let regulation = sandbox.workspace.appending(path: "Regulation.pdf")
        let bytes = try Data(contentsOf: regulation)
        let encrypted = try await ChildProcess.run(
            URL(fileURLWithPath: "/usr/bin/qpdf"),
            [
                "--encrypt", "user-secret", "owner-secret", "256", "--", regulation.path,
                sandbox.workspace.appending(path: "Encrypted.pdf").path,
            ])
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        try bytes.prefix(bytes.count / 3).write(to: sandbox.workspace.appending(path: "Truncated.pdf"))
        // Pages with no text on them, as a scan without OCR gives.
        let blank = try await ChildProcess.run(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "printf '.bp\\n.bp\\n' | groff -Tpdf > '\(sandbox.workspace.appending(path: "Scanned.pdf").path)'"])
        #expect(blank.status == 0, "\(blank.stderr)")

        let expectations = [
            ("Encrypted.pdf", "encrypted (password-protected)"), ("Truncated.pdf", "damaged, truncated or not a PDF"),
            ("Scanned.pdf", "no text on them: they are scanned images"),
        ]
        for (file, reason) in expectations {
            let read = try await sandbox.hearth(["tool", "run", "read_regulation", "--args", "{\"path\": \"\(file)\"}"])
            #expect(read.status != 0)
            #expect(read.stderr.contains(reason), "\(file): \(read.stderr)")
        }

        try FileManager.default.removeItem(at: regulation)
        try FileManager.default.removeItem(at: sandbox.workspace.appending(path: "Truncated.pdf"))
        try FileManager.default.removeItem(at: sandbox.workspace.appending(path: "Scanned.pdf"))
        let server = ScriptedModelServer(responder: { _ in .chat("(the model is not needed here)") })
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.useScriptedModel(url)
        let review = try await sandbox.hearth(["goal", "--json", "Check the specs in Projects/NextGen for compliance with Encrypted.pdf"])
        #expect(review.status == 1)
        #expect(review.stderr.contains("encrypted (password-protected)"), "\(review.stderr)")
        let run = try JSONValue(parsing: review.stdout)
        #expect(run["state"] == "failed")
        // Nothing was checked against a regulation that was not read; the report says so.
        #expect(run["tasks"]?.arrayValue?.filter { $0["state"] == "skipped" }.count == 3)
        let report = try String(contentsOf: sandbox.workspace.appending(path: "Reports/compliance-1.md"), encoding: .utf8)
        #expect(report.contains("0 specs read"), "\(report)")
    }
}

@Suite("Publishing an approved compliance report", .serialized, .timeLimit(.minutes(5)))
struct CompliancePublishTests {
    /// A git repository with one commit, and a bare remote it pushes to.
    func portal(in sandbox: Sandbox) async throws -> (portal: URL, remote: URL) {
        let portal = sandbox.root.appending("portal")
        let remote = sandbox.root.appending("portal-remote.git")
        let script = """
            set -e
            git init -q -b main '\(portal.path)' && cd '\(portal.path)'
            printf '# Team docs\\n' > README.md && git add README.md
            git -c user.name=T -c user.email=t@example.com commit -q -m 'first'
            git init -q --bare '\(remote.path)' && git remote add origin '\(remote.path)'
            """
        let made = try await ChildProcess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
        #expect(made.status == 0, "\(made.stderr)")
        return (portal, remote)
    }

    func git(_ directory: URL, _ arguments: [String]) async throws -> String {
        let result = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/git"), ["-C", directory.path] + arguments)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The first pending approval of `run` for `tool`, waiting for the daemon to ask.
    func approval(_ sandbox: Sandbox, run: Int, tool: String) async throws -> Int? {
        for _ in 0..<300 {
            let listed = try JSONValue(parsing: try await sandbox.hearth(["approvals", "--json"]).stdout).arrayValue ?? []
            if let found = listed.first(where: { $0["run"]?.intValue == run && $0["tool"]?.stringValue == tool }) {
                return found["id"]?.intValue
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let shown = try await sandbox.hearth(["run", "\(run)"])
        Issue.record("run \(run) never asked to approve \(tool): \(shown.stdout) \(shown.stderr)")
        return nil
    }

    func finalState(_ sandbox: Sandbox, run: Int) async throws -> JSONValue {
        for _ in 0..<300 {
            let shown = try JSONValue(parsing: try await sandbox.hearth(["run", "\(run)", "--json"]).stdout)
            if ["succeeded", "failed", "needsReview", "cancelled"].contains(shown["state"]?.stringValue ?? "") { return shown }
            try await Task.sleep(for: .milliseconds(100))
        }
        return .null
    }

    @Test(
        "review, dismiss, publish: each step waits for approval and is bound to the report's hash; an edit after approval is refused; the portal gets a branch without its working tree touched; the channel's post goes through the broker, retried"
    )
    func publishAfterApproval() async throws {
        let sandbox = try Sandbox()
        let channelServer = EchoHTTPServer()
        let channel = try await channelServer.start()
        defer { channelServer.stop() }
        let model = ScriptedModelServer(responder: { _ in .chat("(the model is not needed here)") })
        let modelURL = try await model.start()
        defer { model.stop() }
        let (portal, remote) = try await portal(in: sandbox)
        let secret = "hook-\(UInt64.random(in: 1...UInt64.max))"
        try sandbox.prepareDaemon(
            extraConfig: """
                [vault]
                key_file = "\(sandbox.home.appending(path: "keys/vault.key").path)"
                [publish]
                portal = "\(portal.path)"
                remote = "origin"
                channel = "\(channel)/flaky?fail=1&key={{secret:channel}}"
                [inference]
                provider = "openai"
                base_url = "\(modelURL)"
                chat_model = "scripted"
                """)
        let config = sandbox.data.appending(path: "config.toml")
        let text = try String(contentsOf: config, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "[paths]\n", with: "[paths]\nmounts = [\"\(portal.path):rw\"]\n").utf8).write(to: config)
        let host = channel.replacingOccurrences(of: "http://", with: "")
        let added = try await sandbox.hearth(
            ["vault", "add", "channel", "--host", host, "--method", "POST"], input: Data((secret + "\n").utf8))
        #expect(added.status == 0, "\(added.stderr)")
        let written = try await sandbox.hearth(["demo", "compliance", "--into", sandbox.workspace.path, "--specs", "6", "--seed", "3"])
        #expect(written.status == 0, "\(written.stderr)")
        let daemon = try await sandbox.startDaemon()

        // The review itself ends asking to publish (exit 2: waiting for you), bound to the report as written.
        let review = try await sandbox.hearth(["goal", "--json", "Check the specs in Projects/NextGen for compliance with Regulation.pdf"])
        #expect(review.status == 2, "\(review.stderr)")
        let reportURL = sandbox.workspace.appending(path: "Reports/compliance-1.md")
        let reviewed = SHA256.hex(try Data(contentsOf: reportURL))
        let reviewPortal = try #require(try await approval(sandbox, run: 1, tool: "publish_portal"))
        let asked = try JSONValue(parsing: try await sandbox.hearth(["approvals", "--json"]).stdout).arrayValue?.first {
            $0["id"]?.intValue == reviewPortal
        }
        #expect(asked?["arguments"]?["sha256"]?.stringValue == reviewed, "\(String(describing: asked))")
        #expect(try await sandbox.hearth(["approve", "\(reviewPortal)"]).status == 0)
        // Approved: the daemon commits it; then the channel step asks. A dismissal now changes the
        // report, so that question (about the earlier version) is denied and nothing is posted.
        let reviewChannel = try #require(try await approval(sandbox, run: 1, tool: "post_summary"))
        let dismissed = try await sandbox.hearth(["finding", "dismiss", "1-1", "--reason", "agreed with the regulator"])
        #expect(dismissed.status == 0, "\(dismissed.stderr)")
        #expect(dismissed.stdout.contains("Denied approval \(reviewChannel) (post_summary)"), "\(dismissed.stdout)")
        let reviewEnd = try await finalState(sandbox, run: 1)
        #expect(reviewEnd["state"] == "failed", "\(reviewEnd)")
        #expect(try await git(portal, ["branch", "--list", "hearth/compliance-1-\(reviewed.prefix(8))"]).contains("hearth/"))

        // First publication: the portal step is approved; then the report is edited before the
        // channel step is approved, so that step is refused and nothing is posted.
        let first = try await sandbox.hearth(["publish", "1", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let firstRun = try JSONValue(parsing: first.stdout)["id"]?.intValue ?? 0
        let portalApproval = try #require(try await approval(sandbox, run: firstRun, tool: "publish_portal"))
        #expect(try await sandbox.hearth(["approve", "\(portalApproval)"]).status == 0)
        let channelApproval = try #require(try await approval(sandbox, run: firstRun, tool: "post_summary"))
        try Data(((try String(contentsOf: reportURL, encoding: .utf8)) + "\nEdited by hand.\n").utf8).write(to: reportURL)
        #expect(try await sandbox.hearth(["approve", "\(channelApproval)"]).status == 0)
        let refused = try await finalState(sandbox, run: firstRun)
        #expect(refused["state"] == "failed")
        let refusal = refused["tasks"]?.arrayValue?.first { $0["id"] == "channel" }?["error"]?.stringValue ?? ""
        #expect(refusal.contains("changed after it was approved"), "\(refusal)")
        #expect(channelServer.requests.isEmpty)

        // Published again: a new approval for the edited content, the channel retried past a 503.
        let second = try await sandbox.hearth(["publish", "1", "--json"])
        let secondRun = try JSONValue(parsing: second.stdout)["id"]?.intValue ?? 0
        #expect(
            try await sandbox.hearth(["approve", "\(try #require(try await approval(sandbox, run: secondRun, tool: "publish_portal")))"])
                .status == 0)
        #expect(
            try await sandbox.hearth(["approve", "\(try #require(try await approval(sandbox, run: secondRun, tool: "post_summary")))"])
                .status == 0)
        let published = try await finalState(sandbox, run: secondRun)
        #expect(published["state"] == "succeeded", "\(published)")
        #expect(channelServer.requests.count == 2)
        let posted = try JSONValue(parsing: channelServer.requests.last?.body ?? "")
        #expect(posted["text"]?.stringValue?.contains("Compliance review of Projects/NextGen (run 1)") == true)
        #expect(channelServer.requests.last?.uri.contains("key=\(secret)") == true)

        // The portal: three branches (one per approved content: the review's own, then two
        // publications), pushed; its checkout untouched.
        let branches = try await git(portal, ["branch", "--list", "hearth/*", "--format=%(refname:short)"]).split(separator: "\n")
        #expect(branches.count == 3)
        #expect(try await git(portal, ["rev-parse", "--abbrev-ref", "HEAD"]) == "main")
        #expect(try await git(portal, ["status", "--porcelain"]).isEmpty)
        let pushed = try await git(remote, ["branch", "--list", "hearth/*", "--format=%(refname:short)"]).split(separator: "\n")
        #expect(Set(pushed) == Set(branches))
        let sha = SHA256.hex(try Data(contentsOf: reportURL))
        let newest = "hearth/compliance-1-\(sha.prefix(8))"
        #expect(branches.contains(Substring(newest)))
        let files = try await git(portal, ["ls-tree", "-r", "--name-only", newest])
        #expect(
            files.contains("compliance/compliance-1.md") && files.contains("compliance/compliance-1-remediation.md")
                && files.contains("README.md"))
        let committed = try await git(portal, ["show", "\(newest):compliance/compliance-1.md"])
        #expect(committed.contains("Edited by hand."))
        #expect(try await git(portal, ["log", "-1", "--format=%B", newest]).contains(sha))

        // The day's journal tells the story: approvals asked and answered, the runs' ends.
        let journal = try await sandbox.journal(containing: "goal \(secondRun) succeeded")
        #expect(journal.contains("approval \(portalApproval) asked: publish_portal in run \(firstRun)"), "\(journal)")
        #expect(journal.contains("approval \(portalApproval) approved"))
        #expect(journal.contains("goal \(firstRun) failed") && journal.contains("goal \(secondRun) succeeded"))

        // Nothing said or stored holds the webhook's secret.
        for run in [firstRun, secondRun] {
            let trace = try await sandbox.hearth(["trace", "\(run)", "--json"])
            #expect(!trace.stdout.contains(secret))
        }

        // A dirty portal, a failing push and a channel that rejects: clear errors, nothing half done.
        try Data("changed\n".utf8).write(to: portal.appending(path: "README.md"))
        let dirty = try await sandbox.hearth([
            "tool", "run", "publish_portal", "--args", "{\"report\": \"Reports/compliance-1.md\", \"sha256\": \"\(sha)\"}",
        ])
        #expect(
            dirty.status != 0 && dirty.stderr.contains("uncommitted changes"), "status \(dirty.status): \(dirty.stderr) \(dirty.stdout)")
        #expect(await daemon.stop() == 0)
        _ = try await git(portal, ["checkout", "--", "README.md"])
        try Data(((try String(contentsOf: reportURL, encoding: .utf8)) + "\nAgain.\n").utf8).write(to: reportURL)
        let newSHA = SHA256.hex(try Data(contentsOf: reportURL))
        let arguments = "{\"report\": \"Reports/compliance-1.md\", \"sha256\": \"\(newSHA)\"}"
        let configured = try String(contentsOf: config, encoding: .utf8)
        try Data(
            configured.replacingOccurrences(of: "remote = \"origin\"", with: "remote = \"nowhere\"")
                .replacingOccurrences(of: "/flaky?fail=1&", with: "/reject?").utf8
        ).write(to: config)
        let failedPush = try await sandbox.hearth(["tool", "run", "publish_portal", "--args", arguments])
        #expect(failedPush.status != 0 && failedPush.stderr.contains("the push to nowhere failed"), "\(failedPush.stderr)")
        #expect(try await git(portal, ["branch", "--list", "hearth/*"]).split(separator: "\n").count == 3)

        let restarted = try await sandbox.startDaemon()
        let rejected = try await sandbox.hearth(["tool", "run", "post_summary", "--args", arguments])
        #expect(rejected.status != 0 && rejected.stderr.contains("HTTP 403"), "\(rejected.stderr)")
        #expect(!rejected.stderr.contains(secret))
        #expect(channelServer.requests.filter { $0.uri.hasPrefix("/reject") }.count == 1)
        #expect(await restarted.stop() == 0)
    }
}

@Suite("A review's findings on the dashboard", .timeLimit(.minutes(3)))
struct ComplianceDashboardTests {
    @Test("the goal page lists a review's violations with a dismiss form; a dismissal with a reason becomes a rule and rewrites the report")
    func dismissOnTheDashboard() async throws {
        let sandbox = try Sandbox()
        let model = ScriptedModelServer(responder: { _ in .chat("(the model is not needed here)") })
        let url = try await model.start()
        defer { model.stop() }
        try sandbox.prepareDaemon(extraConfig: "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\n")
        let written = try await sandbox.hearth(["demo", "compliance", "--into", sandbox.workspace.path, "--specs", "4", "--seed", "5"])
        #expect(written.status == 0, "\(written.stderr)")
        let (daemon, browser, _) = try await DashboardTests().signedIn(sandbox, prepared: true)
        defer { Task { try? await browser.shutdown() } }
        let review = try await sandbox.hearth(["goal", "--json", "Check the specs in Projects/NextGen for compliance with Regulation.pdf"])
        #expect(review.status == 0, "\(review.stderr)")

        let page = try await browser.get("/goals/1")
        #expect(page.status == 200)
        #expect(page.body.contains("<h2>Findings"))
        #expect(page.body.contains("action=\"/goals/1/findings/1-1/dismiss\""))
        // This model answers no verdict: the lines about practices wait for the user, and say so.
        #expect(page.body.contains("line(s) speak to a requirement without an amount that no model decided"))
        let token = try DashboardTests.csrf(in: page.body)
        #expect(try await browser.post("/goals/1/findings/1-1/dismiss", form: ["reason": "fine"]).status == 403)
        #expect(try await browser.post("/goals/1/findings/1-1/dismiss", form: ["csrf": token, "reason": ""]).status == 400)
        #expect(try await browser.post("/goals/1/findings/9-9/dismiss", form: ["csrf": token, "reason": "fine"]).status == 400)
        let dismissed = try await browser.post(
            "/goals/1/findings/1-1/dismiss", form: ["csrf": token, "reason": "agreed with the regulator <img src=x onerror=alert(1)>"])
        #expect(dismissed.status == 303)
        let after = try await browser.get(dismissed.header("Location") ?? "/goals/1")
        #expect(after.body.contains("Dismissed: do not flag lines containing"))
        #expect(after.body.contains("class=\"flash\""))
        // The reason is the user's text, shown escaped wherever it appears.
        #expect(after.body.contains("agreed with the regulator &lt;img src=x onerror=alert(1)&gt;") && !after.body.contains("<img src=x"))
        let report = try String(contentsOf: sandbox.workspace.appending(path: "Reports/compliance-1.md"), encoding: .utf8)
        #expect(report.contains("1 dismissed by your standing rules"))
        let profile = try await sandbox.hearth(["memory", "profile"])
        #expect(profile.stdout.contains("agreed with the regulator"))
        #expect(await daemon.stop() == 0)
    }
}

/// The scripted model as a compliance judge that knows the fixture's truth: a spec line the
/// truth lists is a violation, any other compliant. It tests everything around the model —
/// which lines are asked about, against which article and page, how verdicts reach the matrix.
enum ComplianceOracle {
    /// The planted violations' line texts (trimmed), read from the fixture's specs.
    static func violations(in fixture: URL) throws -> Set<String> {
        let truth = try JSONValue(parsing: String(decoding: try Data(contentsOf: fixture.appending(path: "truth.json")), as: UTF8.self))
        var lines = Set<String>()
        for entry in truth.arrayValue ?? [] {
            let bytes = try Data(contentsOf: fixture.appending(path: entry["spec"]?.stringValue ?? ""))
            let raw = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            let index = (entry["line"]?.intValue ?? 0) - 1
            guard raw.indices.contains(index) else { continue }
            let line = String(data: Data(raw[index]), encoding: .utf8) ?? String(decoding: raw[index], as: UTF8.self)
            lines.insert(line.trimmingCharacters(in: .whitespaces))
        }
        return lines
    }

    /// Whether a request asks for a compliance verdict.
    static func isVerdict(_ body: JSONValue) -> Bool { body.jsonText.contains("compliance_verdict") }

    static func responder(fixture: URL) throws -> @Sendable (JSONValue) -> ScriptedModelServer.Reply {
        let violations = try violations(in: fixture)
        return { body in
            guard isVerdict(body) else { return .chat("(the model is not needed here)") }
            let asked = body["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
            let line = asked.components(separatedBy: "<data>\n").last?.components(separatedBy: "\n</data>").first ?? ""
            let violates = violations.contains(line)
            return .chat(
                #"{"verdict": "\#(violates ? "violation" : "compliant")", "confidence": 0.9, "reason": "scripted from truth.json"}"#)
        }
    }
}
