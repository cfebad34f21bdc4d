import Foundation
import HearthCore
import HearthMemory
import HearthTesting
import Testing

@Suite("The profile: explicit rules only, within a token budget; search with a relevance floor", .timeLimit(.minutes(10)))
struct ProfileTests {
    @Test("a thousand ordinary notes, many with should or must, add nothing to the profile; said rules do")
    func notesStayNotes() async throws {
        let fixture = try await MemoryFixture(withEmbedder: false)
        var generator = SplitMix64(seed: 15)
        let subjects = ["the report", "the deploy", "our budget", "the invoice", "Ann", "the vendor", "the retro", "the API"]
        let verbs = ["should be reviewed by Friday", "must go out before the audit", "is late again", "uses Postgres 16", "looks fine"]
        for index in 0..<1_000 {
            let subject = subjects[Int(generator.next() % UInt64(subjects.count))]
            let verb = verbs[Int(generator.next() % UInt64(verbs.count))]
            _ = try await fixture.engine.handleInstruction(
                in: "remember that \(subject) \(verb) (\(index))", source: "cli", provenance: .trusted)
        }
        #expect(try await fixture.engine.profile().isEmpty)
        for rule in ["always put the total first", "never send drafts to clients", "from now on, write dates as YYYY-MM-DD"] {
            _ = try await fixture.engine.handleInstruction(in: "remember that \(rule)", source: "cli", provenance: .trusted)
        }
        _ = try await fixture.engine.handleInstruction(in: "remember I prefer reports in EUR", source: "cli", provenance: .trusted)
        let profile = try await fixture.engine.profile()
        #expect(profile.filter { $0.kind == .rule }.count == 3)
        #expect(profile.filter { $0.kind == .preference }.count == 1)
    }

    @Test("a prompt carries at most the budget, the entries sharing words with the task first")
    func budget() {
        var facts: [Fact] = []
        for index in 0..<300 {
            facts.append(
                Fact(
                    id: Int64(index + 1), kind: .rule, subject: "user", predicate: "rule",
                    object: "always label box \(index) in the warehouse inventory with its shelf number", provenance: .trusted))
        }
        facts.append(
            Fact(id: 900, kind: .preference, subject: "user", predicate: "prefers", object: "invoices in EUR", provenance: .trusted))
        let selection = ProfileSelection.select(facts, for: "Check the invoices in Receipts/", budget: 256)
        #expect(selection.tokens <= 256)
        #expect(selection.totalEntries == 301)
        #expect(selection.totalTokens > 256 * 10)
        #expect(selection.lines.first == "user prefers invoices in EUR")
        #expect(selection.lines.count < 301)
        #expect(ProfileSelection.select(facts, for: "anything", budget: 0).lines.isEmpty)
    }

    @Test("a query about something never written about finds nothing instead of the nearest noise")
    func relevanceFloor() async throws {
        let fixture = try await MemoryFixture()
        _ = try await fixture.engine.remember(
            ["The cat sat on the mat", "We booked the flight to Lisbon", "Ann approved the printer budget"].enumerated().map {
                index, text in
                MemoryRecord(
                    kind: .note, text: text, source: "cli", provenance: .trusted, occurredAt: Date(timeIntervalSince1970: Double(index)))
            })
        try await fixture.engine.indexPending()
        // The test embedder hashes words into 64 buckets; this query shares none of them with the records.
        let query = "zebra xylophone"
        func cosine(_ a: [Float], _ b: [Float]) -> Float {
            let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
            let norms = (a.reduce(0) { $0 + $1 * $1 } * b.reduce(0) { $0 + $1 * $1 }).squareRoot()
            return norms == 0 ? 0 : dot / norms
        }
        for text in ["The cat sat on the mat", "We booked the flight to Lisbon", "Ann approved the printer budget"] {
            try #require(cosine(WordHashEmbedder.vector(for: query), WordHashEmbedder.vector(for: text)) < 0.25)
        }
        let everything = try await fixture.engine.search(query, k: 10)
        #expect(!everything.isEmpty, "hybrid retrieval always fills its list")
        #expect(MemoryEngine.relevant(everything, minSimilarity: 0.25).isEmpty)
        let lisbon = MemoryEngine.relevant(try await fixture.engine.search("Lisbon flight", k: 10), minSimilarity: 0.25)
        #expect(lisbon.map(\.record.text) == ["We booked the flight to Lisbon"])
        #expect(try await fixture.engine.recall(query, limit: 3).isEmpty)
    }
}
