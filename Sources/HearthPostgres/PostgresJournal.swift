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
            try await Self.insert(events, receivedAt: received, connection, logger: logger)
        }
    }

    /// Appends inside the caller's transaction (which then holds the journal's lock to its end):
    /// for stores whose own change must commit with its event.
    static func insert(_ events: [NewEvent], receivedAt received: Int64, _ connection: PostgresConnection, logger: Logger)
        async throws -> [AppendOutcome]
    {
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
        // Delivered to followers when (and only if) the transaction commits.
        if outcomes.contains(where: { !$0.duplicate }) {
            try await connection.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
        }
        return outcomes
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
                    id: id, source: source, kind: kind, key: key, payload: JSONValue(storedText: payload),
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

    /// The LISTEN/NOTIFY channel an append signals on.
    static let channel = "hearth_event"
    static let backoff = Backoff(initial: .milliseconds(250), maximum: .seconds(10))

    /// Follows the journal as `follower`: hands every committed event to `handle`, in order, in
    /// batches of at most `batch`, and records how far it got in the store after each batch, so a
    /// follower that restarts (or reconnects) resumes exactly there. A notification wakes it at
    /// each commit; it also looks every `poll`, so a notification lost with a connection delays
    /// events, never loses them. A batch handled just before a crash is handed over again:
    /// `handle` must be idempotent by event id. The store being unreachable pauses following
    /// (retried with backoff up to 10 s); an error thrown by `handle` ends it. Runs until cancelled.
    public func follow(
        as follower: String, batch: Int = 500, poll: Duration = .seconds(5), handle: @escaping @Sendable ([Event]) async throws -> Void
    ) async throws {
        let database = database
        let (wake, waker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var backoff = Self.backoff
                while !Task.isCancelled {
                    do {
                        try await database.client.withConnection { connection in
                            try await connection.listen(on: Self.channel) { notifications in
                                // Listening from here on: whatever committed before is caught up now.
                                waker.yield()
                                backoff = Self.backoff
                                for try await _ in notifications { waker.yield() }
                            }
                        }
                    } catch {
                        if Task.isCancelled { return }
                        database.logger.warning("journal follower \(follower): listening stopped: \(PostgresStore.explain(error))")
                    }
                    try? await Task.sleep(for: backoff.next())
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: poll)
                    waker.yield()
                }
            }
            group.addTask {
                var position: Int64?
                var backoff = Self.backoff
                for await _ in wake {
                    do {
                        var at: Int64
                        if let position {
                            at = position
                        } else {
                            at = try await self.cursor(of: follower)
                        }
                        while true {
                            let events = try await self.events(EventQuery(afterID: at, limit: max(1, batch)))
                            guard let last = events.last else { break }
                            do {
                                try await handle(events)
                            } catch {
                                throw FollowerError(underlying: error)
                            }
                            at = last.id
                            try await self.save(cursor: at, of: follower)
                            position = at
                            if events.count < batch { break }
                        }
                        backoff = Self.backoff
                    } catch let error as FollowerError {
                        throw error.underlying
                    } catch {
                        if Task.isCancelled { return }
                        database.logger.warning("journal follower \(follower): reading paused: \(PostgresStore.explain(error))")
                        try? await Task.sleep(for: backoff.next())
                        waker.yield()
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// How far `follower` has handled the journal (0: from the start).
    public func cursor(of follower: String) async throws -> Int64 {
        var position: Int64 = 0
        for try await value in try await database.client.query(
            "SELECT position FROM journal_cursor WHERE follower = \(follower)", logger: database.logger
        ).decode(Int64.self) {
            position = value
        }
        return position
    }

    func save(cursor position: Int64, of follower: String) async throws {
        try await database.client.query(
            """
            INSERT INTO journal_cursor (follower, position, updatedAt) VALUES (\(follower), \(position), clock_timestamp())
            ON CONFLICT (follower) DO UPDATE SET position = excluded.position, updatedAt = excluded.updatedAt
            """, logger: database.logger)
    }

    /// An error from the follower's own handler, kept apart from the store's.
    struct FollowerError: Error {
        var underlying: any Error
    }
}
