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
        let server = ScriptedModelServer(responder: { _ in .chat("(the model is not needed here)") })
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.useScriptedModel(url)

        let result = try await sandbox.hearth(["goal", "--json", Self.goal])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("(recipe:compliance-review)"), "\(result.stderr)")
        // Reading, checking and reporting are code: the model is never asked.
        #expect(server.requests.filter { $0.path == "/v1/chat/completions" }.isEmpty)
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
        #expect(report.contains("Remediation texts follow `StyleGuide.md`"))
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
        let ruled = second.filter { $0["dismissed"] != nil }
        #expect(ruled.count == 1)
        #expect(ruled.first?["spec"] == first["spec"] && ruled.first?["line"] == first["line"])
        let secondReport = try String(contentsOf: sandbox.workspace.appending(path: "Reports/compliance-2.md"), encoding: .utf8)
        #expect(secondReport.contains("1 dismissed by your standing rules"))

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
            ["--encrypt", "user-secret", "owner-secret", "256", "--", regulation.path, sandbox.workspace.appending(path: "Encrypted.pdf").path])
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        try bytes.prefix(bytes.count / 3).write(to: sandbox.workspace.appending(path: "Truncated.pdf"))
        // Pages with no text on them, as a scan without OCR gives.
        let blank = try await ChildProcess.run(
            URL(fileURLWithPath: "/bin/sh"), ["-c", "printf '.bp\\n.bp\\n' | groff -Tpdf > '\(sandbox.workspace.appending(path: "Scanned.pdf").path)'"])
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
