import Foundation
import HearthCore
import Logging
import PostgresNIO

/// Routines in the shared PostgreSQL: a firing creates its goal in the transaction that records
/// it. The cursor of considered attention items only moves forward and is locked while a step is
/// applied, so a step two daemons computed from the same items is applied once: the second finds
/// the cursor already there and applies nothing.
public struct PostgresRoutineStore: RoutineStore {
    let database: PostgresStore
    static let cursorName = "routines.considered"

    public init(database: PostgresStore) {
        self.database = database
    }

    var logger: Logger { database.logger }

    public func routines() async throws -> [Routine] {
        let logger = logger
        return try await database.read { connection in try await Self.routines(connection, logger: logger) }
    }

    static func routines(_ connection: PostgresConnection, logger: Logger) async throws -> [Routine] {
        try await connection.rows("SELECT definition FROM routine ORDER BY name", as: (String).self, logger: logger).map {
            try StoredJSON.decode(Routine.self, $0)
        }
    }

    public func save(_ routine: Routine) async throws {
        let logger = logger
        try await database.transaction { connection in try await Self.save(routine, connection, logger: logger) }
    }

    static func save(_ routine: Routine, _ connection: PostgresConnection, logger: Logger) async throws {
        let definition = try StoredJSON.encode(routine)
        try await connection.query(
            """
            INSERT INTO routine (name, definition) VALUES (\(routine.name), \(definition))
            ON CONFLICT (name) DO UPDATE SET definition = excluded.definition
            """, logger: logger)
    }

    public func remove(_ name: String) async throws -> Bool {
        let logger = logger
        return try await database.transaction { connection in
            try await !connection.rows("DELETE FROM routine WHERE name = \(name) RETURNING name", as: (String).self, logger: logger).isEmpty
        }
    }

    public func pending() async throws -> [String: [(eventID: Int64, at: Date)]] {
        let logger = logger
        let rows = try await database.read { connection in
            try await connection.rows(
                "SELECT routine, eventId, heldAt FROM routine_pending ORDER BY eventId", as: (String, Int64, Int64).self, logger: logger)
        }
        var pending: [String: [(eventID: Int64, at: Date)]] = [:]
        for (routine, event, held) in rows { pending[routine, default: []].append((event, Date(millisecondsSince1970: held))) }
        return pending
    }

    public func firings(routine: String?, since: Date) async throws -> [RoutineFiring] {
        let at = since.millisecondsSince1970
        let logger = logger
        let rows = try await database.read { connection in
            try await connection.rows(
                """
                SELECT f.id, f.routine, f.runId, f.firedAt, f.events, r.state FROM routine_firing f LEFT JOIN run r ON r.id = f.runId
                WHERE f.firedAt >= \(at) AND (\(routine)::TEXT IS NULL OR f.routine = \(routine)) ORDER BY f.id
                """, as: (Int64, String, Int64?, Int64, String, String?).self, logger: logger)
        }
        return try rows.map { id, routine, run, fired, events, state in
            RoutineFiring(
                id: id, routine: routine, runID: run, firedAt: Date(millisecondsSince1970: fired),
                eventIDs: try StoredJSON.decode([Int64].self, events), runState: state)
        }
    }

    public func writtenPaths(routine: String, since: Date) async throws -> Set<String> {
        let at = since.millisecondsSince1970
        let logger = logger
        let paths = try await database.read { connection in
            try await connection.rows(
                """
                SELECT DISTINCT a.arguments::jsonb ->> 'path' FROM task_action a JOIN routine_firing f ON f.runId = a.runId
                WHERE f.routine = \(routine) AND f.firedAt >= \(at) AND a.arguments::jsonb ->> 'path' IS NOT NULL
                  AND (a.tool LIKE '%write%' OR a.tool LIKE '%append%' OR a.tool LIKE '%save%' OR a.tool LIKE '%report%')
                """, as: (String).self, logger: logger)
        }
        return Set(paths)
    }

    public func routineCursor() async throws -> Int64 {
        try await PostgresMemoryStore(database: database).cursor(Self.cursorName)
    }

    public func apply(_ step: RoutineStep, cursor: Int64, budget: GoalBudget) async throws -> [Int64] {
        let logger = logger
        let name = Self.cursorName
        return try await database.transaction { connection in
            try await connection.query(
                "INSERT INTO memory_cursor (name, value) VALUES (\(name), 0) ON CONFLICT (name) DO NOTHING", logger: logger)
            let stored = try await connection.rows(
                "SELECT value FROM memory_cursor WHERE name = \(name) FOR UPDATE", as: (Int64).self, logger: logger)
            // Another daemon applied these items already.
            guard (stored.first ?? 0) < cursor else { return [] }
            for hold in step.holds {
                let held = hold.at.millisecondsSince1970
                try await connection.query(
                    """
                    INSERT INTO routine_pending (routine, eventId, heldAt) VALUES (\(hold.routine), \(hold.eventID), \(held))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            var runs: [Int64] = []
            for fire in step.fires {
                let run = try await PostgresGoalStore.createGoal(fire.goal, budget: budget, workspace: nil, connection, logger: logger)
                runs.append(run.id)
                let (fired, events) = (fire.at.millisecondsSince1970, try StoredJSON.encode(fire.eventIDs))
                try await connection.query(
                    "INSERT INTO routine_firing (routine, runId, firedAt, events) VALUES (\(fire.routine), \(run.id), \(fired), \(events))",
                    logger: logger)
                try await connection.query(
                    "DELETE FROM routine_pending WHERE routine = \(fire.routine) AND eventId = ANY(\(fire.eventIDs)::bigint[])",
                    logger: logger)
            }
            for (routineName, reason) in step.pauses {
                guard var routine = try await Self.routines(connection, logger: logger).first(where: { $0.name == routineName }) else {
                    continue
                }
                routine.paused = true
                routine.pausedReason = reason
                try await Self.save(routine, connection, logger: logger)
            }
            try await connection.query("UPDATE memory_cursor SET value = \(cursor) WHERE name = \(name)", logger: logger)
            return runs
        }
    }
}
