import Foundation
import HearthCore
import Logging
import PostgresNIO

/// Approvals in the shared PostgreSQL. An answer locks the approval's row and checks that it is
/// still pending, so whichever daemon or surface answers first is the only one that does; the
/// waiting task (and run) go back to work in the same transaction.
public struct PostgresApprovalBook: ApprovalBook {
    let database: PostgresStore

    public init(database: PostgresStore) {
        self.database = database
    }

    var logger: Logger { database.logger }

    /// The columns `approval(from:)` reads, in its order.
    static let columns = """
        id, runId, taskId, position, tool, risk, arguments, origins, reason, hash, state, createdAt, expiresAt, decidedAt, note
        """
    typealias Columns = (Int64, Int64, String, Int, String, String, String, String, String, String, String, Int64, Int64, Int64?, String?)

    public func request(_ approval: Approval) async throws -> Approval {
        let origins = try StoredJSON.encode(approval.origins)
        let created = approval.createdAt.millisecondsSince1970
        let expires = approval.expiresAt.millisecondsSince1970
        let logger = logger
        return try await database.transaction { connection in
            // One approval per (run, task, position): a second request returns the first.
            let inserted = try await connection.rows(
                """
                INSERT INTO approval (runId, taskId, position, tool, risk, arguments, origins, reason, hash, state, createdAt, expiresAt)
                VALUES (\(approval.runID), \(approval.taskID), \(approval.position), \(approval.tool), \(approval.risk.rawValue),
                    \(approval.arguments.jsonText), \(origins), \(approval.reason), \(approval.hash), 'pending', \(created), \(expires))
                ON CONFLICT (runId, taskId, position) DO NOTHING RETURNING id
                """, as: (Int64).self, logger: logger)
            if let id = inserted.first {
                var stored = approval
                stored.id = id
                stored.state = .pending
                return stored
            }
            let existing = try await Self.fetch(
                "SELECT \(unescaped: Self.columns) FROM approval WHERE runId = \(approval.runID) AND taskId = \(approval.taskID) AND position = \(approval.position) ORDER BY id",
                connection, logger: logger)
            guard let first = existing.first else { throw PostgresStoreError.failed("approval for run \(approval.runID) vanished") }
            return first
        }
    }

    public func approval(runID: Int64, taskID: String, position: Int) async throws -> Approval? {
        let logger = logger
        return try await database.read { connection in
            try await Self.fetch(
                "SELECT \(unescaped: Self.columns) FROM approval WHERE runId = \(runID) AND taskId = \(taskID) AND position = \(position) ORDER BY id",
                connection, logger: logger
            ).first
        }
    }

    public func approvals(states: Set<Approval.State>?) async throws -> [Approval] {
        let names = (states ?? []).map(\.rawValue).sorted()
        let all = names.isEmpty
        let logger = logger
        return try await database.read { connection in
            try await Self.fetch(
                "SELECT \(unescaped: Self.columns) FROM approval WHERE (\(all) OR state = ANY(\(names))) ORDER BY id", connection,
                logger: logger)
        }
    }

    public func waiting(now: Date, limit: Int, offset: Int) async throws -> (total: Int, approvals: [Approval]) {
        let at = now.millisecondsSince1970
        let logger = logger
        return try await database.read { connection in
            let total = try await connection.rows(
                "SELECT COUNT(*) FROM approval WHERE state = 'pending' AND expiresAt > \(at)", as: (Int).self, logger: logger)
            let page = try await Self.fetch(
                "SELECT \(unescaped: Self.columns) FROM approval WHERE state = 'pending' AND expiresAt > \(at) ORDER BY id LIMIT \(limit) OFFSET \(offset)",
                connection, logger: logger)
            return (total.first ?? 0, page)
        }
    }

    public func decide(_ id: Int64, approve: Bool, note: String?, now: Date) async throws -> Approval {
        let logger = logger
        return try await database.transaction { connection in
            try await Self.expire(now: now, connection, logger: logger)
            // Locked: a second answer, from any daemon, waits here and then finds it decided.
            guard
                let approval = try await Self.fetch(
                    "SELECT \(unescaped: Self.columns) FROM approval WHERE id = \(id) FOR UPDATE", connection, logger: logger
                ).first
            else {
                throw ApprovalError.notFound(id)
            }
            guard approval.state == .pending else { throw ApprovalError.alreadyDecided(id, approval.state) }
            let state = approve ? "approved" : "denied"
            let at = now.millisecondsSince1970
            try await connection.query(
                "UPDATE approval SET state = \(state), decidedAt = \(at), note = \(note) WHERE id = \(id)", logger: logger)
            try await Self.release(approval, now: now, connection, logger: logger)
            guard
                let decided = try await Self.fetch(
                    "SELECT \(unescaped: Self.columns) FROM approval WHERE id = \(id) ORDER BY id", connection, logger: logger
                ).first
            else { throw ApprovalError.notFound(id) }
            return decided
        }
    }

    public func markUsed(_ id: Int64) async throws {
        try await database.client.query("UPDATE approval SET state = 'used' WHERE id = \(id) AND state = 'approved'", logger: logger)
    }

    public func expire(now: Date) async throws -> [Approval] {
        let logger = logger
        return try await database.transaction { connection in try await Self.expire(now: now, connection, logger: logger) }
    }

    // MARK: Transactions

    @discardableResult
    static func expire(now: Date, _ connection: PostgresConnection, logger: Logger) async throws -> [Approval] {
        let at = now.millisecondsSince1970
        // SKIP LOCKED: an approval another transaction is answering is left to it.
        let due = try await fetch(
            "SELECT \(unescaped: Self.columns) FROM approval WHERE state = 'pending' AND expiresAt <= \(at) ORDER BY id FOR UPDATE SKIP LOCKED",
            connection, logger: logger)
        for approval in due {
            try await connection.query(
                """
                UPDATE approval SET state = 'expired', decidedAt = \(at), note = 'no answer before the deadline'
                WHERE id = \(approval.id)
                """, logger: logger)
            try await release(approval, now: now, connection, logger: logger)
        }
        return due
    }

    /// The waiting task goes back to pending (it will see the answer), and so does its run.
    static func release(_ approval: Approval, now: Date, _ connection: PostgresConnection, logger: Logger) async throws {
        let at = now.millisecondsSince1970
        try await connection.query(
            """
            UPDATE plan_task SET state = 'pending', error = NULL, updatedAt = \(at)
            WHERE runId = \(approval.runID) AND taskId = \(approval.taskID) AND state = 'awaitingApproval'
            """, logger: logger)
        try await connection.query(
            "UPDATE run SET state = 'pending', updatedAt = \(at) WHERE id = \(approval.runID) AND state = 'awaitingApproval'",
            logger: logger)
    }

    /// The approvals `query` selects (its columns `\(unescaped: Self.columns)`).
    static func fetch(_ query: PostgresQuery, _ connection: PostgresConnection, logger: Logger) async throws -> [Approval] {
        try await connection.rows(query, as: Columns.self, logger: logger).map(approval(from:))
    }

    static func approval(from row: Columns) -> Approval {
        let (id, runID, taskID, position, tool, risk, arguments, origins, reason, hash, state, created, expires, decided, note) = row
        var approval = Approval(
            id: id, runID: runID, taskID: taskID, position: position, tool: tool, risk: ToolRisk(rawValue: risk) ?? .destructive,
            arguments: (try? JSONValue(parsing: arguments)) ?? .null,
            origins: (try? StoredJSON.decode([String: ArgumentOrigin].self, origins)) ?? [:], reason: reason,
            state: Approval.State(rawValue: state) ?? .denied, createdAt: Date(millisecondsSince1970: created),
            expiresAt: Date(millisecondsSince1970: expires), decidedAt: decided.map(Date.init(millisecondsSince1970:)), note: note)
        // The stored hash is what was approved; a row whose arguments were changed no longer matches it.
        approval.hash = hash
        return approval
    }
}
