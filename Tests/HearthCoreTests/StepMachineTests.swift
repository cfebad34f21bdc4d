import Foundation
import HearthCore
import Testing

@Suite("Step state machine", .timeLimit(.minutes(10)))
struct StepMachineTests {
    @Test("pending → running → succeeded, recording intent then outcome")
    func happyPath() {
        var machine = StepMachine(state: .pending, idempotent: true)
        #expect(machine.start() == .perform)
        #expect(machine.state == .running)
        #expect(machine.finish(.succeeded(["lines": 1])) == .recordOutcome)
        #expect(machine.state == .succeeded)
        #expect(machine.start() == StepMachine.Action.none)
    }

    @Test("a failure is recorded and can be resumed by the user")
    func failureThenResume() {
        var machine = StepMachine(state: .running, idempotent: false)
        #expect(machine.finish(.failed("disk full")) == .recordOutcome)
        #expect(machine.state == .failed)
        #expect(machine.resume() == .requeue)
        #expect(machine.state == .pending)
    }

    @Test("recovery re-runs an interrupted idempotent step")
    func recoverIdempotent() {
        var machine = StepMachine(state: .running, idempotent: true)
        #expect(machine.recover(hasIntent: true, result: nil) == .requeue)
        #expect(machine.state == .pending)
    }

    @Test("recovery never repeats an interrupted non-idempotent step")
    func recoverNonIdempotent() {
        var machine = StepMachine(state: .running, idempotent: false)
        guard case .flagForReview(let reason) = machine.recover(hasIntent: true, result: nil) else {
            Issue.record("expected a review flag")
            return
        }
        #expect(reason.contains("not idempotent"))
        #expect(machine.state == .needsReview)
    }

    @Test("recovery adopts a durable result and requeues a step whose intent was never written")
    func recoverWithResultOrNoIntent() {
        var finished = StepMachine(state: .running, idempotent: false)
        #expect(finished.recover(hasIntent: true, result: .succeeded(nil)) == .recordOutcome)
        #expect(finished.state == .succeeded)
        var neverStarted = StepMachine(state: .running, idempotent: false)
        #expect(neverStarted.recover(hasIntent: false, result: nil) == .requeue)
        #expect(neverStarted.state == .pending)
    }

    @Test("cancel stops waiting steps but lets an in-flight one finish")
    func cancel() {
        for state in [StepState.pending, .awaitingApproval, .needsReview] {
            var machine = StepMachine(state: state, idempotent: true)
            _ = machine.cancel()
            #expect(machine.state == .cancelled)
        }
        var running = StepMachine(state: .running, idempotent: true)
        #expect(running.cancel() == .letInFlightFinish)
        #expect(running.state == .running)
    }

    @Test("approval gates: pending → awaitingApproval → pending")
    func approval() {
        var machine = StepMachine(state: .pending, idempotent: true)
        _ = machine.requireApproval()
        #expect(machine.state == .awaitingApproval)
        #expect(machine.start() == StepMachine.Action.none)
        #expect(machine.approve() == .requeue)
        #expect(machine.state == .pending)
    }

    @Test(
        "run state derives from its steps",
        arguments: [
            ([StepState](), RunState.succeeded),
            ([.pending, .pending], .pending),
            ([.succeeded, .pending], .running),
            ([.succeeded, .running], .running),
            ([.succeeded, .needsReview, .pending], .needsReview),
            ([.succeeded, .failed, .pending], .failed),
            ([.succeeded, .cancelled], .cancelled),
            ([.succeeded, .succeeded], .succeeded),
            ([.awaitingApproval, .pending], .awaitingApproval),
        ])
    func deriveRunState(steps: [StepState], expected: RunState) {
        #expect(RunState.derive(from: steps) == expected)
    }

    static func detail(_ run: RunState, _ steps: [StepState]) -> RunDetail {
        let now = Date(timeIntervalSince1970: 0)
        return RunDetail(
            run: Run(id: 7, title: "t", origin: "cli", key: nil, state: run, createdAt: now, updatedAt: now),
            steps: steps.enumerated().map { position, state in
                Step(
                    id: Int64(position + 1), runID: 7, position: position, effect: "e", arguments: [:], idempotencyKey: "k#\(position)",
                    idempotent: true, state: state, attempts: 0, result: nil, error: nil, updatedAt: now)
            })
    }

    @Test("a run's cancel and resume, step by step: what changes, and which runs refuse")
    func runCommands() throws {
        let cancelled = try Self.detail(.running, [.succeeded, .running, .pending, .needsReview]).cancellation()
        #expect(cancelled.map(\.stepID) == [3, 4], "a running step finishes; a finished one stays")
        #expect(cancelled.allSatisfy { $0.state == .cancelled && $0.error == "cancelled by the user" })
        #expect(throws: LedgerError.notCancellable(7, .succeeded)) { try Self.detail(.succeeded, [.succeeded]).cancellation() }

        let resumed = try Self.detail(.failed, [.succeeded, .failed, .needsReview, .pending]).resumption()
        #expect(resumed == [RunDetail.StepChange(stepID: 2, state: .pending, error: nil), .init(stepID: 3, state: .pending, error: nil)])
        #expect(throws: LedgerError.notResumable(7, .running)) { try Self.detail(.running, [.running]).resumption() }
    }
}
