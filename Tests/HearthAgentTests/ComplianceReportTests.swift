import Foundation
import HearthAgent
import HearthCore
import Synchronization
import Testing

@Suite("The compliance report", .timeLimit(.minutes(10)))
struct ComplianceReportTests {
    let violation = ComplianceFinding(
        spec: "Projects/NextGen/NG-001-offline sync.md", line: 18,
        claim: "- We purge payment card records 90 days after | <script>x</script>",
        article: 9, page: 14, requirement: "Payment card records shall not be retained for longer than 30 days.", verdict: .violation,
        decidedBy: "code")
    let compliant = ComplianceFinding(
        spec: "Projects/NextGen/NG-002.md", line: 20, claim: "- Keys are 256 bits.", article: 25, page: 40,
        requirement: "Keys shall be at least 128 bits long.", verdict: .compliant, decidedBy: "code")

    @Test("the matrix, each violation beside the regulation with links to the line and the page, and a remediation to the rules")
    func report() {
        let markdown = ComplianceReport.markdown(
            title: "Review", regulation: "Regulation.pdf", findings: [compliant, violation],
            failures: [.init(spec: "Projects/NextGen/NG-018.md", reason: "the code fence opened on line 29 is never closed")], specsRead: 2,
            styleGuide: ("StyleGuide.md", Self.guide))
        #expect(markdown.contains("2 specs read against `Regulation.pdf`: 2 lines checked, **1 violations**, 1 specs not reviewed"))
        #expect(markdown.contains("| ID | Spec | Line | Requirement | Article | Page | Verdict | Confidence | Decided by |"))
        #expect(markdown.contains("](../Projects/NextGen/NG-001-offline%20sync.md#L18)"))
        #expect(markdown.contains("[Regulation, page 14](../Regulation.pdf#page=14)"))
        #expect(
            markdown.contains(
                "Remediation: Change \"90 days\" to at most 30 days (Regulation, Article 9). Owner: the team named in the spec."))
        #expect(markdown.contains("- `Projects/NextGen/NG-018.md`: the code fence opened on line 29 is never closed"))
        // Text from a spec cannot break the table or become markup.
        #expect(!markdown.contains("<script>"))
        #expect(markdown.contains("\\<script\\>"))
        #expect(markdown.contains("after \\| \\<script"))
        #expect(
            markdown.contains(
                "Remediation texts follow the rules of StyleGuide.md: the imperative; one sentence per change; at most 30 words; "
                    + "cited as \"(Regulation, Article N)\"; ending \"Owner: the team named in the spec.\"; never \"simply\", \"seamless\"."
            ))
        // Violations come in spec order; the compliant line is only in the matrix.
        #expect(markdown.components(separatedBy: "### ").count == 2)
    }

    static let guide = """
        # Engineering style guide
        1. Lead with the change, in the imperative.
        2. Name the rule it satisfies by article: "(Regulation, Article 9)".
        3. One sentence per change; no more than 30 words.
        4. No marketing words ("simply", "seamless").
        5. Say who owns the change: "Owner: the team named in the spec."
        """

    @Test("remediation texts follow the workspace's own guide; the rules code cannot apply are listed for the reader")
    func otherGuide() {
        let guide = """
            - Begin every remediation with "Fix:".
            - Cite as "Art. 4 Reg." and stay under 20 words.
            - End with "Accountable: platform team".
            - Write warmly.
            """
        let markdown = ComplianceReport.markdown(
            title: "Review", regulation: "Regulation.pdf", findings: [violation], failures: [], specsRead: 1,
            styleGuide: ("Docs/Writing.md", guide))
        #expect(markdown.contains("Remediation: Fix: Change \"90 days\" to at most 30 days Art. 9 Reg. Accountable: platform team"))
        #expect(markdown.contains("Not applied by code — check by hand: \"Write warmly.\"."), "\(markdown)")
        let nothing = ComplianceReport.markdown(
            title: "Review", regulation: "Regulation.pdf", findings: [violation], failures: [], specsRead: 1,
            styleGuide: ("Docs/Writing.md", "Be nice."))
        #expect(nothing.contains("Docs/Writing.md has no rule code can apply"))
        #expect(nothing.contains("(Regulation, Article 9). Owner: the team named in the spec."))
    }

    @Test("a violation a standing rule covers stays in the matrix, marked dismissed, and is not counted")
    func dismissedByRule() {
        var ruled = violation
        ruled.id = "7-1"
        ruled.dismissedBy = ComplianceExemption.dismissing(
            claim: ruled.claim, article: ruled.article, reason: "card records are tokenised here")
        let markdown = ComplianceReport.markdown(
            title: "Review", regulation: "Regulation.pdf", findings: [ruled], failures: [], specsRead: 1, styleGuide: nil)
        #expect(markdown.contains("**0 violations**, 1 dismissed by your standing rules."))
        #expect(markdown.contains("| 7-1 | "))
        #expect(markdown.contains("| dismissed (standing rule) |"))
        #expect(markdown.contains("## Dismissed by standing rules"))
        #expect(markdown.contains("card records are tokenised here"))
        #expect(markdown.contains("## Violations\n\nNone."))
    }

    @Test("without a style guide the report says so; without findings it says what it checked")
    func missingStyleGuide() {
        let markdown = ComplianceReport.markdown(
            title: "Review", regulation: "Regulation.pdf", findings: [], failures: [], specsRead: 3, styleGuide: nil)
        #expect(markdown.contains("No style guide was found"))
        #expect(markdown.contains("no line speaks to a requirement"))
        #expect(markdown.contains("Every spec was read."))
        #expect(markdown.contains("## Violations\n\nNone."))
    }
}

@Suite("Repairing a spec the reader refuses, in the sandbox", .timeLimit(.minutes(10)))
struct SpecRepairTests {
    @Test("mixed encodings and a broken table: the confined recipe normalises a copy that then reads, and says what it changed")
    func repairs() async throws {
        let scratch = FileManager.default.temporaryDirectory.appending(path: "hearth-repair-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let original =
            Data("# Spec\n\n- Kept for 90 days.\n| Limit | Value |\n|---|---|\n| Devices | 5 | extra |\n".utf8)
            + Data("Notes from the caf".utf8) + Data([0xE9]) + Data(" review.\n".utf8)
        let problem: String
        do {
            _ = try SpecDocument.parse(original)
            Issue.record("the original should be refused")
            return
        } catch { problem = "\(error)" }
        let (record, document) = try await SpecRepair().repair(
            spec: "Projects/x.md", original: original, problem: problem, scratch: scratch)
        #expect(record.stillBroken == nil, "\(record.output)")
        let repaired = try #require(document)
        #expect(repaired.lines.contains { $0.text == "- Kept for 90 days." })
        #expect(repaired.lines.contains { $0.text == "Notes from the café review." })
        #expect(record.output.contains("re-encoded from Windows-1252"))
        #expect(record.output.contains("table row given 2 cells (had 3)"))
        #expect(record.diff.contains("+6 | Devices | 5 |"))
        #expect(record.author == "vetted recipe normalise_markdown.py")
    }

    /// A spec with a code fence never closed, and why the reader refuses it.
    static func unclosedFence() throws -> (Data, String) {
        let original = Data("# Spec\n\n- Kept for 90 days.\n\n```json\n{\"retention\": 90}\n".utf8)
        do {
            _ = try SpecDocument.parse(original)
        } catch {
            return (original, "\(error)")
        }
        throw CancellationError()
    }

    @Test("a capable model's script repairs the copy, confined, and the record names the model")
    func modelScript() async throws {
        let scratch = FileManager.default.temporaryDirectory.appending(path: "hearth-repair-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (original, problem) = try Self.unclosedFence()
        let asked = Mutex<[String]>([])
        let writer = SpecRepair.ScriptWriter(author: "model scripted") { problem, excerpt in
            asked.withLock { $0 = [problem, excerpt] }
            return """
                import sys
                text = open(sys.argv[1], encoding="utf-8").read()
                if text.count("```") % 2:
                    text += "```\\n"
                    print("closed the open fence")
                open(sys.argv[2], "w", encoding="utf-8").write(text)
                """
        }
        let (record, document) = try await SpecRepair(writer: writer).repair(
            spec: "Projects/z.md", original: original, problem: problem, scratch: scratch)
        #expect(record.author == "model scripted", "\(record.author)")
        #expect(record.stillBroken == nil && record.output == "closed the open fence", "\(record.output)")
        #expect(document?.lines.contains { $0.text == "- Kept for 90 days." } == true)
        #expect(asked.withLock { $0 }.first == problem)
        #expect(asked.withLock { $0 }.last?.contains("Kept for 90 days") == true)
    }

    @Test("a model's script that fails, reaches outside its scratch or never comes: the vetted recipe repairs it, and the record says why")
    func modelScriptFallsBack() async throws {
        let (original, problem) = try Self.unclosedFence()
        let outside = FileManager.default.temporaryDirectory.appending(path: "hearth-escape-\(UUID().uuidString)")
        let scripts: [(String?, String)] = [
            ("import sys\nsys.exit(3)\n", "the script failed (exit 3)"),
            ("open('\(outside.path)', 'w').write('x')\n", "the script failed"),
            (nil, "no script came back"),
        ]
        for (script, reason) in scripts {
            let scratch = FileManager.default.temporaryDirectory.appending(path: "hearth-repair-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let writer = SpecRepair.ScriptWriter(author: "model scripted") { _, _ in
                guard let script else { throw SpecRepair.RepairError.noScript("{}") }
                return script
            }
            let (record, document) = try await SpecRepair(writer: writer).repair(
                spec: "Projects/z.md", original: original, problem: problem, scratch: scratch)
            #expect(document != nil)
            #expect(record.author.hasPrefix("vetted recipe normalise_markdown.py (the script model scripted wrote was not used: "))
            #expect(record.author.contains(reason), "\(record.author)")
            #expect(record.script == SpecRepair.recipe)
        }
        #expect(!FileManager.default.fileExists(atPath: outside.path), "the confined script could not write outside its scratch")
    }

    @Test("a file the recipe cannot fix (binary) stays isolated, with the reason")
    func isolates() async throws {
        let scratch = FileManager.default.temporaryDirectory.appending(path: "hearth-repair-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let binary = Data([0x50, 0x4B, 0x03, 0x04, 0x00, 0x00, 0x08, 0x00, 0x0A])
        let (record, document) = try await SpecRepair().repair(spec: "Projects/y.md", original: binary, problem: "binary", scratch: scratch)
        #expect(document == nil)
        #expect(record.stillBroken?.contains("still does not read") == true)
    }
}
