import Foundation
import HearthCore
import Logging
import PostgresNIO

/// Scored events in the shared PostgreSQL, beside the memory records they become. Ingestion's
/// cursor is locked and only moves forward: a batch two daemons scored from the same events is
/// stored once.
public struct PostgresAttentionStore: AttentionStore {
    let database: PostgresStore
    /// Channels every interrupt is delivered to; their delivery rows are written with the item.
    let channels: [String]
    static let cursorName = "attention.ingest"

    public init(database: PostgresStore, channels: [String] = []) {
        self.database = database
        self.channels = channels
    }

    var logger: Logger { database.logger }

    public func ingestedThrough() async throws -> Int64 {
        try await PostgresMemoryStore(database: database).cursor(Self.cursorName)
    }

    public func ingest(_ batch: [IngestedEvent], through cursor: Int64) async throws -> [AttentionItem] {
        let (logger, channels, name) = (logger, channels, Self.cursorName)
        return try await database.transaction { connection in
            try await connection.query(
                "INSERT INTO memory_cursor (name, value) VALUES (\(name), 0) ON CONFLICT (name) DO NOTHING", logger: logger)
            let stored = try await connection.rows(
                "SELECT value FROM memory_cursor WHERE name = \(name) FOR UPDATE", as: (Int64).self, logger: logger)
            // Another ingester (or a replay after a crash that did commit) must not double anything.
            guard (stored.first ?? 0) < cursor else { return [] }
            let records = try await PostgresMemoryStore.insert(batch.compactMap(\.record), connection, logger: logger)
            var recordIndex = 0
            var items: [AttentionItem] = []
            for entry in batch {
                var item = entry.item
                if entry.record != nil {
                    item.memoryRecordID = records[recordIndex].id
                    recordIndex += 1
                }
                let (occurred, decided) = (item.occurredAt.millisecondsSince1970, item.decidedAt.millisecondsSince1970)
                let (decision, links) = (try StoredJSON.encode(item.decision), try StoredJSON.encode(item.links))
                try await connection.query(
                    """
                    INSERT INTO attention_item (eventId, source, kind, occurredAt, decidedAt, level, decision, links, memoryRecordId)
                    VALUES (\(item.eventID), \(item.source), \(item.kind), \(occurred), \(decided), \(item.decision.level.rawValue),
                        \(decision), \(links), \(item.memoryRecordID))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
                if item.decision.level == .interrupt {
                    for channel in channels {
                        try await connection.query(
                            """
                            INSERT INTO delivery (eventId, channel, state, nextAttemptAt) VALUES (\(item.eventID), \(channel), 'pending', \(decided))
                            ON CONFLICT DO NOTHING
                            """, logger: logger)
                    }
                }
                items.append(item)
            }
            try await connection.query("UPDATE memory_cursor SET value = \(cursor) WHERE name = \(name)", logger: logger)
            return items
        }
    }

    static let columns = "eventId, source, kind, occurredAt, decidedAt, decision, links, memoryRecordId, acknowledgedAt"
    typealias Columns = (Int64, String, String, Int64, Int64, String, String, Int64?, Int64?)

    static func item(_ row: Columns) throws -> AttentionItem {
        let (event, source, kind, occurred, decided, decision, links, record, acknowledged) = row
        return AttentionItem(
            eventID: event, source: source, kind: kind, occurredAt: Date(millisecondsSince1970: occurred),
            decidedAt: Date(millisecondsSince1970: decided), decision: try StoredJSON.decode(AttentionDecision.self, decision),
            links: try StoredJSON.decode([String].self, links), memoryRecordID: record,
            acknowledgedAt: acknowledged.map(Date.init(millisecondsSince1970:)))
    }

    public func items(_ query: AttentionQuery) async throws -> [AttentionItem] {
        var builder = SQLBuilder("SELECT \(Self.columns) FROM attention_item WHERE TRUE")
        if let from = query.from { builder.append(" AND decidedAt >= \(builder.bind(from.millisecondsSince1970))") }
        if let to = query.to { builder.append(" AND decidedAt < \(builder.bind(to.millisecondsSince1970))") }
        if !query.levels.isEmpty { builder.append(" AND level = ANY(\(builder.bind(query.levels.sorted().map(\.rawValue))))") }
        if query.unacknowledgedOnly { builder.append(" AND acknowledgedAt IS NULL") }
        if let after = query.afterEventID { builder.append(" AND eventId > \(builder.bind(after))") }
        builder.append(" ORDER BY eventId LIMIT \(builder.bind(query.limit))")
        let (logger, built) = (logger, builder.query)
        return try await database.read { connection in
            try await connection.rows(built, as: Columns.self, logger: logger).map(Self.item)
        }
    }

    public func item(eventID: Int64) async throws -> AttentionItem? {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                "SELECT \(unescaped: Self.columns) FROM attention_item WHERE eventId = \(eventID)", as: Columns.self, logger: logger
            ).map(Self.item).first
        }
    }

    public func acknowledge(eventID: Int64, at date: Date) async throws -> Bool {
        let (logger, at) = (logger, date.millisecondsSince1970)
        return try await database.transaction { connection in
            try await !connection.rows(
                """
                UPDATE attention_item SET acknowledgedAt = COALESCE(acknowledgedAt, \(at)) WHERE eventId = \(eventID) RETURNING eventId
                """, as: (Int64).self, logger: logger
            ).isEmpty
        }
    }
}

/// Interrupt deliveries in the shared PostgreSQL. A daemon takes the due ones it will attempt
/// (`FOR UPDATE SKIP LOCKED`, their next attempt pushed past `claim`), so two daemons do not
/// send one interrupt twice; one that goes quiet mid-attempt leaves them due again after `claim`.
public struct PostgresDeliveryBook: DeliveryBook {
    let database: PostgresStore
    let claim: Duration

    public init(database: PostgresStore, claim: Duration = .seconds(120)) {
        self.database = database
        self.claim = claim
    }

    var logger: Logger { database.logger }

    static let columns = "eventId, channel, state, attempts, lastError, nextAttemptAt, deliveredAt"
    typealias Columns = (Int64, String, String, Int, String?, Int64, Int64?)

    static func delivery(_ row: Columns) -> Delivery {
        let (event, channel, state, attempts, error, next, delivered) = row
        return Delivery(
            eventID: event, channel: channel, state: Delivery.State(rawValue: state) ?? .pending, attempts: attempts, lastError: error,
            nextAttemptAt: Date(millisecondsSince1970: next), deliveredAt: delivered.map(Date.init(millisecondsSince1970:)))
    }

    public func due(at now: Date, limit: Int) async throws -> [Delivery] {
        let (logger, at) = (logger, now.millisecondsSince1970)
        let until = at + Int64(claim.inMilliseconds)
        return try await database.transaction { connection in
            try await connection.rows(
                """
                UPDATE delivery d SET nextAttemptAt = \(until) FROM (
                    SELECT eventId, channel, nextAttemptAt FROM delivery WHERE state <> 'delivered' AND nextAttemptAt <= \(at)
                    ORDER BY nextAttemptAt LIMIT \(limit) FOR UPDATE SKIP LOCKED
                ) due
                WHERE d.eventId = due.eventId AND d.channel = due.channel
                RETURNING d.eventId, d.channel, d.state, d.attempts, d.lastError, due.nextAttemptAt, d.deliveredAt
                """, as: Columns.self, logger: logger
            ).map(Self.delivery).sorted { ($0.nextAttemptAt, $0.eventID, $0.channel) < ($1.nextAttemptAt, $1.eventID, $1.channel) }
        }
    }

    public func nextAttempt() async throws -> Date? {
        let logger = logger
        let next = try await database.read { connection in
            try await connection.rows(
                "SELECT MIN(nextAttemptAt) FROM delivery WHERE state <> 'delivered'", as: (Int64?).self, logger: logger)
        }
        return (next.first ?? nil).map(Date.init(millisecondsSince1970:))
    }

    public func delivered(_ delivery: Delivery, at date: Date) async throws {
        let at = date.millisecondsSince1970
        try await database.client.query(
            """
            UPDATE delivery SET state = 'delivered', attempts = attempts + 1, deliveredAt = \(at), lastError = NULL
            WHERE eventId = \(delivery.eventID) AND channel = \(delivery.channel)
            """, logger: logger)
    }

    public func failed(_ delivery: Delivery, error: String, retryAt: Date) async throws {
        let (message, at) = (String(error.prefix(500)), retryAt.millisecondsSince1970)
        try await database.client.query(
            """
            UPDATE delivery SET state = 'retrying', attempts = attempts + 1, lastError = \(message), nextAttemptAt = \(at)
            WHERE eventId = \(delivery.eventID) AND channel = \(delivery.channel)
            """, logger: logger)
    }

    public func deliveries(eventIDs: [Int64]) async throws -> [Int64: [Delivery]] {
        guard !eventIDs.isEmpty else { return [:] }
        let logger = logger
        let rows = try await database.read { connection in
            try await connection.rows(
                "SELECT \(unescaped: Self.columns) FROM delivery WHERE eventId = ANY(\(eventIDs)::bigint[]) ORDER BY channel",
                as: Columns.self, logger: logger)
        }
        return Dictionary(grouping: rows.map(Self.delivery), by: \.eventID)
    }
}

/// Source positions in the shared PostgreSQL, committed with the events they produced. A
/// position belongs to one machine (its repositories, its workspace's journal and PROFILE.md
/// files), so each name is kept under the machine's `scope`.
public struct PostgresSourceState: SourceStateStore {
    let database: PostgresStore
    let scope: String?

    public init(database: PostgresStore, scope: String? = nil) {
        self.database = database
        self.scope = scope
    }

    func key(_ name: String) -> String { scope.map { "\($0):\(name)" } ?? name }

    public func sourceState(_ name: String) async throws -> String? {
        let (logger, name) = (database.logger, key(name))
        return try await database.read { connection in
            try await connection.rows("SELECT value FROM source_state WHERE name = \(name)", as: (String).self, logger: logger).first
        }
    }

    public func record(_ events: [NewEvent], state: [String: String]) async throws -> [AppendOutcome] {
        for event in events { try event.validate() }
        let (logger, received) = (database.logger, Date().millisecondsSince1970)
        let scoped = state.map { (key($0.key), $0.value) }.sorted { $0.0 < $1.0 }
        return try await database.transaction { connection in
            let outcomes = try await PostgresJournal.insert(events, receivedAt: received, connection, logger: logger)
            for (name, value) in scoped {
                try await connection.query(
                    """
                    INSERT INTO source_state (name, value) VALUES (\(name), \(value))
                    ON CONFLICT (name) DO UPDATE SET value = excluded.value
                    """, logger: logger)
            }
            return outcomes
        }
    }
}

/// The file watcher's index in the shared PostgreSQL, changed in the transaction that journals
/// the events it stands for.
public struct PostgresFileIndex: FileIndexStore {
    let database: PostgresStore

    public init(database: PostgresStore) {
        self.database = database
    }

    public func loadFileIndex(scope: String) async throws -> [String: FileFingerprint] {
        let logger = database.logger
        let rows = try await database.read { connection in
            try await connection.rows(
                "SELECT path, size, modifiedNs, inode FROM file_index WHERE scope = \(scope)", as: (String, Int64, Int64, Int64).self,
                logger: logger)
        }
        var index: [String: FileFingerprint] = [:]
        for (path, size, modified, inode) in rows {
            index[path] = FileFingerprint(size: size, modifiedNanoseconds: modified, inode: UInt64(bitPattern: inode))
        }
        return index
    }

    public func record(_ events: [NewEvent], indexChanges: [FileIndexChange], scope: String) async throws -> [AppendOutcome] {
        for event in events { try event.validate() }
        let (logger, received) = (database.logger, Date().millisecondsSince1970)
        return try await database.transaction { connection in
            let outcomes = try await PostgresJournal.insert(events, receivedAt: received, connection, logger: logger)
            for change in indexChanges {
                switch change {
                case .upsert(let path, let fingerprint):
                    let inode = Int64(bitPattern: fingerprint.inode)
                    try await connection.query(
                        """
                        INSERT INTO file_index (scope, path, size, modifiedNs, inode)
                        VALUES (\(scope), \(path), \(fingerprint.size), \(fingerprint.modifiedNanoseconds), \(inode))
                        ON CONFLICT (scope, path) DO UPDATE SET size = excluded.size, modifiedNs = excluded.modifiedNs, inode = excluded.inode
                        """, logger: logger)
                case .remove(let path):
                    try await connection.query("DELETE FROM file_index WHERE scope = \(scope) AND path = \(path)", logger: logger)
                }
            }
            return outcomes
        }
    }
}
