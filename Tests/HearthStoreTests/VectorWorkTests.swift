import Foundation
import GRDB
import HearthCore
import HearthTesting
import Testing

@testable import HearthStore

/// The texts still to embed come from a work list the store keeps, never from probing every record.
@Suite("Memory store: the list of texts waiting for a vector", .timeLimit(.minutes(10)))
struct VectorWorkTests {
    static func record(_ text: String, session: String?) -> MemoryRecord {
        MemoryRecord(kind: .turn, text: text, source: "chat", provenance: .trusted, occurredAt: Date(), sessionID: session)
    }

    static func pending(_ store: MemorySQLStore) async throws -> Set<String> {
        Set(try await store.pendingVectors(limit: 1_000).map { "\($0.recordID)/\($0.field.rawValue)" })
    }

    static func embed(_ store: MemorySQLStore, model: String = "m") async throws {
        let work = try await store.pendingVectors(limit: 1_000)
        try await store.saveVectors(work.map { (work: $0, vector: [1, 0]) }, model: model)
    }

    @Test("new records, changed windows, a model change and forgetting keep the list right")
    func lifecycle() async throws {
        let directory = try TemporaryDirectory()
        let store = MemorySQLStore(database: try HearthDatabase.open(at: directory.appending("hearth.sqlite")))
        let first = try await store.insert([
            Self.record("a", session: "s"), Self.record("b", session: "s"), Self.record("c", session: "s"),
            Self.record("loose", session: nil),
        ])
        let (a, b, c, loose) = (first[0].id, first[1].id, first[2].id, first[3].id)
        #expect(
            try await Self.pending(store) == [
                "\(a)/text", "\(b)/text", "\(c)/text", "\(loose)/text", "\(a)/context", "\(b)/context", "\(c)/context",
            ])
        try await Self.embed(store)
        #expect(try await Self.pending(store).isEmpty)

        // A new turn: its own texts, and the window of the turn before it changed (a context
        // vector spans one turn either side, so b's is still right).
        let d = try await store.insert([Self.record("d", session: "s")])[0].id
        #expect(try await Self.pending(store) == ["\(d)/text", "\(d)/context", "\(c)/context"])
        try await Self.embed(store)

        // Vectors from another model are dropped: everything is waiting again.
        #expect(try await store.dropVectors(notFrom: "other") > 0)
        #expect(try await Self.pending(store).count == 5 + 4)
        try await Self.embed(store, model: "other")
        #expect(try await store.dropVectors(notFrom: "other") == 0)

        // Forgotten records leave the list with them.
        _ = try await store.insert([Self.record("e", session: "s")])
        let e = try await store.records(after: d, kinds: [], limit: 10).last!.id
        _ = try await store.delete(ids: [e])
        #expect(!(try await Self.pending(store)).contains { $0.hasPrefix("\(e)/") })
    }

    @Test("forgetting a turn mid-session touches only its neighbours: two turns' full-text context, one turn's vector each side")
    func forgetMidSession() async throws {
        let directory = try TemporaryDirectory()
        let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        let store = MemorySQLStore(database: database)
        let turns = try await store.insert((0..<20).map { Self.record("turn\($0)", session: "s") })
        try await Self.embed(store)
        func contexts() async throws -> [Int64: String] {
            try await database.pool.read { db in
                Dictionary(
                    uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT rowid, context FROM memory_fts").map {
                        ($0["rowid"] as Int64, $0["context"] as String)
                    })
            }
        }
        let before = try await contexts()
        #expect(before[turns[7].id] == "turn5\nturn6\nturn7\nturn8\nturn9")

        let removal = try await store.delete(ids: [turns[10].id])
        #expect(removal.contextsRebuilt == 4)
        #expect(try await Self.pending(store) == ["\(turns[9].id)/context", "\(turns[11].id)/context"])
        let after = try await contexts()
        #expect(after[turns[8].id] == "turn6\nturn7\nturn8\nturn9\nturn11")
        #expect(after[turns[12].id] == "turn9\nturn11\nturn12\nturn13\nturn14")
        let changed = Set(before.keys.filter { after[$0] != before[$0] })
        #expect(changed == Set([8, 9, 11, 12].map { turns[$0].id } + [turns[10].id]))
        // The context vectors of the two neighbours are drawn without the forgotten turn.
        let work = try await store.pendingVectors(limit: 10).sorted { $0.recordID < $1.recordID }
        #expect(work.map { EmbeddingText().text(for: $0) } == ["turn8\nturn9", "turn11\nturn12"])
        #expect(work.map(\.neighbours) == [[turns[8].id], [turns[12].id]])
    }

    @Test("a store from before the list (v7) gets its unembedded texts listed when it is opened")
    func migration() async throws {
        let directory = try TemporaryDirectory()
        let url = directory.appending("hearth.sqlite")
        do {
            let queue = try DatabaseQueue(path: url.path)
            try Migrations.migrator.migrate(queue, upTo: "v7-drop-session-fts")
            try await queue.write { db in
                for (text, session) in [("old one", "s" as String?), ("old two", nil)] {
                    try db.execute(
                        sql: """
                            INSERT INTO memory_record (kind, text, source, provenance, occurredAt, recordedAt, sessionId, position, importance, normalized)
                            VALUES ('turn', ?, 'chat', 'trusted', 0, 0, ?, 0, 0.5, ?)
                            """,
                        arguments: [text, session, text])
                }
            }
        }
        let store = MemorySQLStore(database: try HearthDatabase.open(at: url))
        let work = try await store.pendingVectors(limit: 10)
        #expect(work.map(\.text).sorted() == ["old one", "old one", "old two"])
        #expect(work.filter { $0.field == .context }.count == 1)
    }
}
