import Foundation
import GRDB
import HearthCore

/// The event journal in SQLite.
///
/// An append commits (and, with `synchronous = FULL`, syncs) before it returns, so the caller
/// may acknowledge as soon as it has the outcome. Keys are unique: a second event with the same
/// key is reported as a duplicate of the first and not stored.
public struct JournalStore: EventJournal {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func append(_ events: [NewEvent]) async throws -> [AppendOutcome] {
        guard !events.isEmpty else { return [] }
        for event in events { try event.validate() }
        let receivedAt = Date()
        return try await database.write { db in try Self.insert(events, receivedAt: receivedAt, in: db) }
    }

    /// The synchronous twin of `append`, for the CLI (which has no async context to spare).
    public func appendNow(_ events: [NewEvent]) throws -> [AppendOutcome] {
        guard !events.isEmpty else { return [] }
        for event in events { try event.validate() }
        let receivedAt = Date()
        return try database.writeSync { db in try Self.insert(events, receivedAt: receivedAt, in: db) }
    }

    public func events(_ query: EventQuery) async throws -> [Event] {
        try await database.read { db in try Self.fetch(query, in: db) }
    }

    public func existingKeys(_ keys: [String]) async throws -> Set<String> {
        guard !keys.isEmpty else { return [] }
        return try await database.read { db in
            var found = Set<String>()
            // SQLite limits bound parameters; 500 per query stays well inside it.
            for chunkStart in stride(from: 0, to: keys.count, by: 500) {
                let chunk = Array(keys[chunkStart..<min(chunkStart + 500, keys.count)])
                let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try String.fetchAll(
                    db, sql: "SELECT key FROM event WHERE key IN (\(placeholders))", arguments: StatementArguments(chunk))
                found.formUnion(rows)
            }
            return found
        }
    }

    /// Inserts inside the caller's transaction; shared by every store that journals as a side effect.
    static func insert(_ events: [NewEvent], receivedAt: Date, in db: Database) throws -> [AppendOutcome] {
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO event (source, kind, key, payload, occurredAt, receivedAt, provenance)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        // Looking the key up first (rather than INSERT … ON CONFLICT DO NOTHING) keeps ids free of
        // gaps: a conflicting insert would still consume an AUTOINCREMENT value. Inside the write
        // transaction nothing can slip in between the two statements.
        let lookup = try db.cachedStatement(sql: "SELECT id FROM event WHERE key = ?")
        let received = receivedAt.millisecondsSince1970
        var outcomes: [AppendOutcome] = []
        outcomes.reserveCapacity(events.count)
        for event in events {
            if let key = event.key, let existing = try Int64.fetchOne(lookup, arguments: [key]) {
                outcomes.append(AppendOutcome(id: existing, duplicate: true))
                continue
            }
            try insert.execute(arguments: [
                event.source, event.kind, event.key, event.payload.jsonText, event.occurredAt.millisecondsSince1970,
                received, event.provenance.rawValue,
            ])
            outcomes.append(AppendOutcome(id: db.lastInsertedRowID, duplicate: false))
        }
        return outcomes
    }

    static func fetch(_ query: EventQuery, in db: Database) throws -> [Event] {
        var conditions = SQLConditions()
        conditions.add("id > ?", query.afterID)
        if let source = query.source { conditions.add("source = ?", source) }
        if let kind = query.kind { conditions.add("kind = ?", kind) }
        var arguments = conditions.arguments
        _ = arguments.append(contentsOf: [max(0, query.limit)])
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT id, source, kind, key, payload, occurredAt, receivedAt, provenance FROM event
                \(conditions.whereClause) ORDER BY id \(query.newestFirst ? "DESC" : "ASC") LIMIT ?
                """,
            arguments: arguments)
        return try rows.map(Self.event(from:))
    }

    private static func event(from row: Row) throws -> Event {
        let payloadText: String = row["payload"]
        return Event(
            id: row["id"],
            source: row["source"],
            kind: row["kind"],
            key: row["key"],
            payload: JSONValue(storedText: payloadText),
            occurredAt: Date(millisecondsSince1970: row["occurredAt"]),
            receivedAt: Date(millisecondsSince1970: row["receivedAt"]),
            provenance: Provenance(rawValue: row["provenance"]) ?? .untrusted)
    }
}
