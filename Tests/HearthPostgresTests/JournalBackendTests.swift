import Foundation
import HearthCore
import HearthPostgres
import HearthStore
import HearthTesting
import PostgresNIO
import Synchronization
import Testing

extension StoreBackend {
    /// The journal on this backend, on a fresh store.
    func make() async throws -> (journal: any EventJournal, close: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "journal")
            let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
            return (JournalStore(database: database), { withExtendedLifetime(directory) {} })
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            return (PostgresJournal(database: database), { database.close() })
        }
    }
}

@Suite("The event journal on both backends", .timeLimit(.minutes(2)))
struct StoreBackendTests {
    func event(_ index: Int, key: String? = nil, source: String = "webhook", kind: String = "note") -> NewEvent {
        NewEvent(
            source: source, kind: kind, key: key, payload: ["n": .number(Double(index)), "text": "ünïcode ✓"],
            occurredAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)),
            provenance: index.isMultiple(of: 2) ? .trusted : .untrusted)
    }

    @Test(
        "appends in order, reports duplicates by key, reads back filtered and newest first, finds existing keys",
        arguments: StoreBackend.allCases)
    func conformance(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (journal, close) = try await backend.make()
        defer { close() }
        let first = try await journal.append([event(1, key: "a"), event(2), event(3, key: "b", source: "mail", kind: "message")])
        #expect(first.map(\.duplicate) == [false, false, false])
        #expect(first.map(\.id) == [1, 2, 3])
        let again = try await journal.append([event(4, key: "a"), event(5, key: "c")])
        #expect(again == [AppendOutcome(id: 1, duplicate: true), AppendOutcome(id: 4, duplicate: false)], "no gap after a duplicate")
        let all = try await journal.events(EventQuery())
        #expect(all.map(\.id) == [1, 2, 3, 4])
        #expect(all[0].payload == ["n": 1, "text": "ünïcode ✓"] && all[0].provenance == .untrusted && all[1].provenance == .trusted)
        #expect(all[0].occurredAt == Date(timeIntervalSince1970: 1_800_000_001))
        #expect(try await journal.events(EventQuery(afterID: 2)).map(\.id) == [3, 4])
        #expect(try await journal.events(EventQuery(source: "mail")).map(\.kind) == ["message"])
        #expect(try await journal.events(EventQuery(kind: "note", newestFirst: true)).map(\.id) == [4, 2, 1])
        #expect(try await journal.events(EventQuery(limit: 2)).count == 2)
        #expect(try await journal.existingKeys(["a", "b", "zz"]) == ["a", "b"])
        await #expect(throws: EventValidationError.self) { _ = try await journal.append([event(9, source: "bad source!")]) }
    }

    @Test("appenders racing on one journal: every event stored once, ids without gaps in commit order", arguments: StoreBackend.allCases)
    func racing(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (journal, close) = try await backend.make()
        defer { close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for index in 0..<25 {
                        // Every writer also tries the shared keys: each is stored once.
                        _ = try await journal.append([
                            self.event(index, key: "w\(writer)-\(index)"), self.event(index, key: "shared-\(index)"),
                        ])
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try await journal.events(EventQuery(limit: 1_000))
        #expect(stored.count == 125)
        #expect(stored.map(\.id) == Array(1...125))
        #expect(Set(stored.compactMap(\.key)).count == 125)
    }
}

@Suite("PostgreSQL store: bad input", .timeLimit(.minutes(2)))
struct PostgresBadInputTests {
    @Test("a URL with a password, or without host, user or database, is refused with how to write it")
    func urls() throws {
        #expect(
            try PostgresLocation.parse("postgresql://hearth@db.local:5433/fleet")
                == PostgresLocation(host: "db.local", port: 5433, user: "hearth", database: "fleet"))
        for bad in ["mysql://a@b/c", "postgresql://a:secret@b/c", "postgresql://b/c", "postgresql://a@b", "postgresql://a@/c"] {
            #expect(throws: PostgresStoreError.self, "\(bad)") { try PostgresLocation.parse(bad) }
        }
        #expect("\(PostgresStoreError.badURL("x", reason: "r"))".contains("postgresql://USER@HOST:PORT/DATABASE"))
    }

    @Test("a password file others can read is refused with the chmod that fixes it; a 0600 one is read")
    func passwordFile() throws {
        let directory = try TemporaryDirectory(prefix: "pgpass")
        let file = directory.appending("pg-password")
        try Data("s3cret\nignored\n".utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file.path)
        #expect {
            try PostgresLocation.password(fromFile: file.path)
        } throws: { error in
            "\(error)".contains("can be read by others (mode 644); run 'chmod 600 \(file.path)'")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        #expect(try PostgresLocation.password(fromFile: file.path) == "s3cret")
        #expect(throws: PostgresStoreError.self) { try PostgresLocation.password(fromFile: directory.appending("missing").path) }
    }

    @Test("an unreachable server is a clear error naming the host and what to check")
    func unreachable() async throws {
        let port = 1  // nothing listens on a privileged port here: the connection is refused
        do {
            _ = try await PostgresStore.open(
                PostgresLocation(host: "127.0.0.1", port: port, user: "hearth", database: "x"), timeout: .seconds(5))
            Issue.record("opened a store where no server listens")
        } catch {
            let text = "\(error)"
            #expect(text.contains("PostgreSQL at 127.0.0.1:\(port)") && text.contains("pg_hba.conf"), "\(text)")
        }
    }

    @Test("a column changed behind Hearth's back is a clear error naming the statement, the column and both types")
    func foreignColumn() async throws {
        try #require(TestPostgres.url != nil || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let database = try await TestPostgres.freshDatabase()
        defer { database.close() }
        let chats = PostgresChatStore(database: database)
        let session = try await chats.createSession(title: "t", at: Date())
        try await chats.setSummary(ChatSummary(text: "Notes.", through: 4, turns: 4, writtenAt: Date()), session: session.id)
        try await database.client.query("ALTER TABLE chat_summary ALTER COLUMN turns TYPE TEXT")
        do {
            _ = try await chats.summary(session: session.id)
            Issue.record("a text column was read as a number")
        } catch {
            let text = "\(error)"
            #expect(
                text.contains("SELECT text, through, turns, writtenAt FROM chat_summary") && text.contains("column 2 (turns)")
                    && text.contains("TEXT") && text.contains("Int"), "\(text)")
        }
    }

    @Test("a schema written by a newer Hearth is refused, never downgraded")
    func newerSchema() async throws {
        try #require(TestPostgres.url != nil || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let database = try await TestPostgres.freshDatabase()
        try await database.client.query("INSERT INTO hearth_schema (version, name, appliedAt) VALUES (999, 'from the future', 0)")
        let location = database.location
        database.close()
        do {
            _ = try await TestPostgres.open(location)
            Issue.record("a newer schema was accepted")
        } catch {
            #expect("\(error)".contains("written by a newer Hearth (schema 999"), "\(error)")
        }
    }
}

@Suite("PostgreSQL: following the journal", .timeLimit(.minutes(2)))
struct JournalFollowerTests {
    /// Event ids a follower was handed, in order.
    final class Handed: Sendable {
        private let ids = Mutex<[Int64]>([])
        func add(_ events: [Event]) { ids.withLock { $0 += events.map(\.id) } }
        var all: [Int64] { ids.withLock { $0 } }
    }

    func append(_ journal: PostgresJournal, _ range: Range<Int>) async throws {
        for index in range {
            _ = try await journal.append([
                NewEvent(
                    source: "webhook", kind: "note", key: "e\(index)", payload: ["n": .number(Double(index))], occurredAt: Date(),
                    provenance: .trusted)
            ])
        }
    }

    func follow(_ journal: PostgresJournal, into handed: Handed) -> Task<Void, any Error> {
        Task { try await journal.follow(as: "index", batch: 3, poll: .milliseconds(300)) { handed.add($0) } }
    }

    @Test(
        "another daemon's follower gets every committed event once, in order, resumes from its durable cursor, and outlives its connection")
    func follows() async throws {
        try #require(TestPostgres.url != nil || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let writerStore = try await TestPostgres.freshDatabase()
        defer { writerStore.close() }
        let readerStore = try await TestPostgres.open(writerStore.location)
        defer { readerStore.close() }
        let writer = PostgresJournal(database: writerStore)
        let reader = PostgresJournal(database: readerStore)
        try await append(writer, 0..<5)

        let first = Handed()
        let following = follow(reader, into: first)
        defer { following.cancel() }  // (also when a wait below fails: no follower outlives the test)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.append(writer, 5..<10) }
            group.addTask { try await self.append(writer, 10..<14) }
            try await group.waitForAll()
        }
        try await waitUntil("the follower has all 14 events") { first.all.count >= 14 }
        following.cancel()
        _ = await following.result
        #expect(first.all == Array(1...14))
        #expect(try await reader.cursor(of: "index") == 14)

        // Appended while no follower runs; a new one resumes after its cursor.
        try await append(writer, 14..<17)
        let second = Handed()
        let resumed = follow(reader, into: second)
        defer { resumed.cancel() }
        try await waitUntil("the restarted follower has caught up") { second.all.count >= 3 }
        #expect(second.all == [15, 16, 17])

        // The server ends the follower's listening connection: it carries on.
        try await writerStore.client.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'")
        try await append(writer, 17..<19)
        try await waitUntil("the follower has the events appended after its connection was ended") { second.all.count >= 5 }
        // Its cursor is saved just after the handler returns: cancelled in between, it would hand 18 and 19 again.
        try await waitUntil("the follower saved its cursor past them") { try await reader.cursor(of: "index") == 19 }
        resumed.cancel()
        _ = await resumed.result
        #expect(second.all == [15, 16, 17, 18, 19])

        // A handler's own error ends following (its cursor stays before the failed batch).
        try await append(writer, 19..<20)
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await reader.follow(as: "index", poll: .milliseconds(300)) { _ in throw Refused() }
        }
        #expect(try await reader.cursor(of: "index") == 19)
    }
}
