import Foundation
import GRDB
import HearthCore

/// Goals in SQLite: the run row, the plan and its tasks, journaled tool calls, usage and traces.
public struct GoalSQLStore: GoalStore {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func createGoal(_ text: String, budget: GoalBudget, workspace: String?, key: String?) async throws -> (run: Run, created: Bool) {
        try await database.write { db in
            if let key, let existing = try Row.fetchOne(db, sql: "SELECT * FROM run WHERE key = ?", arguments: [key]) {
                let run = try RunRow.run(from: existing)
                guard try Self.isGoal(run.id, in: db) else { throw GoalError.keyTaken(key, run.id) }
                return (run, false)
            }
            return (try Self.createGoal(text, budget: budget, workspace: workspace, key: key, in: db), true)
        }
    }

    /// The synchronous twin of `createGoal`, for the CLI.
    public func createGoalNow(_ text: String, budget: GoalBudget, workspace: String? = nil) throws -> Run {
        try database.writeSync { db in try Self.createGoal(text, budget: budget, workspace: workspace, in: db) }
    }

    /// Goals with a report, newest first: the run, the goal's text and the report's workspace path.
    public func reports(limit: Int) async throws -> [(run: Int64, goal: String, path: String)] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT runId, text, report FROM goal WHERE report IS NOT NULL ORDER BY runId DESC LIMIT ?", arguments: [limit]
            ).map { (run: $0["runId"], goal: $0["text"], path: $0["report"]) }
        }
    }

    public func goal(_ runID: Int64) async throws -> GoalDetail {
        try await database.read { db in try Self.detail(runID, in: db) }
    }

    public func progress(_ runIDs: [Int64]) async throws -> [Int64: GoalProgress] {
        guard !runIDs.isEmpty else { return [:] }
        return try await database.read { db in
            let marks = Array(repeating: "?", count: runIDs.count).joined(separator: ", ")
            var progress: [Int64: GoalProgress] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT g.runId AS id, g.usage AS usage, COUNT(t.runId) AS total,
                        COALESCE(SUM(CASE WHEN t.state = 'succeeded' THEN 1 ELSE 0 END), 0) AS done
                    FROM goal g LEFT JOIN plan_task t ON t.runId = g.runId
                    WHERE g.runId IN (\(marks)) GROUP BY g.runId
                    """, arguments: StatementArguments(runIDs))
            {
                let usage = (try? Self.decode(GoalUsage.self, row["usage"])) ?? GoalUsage()
                progress[row["id"]] = GoalProgress(done: row["done"], total: row["total"], tokens: usage.tokens)
            }
            return progress
        }
    }

    public func runState(_ runID: Int64) async throws -> RunState {
        try await database.read { db in
            guard let text = try String.fetchOne(db, sql: "SELECT state FROM run WHERE id = ?", arguments: [runID]) else {
                throw LedgerError.runNotFound(runID)
            }
            return RunState(rawValue: text) ?? .failed
        }
    }

    /// The synchronous twin of `goal`, for the CLI; `nil` when the run is not a goal's.
    ///
    /// - Throws: `LedgerError.runNotFound` when there is no such run at all.
    public func goalNow(_ runID: Int64) throws -> GoalDetail? {
        try database.readSync { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM run WHERE id = ?", arguments: [runID]) != nil else {
                throw LedgerError.runNotFound(runID)
            }
            return try Self.isGoal(runID, in: db) ? try Self.detail(runID, in: db) : nil
        }
    }

    public func savePlan(_ runID: Int64, draft: PlanDraft, tasks: [PlanTask]) async throws {
        let draftText = try Self.encode(draft)
        let bodies = try tasks.map(Self.encode)
        try await database.write { db in
            let existing = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM plan_task WHERE runId = ?", arguments: [runID]) ?? 0
            guard existing == 0 else { return }
            let now = Date().millisecondsSince1970
            try db.execute(sql: "UPDATE goal SET plan = ? WHERE runId = ?", arguments: [draftText, runID])
            for (position, (task, body)) in zip(tasks, bodies).enumerated() {
                try db.execute(
                    sql: "INSERT INTO plan_task (runId, taskId, position, body, state, updatedAt) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [runID, task.id, position, body, TaskState.pending.rawValue, now])
            }
            try Self.touch(runID, in: db)
        }
    }

    public func setTaskState(_ runID: Int64, task: String, state: TaskState, result: JSONValue?, error: String?) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    UPDATE plan_task SET state = ?, result = ?, error = ?, updatedAt = ?,
                        attempts = attempts + (CASE WHEN ? = 'running' THEN 1 ELSE 0 END)
                    WHERE runId = ? AND taskId = ?
                    """,
                arguments: [state.rawValue, result?.jsonText, error, Date().millisecondsSince1970, state.rawValue, runID, task])
            try Self.touch(runID, in: db)
        }
    }

    public func replaceTask(_ runID: Int64, failed: PlanTask, with tasks: [PlanTask], successor: String, reason: String) async throws {
        let bodies = try tasks.map(Self.encode)
        try await database.write { db in
            let now = Date().millisecondsSince1970
            try db.execute(
                sql: "UPDATE plan_task SET state = 'replaced', error = ?, updatedAt = ? WHERE runId = ? AND taskId = ?",
                arguments: [reason, now, runID, failed.id])
            var position = (try Int.fetchOne(db, sql: "SELECT MAX(position) FROM plan_task WHERE runId = ?", arguments: [runID]) ?? 0) + 1
            for (task, body) in zip(tasks, bodies) {
                try db.execute(
                    sql: "INSERT INTO plan_task (runId, taskId, position, body, state, updatedAt) VALUES (?, ?, ?, ?, 'pending', ?)",
                    arguments: [runID, task.id, position, body, now])
                position += 1
            }
            // Dependents of the failed task wait for the replacement; skips caused by the failure are undone.
            let rows = try Row.fetchAll(db, sql: "SELECT taskId, body, state FROM plan_task WHERE runId = ?", arguments: [runID])
            for row in rows {
                var task = try Self.decode(PlanTask.self, row["body"])
                guard task.dependsOn.contains(failed.group), task.id != failed.id else { continue }
                task.dependsOn = task.dependsOn.map { $0 == failed.group ? successor : $0 }
                let state: String = row["state"]
                try db.execute(
                    sql: "UPDATE plan_task SET body = ?, state = ?, error = NULL, updatedAt = ? WHERE runId = ? AND taskId = ?",
                    arguments: [try Self.encode(task), state == "skipped" ? "pending" : state, now, runID, task.id])
            }
            try Self.touch(runID, in: db)
        }
    }

    public func setRunState(_ runID: Int64, state: RunState, pauseReason: String?) async throws {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE run SET state = ?, updatedAt = ? WHERE id = ?",
                arguments: [state.rawValue, Date().millisecondsSince1970, runID])
            try db.execute(sql: "UPDATE goal SET pauseReason = ? WHERE runId = ?", arguments: [pauseReason, runID])
        }
    }

    public func finish(_ runID: Int64, state: RunState, report: String?, summary: String?, pauseReason: String?) async throws {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE run SET state = ?, updatedAt = ? WHERE id = ?",
                arguments: [state.rawValue, Date().millisecondsSince1970, runID])
            try db.execute(
                sql: "UPDATE goal SET report = ?, summary = ?, pauseReason = ? WHERE runId = ?",
                arguments: [report, summary, pauseReason, runID])
        }
    }

    public func actions(_ runID: Int64, task: String) async throws -> [TaskAction] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM task_action WHERE runId = ? AND taskId = ? ORDER BY position", arguments: [runID, task]
            ).map(Self.action(from:))
        }
    }

    public func recordIntent(_ runID: Int64, task: String, action: TaskAction) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO task_action (runId, taskId, position, tool, arguments, idempotencyKey, state, startedAt)
                    VALUES (?, ?, ?, ?, ?, ?, 'intent', ?)
                    ON CONFLICT (runId, taskId, position) DO UPDATE SET state = 'intent', startedAt = excluded.startedAt
                    """,
                arguments: [
                    runID, task, action.position, action.tool, action.arguments.jsonText, action.idempotencyKey,
                    Date().millisecondsSince1970,
                ])
        }
    }

    public func recordOutcome(_ runID: Int64, task: String, position: Int, output: ToolOutput?, error: String?) async throws {
        let encoded = try output.map(Self.encode)
        try await database.write { db in
            try db.execute(
                sql:
                    "UPDATE task_action SET state = ?, output = ?, error = ?, finishedAt = ? WHERE runId = ? AND taskId = ? AND position = ?",
                arguments: [
                    output == nil ? TaskAction.State.failed.rawValue : TaskAction.State.succeeded.rawValue, encoded, error,
                    Date().millisecondsSince1970, runID, task, position,
                ])
        }
    }

    public func addUsage(_ runID: Int64, _ usage: GoalUsage) async throws {
        try await database.write { db in
            let current = try String.fetchOne(db, sql: "SELECT usage FROM goal WHERE runId = ?", arguments: [runID])
            let total = (current.flatMap { try? Self.decode(GoalUsage.self, $0) } ?? GoalUsage()) + usage
            try db.execute(sql: "UPDATE goal SET usage = ? WHERE runId = ?", arguments: [try Self.encode(total), runID])
        }
    }

    public func trace(_ event: TraceEvent) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO trace (runId, taskId, kind, name, detail, promptTokens, completionTokens, milliseconds, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    event.runID, event.taskID, event.kind.rawValue, event.name, event.detail.jsonText, event.promptTokens,
                    event.completionTokens, event.milliseconds, event.at.millisecondsSince1970,
                ])
        }
    }

    public func traces(_ runID: Int64) async throws -> [TraceEvent] {
        try await database.read { db in try Self.traces(runID, in: db) }
    }

    public func cancelGoal(_ runID: Int64) async throws -> GoalDetail {
        try await database.write { db in try Self.cancel(runID, in: db) }
    }

    public func resumeGoal(_ runID: Int64) async throws -> GoalDetail {
        try await database.write { db in try Self.resume(runID, in: db) }
    }

    /// Goal runs in `states`, oldest first.
    public func activeGoals(states: Set<RunState>) async throws -> [Int64] {
        let names = states.map(\.rawValue).sorted()
        return try await database.read { db in
            try Int64.fetchAll(
                db,
                sql:
                    "SELECT run.id FROM run JOIN goal ON goal.runId = run.id WHERE run.state IN (\(names.map { _ in "?" }.joined(separator: ", "))) ORDER BY run.id",
                arguments: StatementArguments(names))
        }
    }

    public func recoverGoals(only runID: Int64?) async throws -> [Int64] {
        try await database.write { db in
            let scope = runID == nil ? "" : " AND runId = \(runID!)"
            let runs = try Int64.fetchAll(
                db, sql: "SELECT DISTINCT runId FROM plan_task WHERE state = 'running'\(scope) ORDER BY runId")
            try db.execute(
                sql: "UPDATE plan_task SET state = 'pending', updatedAt = ? WHERE state = 'running'\(scope)",
                arguments: [Date().millisecondsSince1970])
            return runs
        }
    }

    // MARK: Transactions

    static func isGoal(_ runID: Int64, in db: Database) throws -> Bool {
        try Int.fetchOne(db, sql: "SELECT 1 FROM goal WHERE runId = ?", arguments: [runID]) != nil
    }

    static func createGoal(_ text: String, budget: GoalBudget, workspace: String?, key: String? = nil, in db: Database) throws -> Run {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw GoalError.emptyGoal }
        let now = Date()
        let title = trimmed.count > 80 ? String(trimmed.prefix(79)) + "…" : trimmed
        try db.execute(
            sql: "INSERT INTO run (title, origin, key, state, createdAt, updatedAt) VALUES (?, 'goal', ?, 'pending', ?, ?)",
            arguments: [title, key, now.millisecondsSince1970, now.millisecondsSince1970])
        let runID = db.lastInsertedRowID
        try db.execute(
            sql: "INSERT INTO goal (runId, text, budget, usage, workspace) VALUES (?, ?, ?, ?, ?)",
            arguments: [runID, trimmed, try encode(budget), try encode(GoalUsage()), workspace])
        return Run(id: runID, title: title, origin: "goal", key: key, state: .pending, createdAt: now, updatedAt: now)
    }

    static func detail(_ runID: Int64, in db: Database) throws -> GoalDetail {
        guard let runRow = try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [runID]) else {
            throw LedgerError.runNotFound(runID)
        }
        guard let goal = try Row.fetchOne(db, sql: "SELECT * FROM goal WHERE runId = ?", arguments: [runID]) else {
            throw GoalError.notAGoal(runID)
        }
        let tasks = try Row.fetchAll(db, sql: "SELECT * FROM plan_task WHERE runId = ? ORDER BY position", arguments: [runID]).map {
            row -> TaskRecord in
            let result: String? = row["result"]
            return TaskRecord(
                task: try decode(PlanTask.self, row["body"]), state: TaskState(rawValue: row["state"]) ?? .failed,
                result: result.flatMap { try? JSONValue(parsing: $0) }, error: row["error"], attempts: row["attempts"])
        }
        let plan: String? = goal["plan"]
        return GoalDetail(
            run: try RunRow.run(from: runRow), goal: goal["text"], plan: try plan.map { try decode(PlanDraft.self, $0) },
            budget: (try? decode(GoalBudget.self, goal["budget"])) ?? GoalBudget(),
            tasks: tasks, usage: (try? decode(GoalUsage.self, goal["usage"])) ?? GoalUsage(), pauseReason: goal["pauseReason"],
            report: goal["report"], summary: goal["summary"], workspace: goal["workspace"])
    }

    static func cancel(_ runID: Int64, in db: Database) throws -> GoalDetail {
        let detail = try detail(runID, in: db)
        guard !detail.run.state.isFinished else { throw LedgerError.notCancellable(runID, detail.run.state) }
        let now = Date().millisecondsSince1970
        try db.execute(
            sql: "UPDATE plan_task SET state = 'cancelled', updatedAt = ? WHERE runId = ? AND state = 'pending'", arguments: [now, runID])
        try db.execute(sql: "UPDATE run SET state = 'cancelled', updatedAt = ? WHERE id = ?", arguments: [now, runID])
        return try Self.detail(runID, in: db)
    }

    static func resume(_ runID: Int64, in db: Database) throws -> GoalDetail {
        let detail = try detail(runID, in: db)
        // A pending or running goal is resumable too: the caller holds its lock, so nobody else
        // works on it (its process was killed).
        guard [.needsReview, .failed, .pending, .running].contains(detail.run.state) else {
            throw GoalError.notResumable(runID, detail.run.state)
        }
        let now = Date().millisecondsSince1970
        try db.execute(
            sql:
                "UPDATE plan_task SET state = 'pending', error = NULL, updatedAt = ? WHERE runId = ? AND state IN ('failed', 'skipped', 'running')",
            arguments: [now, runID])
        try db.execute(sql: "UPDATE run SET state = 'pending', updatedAt = ? WHERE id = ?", arguments: [now, runID])
        try db.execute(sql: "UPDATE goal SET pauseReason = NULL WHERE runId = ?", arguments: [runID])
        return try Self.detail(runID, in: db)
    }

    static func traces(_ runID: Int64, in db: Database) throws -> [TraceEvent] {
        try Row.fetchAll(db, sql: "SELECT * FROM trace WHERE runId = ? ORDER BY id", arguments: [runID]).map { row in
            let detail: String = row["detail"]
            return TraceEvent(
                runID: row["runId"], taskID: row["taskId"], kind: TraceEvent.Kind(rawValue: row["kind"]) ?? .state, name: row["name"],
                detail: (try? JSONValue(parsing: detail)) ?? .null, promptTokens: row["promptTokens"],
                completionTokens: row["completionTokens"], milliseconds: row["milliseconds"],
                at: Date(millisecondsSince1970: row["at"]))
        }
    }

    static func action(from row: Row) throws -> TaskAction {
        let arguments: String = row["arguments"]
        let output: String? = row["output"]
        return TaskAction(
            position: row["position"], tool: row["tool"], arguments: (try? JSONValue(parsing: arguments)) ?? .null,
            idempotencyKey: row["idempotencyKey"], state: TaskAction.State(rawValue: row["state"]) ?? .intent,
            output: try output.map { try decode(ToolOutput.self, $0) }, error: row["error"])
    }

    static func touch(_ runID: Int64, in db: Database) throws {
        try db.execute(sql: "UPDATE run SET updatedAt = ? WHERE id = ?", arguments: [Date().millisecondsSince1970, runID])
    }

    static func encode(_ value: some Encodable) throws -> String { try StoredJSON.encode(value) }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try StoredJSON.decode(type, text) }
}
