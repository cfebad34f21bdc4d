import Foundation
import HearthCore
import HearthPostgres
import HearthStore
import HearthTesting
import Testing

/// The attention loop's stores on a fresh store: attention with its delivery rows, the journal,
/// source positions and the file index; `second` is another daemon's view of the deliveries.
struct AttentionStores: Sendable {
    var attention: any AttentionStore
    var deliveries: any DeliveryBook
    var secondDeliveries: @Sendable () async throws -> (any DeliveryBook, @Sendable () -> Void)
    var journal: any EventJournal
    var sources: any SourceStateStore
    var files: any FileIndexStore
    var memory: any MemoryStore
    var close: @Sendable () -> Void
}

extension StoreBackend {
    func makeAttention(channels: [String]) async throws -> AttentionStores {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "attention")
            let path = directory.appending("hearth.sqlite")
            let database = try HearthDatabase.open(at: path)
            return AttentionStores(
                attention: AttentionSQLStore(database: database, channels: channels), deliveries: DeliverySQLStore(database: database),
                secondDeliveries: {
                    let other = try HearthDatabase.open(at: path)
                    return (DeliverySQLStore(database: other), { withExtendedLifetime(other) {} })
                }, journal: JournalStore(database: database), sources: SourceStateTable(database: database),
                files: FileIndexTable(database: database), memory: MemorySQLStore(database: database),
                close: { withExtendedLifetime(directory) {} })
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            let location = database.location
            return AttentionStores(
                attention: PostgresAttentionStore(database: database, channels: channels),
                deliveries: PostgresDeliveryBook(database: database),
                secondDeliveries: {
                    let other = try await TestPostgres.open(location)
                    return (PostgresDeliveryBook(database: other), { other.close() })
                }, journal: PostgresJournal(database: database), sources: PostgresSourceState(database: database),
                files: PostgresFileIndex(database: database), memory: PostgresMemoryStore(database: database),
                close: { database.close() })
        }
    }
}

@Suite("The attention loop's stores on both backends", .timeLimit(.minutes(2)))
struct AttentionBackendTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func scored(_ id: Int64, _ level: AttentionLevel, remember: Bool = true) -> IngestedEvent {
        let item = AttentionItem(
            eventID: id, source: "maildir", kind: "mail.received", occurredAt: now, decidedAt: now,
            decision: AttentionDecision(
                level: level, score: level == .interrupt ? 0.9 : 0.2, confidence: 0.8, reasons: [], cluster: "c\(id)",
                headline: "Mail \(id)", category: .mail),
            links: ["Mail/\(id).eml"])
        let record = MemoryRecord(
            kind: .event, text: "Mail \(id) arrived", source: "maildir", provenance: .untrusted, occurredAt: now, recordedAt: now)
        return IngestedEvent(item: item, record: remember ? record : nil)
    }

    @Test(
        "a batch is stored once with its memory records and delivery rows; the inbox reads and acknowledges",
        arguments: StoreBackend.allCases)
    func ingestion(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let stores = try await backend.makeAttention(channels: ["ntfy", "mail"])
        defer { stores.close() }
        #expect(try await stores.attention.ingestedThrough() == 0)
        let batch = [Self.scored(1, .interrupt), Self.scored(2, .digest), Self.scored(3, .log, remember: false)]
        let stored = try await stores.attention.ingest(batch, through: 3)
        #expect(stored.map(\.eventID) == [1, 2, 3] && stored[0].memoryRecordID != nil && stored[2].memoryRecordID == nil)
        #expect(try await stores.attention.ingest(batch, through: 3).isEmpty, "a replayed batch stores nothing")
        #expect(try await stores.attention.ingestedThrough() == 3)
        #expect(try await stores.memory.counts(model: nil).records == 2)
        let inbox = try await stores.attention.items(AttentionQuery(levels: [.interrupt], unacknowledgedOnly: true))
        #expect(inbox.map(\.eventID) == [1] && inbox[0].links == ["Mail/1.eml"] && inbox[0].decision.headline == "Mail 1")
        #expect(try await stores.attention.items(AttentionQuery(afterEventID: 1)).map(\.eventID) == [2, 3])
        #expect(try await stores.attention.acknowledge(eventID: 1, at: Self.now))
        #expect(try await stores.attention.acknowledge(eventID: 99, at: Self.now) == false)
        #expect(try await stores.attention.items(AttentionQuery(levels: [.interrupt], unacknowledgedOnly: true)).isEmpty)
        #expect(try await stores.attention.item(eventID: 1)?.acknowledgedAt == Self.now)

        // Deliveries: one row per channel for the interrupt, due now, confirmed or retried.
        #expect(try await stores.deliveries.nextAttempt() == Self.now)
        let due = try await stores.deliveries.due(at: Self.now, limit: 10)
        #expect(due.map(\.channel).sorted() == ["mail", "ntfy"] && due.allSatisfy { $0.eventID == 1 && $0.state == .pending })
        let mail = try #require(due.first { $0.channel == "mail" })
        let ntfy = try #require(due.first { $0.channel == "ntfy" })
        try await stores.deliveries.delivered(mail, at: Self.now)
        try await stores.deliveries.failed(ntfy, error: "503", retryAt: Self.now.addingTimeInterval(60))
        #expect(try await stores.deliveries.nextAttempt() == Self.now.addingTimeInterval(60))
        let rows = try await stores.deliveries.deliveries(eventIDs: [1, 2])[1] ?? []
        #expect(rows.map(\.state) == [.delivered, .retrying] && rows[1].lastError == "503" && rows[1].attempts == 1)
    }

    @Test("PostgreSQL: two daemons take due deliveries; each interrupt goes out through one of them")
    func deliveredOnce() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let stores = try await StoreBackend.postgres.makeAttention(channels: ["ntfy"])
        defer { stores.close() }
        _ = try await stores.attention.ingest((1...20).map { Self.scored(Int64($0), .interrupt, remember: false) }, through: 20)
        let (other, closeOther) = try await stores.secondDeliveries()
        defer { closeOther() }
        async let first = stores.deliveries.due(at: Self.now, limit: 15)
        async let second = other.due(at: Self.now, limit: 15)
        let taken = try await first + second
        #expect(taken.count == 20 && Set(taken.map(\.eventID)).count == 20, "every interrupt taken once: \(taken.count)")
        #expect(try await stores.deliveries.due(at: Self.now, limit: 50).isEmpty, "taken ones are not due again at once")
        #expect(try await stores.deliveries.due(at: Self.now.addingTimeInterval(600), limit: 50).count == 20, "a quiet daemon's return")
    }

    @Test("PostgreSQL: each machine's source positions are its own")
    func scopedPositions() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let database = try await TestPostgres.freshDatabase()
        defer { database.close() }
        let (alpha, bravo) = (
            PostgresSourceState(database: database, scope: "alpha"), PostgresSourceState(database: database, scope: "bravo")
        )
        _ = try await alpha.record([], state: ["journal.events": "42"])
        #expect(try await alpha.sourceState("journal.events") == "42")
        #expect(try await bravo.sourceState("journal.events") == nil, "bravo's journal file has not been written")
    }

    @Test("source positions and the file index commit with their events", arguments: StoreBackend.allCases)
    func positions(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let stores = try await backend.makeAttention(channels: [])
        defer { stores.close() }
        let commit = NewEvent(
            source: "git", kind: "git.commit", key: "git:abc", payload: ["sha": "abc"], occurredAt: Self.now, provenance: .trusted)
        #expect(try await stores.sources.sourceState("repo/main") == nil)
        let outcomes = try await stores.sources.record([commit], state: ["repo/main": "abc", "repo/dev": "def"])
        #expect(outcomes.map(\.duplicate) == [false])
        _ = try await stores.sources.record([], state: ["repo/main": "abd"])
        #expect(try await stores.sources.sourceState("repo/main") == "abd")
        #expect(try await stores.sources.sourceState("repo/dev") == "def")

        let created = NewEvent(
            source: "files", kind: "file.created", payload: ["path": "Notes/a.md"], occurredAt: Self.now, provenance: .trusted)
        let print = FileFingerprint(size: 12, modifiedNanoseconds: 1_800_000_000_123_456_789, inode: UInt64.max - 5)
        _ = try await stores.files.record(
            [created], indexChanges: [.upsert(path: "Notes/a.md", print), .upsert(path: "b", print)], scope: "alpha:/w")
        _ = try await stores.files.record([], indexChanges: [.remove(path: "b")], scope: "alpha:/w")
        #expect(try await stores.files.loadFileIndex(scope: "alpha:/w") == ["Notes/a.md": print])
        #expect(try await stores.files.loadFileIndex(scope: "bravo:/w").isEmpty)
        #expect(try await stores.journal.events(EventQuery()).map(\.kind) == ["git.commit", "file.created"])
    }
}
