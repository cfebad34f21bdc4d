import Foundation
import HearthBench
import HearthCore
import HearthTesting
import Testing

@Suite("The day's journal in the workspace", .timeLimit(.minutes(3)))
struct JournalTests {
    /// Today's journal once it contains `text` (waiting for the writer), else what it holds.
    func journal(_ sandbox: Sandbox, containing text: String) async throws -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        let file = sandbox.workspace.appending(path: "Journal/\(formatter.string(from: Date())).md")
        var content = ""
        for _ in 0..<150 {
            content = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            if content.contains(text) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return content
    }

    @Test(
        "what arrives and what goals did are appended as they happen, escaped; the journal does not log itself; a restart neither repeats nor skips"
    )
    func dayLog() async throws {
        let sandbox = try Sandbox()
        let model = ScriptedModelServer(responder: { _ in .chat("(the model is not needed here)") })
        let url = try await model.start()
        defer { model.stop() }
        try sandbox.prepareDaemon(extraConfig: "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\n")
        let daemon = try await sandbox.startDaemon()
        let added = try await sandbox.hearth([
            "event", "add", "--source", "mail", "--kind", "received",
            "--payload", #"{"subject": "Quarterly numbers [click](javascript:alert(1))", "from": "ann@acme.example"}"#,
        ])
        #expect(added.status == 0, "\(added.stderr)")
        var text = try await journal(sandbox, containing: "Quarterly numbers")
        #expect(text.hasPrefix("# Journal — "))
        #expect(
            text.contains("arrived: mail received — Quarterly numbers \\[click\\](javascript:alert(1)) from ann@acme.example"), "\(text)")

        #expect(try await sandbox.hearth(["demo", "compliance", "--into", sandbox.workspace.path, "--specs", "3"]).status == 0)
        let review = try await sandbox.hearth(["goal", "Check the specs in Projects/NextGen for compliance with Regulation.pdf"])
        #expect(review.status == 0, "\(review.stderr)")
        text = try await journal(sandbox, containing: "goal 1 succeeded")
        #expect(
            text.contains("goal 1 succeeded: Check the specs in Projects/NextGen") && text.contains("[report](../Reports/run-1.md)"),
            "\(text)")

        // Writing the journal is a file change the watcher sees; it is not logged again.
        try await Task.sleep(for: .seconds(3))
        let settled = try await journal(sandbox, containing: "goal 1 succeeded")
        #expect(!settled.contains("Journal/"), "\(settled)")
        try await Task.sleep(for: .seconds(3))
        #expect(try await journal(sandbox, containing: "goal 1 succeeded") == settled)
        #expect(try await daemon.stop() == 0)

        // A restart neither repeats nor skips a line.
        let restarted = try await sandbox.startDaemon()
        _ = try await sandbox.hearth([
            "event", "add", "--source", "calendar", "--kind", "invite", "--payload", #"{"title": "Board meeting"}"#,
        ])
        text = try await journal(sandbox, containing: "Board meeting")
        #expect(text.components(separatedBy: "Quarterly numbers").count == 2, "\(text)")
        #expect(text.contains("arrived: calendar invite — Board meeting"))
        #expect(try await restarted.stop() == 0)
    }
}
