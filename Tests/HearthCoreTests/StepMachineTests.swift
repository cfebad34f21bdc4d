import HearthCore
import Testing

@Suite("Step state machine")
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
}
