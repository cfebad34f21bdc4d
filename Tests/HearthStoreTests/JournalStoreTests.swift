import Foundation
import GRDB
import HearthCore
import HearthTesting
import Testing

@testable import HearthStore

@Suite("Event journal", .timeLimit(.minutes(10)))
struct JournalStoreTests {
    let directory: TemporaryDirectory
    let database: HearthDatabase
    let journal: JournalStore

    init() throws {
        directory = try TemporaryDirectory()
        database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        journal = JournalStore(database: database)
    }

    func event(_ key: String?, kind: String = "note.added", payload: JSONValue = ["n": 1]) -> NewEvent {
        NewEvent(
            source: "test", kind: kind, key: key, payload: payload, occurredAt: Date(timeIntervalSince1970: 1_700_000_000),
            provenance: .trusted)
    }

    @Test("appends, assigns increasing ids and reads everything back")
    func appendAndRead() async throws {
        let outcomes = try await journal.append([event("a"), event(nil), event("b", payload: ["nested": ["x": true]])])
        #expect(outcomes.map(\.duplicate) == [false, false, false])
        #expect(outcomes.map(\.id) == [1, 2, 3])
        let events = try await journal.events(EventQuery())
        #expect(events.map(\.key) == ["a", nil, "b"])
        #expect(events[2].payload == ["nested": ["x": true]])
        #expect(events[0].occurredAt == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(events[0].provenance == .trusted)
    }

    @Test("the same key twice is stored once and reported as a duplicate of the first")
    func duplicateKeys() async throws {
        let first = try await journal.append(event("k1"))
        let second = try await journal.append(event("k1", payload: ["different": true]))
        #expect(!first.duplicate)
        #expect(second.duplicate)
        #expect(second.id == first.id)
        let batch = try await journal.append([event("k2"), event("k2"), event("k1")])
        #expect(batch.map(\.duplicate) == [false, true, true])
        #expect(try await journal.events(EventQuery()).count == 2)
        #expect(try await journal.existingKeys(["k1", "k2", "k3"]) == ["k1", "k2"])
    }

    @Test("queries filter by cursor, source and kind, oldest or newest first")
    func queries() async throws {
        _ = try await journal.append((0..<10).map { event("e\($0)", kind: $0 % 2 == 0 ? "even" : "odd") })
        #expect(try await journal.events(EventQuery(afterID: 7)).map(\.id) == [8, 9, 10])
        #expect(try await journal.events(EventQuery(limit: 2, kind: "odd")).map(\.key) == ["e1", "e3"])
        #expect(try await journal.events(EventQuery(limit: 2, newestFirst: true)).map(\.id) == [10, 9])
        #expect(try await journal.events(EventQuery(source: "other")).isEmpty)
    }

    @Test("invalid events are refused before anything is written")
    func validation() async throws {
        var bad = event("x")
        bad.kind = "has spaces"
        await #expect(throws: EventValidationError.self) { try await journal.append([event("ok"), bad]) }
        #expect(try await journal.events(EventQuery()).isEmpty)
    }

    @Test("a full disk fails the whole batch with a clear error and keeps what was there")
    func diskFull() async throws {
        _ = try await journal.append(event("before"))
        // SQLite's page cap produces the same SQLITE_FULL a full disk does.
        let pages = try await database.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA page_count")! }
        try await database.pool.writeWithoutTransaction { db in
            _ = try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(pages)")
        }
        let big = JSONValue.string(String(repeating: "x", count: 64 * 1024))
        await #expect {
            try await journal.append((0..<20).map { event("big\($0)", payload: big) })
        } throws: { error in
            guard let storeError = error as? StoreError, case .diskFull = storeError else { return false }
            return String(describing: storeError).contains("disk full while writing")
                && String(describing: storeError).contains("Free some space and retry")
        }
        #expect(try await journal.events(EventQuery()).map(\.key) == ["before"])
    }
}

@Suite("Database file safety", .timeLimit(.minutes(10)))
struct DatabaseFileTests {
    @Test("a file that is not a database is refused and left byte-for-byte untouched")
    func notADatabase() throws {
        let directory = try TemporaryDirectory()
        let url = directory.appending("hearth.sqlite")
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: url)
        #expect {
            try HearthDatabase.open(at: url, checkIntegrity: true)
        } throws: { error in
            let message = String(describing: error)
            return message.contains("is corrupt") && message.contains("Hearth will not touch it")
        }
        #expect(try Data(contentsOf: url) == garbage)
        #expect(!FileManager.default.fileExists(atPath: url.path + "-wal"))
    }

    @Test("a database with damaged pages fails the start-up check and is not modified")
    func damagedPages() async throws {
        let directory = try TemporaryDirectory()
        let url = directory.appending("hearth.sqlite")
        do {
            let database = try HearthDatabase.open(at: url)
            let journal = JournalStore(database: database)
            for batch in 0..<20 {
                _ = try await journal.append(
                    (0..<100).map {
                        NewEvent(
                            source: "t", kind: "k", key: "\(batch)-\($0)", payload: ["pad": .string(String(repeating: "p", count: 200))],
                            occurredAt: Date(), provenance: .trusted)
                    })
            }
            try database.checkpoint()
        }
        // Overwrite the middle of the file (past the header page) with noise.
        var bytes = try Data(contentsOf: url)
        let start = bytes.count / 2
        for offset in 0..<4096 { bytes[start + offset] = UInt8(truncatingIfNeeded: offset &* 131) }
        try bytes.write(to: url)
        #expect {
            try HearthDatabase.open(at: url, checkIntegrity: true)
        } throws: { error in
            String(describing: error).contains("is corrupt")
        }
        #expect(try Data(contentsOf: url) == bytes)
    }

    @Test("an unwritable directory gives an actionable error")
    func unwritableDirectory() throws {
        #expect {
            try HearthDatabase.open(at: URL(fileURLWithPath: "/proc/hearth-cannot-exist/hearth.sqlite"))
        } throws: { error in
            String(describing: error).contains("cannot open database /proc/hearth-cannot-exist/hearth.sqlite")
        }
    }

    @Test("the journal uses WAL with synchronous FULL")
    func pragmas() async throws {
        let directory = try TemporaryDirectory()
        let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        let (mode, sync) = try await database.pool.write { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode")!, try Int.fetchOne(db, sql: "PRAGMA synchronous")!)
        }
        #expect(mode == "wal")
        #expect(sync == 2)  // FULL
    }
}
