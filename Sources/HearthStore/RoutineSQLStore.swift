import Foundation
import GRDB
import HearthCore

/// Routines in SQLite: a firing creates its goal in the same transaction that records it.
public struct RoutineSQLStore: RoutineStore {
    let database: HearthDatabase
    static let cursorName = "routines.considered"

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func routines() async throws -> [Routine] {
        try await database.read { db in try Self.routines(in: db) }
    }

    static func routines(in db: Database) throws -> [Routine] {
        try String.fetchAll(db, sql: "SELECT definition FROM routine ORDER BY name").map { try GoalSQLStore.decode(Routine.self, $0) }
    }

    public func save(_ routine: Routine) async throws {
        try await database.write { db in try Self.save(routine, in: db) }
    }

    static func save(_ routine: Routine, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO routine (name, definition) VALUES (?, ?)",
            arguments: [routine.name, try GoalSQLStore.encode(routine)])
    }

    public func remove(_ name: String) async throws -> Bool {
        try await database.write { db in try Self.remove(name, in: db) }
    }

    static func remove(_ name: String, in db: Database) throws -> Bool {
        try db.execute(sql: "DELETE FROM routine_pending WHERE routine = ?", arguments: [name])
        try db.execute(sql: "DELETE FROM routine WHERE name = ?", arguments: [name])
        return db.changesCount > 0
    }

    public func pending() async throws -> [String: [(eventID: Int64, at: Date)]] {
        try await database.read { db in
            var pending: [String: [(eventID: Int64, at: Date)]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT routine, eventId, heldAt FROM routine_pending ORDER BY eventId") {
                pending[row["routine"], default: []].append((row["eventId"], Date(millisecondsSince1970: row["heldAt"])))
            }
            return pending
        }
    }

    public func firings(routine: String?, since: Date) async throws -> [RoutineFiring] {
        try await database.read { db in try Self.firings(routine: routine, since: since, in: db) }
    }

    static func firings(routine: String?, since: Date, in db: Database) throws -> [RoutineFiring] {
        var sql = "SELECT f.*, r.state AS runState FROM routine_firing f LEFT JOIN run r ON r.id = f.runId WHERE f.firedAt >= ?"
        var arguments: [any DatabaseValueConvertible] = [since.millisecondsSince1970]
        if let routine {
            sql += " AND f.routine = ?"
            arguments.append(routine)
        }
        return try Row.fetchAll(db, sql: sql + " ORDER BY f.id", arguments: StatementArguments(arguments)).map { row in
            RoutineFiring(
                id: row["id"], routine: row["routine"], runID: row["runId"], firedAt: Date(millisecondsSince1970: row["firedAt"]),
                eventIDs: try GoalSQLStore.decode([Int64].self, row["events"]), runState: row["runState"])
        }
    }

    public func writtenPaths(routine: String, since: Date) async throws -> Set<String> {
        try await database.read { db in
            let paths = try String.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT json_extract(a.arguments, '$.path') FROM task_action a
                    JOIN routine_firing f ON f.runId = a.runId
                    WHERE f.routine = ? AND f.firedAt >= ? AND json_extract(a.arguments, '$.path') IS NOT NULL
                      AND (a.tool LIKE '%write%' OR a.tool LIKE '%append%' OR a.tool LIKE '%save%' OR a.tool LIKE '%report%')
                    """, arguments: [routine, since.millisecondsSince1970])
            return Set(paths)
        }
    }

    public func routineCursor() async throws -> Int64 {
        try await database.read { db in try MemorySQLStore.cursor(Self.cursorName, in: db) }
    }

    public func apply(_ step: RoutineStep, cursor: Int64, budget: GoalBudget) async throws -> [Int64] {
        try await database.write { db in
            for hold in step.holds {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO routine_pending (routine, eventId, heldAt) VALUES (?, ?, ?)",
                    arguments: [hold.routine, hold.eventID, hold.at.millisecondsSince1970])
            }
            var runs: [Int64] = []
            for fire in step.fires {
                let run = try GoalSQLStore.createGoal(fire.goal, budget: budget, workspace: nil, in: db)
                runs.append(run.id)
                try db.execute(
                    sql: "INSERT INTO routine_firing (routine, runId, firedAt, events) VALUES (?, ?, ?, ?)",
                    arguments: [fire.routine, run.id, fire.at.millisecondsSince1970, try GoalSQLStore.encode(fire.eventIDs)])
                if !fire.eventIDs.isEmpty {
                    try db.execute(
                        sql:
                            "DELETE FROM routine_pending WHERE routine = ? AND eventId IN (\(fire.eventIDs.map { _ in "?" }.joined(separator: ",")))",
                        arguments: StatementArguments([fire.routine] + fire.eventIDs.map { $0 as any DatabaseValueConvertible }))
                }
            }
            for (name, reason) in step.pauses {
                guard var routine = try Self.routines(in: db).first(where: { $0.name == name }) else { continue }
                routine.paused = true
                routine.pausedReason = reason
                try Self.save(routine, in: db)
            }
            try MemorySQLStore.setCursor(Self.cursorName, to: cursor, in: db)
            return runs
        }
    }
}
