import Foundation
import GRDB
import HearthCore
import HearthMemory
import Testing

/// The in-memory keyword index against SQLite FTS5 itself: over the same documents (a row per
/// record with its text and its ±2 window in its session, as the store keeps them; each whole
/// session), its BM25 must give the scores FTS5's `bm25()` gives with one column weighted —
/// before and after deletions and compaction (with stemming off: FTS5 does not stem).
@Suite("Lexical index: BM25 in memory equals FTS5's bm25() on the same documents", .timeLimit(.minutes(10)))
struct LexicalIndexTests {
    static let vocabulary = [
        "hiking", "trip", "mountain", "camera", "lunch", "sarah", "budget", "receipt", "policy", "garden", "paris", "flight",
        "dentist", "appointment", "café", "crème", "piano", "lesson", "dog", "walk", "report", "deadline", "friday", "coffee",
    ]

    /// Records in sessions of varying length plus a few without a session, deterministic.
    static func records() -> [MemoryRecord] {
        var generator = SplitMix64(seed: 7)
        var records: [MemoryRecord] = []
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        for index in 0..<220 {
            let session: String? = index % 11 == 0 ? nil : "s\(index % 7)"
            let length = 3 + Int(generator.next() % 12)
            let words = (0..<length).map { _ in vocabulary[Int(generator.next() % UInt64(vocabulary.count))] }
            records.append(
                MemoryRecord(
                    id: Int64(index + 1), kind: index % 5 == 0 ? .event : .turn, text: words.joined(separator: " "),
                    source: index % 3 == 0 ? "mail" : "chat", provenance: .trusted,
                    occurredAt: start.addingTimeInterval(Double(index) * 60),
                    sessionID: session, speaker: index % 2 == 0 ? "Ann" : nil))
        }
        return records
    }

    /// FTS5 tables over the same documents: records, windows, sessions.
    static func reference(_ records: [MemoryRecord]) throws -> DatabaseQueue {
        let database = try DatabaseQueue()
        try database.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE records USING fts5(text, context, tokenize = 'unicode61')")
            try db.execute(sql: "CREATE VIRTUAL TABLE sessions USING fts5(text, tokenize = 'unicode61')")
            var bySession: [String: [MemoryRecord]] = [:]
            for record in records {
                if let session = record.sessionID { bySession[record.source + "/" + session, default: []].append(record) }
            }
            for record in records {
                var window = record.spokenText
                if let session = record.sessionID, let list = bySession[record.source + "/" + session],
                    let place = list.firstIndex(where: { $0.id == record.id })
                {
                    window = list[max(0, place - 2)...min(list.count - 1, place + 2)].map(\.spokenText).joined(separator: "\n")
                }
                try db.execute(
                    sql: "INSERT INTO records (rowid, text, context) VALUES (?, ?, ?)", arguments: [record.id, record.spokenText, window])
            }
            for list in bySession.values {
                try db.execute(
                    sql: "INSERT INTO sessions (text) VALUES (?)", arguments: [list.map(\.spokenText).joined(separator: "\n")])
            }
        }
        return database
    }

    static let queries: [[String]] = [
        ["hiking", "camera"], ["cafe"], ["dentist", "appointment", "friday"], ["sarah"], ["ann", "budget"],
        ["garden", "dog", "walk", "paris"],
    ]

    func expectSame(_ index: LexicalIndex, _ records: [MemoryRecord], file: String = #filePath, line: Int = #line) throws {
        let database = try Self.reference(records)
        for terms in Self.queries {
            let match = terms.map { "\"\($0)\"" }.joined(separator: " OR ")
            for (table, field, weights) in [("text", MemoryField.text, "1.0, 0.0"), ("context", MemoryField.context, "0.0, 1.0")] {
                let expected = try database.read { db in
                    try Row.fetchAll(
                        db,
                        sql:
                            "SELECT rowid AS id, -bm25(records, \(weights)) AS score FROM records WHERE records MATCH ? ORDER BY 2 DESC LIMIT 500",
                        arguments: ["{\(table)} : (\(match))"])
                }
                let got = index.search(terms, field: field, filter: .any, limit: 500)
                #expect(got.count == expected.count, "\(table) \(terms)")
                let want = Dictionary(uniqueKeysWithValues: expected.map { (($0["id"] as Int64), ($0["score"] as Double)) })
                for hit in got {
                    let score = try #require(want[hit.id], "\(table) \(terms): \(hit.id) is not an FTS5 hit")
                    #expect(abs(hit.score - score) <= 1e-4 * max(1, abs(score)), "\(table) \(terms) id \(hit.id): \(hit.score) vs \(score)")
                }
            }
            // Sessions: the same scores, as a sorted list (FTS5's row ids there are not session keys).
            let sessionScores = try database.read { db in
                try Double.fetchAll(
                    db, sql: "SELECT -bm25(sessions) FROM sessions WHERE sessions MATCH ? ORDER BY 1 DESC", arguments: [match])
            }
            let got = index.sessionSearch(terms, filter: .any, limit: 100).map(\.score)
            #expect(got.count == sessionScores.count, "sessions \(terms)")
            for (ours, theirs) in zip(got, sessionScores) {
                #expect(abs(ours - theirs) <= 1e-4 * max(1, abs(theirs)), "sessions \(terms): \(ours) vs \(theirs)")
            }
        }
    }

    @Test("records, windows and sessions score as FTS5 scores them")
    func parity() throws {
        let records = Self.records()
        var index = LexicalIndex(stemming: false)
        for record in records { index.add(record) }
        #expect(index.count == records.count)
        try expectSame(index, records)
    }

    @Test("after deletions (windows close over the gap) and after compaction, still the same")
    func deletions() throws {
        var records = Self.records()
        var index = LexicalIndex(stemming: false)
        for record in records { index.add(record) }
        // A record in the middle of a session, the first and last of another, one without a session.
        for id: Int64 in [30, 2, 215, 12] {
            let removed = index.remove(id)
            #expect(removed)
            records.removeAll { $0.id == id }
        }
        let again = index.remove(30)
        #expect(!again)
        try expectSame(index, records)
        // Enough deletions to compact, then more records arrive.
        for id in stride(from: Int64(3), through: 200, by: 3) where index.remove(id) { records.removeAll { $0.id == id } }
        index.compactIfNeeded()
        #expect(index.tombstones == 0)
        try expectSame(index, records)
        let late = MemoryRecord(
            id: 500, kind: .turn, text: "hiking camera hiking", source: "chat", provenance: .trusted, occurredAt: Date(), sessionID: "s1")
        index.add(late)
        records.append(late)
        try expectSame(index, records)
    }

    @Test("a short list is the head of the full list: skipping common words changes no score and no informative rank")
    func pruningIsExact() throws {
        // Zipf-distributed words, so queries mix words in most records with rare ones (the case
        // the pruning is for); sessions of 20; some records deleted.
        var generator = SplitMix64(seed: 11)
        let vocabulary = (0..<400).map { "w\($0)" }
        let zipf = ZipfDistribution(count: vocabulary.count)
        func word() -> String { vocabulary[zipf.sample(using: &generator)] }
        var index = LexicalIndex()
        for id in 1...3_000 {
            let text = (0..<(4 + id % 9)).map { _ in word() }.joined(separator: " ")
            index.add(
                MemoryRecord(
                    id: Int64(id), kind: .turn, text: text, source: id % 4 == 0 ? "mail" : "chat", provenance: .trusted,
                    occurredAt: Date(timeIntervalSince1970: Double(id)), sessionID: "s\(id / 20)"))
        }
        for id in stride(from: Int64(7), through: 3_000, by: 13) { index.remove(id) }
        var compared = 0
        for _ in 0..<60 {
            let terms = (0..<(1 + Int(generator.next() % 6))).map { _ in word() }
            for field in [MemoryField.text, .context] {
                for filter in [MemoryFilter.any, MemoryFilter(sources: ["mail"])] {
                    let full = index.search(terms, field: field, filter: filter, limit: 100_000)
                    let fullScore = Dictionary(uniqueKeysWithValues: full.map { ($0.id, $0.score) })
                    for limit in [1, 5, 20, 100] {
                        let short = index.search(terms, field: field, filter: filter, limit: limit)
                        let context = "\(field) \(terms) limit \(limit)"
                        #expect(short.count == min(limit, full.count), "\(context)")
                        // Every score is the exact one.
                        #expect(short.allSatisfy { fullScore[$0.id] == $0.score }, "\(context)")
                        // Records matching a word in fewer than half the records rank exactly as in
                        // the full list; the rest (BM25 weight ≈ 0, `minimumIDF`) may be other,
                        // more recent ones.
                        let informative = { (hit: ScoredID) in hit.score > 1e-4 }
                        #expect(short.filter(informative) == full.prefix(limit).filter(informative), "\(context)")
                        compared += short.count
                    }
                }
            }
            // Sessions: words in most sessions are not scanned; the same rule holds.
            let full = index.sessionSearch(terms, filter: .any, limit: 100_000)
            let fullScore = Dictionary(uniqueKeysWithValues: full.map { ($0.source + "/" + $0.sessionID, $0.score) })
            for limit in [1, 5, 20] {
                let short = index.sessionSearch(terms, filter: .any, limit: limit)
                #expect(short.count == min(limit, full.count), "sessions \(terms) limit \(limit)")
                #expect(
                    short.allSatisfy { abs(fullScore[$0.source + "/" + $0.sessionID]! - $0.score) <= 1e-6 * max(1, $0.score) },
                    "sessions \(terms)")
                let informative = { (hit: ScoredSession) in hit.score > 1e-4 }
                #expect(
                    short.filter(informative).map { $0.source + "/" + $0.sessionID }
                        == full.prefix(limit).filter(informative).map { $0.source + "/" + $0.sessionID },
                    "sessions \(terms) limit \(limit)")
                compared += short.count
            }
        }
        #expect(compared > 10_000)
    }

    @Test("a query word the index never saw is looked up as the two indexed words it runs together")
    func compounds() {
        var index = LexicalIndex()
        let texts = [
            "I harvested tomatoes from my garden; what helps them grow better?", "We stayed at home all weekend",
            "The shelf in the hallway is crooked", "Half the books are on loan",
        ]
        for (offset, text) in texts.enumerated() {
            index.add(
                MemoryRecord(
                    id: Int64(offset + 1), kind: .turn, text: text, source: "chat", provenance: .trusted,
                    occurredAt: Date(timeIntervalSince1970: Double(offset)), sessionID: "s\(offset)"))
        }
        // "home" + "grown" (folded into "grow"), "book" + "shelf".
        #expect(Set(index.search(["homegrown"], field: .text, filter: .any, limit: 5).map(\.id)) == [1, 2])
        #expect(Set(index.search(["bookshelf"], field: .text, filter: .any, limit: 5).map(\.id)) == [3, 4])
        // A word the index knows is not split; one with no known split finds nothing.
        #expect(index.search(["hallway"], field: .text, filter: .any, limit: 5).map(\.id) == [3])
        #expect(index.search(["zqxwvutsr"], field: .text, filter: .any, limit: 5).isEmpty)
    }

    @Test("with stemming, inflections meet; without it, only the word as written matches")
    func stemming() {
        let records = [
            "We painted the old fence blue", "She loves hiking in the Alps", "Two new activities for the kids", "A quiet day",
        ].enumerated().map { index, text in
            MemoryRecord(
                id: Int64(index + 1), kind: .turn, text: text, source: "chat", provenance: .trusted,
                occurredAt: Date(timeIntervalSince1970: Double(index)), sessionID: "s")
        }
        var stemmed = LexicalIndex()
        var plain = LexicalIndex(stemming: false)
        for record in records {
            stemmed.add(record)
            plain.add(record)
        }
        for (query, id) in [("painting", Int64(1)), ("loved", 2), ("hike", 2), ("activity", 3), ("fences", 1)] {
            #expect(stemmed.search([query], field: .text, filter: .any, limit: 5).map(\.id) == [id], "\(query)")
            #expect(plain.search([query], field: .text, filter: .any, limit: 5).isEmpty, "\(query)")
        }
        #expect(plain.search(["painted"], field: .text, filter: .any, limit: 5).map(\.id) == [1])
        #expect(stemmed.sessionSearch(["activity"], filter: .any, limit: 5).map(\.sessionID) == ["s"])
    }

    @Test(
        "the stemmer folds English inflections and leaves other words alone",
        arguments: [
            ("activities", "activiti"), ("activity", "activiti"), ("painted", "paint"), ("painting", "paint"), ("paints", "paint"),
            ("loved", "lov"), ("loving", "lov"), ("love", "lov"), ("running", "run"), ("hopping", "hop"), ("caresses", "caress"),
            ("ponies", "poni"), ("agreed", "agre"), ("hiking", "hik"), ("hike", "hik"), ("bus", "bus"), ("sing", "sing"),
            ("café", "café"), ("x11", "x11"), ("is", "is"), ("grown", "grow"), ("grew", "grow"), ("growing", "grow"),
            ("bought", "buy"), ("went", "go"), ("made", "mak"), ("making", "mak"), ("written", "writ"), ("left", "left"),
        ])
    func stemmer(word: String, stem: String) {
        #expect(Stemmer.stem(word) == stem)
    }

    @Test("filters apply; diacritics fold; metadata comes back without the store")
    func filtersAndEntries() throws {
        let records = Self.records()
        var index = LexicalIndex()
        for record in records { index.add(record) }
        let mail = index.search(["hiking"], field: .text, filter: MemoryFilter(sources: ["mail"]), limit: 500)
        let allMail = Set(records.filter { $0.source == "mail" && $0.text.contains("hiking") }.map(\.id))
        #expect(Set(mail.map(\.id)) == allMail)
        let events = index.search(["hiking"], field: .context, filter: MemoryFilter(kinds: [.event]), limit: 500)
        #expect(events.allSatisfy { id in records.first { $0.id == id.id }?.kind == .event })
        #expect(!index.search(["CAFÉ"], field: .text, filter: .any, limit: 5).isEmpty)
        #expect(
            index.search(["café"], field: .text, filter: .any, limit: 5) == index.search(["cafe"], field: .text, filter: .any, limit: 5))
        let entry = try #require(index.entry(2))
        #expect(entry.sessionID == "s1" && entry.source == "chat" && entry.speaker == nil)
        #expect(index.entry(9_999) == nil)
        #expect(index.sessionSearch(["hiking"], filter: MemoryFilter(sessionIDs: ["s3"]), limit: 10).allSatisfy { $0.sessionID == "s3" })
    }
}
