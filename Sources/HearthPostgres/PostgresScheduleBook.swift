import Foundation
import HearthCore
import Logging
import PostgresNIO

/// Cron schedules in the shared PostgreSQL. A firing's event carries the slot in its key
/// (`cron:NAME:SECONDS`), unique in the fleet's journal: when two daemons fire one slot, one event
/// is stored and the other is told it was a duplicate; the next fire time only moves forward.
public struct PostgresScheduleBook: ScheduleBook {
    let database: PostgresStore

    public init(database: PostgresStore) {
        self.database = database
    }

    var logger: Logger { database.logger }

    public func schedules() async throws -> [Schedule] {
        let logger = logger
        let rows = try await database.read { connection in
            try await connection.rows(
                "SELECT name, expression, timeZone, kind, payload, nextFireAt, lastFiredAt, createdAt FROM schedule ORDER BY name",
                as: (String, String, String?, String, String, Int64?, Int64?, Int64).self, logger: logger)
        }
        return rows.compactMap { name, source, zone, kind, payload, next, last, created in
            // A row whose expression no longer parses (edited by hand) is skipped, not fatal.
            guard let expression = try? CronExpression(source) else { return nil }
            return Schedule(
                name: name, expression: expression, timeZone: zone, kind: kind, payload: JSONValue(storedText: payload),
                nextFireAt: next.map(Date.init(millisecondsSince1970:)), lastFiredAt: last.map(Date.init(millisecondsSince1970:)),
                createdAt: Date(millisecondsSince1970: created))
        }
    }

    public func add(_ schedule: Schedule, replace: Bool) async throws {
        let logger = logger
        let (next, last) = (schedule.nextFireAt?.millisecondsSince1970, schedule.lastFiredAt?.millisecondsSince1970)
        let created = schedule.createdAt.millisecondsSince1970
        let payload = schedule.payload.jsonText
        try await database.transaction { connection in
            let added = try await connection.rows(
                """
                INSERT INTO schedule (name, expression, timeZone, kind, payload, nextFireAt, lastFiredAt, createdAt)
                VALUES (\(schedule.name), \(schedule.expression.source), \(schedule.timeZone), \(schedule.kind), \(payload), \(next),
                    \(last), \(created))
                ON CONFLICT (name) DO UPDATE SET expression = excluded.expression, timeZone = excluded.timeZone, kind = excluded.kind,
                    payload = excluded.payload, nextFireAt = excluded.nextFireAt, lastFiredAt = excluded.lastFiredAt,
                    createdAt = excluded.createdAt
                WHERE \(replace)
                RETURNING name
                """, as: (String).self, logger: logger)
            if added.isEmpty { throw ScheduleError.exists(schedule.name) }
        }
    }

    public func remove(_ name: String) async throws {
        let logger = logger
        let removed = try await database.transaction { connection in
            try await connection.rows("DELETE FROM schedule WHERE name = \(name) RETURNING name", as: (String).self, logger: logger)
        }
        if removed.isEmpty { throw ScheduleError.notFound(name) }
    }

    public func recordFiring(of name: String, event: NewEvent, nextFireAt: Date?) async throws -> AppendOutcome {
        try event.validate()
        let logger = logger
        let received = Date().millisecondsSince1970
        let (next, fired) = (nextFireAt?.millisecondsSince1970, event.occurredAt.millisecondsSince1970)
        return try await database.transaction { connection in
            let outcome = try await PostgresJournal.insert([event], receivedAt: received, connection, logger: logger)[0]
            try await connection.query(
                """
                UPDATE schedule SET
                    nextFireAt = CASE WHEN nextFireAt IS NULL OR \(next)::BIGINT > nextFireAt THEN \(next)::BIGINT ELSE nextFireAt END,
                    lastFiredAt = GREATEST(lastFiredAt, \(fired))
                WHERE name = \(name)
                """, logger: logger)
            return outcome
        }
    }

    public func setNextFire(of name: String, at date: Date?) async throws {
        let next = date?.millisecondsSince1970
        try await database.client.query("UPDATE schedule SET nextFireAt = \(next) WHERE name = \(name)", logger: logger)
    }
}
