import Foundation
import HearthCore
import HearthMemory
import HearthPostgres
import HearthStore
import HearthTesting
import Testing

extension StoreBackend {
    func makeMemory() async throws -> (store: any MemoryStore, close: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "memory")
            let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
            return (MemorySQLStore(database: database), { withExtendedLifetime(directory) {} })
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            return (PostgresMemoryStore(database: database), { database.close() })
        }
    }
}

/// A word-hashing embedder: texts sharing words are near each other, no model needed.
struct WordEmbedder: Embedder {
    let endpoint = ModelEndpoint(provider: .llamaCpp, baseURL: "test:", chatModel: "none", embeddingModel: "words-32")

    func embed(_ texts: [String]) async throws -> EmbeddingResult {
        EmbeddingResult(vectors: texts.map(Self.vector), usage: ModelUsage())
    }

    static func vector(_ text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: 32)
        for word in MemoryText.words(text) {
            var hash: UInt64 = 1_469_598_103_934_665_603
            for byte in word.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
            vector[Int(hash % 32)] += 1
        }
        return vector
    }
}

@Suite("Memory on both backends", .timeLimit(.minutes(2)))
struct MemoryBackendTests {
    static let base = Date(timeIntervalSince1970: 1_800_000_000)

    static func turn(_ text: String, session: String?, speaker: String? = "user", minute: Double, kind: MemoryKind = .turn)
        -> MemoryRecord
    {
        MemoryRecord(
            kind: kind, text: text, source: "chat", provenance: .trusted, occurredAt: base.addingTimeInterval(minute * 60),
            recordedAt: base, sessionID: session, speaker: speaker, importance: 0.5)
    }

    /// One script of store operations; what each returned, as text. Both backends must tell the same story.
    static func transcript(_ store: any MemoryStore) async throws -> [String] {
        var lines: [String] = []
        func note(_ label: String, _ value: Any) { lines.append("\(label): \(value)") }
        let first = try await store.insert([
            turn("My dog is called Biscuit", session: "s1", minute: 1),
            turn("What a lovely name for a dog", session: "s1", speaker: "assistant", minute: 2),
            turn("We fly to Lisbon on Friday", session: "s1", minute: 3),
            turn("Remember the passport", session: "s1", minute: 4),
            turn("Quarterly numbers are due Monday", session: "work_1", speaker: nil, minute: 5),
            turn("A note with no session", session: nil, speaker: nil, minute: 6),
            turn("My dog is called Biscuit", session: "s2", minute: 7),
        ])
        note("ids", first.map(\.id))
        note("read", try await store.records(ids: [first[2].id, first[0].id, 999]).map { "\($0.id) \($0.spokenText)" })
        note(
            "text search",
            try await store.fullTextSearch(terms: ["biscuit", "lisbon"], field: .text, filter: .any, limit: 10).map(\.id).sorted())
        note(
            "context search",
            try await store.fullTextSearch(terms: ["passport"], field: .context, filter: .any, limit: 10).map(\.id).sorted())
        note(
            "filtered search",
            try await store.fullTextSearch(
                terms: ["biscuit"], field: .text, filter: MemoryFilter(sessionIDs: ["s2"]), limit: 10
            ).map(\.id))
        note("exact text", try await store.recordIDs(matchingText: "my DOG is called biscuit!", filter: .any))
        let pending = try await store.pendingVectors(limit: 100)
        note(
            "pending",
            pending.map { "\($0.recordID)/\($0.field.rawValue): \($0.before ?? "-") | \($0.text) | \($0.after ?? "-") \($0.neighbours)" })
        try await store.saveVectors(pending.map { ($0, WordEmbedder.vector($0.text)) }, model: "words-32")
        note("pending after", try await store.pendingVectors(limit: 100).count)
        let loaded = try await store.loadVectors(field: .context, model: "words-32")
        note("context vectors", "\(loaded.ids) \(loaded.dimensions) \(loaded.values.count) \(loaded.metadata.map(\.sessionID))")
        note("text vectors", try await store.loadVectors(field: .text, model: "words-32").ids)

        // A turn added to s1: its neighbour's context vector is dropped and waits again.
        let added = try await store.insert([turn("And the sunscreen", session: "s1", minute: 8)])
        note("added", added.map(\.id))
        note(
            "pending after add",
            try await store.pendingVectors(limit: 100).map {
                "\($0.recordID)/\($0.field.rawValue): \($0.before ?? "-") | \($0.text) | \($0.after ?? "-") \($0.neighbours)"
            })
        note(
            "context of neighbour",
            try await store.fullTextSearch(terms: ["sunscreen"], field: .context, filter: .any, limit: 10).map(\.id).sorted())

        var facts = try await store.insertFacts([
            Fact(
                kind: .fact, subject: "user", predicate: "dog name", object: "Biscuit", recordedAt: base, sourceRecordID: first[0].id,
                provenance: .trusted),
            Fact(
                kind: .preference, subject: "user", predicate: "currency", object: "EUR_comma", recordedAt: base, provenance: .trusted,
                status: .pending),
        ])
        note("facts", facts.map(\.id))
        try await store.invalidate(factID: facts[0].id, by: facts[1].id, at: base.addingTimeInterval(10), validTo: nil)
        try await store.setStatus(.active, factID: facts[1].id)
        facts = try await store.facts(FactQuery(statuses: [.active], includeInvalidated: true))
        note("fact rows", facts.map { "\($0.id) \($0.object) \($0.status.rawValue) \($0.invalidatedBy ?? 0) \($0.invalidatedAt != nil)" })
        note("mentioning", try await store.facts(FactQuery(mentioning: "eur_")).map(\.id))
        note("mentioning %", try await store.facts(FactQuery(mentioning: "%")).map(\.id))
        note("one fact", try await store.fact(id: facts[1].id)?.predicate ?? "none")

        // Forget the first turn: its derived fact goes, and its neighbours' contexts are rebuilt.
        let removal = try await store.delete(ids: [first[0].id, 999])
        note("removal", "\(removal.records) \(removal.vectors) \(removal.facts) \(removal.contextsRebuilt)")
        note("after delete", try await store.sessionRecords(source: "chat", sessionID: "s1").map(\.text))
        note(
            "context after delete",
            try await store.fullTextSearch(terms: ["biscuit"], field: .context, filter: .any, limit: 10).map(\.id).sorted())
        note("deleted facts", try await store.deleteFacts(ids: [facts[1].id, 12345]))

        note("duplicates", try await store.duplicateGroups(limit: 10))
        _ = try await store.insert([turn("Remember the passport", session: "s3", minute: 9)])
        note("duplicates after", try await store.duplicateGroups(limit: 10))
        note("beyond cap", try await store.recordsBeyondCap(keep: 5, protectedKinds: [.summary]))
        note(
            "to summarise",
            try await store.sessionsToSummarise(before: base.addingTimeInterval(3600), minimumRecords: 2, limit: 10).map {
                "\($0.source)/\($0.sessionID)"
            })
        note("prefix _", try await store.sessionRecords(source: "chat", sessionPrefix: "work_").map(\.id))
        note("prefix %", try await store.sessionRecords(source: "chat", sessionPrefix: "%").map(\.id))
        note("after id", try await store.records(after: 3, kinds: [.turn], limit: 3).map(\.id))
        note("cursor before", try await store.cursor("facts"))
        try await store.setCursor("facts", to: 7)
        try await store.setCursor("facts", to: 9)
        note("cursor", try await store.cursor("facts"))
        let report = try await store.saveReport(kind: "forget", at: base, detail: "{\"removed\":1}")
        note("report", "\(report) \(try await store.reports(limit: 5).map { "\($0.kind) \($0.detail)" })")
        var counts = try await store.counts(model: "words-32")
        counts.databaseBytes = 0
        note("counts", counts)
        note("dropped", try await store.dropVectors(notFrom: "other-model"))
        note("pending after drop", try await store.pendingVectors(limit: 100).count)
        return lines
    }

    @Test("the same operations give the same records, searches, vectors, facts and counts on SQLite and PostgreSQL")
    func sameStory() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let sqlite = try await StoreBackend.sqlite.makeMemory()
        let postgres = try await StoreBackend.postgres.makeMemory()
        defer {
            sqlite.close()
            postgres.close()
        }
        let expected = try await Self.transcript(sqlite.store)
        // (A fleet's daemons claim texts waiting for vectors; a claim of no time gives SQLite's answers.)
        var shared = try #require(postgres.store as? PostgresMemoryStore)
        shared.claimSeconds = 0
        let actual = try await Self.transcript(shared)
        #expect(expected.count == actual.count)
        for (want, got) in zip(expected, actual) {
            #expect(got == want)
        }
    }

    @Test(
        "hybrid recall on PostgreSQL; a second daemon's keyword and vector indexes follow what the first remembered and embedded",
        arguments: StoreBackend.allCases)
    func engineOnBackend(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (store, close) = try await backend.makeMemory()
        defer { close() }
        let first = MemoryEngine(store: store, embedder: WordEmbedder())
        try await first.open()
        let second = MemoryEngine(store: store, embedder: WordEmbedder())
        try await second.open()
        _ = try await first.remember([
            Self.turn("My dog is called Biscuit", session: "a", minute: 1),
            Self.turn("The boiler service is on the 14th", session: "a", minute: 2),
        ])
        try await first.indexPending()
        let hits = try await first.search(
            "what is my dog called", queryVector: WordEmbedder.vector("what is my dog called"), k: 3, filter: .any, mode: .hybrid)
        #expect(hits.first?.record.text == "My dog is called Biscuit")
        let elsewhere = try await second.search("boiler service", queryVector: nil, k: 3, filter: .any, mode: .hybrid)
        #expect(elsewhere.first?.record.text == "The boiler service is on the 14th", "the other daemon's index caught up from the store")

        // The second daemon's vector indexes follow the vectors the first saved, without a restart.
        #expect(await second.indexedVectors == 0)
        let meaning = try await second.search(
            "dog called", queryVector: WordEmbedder.vector("what is my dog called"), k: 3, filter: .any, mode: .hybrid)
        #expect(await second.indexedVectors == 4, "two texts and two contexts")
        #expect(
            meaning.first?.reasons.contains { if case .meaning = $0 { true } else { false } } == true,
            "\(meaning.map(\.reasons))")
        // Saves racing from both sides: each follows every vector the other saved, none twice.
        _ = try await second.remember((3...12).map { Self.turn("Note \($0) about the garden shed", session: "b", minute: Double($0)) })
        _ = try await first.remember((13...22).map { Self.turn("Note \($0) about the kitchen", session: "c", minute: Double($0)) })
        async let fromFirst = first.indexPending(batch: 3)
        async let fromSecond = second.indexPending(batch: 3)
        _ = try await (fromFirst, fromSecond)
        try await first.followVectors()
        try await second.followVectors()
        let stored =
            try await store.loadVectors(field: .text, model: "words-32").ids.count
            + store.loadVectors(field: .context, model: "words-32").ids.count
        #expect(await first.indexedVectors == stored)
        #expect(await second.indexedVectors == stored)
        // A third process opened now starts from the whole store and has nothing to follow.
        let third = MemoryEngine(store: store, embedder: WordEmbedder())
        #expect(try await third.open() == stored)
        try await third.followVectors()
        #expect(await third.indexedVectors == stored)
    }

    @Test("on PostgreSQL a text waiting for its vector is handed to one daemon at a time; a claim that runs out hands it on")
    func vectorWorkClaimed() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let database = try await TestPostgres.freshDatabase()
        defer { database.close() }
        let first = PostgresMemoryStore(database: database)
        var second = PostgresMemoryStore(database: database)
        _ = try await first.insert((1...6).map { Self.turn("Note \($0) about the shed", session: "a", minute: Double($0)) })
        // Six texts and six contexts wait.
        let mine = try await first.pendingVectors(limit: 8)
        let theirs = try await second.pendingVectors(limit: 8)
        #expect(mine.count == 8 && theirs.count == 4)
        #expect(Set(mine.map { "\($0.recordID)\($0.field)" }).isDisjoint(with: theirs.map { "\($0.recordID)\($0.field)" }))
        #expect(try await second.pendingVectors(limit: 8).isEmpty, "everything is claimed")
        #expect(
            theirs.filter { $0.field == .context }.allSatisfy {
                $0.text.contains("Note") && ($0.before ?? "").contains("Note") && $0.neighbours.count >= 1
            })

        // A daemon that died with its claim: once it runs out, another takes the texts.
        second.claimSeconds = 0
        _ = try await second.insert([Self.turn("Note 7 about the shed", session: "a", minute: 7)])
        let claimed = try await second.pendingVectors(limit: 20)
        #expect(!claimed.isEmpty)
        let again = try await second.pendingVectors(limit: 20)
        #expect(Set(again.map(\.recordID)) == Set(claimed.map(\.recordID)), "a claim of no time is taken again")
        try await first.saveVectors(
            (mine + theirs + again).map { ($0, WordEmbedder.vector($0.text)) }, model: "words-32")
        #expect(try await second.pendingVectors(limit: 20).isEmpty)
    }
}
