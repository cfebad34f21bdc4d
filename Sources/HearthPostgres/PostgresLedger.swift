import Foundation
import HearthCore
import Logging
import PostgresNIO

/// The work ledger in the shared PostgreSQL, for a fleet of daemons.
///
/// As in SQLite, every state change is decided by `StepMachine` and persisted with the record that
/// justifies it. What a fleet adds: a step is claimed with `FOR UPDATE SKIP LOCKED` under a lease
/// held by one daemon (`holder`); the attempt number is the fence, so a daemon whose lease ran out
/// (paused, partitioned) cannot record an outcome over a later attempt; a step whose holder's
/// lease expired is reconciled (its intent and result read, as after a crash) by whichever
/// daemon claims next; and `recover` leaves alone the steps other live daemons are running.
public struct PostgresLedger: WorkLedger {
    let database: PostgresStore
    /// Who claims: the daemon's fleet name (its previous process's steps are its own to recover).
    public let holder: String
    /// How long a claimed step is the holder's before another daemon may reconcile it.
    public let lease: Duration

    public init(database: PostgresStore, holder: String, lease: Duration = .seconds(600)) {
        self.database = database
        self.holder = holder
        self.lease = lease
    }

    var logger: Logger { database.logger }

    static let stepColumns = """
        id, runId, position, effect, arguments, idempotencyKey, idempotent, state, attempts, result, error, updatedAt
        """
    typealias StepColumns = (Int64, Int64, Int, String, String, String, Bool, String, Int, String?, String?, Int64)

    public func createRun(_ request: RunRequest) async throws -> (run: Run, created: Bool) {
        guard !request.steps.isEmpty else { throw LedgerError.emptyRun }
        let logger = logger
        let now = Date()
        let at = now.millisecondsSince1970
        let initial = RunState.derive(from: request.steps.map { _ in .pending })
        return try await database.transaction { connection in
            if let key = request.key {
                // Two daemons submitting one key: the second waits for the first's commit and finds its run.
                try await connection.query("SELECT pg_advisory_xact_lock(7352003, hashtext(\(key)))", logger: logger)
                let existing = try await connection.rows(
                    "SELECT id, title, origin, key, state, createdAt, updatedAt FROM run WHERE key = \(key)",
                    as: PostgresGoalStore.RunColumns.self, logger: logger)
                if let row = existing.first { return (PostgresGoalStore.run(from: row), false) }
            }
            let ids = try await connection.rows(
                """
                INSERT INTO run (title, origin, key, state, createdAt, updatedAt)
                VALUES (\(request.title), \(request.origin), \(request.key), \(initial.rawValue), \(at), \(at)) RETURNING id
                """, as: (Int64).self, logger: logger)
            let runID = ids[0]
            // Keys stay unique even if the store is reset while workspace files (which carry them) survive.
            let base = request.key.map { "key:\($0)" } ?? "run:\(UInt64.random(in: 0...UInt64.max).hex12)"
            for (position, step) in request.steps.enumerated() {
                try await connection.query(
                    """
                    INSERT INTO step (runId, position, effect, arguments, idempotencyKey, idempotent, state, updatedAt)
                    VALUES (\(runID), \(position), \(step.effect), \(step.arguments.jsonText), \("\(base)#\(position)"),
                        \(step.idempotent), 'pending', \(at))
                    """, logger: logger)
            }
            let run = Run(
                id: runID, title: request.title, origin: request.origin, key: request.key, state: initial, createdAt: now, updatedAt: now)
            return (run, true)
        }
    }

    public func claimNextStep() async throws -> StepClaim? {
        let logger = logger
        let holder = holder
        let leaseMilliseconds = Int64(lease.inMilliseconds)
        return try await database.transaction { connection -> StepClaim? in
            let now = Date()
            try await Self.reconcileExpired(now: now, connection, logger: logger)
            let rows = try await connection.rows(
                """
                SELECT s.id, s.runId, s.position, s.effect, s.arguments, s.idempotencyKey, s.idempotent, s.state, s.attempts, s.result,
                    s.error, s.updatedAt
                FROM step s JOIN run r ON r.id = s.runId
                WHERE s.state = 'pending' AND r.state <> 'cancelled'
                  AND NOT EXISTS (
                    SELECT 1 FROM step p WHERE p.runId = s.runId AND p.position < s.position AND p.state <> 'succeeded')
                ORDER BY s.runId, s.position
                LIMIT 1
                FOR UPDATE OF s SKIP LOCKED
                """, as: StepColumns.self, logger: logger)
            guard let row = rows.first else { return nil }
            var step = Self.step(from: row)
            var machine = StepMachine(state: step.state, idempotent: step.idempotent)
            guard machine.start() == .perform else { return nil }
            step.state = machine.state
            step.attempts += 1
            step.updatedAt = now
            let at = now.millisecondsSince1970
            let until = at + leaseMilliseconds
            try await connection.query(
                """
                UPDATE step SET state = \(step.state.rawValue), attempts = \(step.attempts), updatedAt = \(at),
                    holder = \(holder), leaseUntil = \(until)
                WHERE id = \(step.id)
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO intent (idempotencyKey, attempt, stepId, recordedAt)
                VALUES (\(step.idempotencyKey), \(step.attempts), \(step.id), \(at))
                """, logger: logger)
            try await Self.refreshRunState(step.runID, now: now, connection, logger: logger)
            return StepClaim(step: step, attempt: step.attempts)
        }
    }

    public func recordOutcome(_ outcome: StepOutcome, for claim: StepClaim) async throws {
        let logger = logger
        try await database.transaction { connection in
            guard
                let row = try await connection.rows(
                    "SELECT \(unescaped: Self.stepColumns) FROM step WHERE id = \(claim.step.id) FOR UPDATE", as: StepColumns.self,
                    logger: logger
                ).first
            else { throw LedgerError.runNotFound(claim.step.runID) }
            let step = Self.step(from: row)
            // The fence: an outcome for an attempt that is no longer the step's latest is not recorded.
            guard step.attempts == claim.attempt else { return }
            var machine = StepMachine(state: step.state, idempotent: step.idempotent)
            guard machine.finish(outcome) == .recordOutcome else { return }
            try await Self.persistOutcome(outcome, step: step, attempt: claim.attempt, state: machine.state, connection, logger: logger)
        }
    }

    public func recover() async throws -> LedgerRecovery {
        let logger = logger
        let holder = holder
        return try await database.transaction { connection in
            let now = Date()
            let at = now.millisecondsSince1970
            // This daemon's own steps (its previous process was killed) and those of daemons whose
            // lease ran out; a step another live daemon runs is left to it.
            let steps = try await connection.rows(
                """
                SELECT \(unescaped: Self.stepColumns) FROM step
                WHERE state = 'running' AND (holder IS NULL OR holder = \(holder) OR leaseUntil < \(at))
                ORDER BY id FOR UPDATE SKIP LOCKED
                """, as: StepColumns.self, logger: logger
            ).map(Self.step(from:))
            var recovery = try await Self.reconcile(steps, now: now, connection, logger: logger)
            recovery.activeRuns = try await connection.rows(
                "SELECT id FROM run WHERE state IN ('pending', 'running') ORDER BY id", as: (Int64).self, logger: logger)
            return recovery
        }
    }

    public func run(_ id: Int64) async throws -> RunDetail {
        let logger = logger
        return try await database.read { connection in try await Self.detail(id, connection, logger: logger) }
    }

    public func runs(limit: Int, states: Set<RunState>?) async throws -> [Run] {
        let names = (states ?? []).map(\.rawValue).sorted()
        let all = names.isEmpty
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                """
                SELECT id, title, origin, key, state, createdAt, updatedAt FROM run
                WHERE (\(all) OR state = ANY(\(names))) ORDER BY id DESC LIMIT \(limit)
                """, as: PostgresGoalStore.RunColumns.self, logger: logger
            ).map(PostgresGoalStore.run(from:))
        }
    }

    public func cancelRun(_ id: Int64) async throws -> RunDetail {
        let logger = logger
        return try await database.transaction { connection in
            // A goal's run has tasks instead of steps; its own rules apply.
            if try await PostgresGoalStore.isGoal(id, connection, logger: logger) {
                _ = try await PostgresGoalStore.cancel(id, connection, logger: logger)
                return try await Self.detail(id, connection, logger: logger)
            }
            let changes = try await Self.detail(id, connection, lock: true, logger: logger).cancellation()
            try await Self.apply(changes, run: id, connection, logger: logger)
            return try await Self.detail(id, connection, logger: logger)
        }
    }

    public func resumeRun(_ id: Int64) async throws -> RunDetail {
        let logger = logger
        return try await database.transaction { connection in
            if try await PostgresGoalStore.isGoal(id, connection, logger: logger) {
                _ = try await PostgresGoalStore.resume(id, connection, logger: logger)
                return try await Self.detail(id, connection, logger: logger)
            }
            let changes = try await Self.detail(id, connection, lock: true, logger: logger).resumption()
            try await Self.apply(changes, run: id, connection, logger: logger)
            return try await Self.detail(id, connection, logger: logger)
        }
    }

    /// Records a command's step changes and the run's state that follows from them.
    static func apply(_ changes: [RunDetail.StepChange], run id: Int64, _ connection: PostgresConnection, logger: Logger) async throws {
        let now = Date()
        for change in changes {
            try await updateStep(change.stepID, state: change.state, error: change.error, now: now, connection, logger: logger)
        }
        try await refreshRunState(id, now: now, connection, logger: logger)
    }

    // MARK: Transactions

    /// Steps whose holder's lease ran out are reconciled as after a crash, so the fleet goes on
    /// without waiting for that daemon to come back.
    static func reconcileExpired(now: Date, _ connection: PostgresConnection, logger: Logger) async throws {
        let at = now.millisecondsSince1970
        let expired = try await connection.rows(
            "SELECT \(unescaped: stepColumns) FROM step WHERE state = 'running' AND leaseUntil < \(at) ORDER BY id FOR UPDATE SKIP LOCKED",
            as: StepColumns.self, logger: logger
        ).map(step(from:))
        _ = try await reconcile(expired, now: now, connection, logger: logger)
    }

    /// Running steps whose process is gone: the intent and result of their latest attempt decide.
    static func reconcile(_ steps: [Step], now: Date, _ connection: PostgresConnection, logger: Logger) async throws -> LedgerRecovery {
        var recovery = LedgerRecovery()
        var touchedRuns = Set<Int64>()
        for step in steps {
            let intents = try await connection.rows(
                "SELECT attempt FROM intent WHERE idempotencyKey = \(step.idempotencyKey) AND attempt = \(step.attempts)", as: (Int).self,
                logger: logger)
            let result = try await recordedOutcome(key: step.idempotencyKey, attempt: step.attempts, connection, logger: logger)
            var machine = StepMachine(state: step.state, idempotent: step.idempotent)
            switch machine.recover(hasIntent: !intents.isEmpty, result: result) {
            case .recordOutcome:
                try await updateStep(step.id, state: machine.state, error: nil, now: now, connection, logger: logger)
                recovery.adoptedResults.append(step.id)
            case .requeue:
                try await updateStep(step.id, state: machine.state, error: nil, now: now, connection, logger: logger)
                recovery.requeuedSteps.append(step.id)
            case .flagForReview(let reason):
                try await updateStep(step.id, state: machine.state, error: reason, now: now, connection, logger: logger)
                recovery.needsReviewSteps.append(step.id)
            default:
                continue
            }
            touchedRuns.insert(step.runID)
        }
        for runID in touchedRuns.sorted() { try await refreshRunState(runID, now: now, connection, logger: logger) }
        return recovery
    }

    static func persistOutcome(
        _ outcome: StepOutcome, step: Step, attempt: Int, state: StepState, _ connection: PostgresConnection, logger: Logger
    ) async throws {
        let now = Date()
        let at = now.millisecondsSince1970
        let (succeeded, output, error): (Bool, String?, String?) =
            switch outcome {
            case .succeeded(let value): (true, value.jsonText, nil)
            case .failed(let message): (false, nil, message)
            }
        try await connection.query(
            """
            INSERT INTO result (idempotencyKey, attempt, stepId, succeeded, output, error, recordedAt)
            VALUES (\(step.idempotencyKey), \(attempt), \(step.id), \(succeeded), \(output), \(error), \(at))
            ON CONFLICT (idempotencyKey, attempt) DO NOTHING
            """, logger: logger)
        try await connection.query(
            """
            UPDATE step SET state = \(state.rawValue), result = \(output), error = \(error), updatedAt = \(at), leaseUntil = NULL
            WHERE id = \(step.id)
            """, logger: logger)
        try await refreshRunState(step.runID, now: now, connection, logger: logger)
    }

    static func recordedOutcome(key: String, attempt: Int, _ connection: PostgresConnection, logger: Logger) async throws -> StepOutcome? {
        guard
            let (succeeded, output, error) = try await connection.rows(
                "SELECT succeeded, output, error FROM result WHERE idempotencyKey = \(key) AND attempt = \(attempt)",
                as: (Bool, String?, String?).self, logger: logger
            ).first
        else { return nil }
        return succeeded ? .succeeded(output.map(JSONValue.init(storedText:)) ?? .null) : .failed(error ?? "failed")
    }

    static func updateStep(_ id: Int64, state: StepState, error: String?, now: Date, _ connection: PostgresConnection, logger: Logger)
        async throws
    {
        let at = now.millisecondsSince1970
        try await connection.query(
            "UPDATE step SET state = \(state.rawValue), error = \(error), updatedAt = \(at), leaseUntil = NULL WHERE id = \(id)",
            logger: logger)
    }

    /// Re-derives a run's state from its steps (the only way a run's state changes).
    static func refreshRunState(_ runID: Int64, now: Date, _ connection: PostgresConnection, logger: Logger) async throws {
        let states = try await connection.rows(
            "SELECT state FROM step WHERE runId = \(runID) ORDER BY position", as: (String).self, logger: logger
        ).compactMap(StepState.init(rawValue:))
        let state = RunState.derive(from: states).rawValue
        let at = now.millisecondsSince1970
        try await connection.query("UPDATE run SET state = \(state), updatedAt = \(at) WHERE id = \(runID)", logger: logger)
    }

    static func detail(_ id: Int64, _ connection: PostgresConnection, lock: Bool = false, logger: Logger) async throws -> RunDetail {
        let run = try await PostgresGoalStore.run(id, connection, lock: lock, logger: logger)
        let steps = try await connection.rows(
            "SELECT \(unescaped: stepColumns) FROM step WHERE runId = \(id) ORDER BY position", as: StepColumns.self, logger: logger
        ).map(step(from:))
        return RunDetail(run: run, steps: steps)
    }

    static func step(from row: StepColumns) -> Step {
        let (id, runID, position, effect, arguments, key, idempotent, state, attempts, result, error, updated) = row
        return Step(
            id: id, runID: runID, position: position, effect: effect, arguments: (try? JSONValue(parsing: arguments)) ?? .null,
            idempotencyKey: key, idempotent: idempotent, state: StepState(rawValue: state) ?? .needsReview, attempts: attempts,
            result: result.flatMap { try? JSONValue(parsing: $0) }, error: error, updatedAt: Date(millisecondsSince1970: updated))
    }
}

extension UInt64 {
    /// Twelve hex digits of the number (its low 48 bits).
    var hex12: String {
        let text = String(self & 0xFFFF_FFFF_FFFF, radix: 16)
        return String(repeating: "0", count: 12 - text.count) + text
    }
}
