import Foundation
import HearthCore
import Testing

@Suite("Compliance: amounts, limits, regulations and specs, without I/O", .timeLimit(.minutes(10)))
struct ComplianceTests {
    @Test("amounts in any wording become comparable quantities")
    func quantities() {
        let found = Quantity.all(in: "Keep them 90 days, a 128-bit key, two weeks, 12 characters and 1,000 hours; 44 px is no unit.")
        #expect(found.map(\.text) == ["90 days", "128-bit", "two weeks", "12 characters", "1,000 hours"])
        #expect(found[0].value == 90 * 24)
        #expect(found[2].value == 14 * 24)
        #expect(found[1].dimension == .bits)
        #expect(Quantity.all(in: "Up to 5 devices per account.").isEmpty)
    }

    @Test("a binding sentence's limit and its direction, whatever the phrasing")
    func limits() throws {
        let cases: [(String, Limit.Bound, Double)] = [
            ("Personal data shall not be retained for longer than 30 days.", .atMost, 30 * 24),
            ("The retention period must not exceed 6 months.", .atMost, 6 * 24 * 30.44),
            ("Breaches shall be reported no later than 72 hours after discovery.", .atMost, 72),
            ("Access rights shall be reviewed at least every 90 days.", .atMost, 90 * 24),
            ("Backups shall be taken at intervals not exceeding 12 hours.", .atMost, 12),
            ("Audit logs shall be kept for no less than 24 months.", .atLeast, 24 * 24 * 30.44),
            ("Keys shall be at least 256 bits long.", .atLeast, 256),
            ("Passwords are required to have a minimum length of 14 characters.", .atLeast, 14),
            ("Tokens must be 128 bits or more.", .atLeast, 128),
        ]
        for (sentence, bound, value) in cases {
            let limit = try #require(Limit.read(sentence), "\(sentence)")
            #expect(limit.bound == bound, "\(sentence)")
            #expect(abs(limit.quantity.value - value) < 0.01, "\(sentence)")
        }
        #expect(Limit.read("The authority may publish a report within 3 months.") == nil)  // not binding
        #expect(Limit.read("The controller shall keep records in writing.") == nil)  // no amount
        let retention = try #require(Limit.read("Tickets shall not be retained for longer than 30 days."))
        #expect(retention.isBroken(by: Quantity.all(in: "kept for 90 days")[0]) == true)
        #expect(retention.isBroken(by: Quantity.all(in: "kept for 4 weeks")[0]) == false)
        #expect(retention.isBroken(by: Quantity.all(in: "kept for 30 days")[0]) == false)
        #expect(retention.isBroken(by: Quantity.all(in: "a 256-bit key")[0]) == nil)
    }

    @Test("a regulation's pages become binding sentences with their article and the page they start on")
    func regulation() {
        let pages = [
            "Article 1 — Scope\n1. The Board may issue guidelines.\n- 1 -\n",
            "Article 2 — Retention\n2. Support tickets shall not be retained for longer than 30 days after the\n",
            "end of the contract. The super-\nvisory authority shall be informed within 72 hours.\n  - 3 -\n",
        ]
        let found = RegulationReader.requirements(pages: pages)
        #expect(found.count == 2)
        #expect(found.first?.article == 2)
        #expect(found.first?.page == 2)  // it starts on page 2 and ends on page 3
        #expect(found.first?.text == "Support tickets shall not be retained for longer than 30 days after the end of the contract.")
        #expect(found.first?.limit?.bound == .atMost)
        #expect(found.last?.text == "The supervisory authority shall be informed within 72 hours.")
        #expect(found.last?.page == 3)
    }

    @Test("a spec a strict reader cannot read is refused with the reason and the line")
    func specs() throws {
        let good = try SpecDocument.parse(Data("# Spec\n\n```\n- 90 days inside a fence\n```\n- Kept for 30 days.\n".utf8))
        #expect(good.lines.map(\.number) == [1, 2, 6, 7])
        #expect(good.lines[2].text == "- Kept for 30 days.")
        func problem(_ data: Data) -> SpecDocument.Problem? {
            do {
                _ = try SpecDocument.parse(data)
                return nil
            } catch { return error }
        }
        #expect(problem(Data()) == .empty)
        #expect(problem(Data("  \n\n".utf8)) == .empty)
        #expect(problem(Data([0x25, 0x50, 0x00, 0x01])) == .binary)
        #expect(problem(Data("ok\ncaf".utf8) + Data([0xE9, 0x0A])) == .notUTF8(line: 2))
        #expect(problem(Data("a\n```json\n{}\n".utf8)) == .unclosedFence(line: 2))
        #expect(problem(Data("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n".utf8)) == .brokenTable(line: 3, expected: 2, found: 3))
        #expect(problem(Data("| a | b |\n|---|---|\n| 1 | 2 |\n".utf8)) == nil)
    }

    @Test(
        "a dismissal's rule: a quoted term the line contains covers every line with it; else this line under this article; read back from its sentence"
    )
    func exemptions() {
        let line = "- Service accounts such as svc-backup keep their logs for 400 days."
        let term = ComplianceExemption.dismissing(claim: line, article: 12, reason: "our internal `svc-` names are not personal data")
        #expect(term.term == "svc-" && term.article == nil)
        #expect(term.covers(claim: "- SVC-mailer tokens live 90 days", article: 40))
        #expect(!term.covers(claim: "- User names are kept 400 days", article: 12))
        #expect(ComplianceExemption.parse(term.sentence) == term)

        // A quoted word the line does not contain is no term: the rule is this line's.
        let exact = ComplianceExemption.dismissing(claim: line, article: 12, reason: "the \"regulator\" agreed to this")
        #expect(exact.article == 12 && exact.term == line.trimmingCharacters(in: .whitespaces))
        #expect(exact.covers(claim: line, article: 12))
        #expect(!exact.covers(claim: line, article: 13))
        #expect(ComplianceExemption.parse(exact.sentence) == exact)

        // A line with double quotes reads back as written (they become single quotes).
        let quoted = ComplianceExemption.dismissing(claim: "- Tokens \"expire\" after 2 days", article: 3, reason: "fine")
        #expect(ComplianceExemption.parse(quoted.sentence) == quoted)
        #expect(quoted.covers(claim: "- Tokens \"expire\" after 2 days", article: 3))
        #expect(ComplianceExemption.parse("spreadsheets use EUR") == nil)
    }
}
