import Foundation
import HearthCore
import Logging
import PostgresNIO

/// The event journal in PostgreSQL, shared by every daemon of a fleet.
///
/// An append commits before it returns, so the caller may acknowledge on its outcome. Appends
/// take the journal's lock for their transaction: ids are then given in commit order with no
/// gaps, so a reader's cursor (`afterID`) never passes an event another daemon commits later.
/// Keys are unique fleet-wide: a second event with a key is reported as a duplicate.
public struct PostgresJournal: EventJournal {
    let database: PostgresStore

    public init(database: PostgresStore) {
        self.database = database
    }

    public func append(_ events: [NewEvent]) async throws -> [AppendOutcome] {
        guard !events.isEmpty else { return [] }
        for event in events { try event.validate() }
        let received = Date().millisecondsSince1970
        let logger = database.logger
        return try await database.transaction { connection in
            try await connection.query("LOCK TABLE event IN EXCLUSIVE MODE", logger: logger)
            var outcomes: [AppendOutcome] = []
            for event in events {
                if let key = event.key {
                    var existing: Int64?
                    for try await id in try await connection.query("SELECT id FROM event WHERE key = \(key)", logger: logger).decode(
                        Int64.self)
                    {
                        existing = id
                    }
                    if let existing {
                        outcomes.append(AppendOutcome(id: existing, duplicate: true))
                        continue
                    }
                }
                let payload = event.payload.jsonText
                let occurred = event.occurredAt.millisecondsSince1970
                let provenance = event.provenance.rawValue
                var inserted: Int64 = 0
                for try await id in try await connection.query(
                    """
                    INSERT INTO event (source, kind, key, payload, occurredAt, receivedAt, provenance)
                    VALUES (\(event.source), \(event.kind), \(event.key), \(payload), \(occurred), \(received), \(provenance)) RETURNING id
                    """, logger: logger
                ).decode(Int64.self) {
                    inserted = id
                }
                outcomes.append(AppendOutcome(id: inserted, duplicate: false))
            }
            return outcomes
        }
    }

    public func events(_ query: EventQuery) async throws -> [Event] {
        let order = query.newestFirst ? "DESC" : "ASC"
        let limit = max(0, query.limit)
        // An absent filter is a NULL bind that matches everything (one statement for all four cases).
        let sql: PostgresQuery = """
            SELECT id, source, kind, key, payload, occurredAt, receivedAt, provenance FROM event
            WHERE id > \(query.afterID) AND (\(query.source)::text IS NULL OR source = \(query.source))
              AND (\(query.kind)::text IS NULL OR kind = \(query.kind))
            ORDER BY id \(unescaped: order) LIMIT \(limit)
            """
        var events: [Event] = []
        let rows = try await database.client.query(sql, logger: database.logger)
        for try await (id, source, kind, key, payload, occurred, received, provenance) in rows.decode(
            (Int64, String, String, String?, String, Int64, Int64, String).self)
        {
            events.append(
                Event(
                    id: id, source: source, kind: kind, key: key, payload: (try? JSONValue(parsing: payload)) ?? .string(payload),
                    occurredAt: Date(millisecondsSince1970: occurred), receivedAt: Date(millisecondsSince1970: received),
                    provenance: Provenance(rawValue: provenance) ?? .untrusted))
        }
        return events
    }

    public func existingKeys(_ keys: [String]) async throws -> Set<String> {
        guard !keys.isEmpty else { return [] }
        var found = Set<String>()
        for start in stride(from: 0, to: keys.count, by: 1_000) {
            let chunk = Array(keys[start..<min(start + 1_000, keys.count)])
            let rows = try await database.client.query("SELECT key FROM event WHERE key = ANY(\(chunk))", logger: database.logger)
            for try await key in rows.decode(String.self) { found.insert(key) }
        }
        return found
    }
}
