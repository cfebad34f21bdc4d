import Foundation
import HearthCore
import Logging
import PostgresNIO

/// Goals in the shared PostgreSQL: the run row, the plan and its tasks, journaled tool calls,
/// usage and traces, with the same transactions as `GoalSQLStore`.
public struct PostgresGoalStore: GoalStore {
    let database: PostgresStore
    /// When set, every write of the leased run checks its fence in the write's transaction.
    public private(set) var lease: RunLease?

    public init(database: PostgresStore) {
        self.database = database
    }

    /// This store, recording for `lease.run` only while `lease` is the run's current one: once
    /// another claimed the run, its plan, tasks, tool calls and state writes throw `leaseLost`
    /// and change nothing. (Usage and traces are still recorded: they say what was spent.)
    public func fenced(by lease: RunLease) -> PostgresGoalStore {
        var store = self
        store.lease = lease
        return store
    }

    var logger: Logger { database.logger }

    /// The lease this store is fenced by, when it is for run `runID`.
    func lease(for runID: Int64) -> RunLease? {
        lease.flatMap { $0.run == runID ? $0 : nil }
    }

    /// Inside a write's transaction on run `runID`: its fence checked, when this store is fenced for it.
    func checkFence(_ runID: Int64, _ connection: PostgresConnection) async throws {
        guard let lease = lease(for: runID) else { return }
        try await PostgresStore.checkFence(lease, connection, logger: logger)
    }

    public func createGoal(_ text: String, budget: GoalBudget, workspace: String?, key: String?) async throws -> (run: Run, created: Bool) {
        let logger = logger
        return try await database.transaction { connection in
            if let key {
                // Two creators with one key: the second waits on the key's row, then finds it.
                try await connection.query("SELECT pg_advisory_xact_lock(7352006, hashtext(\(key)))", logger: logger)
                if let id = try await connection.rows("SELECT id FROM run WHERE key = \(key)", as: (Int64).self, logger: logger).first {
                    guard try await Self.isGoal(id, connection, logger: logger) else { throw GoalError.keyTaken(key, id) }
                    return (try await Self.run(id, connection, logger: logger), false)
                }
            }
            return (try await Self.createGoal(text, budget: budget, workspace: workspace, key: key, connection, logger: logger), true)
        }
    }

    /// Creates a goal inside the caller's transaction (a routine's firing commits with its goal).
    static func createGoal(
        _ text: String, budget: GoalBudget, workspace: String?, key: String? = nil, _ connection: PostgresConnection, logger: Logger
    ) async throws -> Run {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw GoalError.emptyGoal }
        let now = Date()
        let at = now.millisecondsSince1970
        let title = trimmed.count > 80 ? String(trimmed.prefix(79)) + "…" : trimmed
        let budgetText = try StoredJSON.encode(budget)
        let usageText = try StoredJSON.encode(GoalUsage())
        let ids = try await connection.rows(
            """
            INSERT INTO run (title, origin, key, state, createdAt, updatedAt)
            VALUES (\(title), 'goal', \(key), 'pending', \(at), \(at)) RETURNING id
            """, as: (Int64).self, logger: logger)
        let id = ids[0]
        try await connection.query(
            "INSERT INTO goal (runId, text, budget, usage, workspace) VALUES (\(id), \(trimmed), \(budgetText), \(usageText), \(workspace))",
            logger: logger)
        return Run(id: id, title: title, origin: "goal", key: key, state: .pending, createdAt: now, updatedAt: now)
    }

    public func goal(_ runID: Int64) async throws -> GoalDetail {
        let logger = logger
        return try await database.read { connection in try await Self.detail(runID, connection, logger: logger) }
    }

    /// Goals with a report, newest first: the run, the goal's text and the report's workspace path.
    public func reports(limit: Int) async throws -> [(run: Int64, goal: String, path: String)] {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                "SELECT runId, text, report FROM goal WHERE report IS NOT NULL ORDER BY runId DESC LIMIT \(limit)",
                as: (Int64, String, String).self, logger: logger
            ).map { (run: $0.0, goal: $0.1, path: $0.2) }
        }
    }

    public func runState(_ runID: Int64) async throws -> RunState {
        let logger = logger
        let states = try await database.read { connection in
            try await connection.rows("SELECT state FROM run WHERE id = \(runID)", as: (String).self, logger: logger)
        }
        guard let state = states.first else { throw LedgerError.runNotFound(runID) }
        return RunState(rawValue: state) ?? .failed
    }

    public func savePlan(_ runID: Int64, draft: PlanDraft, tasks: [PlanTask]) async throws {
        let draftText = try StoredJSON.encode(draft)
        let bodies = try tasks.map(StoredJSON.encode)
        let logger = logger
        try await database.transaction { connection in
            try await self.checkFence(runID, connection)
            // The goal's row locked: two savers of one plan take turns, and the second finds it saved.
            _ = try await connection.rows("SELECT runId FROM goal WHERE runId = \(runID) FOR UPDATE", as: (Int64).self, logger: logger)
            let existing = try await connection.rows(
                "SELECT COUNT(*) FROM plan_task WHERE runId = \(runID)", as: (Int64).self, logger: logger)
            guard existing.first == 0 else { return }
            let now = Date().millisecondsSince1970
            try await connection.query("UPDATE goal SET plan = \(draftText) WHERE runId = \(runID)", logger: logger)
            for (position, (task, body)) in zip(tasks, bodies).enumerated() {
                try await connection.query(
                    """
                    INSERT INTO plan_task (runId, taskId, position, body, state, updatedAt)
                    VALUES (\(runID), \(task.id), \(position), \(body), 'pending', \(now))
                    """, logger: logger)
            }
            try await Self.touch(runID, connection, logger: logger)
        }
    }

    public func setTaskState(_ runID: Int64, task: String, state: TaskState, result: JSONValue?, error: String?) async throws {
        let logger = logger
        let now = Date().millisecondsSince1970
        let resultText = result?.jsonText
        let running = state == .running ? 1 : 0
        try await database.transaction { connection in
            try await self.checkFence(runID, connection)
            try await connection.query(
                """
                UPDATE plan_task SET state = \(state.rawValue), result = \(resultText), error = \(error), updatedAt = \(now),
                    attempts = attempts + \(running)
                WHERE runId = \(runID) AND taskId = \(task)
                """, logger: logger)
            try await Self.touch(runID, connection, logger: logger)
        }
    }

    public func replaceTask(_ runID: Int64, failed: PlanTask, with tasks: [PlanTask], successor: String, reason: String) async throws {
        let bodies = try tasks.map(StoredJSON.encode)
        let logger = logger
        try await database.transaction { connection in
            try await self.checkFence(runID, connection)
            let now = Date().millisecondsSince1970
            try await connection.query(
                """
                UPDATE plan_task SET state = 'replaced', error = \(reason), updatedAt = \(now)
                WHERE runId = \(runID) AND taskId = \(failed.id)
                """, logger: logger)
            let last = try await connection.rows(
                "SELECT COALESCE(MAX(position), 0) FROM plan_task WHERE runId = \(runID)", as: (Int64).self, logger: logger)
            var position = (last.first ?? 0) + 1
            for (task, body) in zip(tasks, bodies) {
                try await connection.query(
                    """
                    INSERT INTO plan_task (runId, taskId, position, body, state, updatedAt)
                    VALUES (\(runID), \(task.id), \(position), \(body), 'pending', \(now))
                    """, logger: logger)
                position += 1
            }
            // Dependents of the failed task wait for the replacement; skips caused by the failure are undone.
            for (body, state) in try await connection.rows(
                "SELECT body, state FROM plan_task WHERE runId = \(runID)", as: (String, String).self, logger: logger)
            {
                var task = try StoredJSON.decode(PlanTask.self, body)
                guard task.dependsOn.contains(failed.group), task.id != failed.id else { continue }
                task.dependsOn = task.dependsOn.map { $0 == failed.group ? successor : $0 }
                let newBody = try StoredJSON.encode(task)
                let newState = state == "skipped" ? "pending" : state
                try await connection.query(
                    """
                    UPDATE plan_task SET body = \(newBody), state = \(newState), error = NULL, updatedAt = \(now)
                    WHERE runId = \(runID) AND taskId = \(task.id)
                    """, logger: logger)
            }
            try await Self.touch(runID, connection, logger: logger)
        }
    }

    public func setRunState(_ runID: Int64, state: RunState, pauseReason: String?) async throws {
        let logger = logger
        let now = Date().millisecondsSince1970
        try await database.transaction { connection in
            try await self.checkFence(runID, connection)
            try await connection.query("UPDATE run SET state = \(state.rawValue), updatedAt = \(now) WHERE id = \(runID)", logger: logger)
            try await connection.query("UPDATE goal SET pauseReason = \(pauseReason) WHERE runId = \(runID)", logger: logger)
        }
    }

    public func finish(_ runID: Int64, state: RunState, report: String?, summary: String?, pauseReason: String?) async throws {
        let logger = logger
        let now = Date().millisecondsSince1970
        try await database.transaction { connection in
            try await self.checkFence(runID, connection)
            try await connection.query("UPDATE run SET state = \(state.rawValue), updatedAt = \(now) WHERE id = \(runID)", logger: logger)
            try await connection.query(
                "UPDATE goal SET report = \(report), summary = \(summary), pauseReason = \(pauseReason) WHERE runId = \(runID)",
                logger: logger)
        }
    }

    public func actions(_ runID: Int64, task: String) async throws -> [TaskAction] {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                """
                SELECT position, tool, arguments, idempotencyKey, state, output, error FROM task_action
                WHERE runId = \(runID) AND taskId = \(task) ORDER BY position
                """, as: (Int, String, String, String, String, String?, String?).self, logger: logger
            ).map { position, tool, arguments, key, state, output, error in
                TaskAction(
                    position: position, tool: tool, arguments: JSONValue(storedText: arguments), idempotencyKey: key,
                    state: TaskAction.State(rawValue: state) ?? .intent,
                    output: try output.map { try StoredJSON.decode(ToolOutput.self, $0) },
                    error: error)
            }
        }
    }

    public func recordIntent(_ runID: Int64, task: String, action: TaskAction) async throws {
        let now = Date().millisecondsSince1970
        let (logger, fence) = (logger, lease(for: runID)?.fence)
        // Fenced, the intent is refused once another holds the run: the call it journals never runs here.
        try await database.transaction { connection in
            try await self.checkFence(runID, connection)
            try await connection.query(
                """
                INSERT INTO task_action (runId, taskId, position, tool, arguments, idempotencyKey, state, startedAt, fence)
                VALUES (\(runID), \(task), \(action.position), \(action.tool), \(action.arguments.jsonText), \(action.idempotencyKey),
                    'intent', \(now), \(fence))
                ON CONFLICT (runId, taskId, position) DO UPDATE SET state = 'intent', startedAt = excluded.startedAt, fence = excluded.fence
                """, logger: logger)
        }
    }

    public func recordOutcome(_ runID: Int64, task: String, position: Int, output: ToolOutput?, error: String?) async throws {
        let encoded = try output.map(StoredJSON.encode)
        let state = output == nil ? TaskAction.State.failed.rawValue : TaskAction.State.succeeded.rawValue
        let now = Date().millisecondsSince1970
        let (logger, fence) = (logger, lease(for: runID)?.fence)
        try await database.transaction { connection in
            try await self.checkFence(runID, connection)
            try await connection.query(
                """
                UPDATE task_action SET state = \(state), output = \(encoded), error = \(error), finishedAt = \(now), fence = \(fence)
                WHERE runId = \(runID) AND taskId = \(task) AND position = \(position)
                """, logger: logger)
        }
    }

    public func addUsage(_ runID: Int64, _ usage: GoalUsage) async throws {
        let logger = logger
        try await database.transaction { connection in
            let current = try await connection.rows(
                "SELECT usage FROM goal WHERE runId = \(runID) FOR UPDATE", as: (String).self, logger: logger)
            let total = (current.first.flatMap { try? StoredJSON.decode(GoalUsage.self, $0) } ?? GoalUsage()) + usage
            let text = try StoredJSON.encode(total)
            try await connection.query("UPDATE goal SET usage = \(text) WHERE runId = \(runID)", logger: logger)
        }
    }

    public func trace(_ event: TraceEvent) async throws {
        let at = event.at.millisecondsSince1970
        try await database.client.query(
            """
            INSERT INTO trace (runId, taskId, kind, name, detail, promptTokens, completionTokens, milliseconds, at)
            VALUES (\(event.runID), \(event.taskID), \(event.kind.rawValue), \(event.name), \(event.detail.jsonText),
                \(event.promptTokens), \(event.completionTokens), \(event.milliseconds), \(at))
            """, logger: logger)
    }

    public func traces(_ runID: Int64) async throws -> [TraceEvent] {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                """
                SELECT runId, taskId, kind, name, detail, promptTokens, completionTokens, milliseconds, at
                FROM trace WHERE runId = \(runID) ORDER BY id
                """, as: (Int64, String?, String, String, String, Int?, Int?, Int?, Int64).self, logger: logger
            ).map { run, task, kind, name, detail, prompt, completion, milliseconds, at in
                TraceEvent(
                    runID: run, taskID: task, kind: TraceEvent.Kind(rawValue: kind) ?? .state, name: name,
                    detail: (try? JSONValue(parsing: detail)) ?? .null, promptTokens: prompt, completionTokens: completion,
                    milliseconds: milliseconds, at: Date(millisecondsSince1970: at))
            }
        }
    }

    public func progress(_ runIDs: [Int64]) async throws -> [Int64: GoalProgress] {
        guard !runIDs.isEmpty else { return [:] }
        let logger = logger
        let rows = try await database.read { connection in
            try await connection.rows(
                """
                SELECT g.runId, g.usage, COUNT(t.runId), COALESCE(SUM(CASE WHEN t.state = 'succeeded' THEN 1 ELSE 0 END), 0)
                FROM goal g LEFT JOIN plan_task t ON t.runId = g.runId
                WHERE g.runId = ANY(\(runIDs)) GROUP BY g.runId
                """, as: (Int64, String, Int, Int).self, logger: logger)
        }
        var progress: [Int64: GoalProgress] = [:]
        for (id, usage, total, done) in rows {
            let tokens = ((try? StoredJSON.decode(GoalUsage.self, usage)) ?? GoalUsage()).tokens
            progress[id] = GoalProgress(done: done, total: total, tokens: tokens)
        }
        return progress
    }

    public func cancelGoal(_ runID: Int64) async throws -> GoalDetail {
        let logger = logger
        return try await database.transaction { connection in try await Self.cancel(runID, connection, logger: logger) }
    }

    public func resumeGoal(_ runID: Int64) async throws -> GoalDetail {
        let logger = logger
        return try await database.transaction { connection in try await Self.resume(runID, connection, logger: logger) }
    }

    public func activeGoals(states: Set<RunState>) async throws -> [Int64] {
        let (logger, names) = (logger, states.map(\.rawValue).sorted())
        return try await database.read { connection in
            try await connection.rows(
                "SELECT run.id FROM run JOIN goal ON goal.runId = run.id WHERE run.state = ANY(\(names)::text[]) ORDER BY run.id",
                as: (Int64).self, logger: logger)
        }
    }

    public func recoverGoals(only runID: Int64?) async throws -> [Int64] {
        let logger = logger
        let now = Date().millisecondsSince1970
        return try await database.transaction { connection in
            if let runID { try await self.checkFence(runID, connection) }
            let runs = try await connection.rows(
                """
                SELECT DISTINCT runId FROM plan_task WHERE state = 'running' AND (\(runID)::BIGINT IS NULL OR runId = \(runID))
                ORDER BY runId
                """, as: (Int64).self, logger: logger)
            try await connection.query(
                """
                UPDATE plan_task SET state = 'pending', updatedAt = \(now)
                WHERE state = 'running' AND (\(runID)::BIGINT IS NULL OR runId = \(runID))
                """, logger: logger)
            return runs
        }
    }

    // MARK: Rows

    /// The goal as stored; `lock` holds its run row to the end of the transaction.
    static func detail(_ runID: Int64, _ connection: PostgresConnection, lock: Bool = false, logger: Logger) async throws -> GoalDetail {
        let run = try await Self.run(runID, connection, lock: lock, logger: logger)
        let goals = try await connection.rows(
            "SELECT text, plan, budget, usage, pauseReason, report, summary, workspace FROM goal WHERE runId = \(runID)",
            as: (String, String?, String, String, String?, String?, String?, String?).self, logger: logger)
        guard let (text, plan, budget, usage, pauseReason, report, summary, workspace) = goals.first else {
            throw GoalError.notAGoal(runID)
        }
        let tasks = try await connection.rows(
            "SELECT body, state, result, error, attempts FROM plan_task WHERE runId = \(runID) ORDER BY position",
            as: (String, String, String?, String?, Int).self, logger: logger
        ).map { body, state, result, error, attempts in
            TaskRecord(
                task: try StoredJSON.decode(PlanTask.self, body), state: TaskState(rawValue: state) ?? .failed,
                result: result.flatMap { try? JSONValue(parsing: $0) }, error: error, attempts: attempts)
        }
        return GoalDetail(
            run: run, goal: text, plan: try plan.map { try StoredJSON.decode(PlanDraft.self, $0) },
            budget: (try? StoredJSON.decode(GoalBudget.self, budget)) ?? GoalBudget(), tasks: tasks,
            usage: (try? StoredJSON.decode(GoalUsage.self, usage)) ?? GoalUsage(), pauseReason: pauseReason, report: report,
            summary: summary, workspace: workspace)
    }

    static func cancel(_ runID: Int64, _ connection: PostgresConnection, logger: Logger) async throws -> GoalDetail {
        let detail = try await detail(runID, connection, lock: true, logger: logger)
        guard !detail.run.state.isFinished else { throw LedgerError.notCancellable(runID, detail.run.state) }
        let now = Date().millisecondsSince1970
        try await connection.query(
            "UPDATE plan_task SET state = 'cancelled', updatedAt = \(now) WHERE runId = \(runID) AND state = 'pending'", logger: logger)
        try await connection.query("UPDATE run SET state = 'cancelled', updatedAt = \(now) WHERE id = \(runID)", logger: logger)
        return try await Self.detail(runID, connection, logger: logger)
    }

    /// A pending or running goal is resumable too: the caller holds its lock, so nobody else works
    /// on it (its process was killed).
    static func resume(_ runID: Int64, _ connection: PostgresConnection, logger: Logger) async throws -> GoalDetail {
        let detail = try await detail(runID, connection, lock: true, logger: logger)
        guard [.needsReview, .failed, .pending, .running].contains(detail.run.state) else {
            throw GoalError.notResumable(runID, detail.run.state)
        }
        let now = Date().millisecondsSince1970
        try await connection.query(
            """
            UPDATE plan_task SET state = 'pending', error = NULL, updatedAt = \(now)
            WHERE runId = \(runID) AND state IN ('failed', 'skipped', 'running')
            """, logger: logger)
        try await connection.query("UPDATE run SET state = 'pending', updatedAt = \(now) WHERE id = \(runID)", logger: logger)
        try await connection.query("UPDATE goal SET pauseReason = NULL WHERE runId = \(runID)", logger: logger)
        return try await Self.detail(runID, connection, logger: logger)
    }

    static func isGoal(_ runID: Int64, _ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await !connection.rows("SELECT runId FROM goal WHERE runId = \(runID)", as: (Int64).self, logger: logger).isEmpty
    }

    /// The run row as stored; `lock` holds it to the end of the transaction.
    static func run(_ runID: Int64, _ connection: PostgresConnection, lock: Bool = false, logger: Logger) async throws -> Run {
        let runs = try await connection.rows(
            lock
                ? "SELECT id, title, origin, key, state, createdAt, updatedAt FROM run WHERE id = \(runID) FOR UPDATE"
                : "SELECT id, title, origin, key, state, createdAt, updatedAt FROM run WHERE id = \(runID)",
            as: RunColumns.self, logger: logger)
        guard let row = runs.first else { throw LedgerError.runNotFound(runID) }
        return Self.run(from: row)
    }

    typealias RunColumns = (Int64, String, String, String?, String, Int64, Int64)

    static func run(from row: RunColumns) -> Run {
        let (id, title, origin, key, state, created, updated) = row
        return Run(
            id: id, title: title, origin: origin, key: key, state: RunState(rawValue: state) ?? .failed,
            createdAt: Date(millisecondsSince1970: created), updatedAt: Date(millisecondsSince1970: updated))
    }

    static func touch(_ runID: Int64, _ connection: PostgresConnection, logger: Logger) async throws {
        let now = Date().millisecondsSince1970
        try await connection.query("UPDATE run SET updatedAt = \(now) WHERE id = \(runID)", logger: logger)
    }
}
