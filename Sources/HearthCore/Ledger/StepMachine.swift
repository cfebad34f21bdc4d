/// Where a step is in its life.
public enum StepState: String, Sendable, Hashable, Codable, CaseIterable {
    case pending
    case running
    case succeeded
    case failed
    case awaitingApproval
    case cancelled
    /// Interrupted after its intent was recorded, and not safe to repeat: a human must decide.
    case needsReview

    /// Nothing will happen to the step without a new decision.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        case .pending, .running, .awaitingApproval, .needsReview: false
        }
    }
}

/// How a performed effect ended.
public enum StepOutcome: Sendable, Hashable {
    case succeeded(JSONValue)
    case failed(String)
}

/// A step's lifecycle, decided without I/O. The executor and the store perform the returned action.
///
/// ```swift
/// var machine = StepMachine(state: .pending, idempotent: false)
/// machine.start()                                    // .perform — record the intent, then act
/// machine.recover(hasIntent: true, result: nil)      // .flagForReview — never repeated blindly
/// ```
public struct StepMachine: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// Record the intent (idempotency key) durably, then perform the effect.
        case perform
        /// Record the outcome; the step is finished.
        case recordOutcome
        /// Put the step back in the queue (an idempotent step interrupted mid-flight).
        case requeue
        /// Stop and ask a human: the effect may or may not have happened.
        case flagForReview(reason: String)
        /// The effect is under way; let it finish, then the run stops.
        case letInFlightFinish
        /// The transition does not apply in this state; nothing changes.
        case none
    }

    public private(set) var state: StepState
    public let idempotent: Bool

    public init(state: StepState, idempotent: Bool) {
        self.state = state
        self.idempotent = idempotent
    }

    /// The executor picked the step up.
    public mutating func start() -> Action {
        guard state == .pending else { return .none }
        state = .running
        return .perform
    }

    /// The effect returned (or threw).
    public mutating func finish(_ outcome: StepOutcome) -> Action {
        guard state == .running else { return .none }
        switch outcome {
        case .succeeded: state = .succeeded
        case .failed: state = .failed
        }
        return .recordOutcome
    }

    /// A gate decided a human must approve before the step runs.
    public mutating func requireApproval() -> Action {
        guard state == .pending else { return .none }
        state = .awaitingApproval
        return .none
    }

    /// The human approved; the step goes back in the queue.
    public mutating func approve() -> Action {
        guard state == .awaitingApproval else { return .none }
        state = .pending
        return .requeue
    }

    /// The user cancelled the step's run.
    public mutating func cancel() -> Action {
        switch state {
        case .pending, .awaitingApproval, .needsReview:
            state = .cancelled
            return .none
        case .running:
            return .letInFlightFinish
        case .succeeded, .failed, .cancelled:
            return .none
        }
    }

    /// The user reviewed a step (or a failure) and asked for it to run again.
    public mutating func resume() -> Action {
        switch state {
        case .needsReview, .failed:
            state = .pending
            return .requeue
        default:
            return .none
        }
    }

    /// The daemon restarted and found this step marked running.
    ///
    /// - Parameters:
    ///   - hasIntent: an intent record exists, so the effect may have started.
    ///   - result: the recorded outcome, if the effect finished before the crash.
    public mutating func recover(hasIntent: Bool, result: StepOutcome?) -> Action {
        guard state == .running else { return .none }
        if let result {
            return finish(result)
        }
        guard hasIntent else {
            // Intent is written before the effect starts: without one, nothing happened.
            state = .pending
            return .requeue
        }
        if idempotent {
            state = .pending
            return .requeue
        }
        state = .needsReview
        return .flagForReview(
            reason: "interrupted after its intent was recorded; it is not idempotent, so it may or may not have taken effect")
    }
}

/// A run's state, derived from its steps so the two can never disagree.
public enum RunState: String, Sendable, Hashable, Codable, CaseIterable {
    case pending
    case running
    case succeeded
    case failed
    case awaitingApproval
    case cancelled
    case needsReview

    /// Whether the run has ended (nothing more will happen without a new decision).
    public var isFinished: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        default: false
        }
    }

    /// The state of a run whose steps are in `steps`.
    ///
    /// Steps run in order, so a failed step leaves later ones pending and the run `failed`.
    public static func derive(from steps: [StepState]) -> RunState {
        if steps.contains(.running) { return .running }
        if steps.contains(.needsReview) { return .needsReview }
        if steps.contains(.awaitingApproval) { return .awaitingApproval }
        if steps.contains(.failed) { return .failed }
        if steps.contains(.pending) {
            return steps.contains(where: { $0 == .succeeded }) ? .running : .pending
        }
        if steps.contains(.cancelled) { return .cancelled }
        return .succeeded
    }
}
