import Foundation
import GRDB
import HearthCore

/// Approvals in SQLite. Answering one puts its task (and run) back to work in the same transaction.
public struct ApprovalSQLStore: ApprovalBook {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func request(_ approval: Approval) async throws -> Approval {
        try await database.write { db in
            if let existing = try Self.fetch(db, runID: approval.runID, taskID: approval.taskID, position: approval.position) {
                return existing
            }
            try db.execute(
                sql: """
                    INSERT INTO approval (runId, taskId, position, tool, risk, arguments, origins, reason, hash, state, createdAt, expiresAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                    """,
                arguments: [
                    approval.runID, approval.taskID, approval.position, approval.tool, approval.risk.rawValue, approval.arguments.jsonText,
                    try GoalSQLStore.encode(approval.origins), approval.reason, approval.hash, approval.createdAt.millisecondsSince1970,
                    approval.expiresAt.millisecondsSince1970,
                ])
            var stored = approval
            stored.id = db.lastInsertedRowID
            stored.state = .pending
            return stored
        }
    }

    public func approval(runID: Int64, taskID: String, position: Int) async throws -> Approval? {
        try await database.read { db in try Self.fetch(db, runID: runID, taskID: taskID, position: position) }
    }

    public func approvals(states: Set<Approval.State>?) async throws -> [Approval] {
        try await database.read { db in try Self.list(states: states, in: db) }
    }

    public func waiting(now: Date, limit: Int, offset: Int) async throws -> (total: Int, approvals: [Approval]) {
        try await database.read { db in
            let condition = "WHERE state = 'pending' AND expiresAt > ?"
            let at = now.millisecondsSince1970
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM approval \(condition)", arguments: [at]) ?? 0
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM approval \(condition) ORDER BY id LIMIT ? OFFSET ?", arguments: [at, limit, offset])
            return (total, try rows.map(Self.approval(from:)))
        }
    }

    public func decide(_ id: Int64, approve: Bool, note: String?, now: Date) async throws -> Approval {
        try await database.write { db in try Self.decide(id, approve: approve, note: note, now: now, in: db) }
    }

    public func markUsed(_ id: Int64) async throws {
        try await database.write { db in
            try db.execute(sql: "UPDATE approval SET state = 'used' WHERE id = ? AND state = 'approved'", arguments: [id])
        }
    }

    public func expire(now: Date) async throws -> [Approval] {
        try await database.write { db in try Self.expire(now: now, in: db) }
    }

    // MARK: Transactions

    static func decide(_ id: Int64, approve: Bool, note: String?, now: Date, in db: Database) throws -> Approval {
        _ = try expire(now: now, in: db)
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM approval WHERE id = ?", arguments: [id]) else {
            throw ApprovalError.notFound(id)
        }
        let approval = try Self.approval(from: row)
        guard approval.state == .pending else { throw ApprovalError.alreadyDecided(id, approval.state) }
        try db.execute(
            sql: "UPDATE approval SET state = ?, decidedAt = ?, note = ? WHERE id = ?",
            arguments: [approve ? "approved" : "denied", now.millisecondsSince1970, note, id])
        try release(approval, now: now, in: db)
        return try Self.approval(from: try Row.fetchOne(db, sql: "SELECT * FROM approval WHERE id = ?", arguments: [id])!)
    }

    static func expire(now: Date, in db: Database) throws -> [Approval] {
        let due = try Row.fetchAll(
            db, sql: "SELECT * FROM approval WHERE state = 'pending' AND expiresAt <= ? ORDER BY id", arguments: [now.millisecondsSince1970]
        ).map(approval(from:))
        for approval in due {
            try db.execute(
                sql: "UPDATE approval SET state = 'expired', decidedAt = ?, note = 'no answer before the deadline' WHERE id = ?",
                arguments: [now.millisecondsSince1970, approval.id])
            try release(approval, now: now, in: db)
        }
        return due
    }

    /// The waiting task goes back to pending (it will see the answer), and so does its run.
    static func release(_ approval: Approval, now: Date, in db: Database) throws {
        try db.execute(
            sql:
                "UPDATE plan_task SET state = 'pending', error = NULL, updatedAt = ? WHERE runId = ? AND taskId = ? AND state = 'awaitingApproval'",
            arguments: [now.millisecondsSince1970, approval.runID, approval.taskID])
        try db.execute(
            sql: "UPDATE run SET state = 'pending', updatedAt = ? WHERE id = ? AND state = 'awaitingApproval'",
            arguments: [now.millisecondsSince1970, approval.runID])
    }

    static func fetch(_ db: Database, runID: Int64, taskID: String, position: Int) throws -> Approval? {
        try Row.fetchOne(
            db, sql: "SELECT * FROM approval WHERE runId = ? AND taskId = ? AND position = ?", arguments: [runID, taskID, position]
        ).map(approval(from:))
    }

    static func list(states: Set<Approval.State>?, in db: Database) throws -> [Approval] {
        var conditions = SQLConditions()
        if let states, !states.isEmpty {
            let values = states.map(\.rawValue).sorted()
            conditions.add("state IN (\(Array(repeating: "?", count: values.count).joined(separator: ",")))", arguments: values)
        }
        return try Row.fetchAll(db, sql: "SELECT * FROM approval \(conditions.whereClause) ORDER BY id", arguments: conditions.arguments)
            .map(approval(from:))
    }

    static func approval(from row: Row) throws -> Approval {
        let arguments: String = row["arguments"]
        let origins: String = row["origins"]
        let decided: Int64? = row["decidedAt"]
        var approval = Approval(
            id: row["id"], runID: row["runId"], taskID: row["taskId"], position: row["position"], tool: row["tool"],
            risk: ToolRisk(rawValue: row["risk"]) ?? .destructive, arguments: (try? JSONValue(parsing: arguments)) ?? .null,
            origins: (try? GoalSQLStore.decode([String: ArgumentOrigin].self, origins)) ?? [:], reason: row["reason"],
            state: Approval.State(rawValue: row["state"]) ?? .denied, createdAt: Date(millisecondsSince1970: row["createdAt"]),
            expiresAt: Date(millisecondsSince1970: row["expiresAt"]), decidedAt: decided.map(Date.init(millisecondsSince1970:)),
            note: row["note"])
        // The stored hash is what was approved; a row whose arguments were changed no longer matches it.
        approval.hash = row["hash"]
        return approval
    }
}
