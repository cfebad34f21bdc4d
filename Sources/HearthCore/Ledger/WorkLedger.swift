import Foundation

/// A unit of work: an ordered list of steps, each one side effect.
public struct Run: Sendable, Hashable, Codable {
    public var id: Int64
    public var title: String
    /// Who asked for it: `cli`, `http`, later `goal`.
    public var origin: String
    /// The submitter's idempotency key: the same key submitted twice creates one run.
    public var key: String?
    public var state: RunState
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: Int64, title: String, origin: String, key: String?, state: RunState, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.title = title
        self.origin = origin
        self.key = key
        self.state = state
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One side effect within a run.
public struct Step: Sendable, Hashable, Codable {
    public var id: Int64
    public var runID: Int64
    /// 0-based order within the run.
    public var position: Int
    public var effect: String
    public var arguments: JSONValue
    /// Written as the intent before the effect runs and carried by the effect itself.
    public var idempotencyKey: String
    /// Declared by the effect: safe to perform again after an interruption.
    public var idempotent: Bool
    public var state: StepState
    public var attempts: Int
    public var result: JSONValue?
    public var error: String?
    public var updatedAt: Date

    public init(
        id: Int64, runID: Int64, position: Int, effect: String, arguments: JSONValue, idempotencyKey: String,
        idempotent: Bool, state: StepState, attempts: Int, result: JSONValue?, error: String?, updatedAt: Date
    ) {
        self.id = id
        self.runID = runID
        self.position = position
        self.effect = effect
        self.arguments = arguments
        self.idempotencyKey = idempotencyKey
        self.idempotent = idempotent
        self.state = state
        self.attempts = attempts
        self.result = result
        self.error = error
        self.updatedAt = updatedAt
    }
}

/// What to create: a run and its steps.
public struct RunRequest: Sendable, Hashable {
    public struct StepRequest: Sendable, Hashable {
        public var effect: String
        public var arguments: JSONValue
        public var idempotent: Bool

        public init(effect: String, arguments: JSONValue, idempotent: Bool) {
            self.effect = effect
            self.arguments = arguments
            self.idempotent = idempotent
        }
    }

    public var title: String
    public var origin: String
    public var key: String?
    public var steps: [StepRequest]

    public init(title: String, origin: String, key: String? = nil, steps: [StepRequest]) {
        self.title = title
        self.origin = origin
        self.key = key
        self.steps = steps
    }
}

/// A step the executor has claimed: it is `running` and its intent is durable.
public struct StepClaim: Sendable, Hashable {
    public var step: Step
    public var attempt: Int

    public init(step: Step, attempt: Int) {
        self.step = step
        self.attempt = attempt
    }
}

/// What start-up recovery found and did.
public struct LedgerRecovery: Sendable, Hashable, Codable {
    /// Steps found running whose effect had not started or is idempotent: queued again.
    public var requeuedSteps: [Int64] = []
    /// Steps found running that are not idempotent: a human must review them.
    public var needsReviewSteps: [Int64] = []
    /// Steps whose result was durable but whose state was not (adopted as recorded).
    public var adoptedResults: [Int64] = []
    /// Runs that still have work to do after recovery.
    public var activeRuns: [Int64] = []

    public init() {}
}

/// A run with its steps, as shown by `hearth run`.
public struct RunDetail: Sendable, Hashable, Codable {
    public var run: Run
    public var steps: [Step]

    public init(run: Run, steps: [Step]) {
        self.run = run
        self.steps = steps
    }
}

extension RunDetail {
    /// A step's new state (and the error it records) after a user's command.
    public struct StepChange: Sendable, Hashable {
        public var stepID: Int64
        public var state: StepState
        public var error: String?

        public init(stepID: Int64, state: StepState, error: String?) {
            self.stepID = stepID
            self.state = state
            self.error = error
        }
    }

    /// What cancelling the run changes, step by step, or why it is refused: a finished run is
    /// not cancelled; unfinished steps end as `StepMachine.cancel` says.
    public func cancellation() throws(LedgerError) -> [StepChange] {
        guard !run.state.isFinished else { throw .notCancellable(run.id, run.state) }
        return steps.compactMap { step in
            var machine = StepMachine(state: step.state, idempotent: step.idempotent)
            _ = machine.cancel()
            return machine.state == step.state ? nil : StepChange(stepID: step.id, state: machine.state, error: "cancelled by the user")
        }
    }

    /// What resuming the run changes, or why it is refused: only a failed run or one that needs
    /// review resumes; the steps `StepMachine.resume` requeues go back to pending.
    public func resumption() throws(LedgerError) -> [StepChange] {
        guard run.state == .failed || run.state == .needsReview else { throw .notResumable(run.id, run.state) }
        return steps.compactMap { step in
            var machine = StepMachine(state: step.state, idempotent: step.idempotent)
            return machine.resume() == .requeue ? StepChange(stepID: step.id, state: machine.state, error: nil) : nil
        }
    }
}

/// Why a ledger operation was refused.
public enum LedgerError: Error, Sendable, Equatable, CustomStringConvertible {
    case runNotFound(Int64)
    case emptyRun
    case notResumable(Int64, RunState)
    case notCancellable(Int64, RunState)

    public var description: String {
        switch self {
        case .runNotFound(let id): "no run with id \(id); list runs with 'hearth runs'"
        case .emptyRun: "a run needs at least one step"
        case .notResumable(let id, let state):
            "run \(id) is \(state.rawValue); only runs that failed or need review can be resumed"
        case .notCancellable(let id, let state): "run \(id) is already \(state.rawValue); nothing to cancel"
        }
    }
}

/// The durable record of runs and steps, with intents and results keyed by idempotency key.
///
/// Every transition goes through `StepMachine`; implementations persist the state it decides.
public protocol WorkLedger: Sendable {
    /// Creates a run, or returns the existing one when `request.key` was submitted before.
    func createRun(_ request: RunRequest) async throws -> (run: Run, created: Bool)
    /// Claims the next ready step: marks it running and records its intent in one transaction.
    ///
    /// A step is ready when it is pending, its run is not cancelled, and every earlier step of
    /// its run has succeeded (so one run never has two steps in flight).
    func claimNextStep() async throws -> StepClaim?
    /// Records the outcome of a claimed step and moves its run on.
    func recordOutcome(_ outcome: StepOutcome, for claim: StepClaim) async throws
    /// Reconciles steps left running by a previous process.
    func recover() async throws -> LedgerRecovery
    func run(_ id: Int64) async throws -> RunDetail
    func runs(limit: Int, states: Set<RunState>?) async throws -> [Run]
    /// Cancels what has not started; in-flight steps finish first.
    func cancelRun(_ id: Int64) async throws -> RunDetail
    /// Puts steps that failed or need review back in the queue.
    func resumeRun(_ id: Int64) async throws -> RunDetail
}
