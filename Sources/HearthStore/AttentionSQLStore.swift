import Foundation
import GRDB
import HearthCore

/// Scored events in SQLite, beside the memory records they become.
public struct AttentionSQLStore: AttentionStore {
    let database: HearthDatabase
    /// Channels every interrupt is delivered to; their delivery rows are written with the item.
    let channels: [String]
    static let cursorName = "attention.ingest"

    public init(database: HearthDatabase, channels: [String] = []) {
        self.database = database
        self.channels = channels
    }

    public func ingestedThrough() async throws -> Int64 {
        try await database.read { db in try Self.cursor(in: db) }
    }

    static func cursor(in db: Database) throws -> Int64 {
        try MemorySQLStore.cursor(cursorName, in: db)
    }

    public func ingest(_ batch: [IngestedEvent], through cursor: Int64) async throws -> [AttentionItem] {
        try await database.write { db in
            // A second ingester (or a replay after a crash that did commit) must not double anything.
            guard try Self.cursor(in: db) < cursor else { return [] }
            let records = try MemorySQLStore.insert(batch.compactMap(\.record), in: db)
            var recordIndex = 0
            var stored: [AttentionItem] = []
            for entry in batch {
                var item = entry.item
                if entry.record != nil {
                    item.memoryRecordID = records[recordIndex].id
                    recordIndex += 1
                }
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO attention_item (eventId, source, kind, occurredAt, decidedAt, level, decision, links, memoryRecordId)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        item.eventID, item.source, item.kind, item.occurredAt.millisecondsSince1970, item.decidedAt.millisecondsSince1970,
                        item.decision.level.rawValue, try GoalSQLStore.encode(item.decision), try GoalSQLStore.encode(item.links),
                        item.memoryRecordID,
                    ])
                if item.decision.level == .interrupt {
                    for channel in channels {
                        try db.execute(
                            sql: "INSERT OR IGNORE INTO delivery (eventId, channel, state, nextAttemptAt) VALUES (?, ?, 'pending', ?)",
                            arguments: [item.eventID, channel, item.decidedAt.millisecondsSince1970])
                    }
                }
                stored.append(item)
            }
            try MemorySQLStore.setCursor(Self.cursorName, to: cursor, in: db)
            return stored
        }
    }

    public func items(_ query: AttentionQuery) async throws -> [AttentionItem] {
        try await database.read { db in try Self.items(query, in: db) }
    }

    static func items(_ query: AttentionQuery, in db: Database) throws -> [AttentionItem] {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let from = query.from {
            conditions.append("decidedAt >= ?")
            arguments.append(from.millisecondsSince1970)
        }
        if let to = query.to {
            conditions.append("decidedAt < ?")
            arguments.append(to.millisecondsSince1970)
        }
        if !query.levels.isEmpty {
            conditions.append("level IN (\(query.levels.map { _ in "?" }.joined(separator: ", ")))")
            arguments += query.levels.sorted().map(\.rawValue)
        }
        if query.unacknowledgedOnly { conditions.append("acknowledgedAt IS NULL") }
        if let after = query.afterEventID {
            conditions.append("eventId > ?")
            arguments.append(after)
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments.append(query.limit)
        return try Row.fetchAll(
            db, sql: "SELECT * FROM attention_item \(whereClause) ORDER BY eventId LIMIT ?", arguments: StatementArguments(arguments)
        ).map(Self.item)
    }

    public func item(eventID: Int64) async throws -> AttentionItem? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM attention_item WHERE eventId = ?", arguments: [eventID]).map(Self.item)
        }
    }

    public func acknowledge(eventID: Int64, at date: Date) async throws -> Bool {
        try await database.write { db in try Self.acknowledge(eventID: eventID, at: date, in: db) }
    }

    static func acknowledge(eventID: Int64, at date: Date, in db: Database) throws -> Bool {
        guard try Int64.fetchOne(db, sql: "SELECT eventId FROM attention_item WHERE eventId = ?", arguments: [eventID]) != nil else {
            return false
        }
        try db.execute(
            sql: "UPDATE attention_item SET acknowledgedAt = COALESCE(acknowledgedAt, ?) WHERE eventId = ?",
            arguments: [date.millisecondsSince1970, eventID])
        return true
    }

    static func item(_ row: Row) throws -> AttentionItem {
        AttentionItem(
            eventID: row["eventId"], source: row["source"], kind: row["kind"], occurredAt: Date(millisecondsSince1970: row["occurredAt"]),
            decidedAt: Date(millisecondsSince1970: row["decidedAt"]),
            decision: try GoalSQLStore.decode(AttentionDecision.self, row["decision"]),
            links: try GoalSQLStore.decode([String].self, row["links"]), memoryRecordID: row["memoryRecordId"],
            acknowledgedAt: (row["acknowledgedAt"] as Int64?).map { Date(millisecondsSince1970: $0) })
    }
}

/// Deliveries in SQLite.
public struct DeliverySQLStore: DeliveryBook {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    static func delivery(_ row: Row) -> Delivery {
        Delivery(
            eventID: row["eventId"], channel: row["channel"], state: Delivery.State(rawValue: row["state"]) ?? .pending,
            attempts: row["attempts"],
            lastError: row["lastError"], nextAttemptAt: Date(millisecondsSince1970: row["nextAttemptAt"]),
            deliveredAt: (row["deliveredAt"] as Int64?).map { Date(millisecondsSince1970: $0) })
    }

    /// Deliveries not yet confirmed whose next attempt is due.
    public func due(at now: Date, limit: Int = 50) async throws -> [Delivery] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM delivery WHERE state != 'delivered' AND nextAttemptAt <= ? ORDER BY nextAttemptAt LIMIT ?",
                arguments: [now.millisecondsSince1970, limit]
            ).map(Self.delivery)
        }
    }

    /// When the next unconfirmed delivery is due.
    public func nextAttempt() async throws -> Date? {
        try await database.read { db in
            try Int64.fetchOne(db, sql: "SELECT MIN(nextAttemptAt) FROM delivery WHERE state != 'delivered'").map {
                Date(millisecondsSince1970: $0)
            }
        }
    }

    public func delivered(_ delivery: Delivery, at date: Date) async throws {
        try await database.write { db in
            try db.execute(
                sql:
                    "UPDATE delivery SET state = 'delivered', attempts = attempts + 1, deliveredAt = ?, lastError = NULL WHERE eventId = ? AND channel = ?",
                arguments: [date.millisecondsSince1970, delivery.eventID, delivery.channel])
        }
    }

    public func failed(_ delivery: Delivery, error: String, retryAt: Date) async throws {
        try await database.write { db in
            try db.execute(
                sql:
                    "UPDATE delivery SET state = 'retrying', attempts = attempts + 1, lastError = ?, nextAttemptAt = ? WHERE eventId = ? AND channel = ?",
                arguments: [String(error.prefix(500)), retryAt.millisecondsSince1970, delivery.eventID, delivery.channel])
        }
    }

    public func deliveries(eventIDs: [Int64]) async throws -> [Int64: [Delivery]] {
        guard !eventIDs.isEmpty else { return [:] }
        return try await database.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM delivery WHERE eventId IN (\(eventIDs.map { _ in "?" }.joined(separator: ","))) ORDER BY channel",
                arguments: StatementArguments(eventIDs))
            return Dictionary(grouping: rows.map(Self.delivery), by: \.eventID)
        }
    }
}
