import Foundation
import HearthCore
import Testing

@Suite("PROFILE.md read back, without I/O", .timeLimit(.minutes(10)))
struct ProfileFileTests {
    let facts = [
        Fact(id: 1, kind: .preference, subject: "user", predicate: "prefers", object: "tea over coffee", provenance: .trusted),
        Fact(id: 2, kind: .rule, subject: "user", predicate: "rule", object: "cc Bo on invoices", provenance: .trusted),
        Fact(id: 3, kind: .fact, subject: "Ann Lee", predicate: "is", object: "my manager", provenance: .trusted),
    ]

    @Test("the rendered file reads back as no change")
    func roundTrip() {
        let text = ProfileFile.render(facts)
        #expect(text.contains("- user — prefers — tea over coffee <!-- #1 -->"))
        #expect(text.contains("## Standing rules"))
        #expect(ProfileFile.changes(text, against: facts).isEmpty)
    }

    @Test("a changed line supersedes, a deleted one retracts, a new one adds, nonsense changes nothing")
    func edits() {
        var text = ProfileFile.render(facts)
        text = text.replacingOccurrences(of: "tea over coffee", with: "green tea")
        text = text.replacingOccurrences(
            of: "- Ann Lee — is — my manager <!-- #3 -->\n", with: "- Bo — works at — Acme\n- this is not a fact\n")
        let changes = ProfileFile.changes(text, against: facts)
        #expect(changes.supersede.map(\.id) == [1] && changes.supersede.first?.line.object == "green tea")
        #expect(changes.supersede.first?.line.kind == .preference)
        #expect(changes.retract == [3])
        #expect(changes.add.map(\.subject) == ["Bo"] && changes.add.first?.kind == .fact)
        #expect(changes.unreadable == ["- this is not a fact"])
    }

    @Test("a garbled line that keeps its marker keeps its fact")
    func garbledKeepsFact() {
        let text = ProfileFile.render(facts).replacingOccurrences(of: "user — rule — cc Bo on invoices", with: "user rule cc Bo")
        let changes = ProfileFile.changes(text, against: facts)
        #expect(changes.retract.isEmpty)
        #expect(changes.unreadable.count == 1)
    }
}
