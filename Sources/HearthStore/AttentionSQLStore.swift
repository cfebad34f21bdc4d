import Foundation
import GRDB
import HearthCore

/// Scored events in SQLite, beside the memory records they become.
public struct AttentionSQLStore: AttentionStore {
    let database: HearthDatabase
    static let cursorName = "attention.ingest"

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func ingestedThrough() async throws -> Int64 {
        try await database.read { db in try Self.cursor(in: db) }
    }

    static func cursor(in db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM memory_cursor WHERE name = ?", arguments: [cursorName]) ?? 0
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
                stored.append(item)
            }
            try db.execute(sql: "INSERT OR REPLACE INTO memory_cursor (name, value) VALUES (?, ?)", arguments: [Self.cursorName, cursor])
            return stored
        }
    }

    public func items(_ query: AttentionQuery) async throws -> [AttentionItem] {
        try await database.read { db in try Self.items(query, in: db) }
    }

    /// The synchronous twin of `items`, for the CLI.
    public func itemsNow(_ query: AttentionQuery) throws -> [AttentionItem] {
        try database.readSync { db in try Self.items(query, in: db) }
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

    /// The synchronous twin of `acknowledge`, for the CLI.
    public func acknowledgeNow(eventID: Int64, at date: Date = Date()) throws -> Bool {
        try database.writeSync { db in try Self.acknowledge(eventID: eventID, at: date, in: db) }
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
