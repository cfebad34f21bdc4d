import Foundation
import GRDB
import HearthCore

/// The work ledger in SQLite: runs, steps, and the intents and results that make effects
/// crash-safe.
///
/// Every state change is decided by `StepMachine` and persisted in the same transaction as the
/// record that justifies it: a step becomes `running` together with its intent, and finishes
/// together with its result. Recovery therefore never has to guess.
public struct LedgerStore: WorkLedger {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func createRun(_ request: RunRequest) async throws -> (run: Run, created: Bool) {
        try await database.write { db in try Self.createRun(request, in: db) }
    }

    /// The synchronous twin of `createRun`, for the CLI.
    public func createRunNow(_ request: RunRequest) throws -> (run: Run, created: Bool) {
        try database.writeSync { db in try Self.createRun(request, in: db) }
    }

    public func claimNextStep() async throws -> StepClaim? {
        try await database.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT s.* FROM step s JOIN run r ON r.id = s.runId
                        WHERE s.state = 'pending' AND r.state != 'cancelled'
                          AND NOT EXISTS (
                            SELECT 1 FROM step p
                            WHERE p.runId = s.runId AND p.position < s.position AND p.state != 'succeeded')
                        ORDER BY s.runId, s.position
                        LIMIT 1
                        """)
            else { return nil }
            var step = try StepRow.step(from: row)
            var machine = StepMachine(state: step.state, idempotent: step.idempotent)
            guard machine.start() == .perform else { return nil }
            let now = Date()
            step.state = machine.state
            step.attempts += 1
            step.updatedAt = now
            try db.execute(
                sql: "UPDATE step SET state = ?, attempts = ?, updatedAt = ? WHERE id = ?",
                arguments: [step.state.rawValue, step.attempts, now.millisecondsSince1970, step.id])
            try db.execute(
                sql: "INSERT INTO intent (idempotencyKey, attempt, stepId, recordedAt) VALUES (?, ?, ?, ?)",
                arguments: [step.idempotencyKey, step.attempts, step.id, now.millisecondsSince1970])
            try Self.refreshRunState(step.runID, now: now, in: db)
            return StepClaim(step: step, attempt: step.attempts)
        }
    }

    public func recordOutcome(_ outcome: StepOutcome, for claim: StepClaim) async throws {
        try await database.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM step WHERE id = ?", arguments: [claim.step.id]) else {
                throw LedgerError.runNotFound(claim.step.runID)
            }
            let step = try StepRow.step(from: row)
            var machine = StepMachine(state: step.state, idempotent: step.idempotent)
            guard machine.finish(outcome) == .recordOutcome else { return }
            try Self.persistOutcome(outcome, step: step, attempt: claim.attempt, state: machine.state, in: db)
        }
    }

    public func recover() async throws -> LedgerRecovery {
        try await database.write { db in
            var recovery = LedgerRecovery()
            let now = Date()
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM step WHERE state = 'running'")
            var touchedRuns = Set<Int64>()
            for row in rows {
                let step = try StepRow.step(from: row)
                let hasIntent =
                    try Bool.fetchOne(
                        db, sql: "SELECT EXISTS (SELECT 1 FROM intent WHERE idempotencyKey = ? AND attempt = ?)",
                        arguments: [step.idempotencyKey, step.attempts]) ?? false
                let result = try Self.recordedOutcome(key: step.idempotencyKey, attempt: step.attempts, in: db)
                var machine = StepMachine(state: step.state, idempotent: step.idempotent)
                switch machine.recover(hasIntent: hasIntent, result: result) {
                case .recordOutcome:
                    try Self.updateStep(step.id, state: machine.state, error: nil, now: now, in: db)
                    recovery.adoptedResults.append(step.id)
                case .requeue:
                    try Self.updateStep(step.id, state: machine.state, error: nil, now: now, in: db)
                    recovery.requeuedSteps.append(step.id)
                case .flagForReview(let reason):
                    try Self.updateStep(step.id, state: machine.state, error: reason, now: now, in: db)
                    recovery.needsReviewSteps.append(step.id)
                default:
                    continue
                }
                touchedRuns.insert(step.runID)
            }
            for runID in touchedRuns { try Self.refreshRunState(runID, now: now, in: db) }
            recovery.activeRuns = try Int64.fetchAll(
                db, sql: "SELECT id FROM run WHERE state IN ('pending', 'running') ORDER BY id")
            return recovery
        }
    }

    public func run(_ id: Int64) async throws -> RunDetail {
        try await database.read { db in try Self.detail(id, in: db) }
    }

    public func runs(limit: Int, states: Set<RunState>?) async throws -> [Run] {
        try await database.read { db in try Self.fetchRuns(limit: limit, states: states, in: db) }
    }

    public func runsNow(limit: Int, states: Set<RunState>?) throws -> [Run] {
        try database.readSync { db in try Self.fetchRuns(limit: limit, states: states, in: db) }
    }

    public func cancelRun(_ id: Int64) async throws -> RunDetail {
        try await database.write { db in try Self.cancel(id, in: db) }
    }

    public func resumeRun(_ id: Int64) async throws -> RunDetail {
        try await database.write { db in try Self.resume(id, in: db) }
    }

    // MARK: Transactions

    static func createRun(_ request: RunRequest, in db: Database) throws -> (run: Run, created: Bool) {
        guard !request.steps.isEmpty else { throw LedgerError.emptyRun }
        if let key = request.key, let row = try Row.fetchOne(db, sql: "SELECT * FROM run WHERE key = ?", arguments: [key]) {
            return (try RunRow.run(from: row), false)
        }
        let now = Date()
        let initial = RunState.derive(from: request.steps.map { _ in .pending })
        try db.execute(
            sql: "INSERT INTO run (title, origin, key, state, createdAt, updatedAt) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [
                request.title, request.origin, request.key, initial.rawValue, now.millisecondsSince1970,
                now.millisecondsSince1970,
            ])
        let runID = db.lastInsertedRowID
        // Keys must stay unique even if the database is reset while workspace files (which carry
        // the keys) survive; a random base makes that so for runs without a caller's key.
        let base = request.key.map { "key:\($0)" } ?? "run:\(Self.randomHex(12))"
        for (position, stepRequest) in request.steps.enumerated() {
            try db.execute(
                sql: """
                    INSERT INTO step (runId, position, effect, arguments, idempotencyKey, idempotent, state, updatedAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    runID, position, stepRequest.effect, stepRequest.arguments.jsonText, "\(base)#\(position)",
                    stepRequest.idempotent, StepState.pending.rawValue, now.millisecondsSince1970,
                ])
        }
        let run = Run(
            id: runID, title: request.title, origin: request.origin, key: request.key, state: initial, createdAt: now,
            updatedAt: now)
        return (run, true)
    }

    static func cancel(_ id: Int64, in db: Database) throws -> RunDetail {
        // A goal's run has tasks instead of steps; its own rules apply.
        if try GoalSQLStore.isGoal(id, in: db) {
            _ = try GoalSQLStore.cancel(id, in: db)
            return try detail(id, in: db)
        }
        try apply(try Self.detail(id, in: db).cancellation(), run: id, in: db)
        return try Self.detail(id, in: db)
    }

    static func resume(_ id: Int64, in db: Database) throws -> RunDetail {
        if try GoalSQLStore.isGoal(id, in: db) {
            _ = try GoalSQLStore.resume(id, in: db)
            return try detail(id, in: db)
        }
        try apply(try Self.detail(id, in: db).resumption(), run: id, in: db)
        return try Self.detail(id, in: db)
    }

    /// Records a command's step changes and the run's state that follows from them.
    static func apply(_ changes: [RunDetail.StepChange], run id: Int64, in db: Database) throws {
        let now = Date()
        for change in changes { try updateStep(change.stepID, state: change.state, error: change.error, now: now, in: db) }
        try refreshRunState(id, now: now, in: db)
    }

    static func persistOutcome(_ outcome: StepOutcome, step: Step, attempt: Int, state: StepState, in db: Database) throws {
        let now = Date()
        let (succeeded, output, error): (Bool, String?, String?) =
            switch outcome {
            case .succeeded(let value): (true, value.jsonText, nil)
            case .failed(let message): (false, nil, message)
            }
        try db.execute(
            sql: """
                INSERT INTO result (idempotencyKey, attempt, stepId, succeeded, output, error, recordedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (idempotencyKey, attempt) DO NOTHING
                """,
            arguments: [step.idempotencyKey, attempt, step.id, succeeded, output, error, now.millisecondsSince1970])
        try db.execute(
            sql: "UPDATE step SET state = ?, result = ?, error = ?, updatedAt = ? WHERE id = ?",
            arguments: [state.rawValue, output, error, now.millisecondsSince1970, step.id])
        try refreshRunState(step.runID, now: now, in: db)
    }

    static func recordedOutcome(key: String, attempt: Int, in db: Database) throws -> StepOutcome? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT succeeded, output, error FROM result WHERE idempotencyKey = ? AND attempt = ?",
                arguments: [key, attempt])
        else { return nil }
        if row["succeeded"] as Bool {
            let output: String? = row["output"]
            return .succeeded(output.flatMap { try? JSONValue(parsing: $0) } ?? .null)
        }
        return .failed(row["error"] ?? "failed")
    }

    static func updateStep(_ id: Int64, state: StepState, error: String?, now: Date, in db: Database) throws {
        try db.execute(
            sql: "UPDATE step SET state = ?, error = ?, updatedAt = ? WHERE id = ?",
            arguments: [state.rawValue, error, now.millisecondsSince1970, id])
    }

    /// Re-derives a run's state from its steps (the only way a run's state changes).
    static func refreshRunState(_ runID: Int64, now: Date, in db: Database) throws {
        let states = try String.fetchAll(db, sql: "SELECT state FROM step WHERE runId = ? ORDER BY position", arguments: [runID])
            .compactMap(StepState.init(rawValue:))
        try db.execute(
            sql: "UPDATE run SET state = ?, updatedAt = ? WHERE id = ?",
            arguments: [RunState.derive(from: states).rawValue, now.millisecondsSince1970, runID])
    }

    static func detail(_ id: Int64, in db: Database) throws -> RunDetail {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [id]) else {
            throw LedgerError.runNotFound(id)
        }
        let steps = try Row.fetchAll(db, sql: "SELECT * FROM step WHERE runId = ? ORDER BY position", arguments: [id])
            .map(StepRow.step(from:))
        return RunDetail(run: try RunRow.run(from: row), steps: steps)
    }

    static func fetchRuns(limit: Int, states: Set<RunState>?, in db: Database) throws -> [Run] {
        var conditions = SQLConditions()
        if let states, !states.isEmpty {
            let values = states.map(\.rawValue).sorted()
            conditions.add("state IN (\(Array(repeating: "?", count: values.count).joined(separator: ",")))", arguments: values)
        }
        var arguments = conditions.arguments
        _ = arguments.append(contentsOf: [limit])
        return try Row.fetchAll(db, sql: "SELECT * FROM run \(conditions.whereClause) ORDER BY id DESC LIMIT ?", arguments: arguments)
            .map(RunRow.run(from:))
    }

    private static func randomHex(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
    }
}

/// Row decoding for the `run` table.
enum RunRow {
    static func run(from row: Row) throws -> Run {
        Run(
            id: row["id"],
            title: row["title"],
            origin: row["origin"],
            key: row["key"],
            state: RunState(rawValue: row["state"]) ?? .failed,
            createdAt: Date(millisecondsSince1970: row["createdAt"]),
            updatedAt: Date(millisecondsSince1970: row["updatedAt"]))
    }
}

/// Row decoding for the `step` table.
enum StepRow {
    static func step(from row: Row) throws -> Step {
        let arguments: String = row["arguments"]
        let result: String? = row["result"]
        return Step(
            id: row["id"],
            runID: row["runId"],
            position: row["position"],
            effect: row["effect"],
            arguments: (try? JSONValue(parsing: arguments)) ?? .null,
            idempotencyKey: row["idempotencyKey"],
            idempotent: row["idempotent"],
            state: StepState(rawValue: row["state"]) ?? .needsReview,
            attempts: row["attempts"],
            result: result.flatMap { try? JSONValue(parsing: $0) },
            error: row["error"],
            updatedAt: Date(millisecondsSince1970: row["updatedAt"]))
    }
}
