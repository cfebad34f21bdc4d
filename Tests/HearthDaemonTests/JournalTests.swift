import Foundation
import HearthBench
import HearthCore
import HearthTesting
import Testing

@Suite("The day's journal in the workspace", .timeLimit(.minutes(3)))
struct JournalTests {
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
        var text = try await sandbox.journal(containing: "Quarterly numbers")
        #expect(text.hasPrefix("# Journal — "))
        #expect(
            text.contains("arrived: mail received — Quarterly numbers \\[click\\](javascript:alert(1)) from ann@acme.example"), "\(text)")

        #expect(try await sandbox.hearth(["demo", "compliance", "--into", sandbox.workspace.path, "--specs", "3"]).status == 0)
        let review = try await sandbox.hearth(["goal", "Check the specs in Projects/NextGen for compliance with Regulation.pdf"])
        #expect(review.status == 0, "\(review.stderr)")
        text = try await sandbox.journal(containing: "goal 1 succeeded")
        #expect(
            text.contains("goal 1 succeeded: Check the specs in Projects/NextGen") && text.contains("[report](../Reports/run-1.md)"),
            "\(text)")

        // Writing the journal is a file change the watcher sees; it is not logged again.
        try await Task.sleep(for: .seconds(3))
        let settled = try await sandbox.journal(containing: "goal 1 succeeded")
        #expect(!settled.contains("Journal/"), "\(settled)")
        try await Task.sleep(for: .seconds(3))
        #expect(try await sandbox.journal(containing: "goal 1 succeeded") == settled)
        #expect(await daemon.stop() == 0)

        // A restart neither repeats nor skips a line.
        let restarted = try await sandbox.startDaemon()
        _ = try await sandbox.hearth([
            "event", "add", "--source", "calendar", "--kind", "invite", "--payload", #"{"title": "Board meeting"}"#,
        ])
        text = try await sandbox.journal(containing: "Board meeting")
        #expect(text.components(separatedBy: "Quarterly numbers").count == 2, "\(text)")
        #expect(text.contains("arrived: calendar invite — Board meeting"))
        #expect(await restarted.stop() == 0)
    }
}

@Suite("PROFILE.md in the workspace", .timeLimit(.minutes(3)))
struct ProfileFileSyncTests {
    @Test("the profile is rendered; the user's edits flow back as trusted facts with history; nonsense retracts nothing")
    func editsFlowBack() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        for note in ["I prefer tea over coffee", "My manager is Ann Lee"] {
            #expect(try await sandbox.hearth(["memory", "remember", note]).status == 0)
        }
        let daemon = try await sandbox.startDaemon()
        var text = try await sandbox.file("PROFILE.md", containing: "tea over coffee")
        #expect(text.contains("## Preferences") && text.contains("<!-- #"), "\(text)")
        let manager = try #require(text.split(separator: "\n").first { $0.contains("Ann Lee") })

        // Change a preference, delete a fact, add one, and write a line that is not one.
        text = text.replacingOccurrences(of: "tea over coffee", with: "green tea")
        text = text.replacingOccurrences(of: manager + "\n", with: "- Bo — works at — Acme\n- this is not a fact\n")
        try Data(text.utf8).write(to: sandbox.workspace.appending(path: "PROFILE.md"))
        let after = try await sandbox.file("PROFILE.md", containing: "Bo — works at — Acme <!-- #")
        #expect(after.contains("green tea") && !after.contains("tea over coffee") && !after.contains("Ann Lee"), "\(after)")
        #expect(!after.contains("this is not a fact"))
        let facts = try await sandbox.hearth(["memory", "facts", "--history"])
        #expect(facts.stdout.contains("green tea") && facts.stdout.contains("Acme"), "\(facts.stdout)")
        #expect(facts.stdout.contains("tea over coffee"), "the old preference stays in the history")
        let journal = try await sandbox.journal(containing: "your edit of PROFILE.md")
        #expect(journal.contains("1 added, 1 changed, 1 retracted, 1 line(s) not understood"), "\(journal)")

        // A file garbled as a whole retracts nothing.
        try Data("nonsense\n".utf8).write(to: sandbox.workspace.appending(path: "PROFILE.md"))
        let restored = try await sandbox.file("PROFILE.md", containing: "green tea")
        #expect(restored.contains("green tea") && restored.contains("Acme"), "\(restored)")
        #expect(await daemon.stop() == 0)
    }
}
