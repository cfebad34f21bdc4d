import Foundation
import GRDB
import HearthCore
import HearthTesting
import Testing

@testable import HearthStore

@Suite("Work ledger")
struct LedgerStoreTests {
    let directory: TemporaryDirectory
    let database: HearthDatabase
    let ledger: LedgerStore

    init() throws {
        directory = try TemporaryDirectory()
        database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        ledger = LedgerStore(database: database)
    }

    func request(key: String? = nil, steps: Int = 2, idempotent: Bool = true) -> RunRequest {
        RunRequest(
            title: "test run", origin: "test", key: key,
            steps: (0..<steps).map {
                RunRequest.StepRequest(effect: "append_line", arguments: ["n": .number(Double($0))], idempotent: idempotent)
            })
    }

    @Test("steps of a run are claimed in order, one at a time, with an intent each")
    func claimsInOrder() async throws {
        let (run, created) = try await ledger.createRun(request())
        #expect(created)
        #expect(run.state == .pending)
        let first = try #require(try await ledger.claimNextStep())
        #expect(first.step.position == 0)
        #expect(first.attempt == 1)
        #expect(try await ledger.claimNextStep() == nil)  // step 1 waits for step 0
        try await ledger.recordOutcome(.succeeded(["ok": true]), for: first)
        let second = try #require(try await ledger.claimNextStep())
        #expect(second.step.position == 1)
        #expect(try await ledger.run(run.id).run.state == .running)
        try await ledger.recordOutcome(.succeeded(nil), for: second)
        let detail = try await ledger.run(run.id)
        #expect(detail.run.state == .succeeded)
        #expect(detail.steps.map(\.state) == [.succeeded, .succeeded])
        #expect(detail.steps[0].result == ["ok": true])
        let intents = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM intent")! }
        let results = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM result")! }
        #expect(intents == 2)
        #expect(results == 2)
    }

    @Test("the same run key twice creates one run")
    func idempotentSubmission() async throws {
        let (first, created) = try await ledger.createRun(request(key: "job-1"))
        let (second, createdAgain) = try await ledger.createRun(request(key: "job-1", steps: 5))
        #expect(created && !createdAgain)
        #expect(first.id == second.id)
        #expect(try await ledger.run(first.id).steps.count == 2)
        #expect(try await ledger.run(first.id).steps[0].idempotencyKey == "key:job-1#0")
    }

    @Test("recovery re-queues interrupted idempotent steps and flags the others for review")
    func recovery() async throws {
        let (safeRun, _) = try await ledger.createRun(request(key: "safe", steps: 1, idempotent: true))
        let (riskyRun, _) = try await ledger.createRun(request(key: "risky", steps: 2, idempotent: false))
        let claimA = try #require(try await ledger.claimNextStep())
        let claimB = try #require(try await ledger.claimNextStep())
        #expect(Set([claimA.step.runID, claimB.step.runID]) == [safeRun.id, riskyRun.id])
        // The process dies here: both steps are running with intents and no results.
        let recovery = try await ledger.recover()
        #expect(recovery.requeuedSteps.count == 1)
        #expect(recovery.needsReviewSteps.count == 1)
        #expect(recovery.activeRuns == [safeRun.id])
        let risky = try await ledger.run(riskyRun.id)
        #expect(risky.run.state == .needsReview)
        #expect(risky.steps.map(\.state) == [.needsReview, .pending])
        #expect(risky.steps[0].error?.contains("not idempotent") == true)

        // The idempotent step runs again as attempt 2; the risky run waits for a human.
        let retry = try #require(try await ledger.claimNextStep())
        #expect(retry.step.runID == safeRun.id)
        #expect(retry.attempt == 2)
        #expect(try await ledger.claimNextStep() == nil)

        let resumed = try await ledger.resumeRun(riskyRun.id)
        #expect(resumed.steps.map(\.state) == [.pending, .pending])
        let afterReview = try #require(try await ledger.claimNextStep())
        #expect(afterReview.step.runID == riskyRun.id)
    }

    @Test("recovery adopts a result that was durable when the process died")
    func adoptsDurableResult() async throws {
        _ = try await ledger.createRun(request(steps: 1, idempotent: false))
        let claim = try #require(try await ledger.claimNextStep())
        // Simulate a crash between the result insert and the state update (normally one transaction).
        try await database.pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO result (idempotencyKey, attempt, stepId, succeeded, output, recordedAt) VALUES (?, ?, ?, 1, '{\"done\":true}', 0)",
                arguments: [claim.step.idempotencyKey, claim.attempt, claim.step.id])
        }
        let recovery = try await ledger.recover()
        #expect(recovery.adoptedResults == [claim.step.id])
        #expect(try await ledger.run(claim.step.runID).run.state == .succeeded)
    }

    @Test("a failed step stops its run; resume retries it")
    func failureAndResume() async throws {
        let (run, _) = try await ledger.createRun(request(steps: 2))
        let claim = try #require(try await ledger.claimNextStep())
        try await ledger.recordOutcome(.failed("no space left on device"), for: claim)
        let failed = try await ledger.run(run.id)
        #expect(failed.run.state == .failed)
        #expect(failed.steps[0].error == "no space left on device")
        #expect(try await ledger.claimNextStep() == nil)
        _ = try await ledger.resumeRun(run.id)
        #expect(try await ledger.claimNextStep()?.attempt == 2)
    }

    @Test("cancel stops pending steps; an in-flight step finishes and is recorded truthfully")
    func cancel() async throws {
        let (run, _) = try await ledger.createRun(request(steps: 3))
        let claim = try #require(try await ledger.claimNextStep())
        let cancelled = try await ledger.cancelRun(run.id)
        #expect(cancelled.steps.map(\.state) == [.running, .cancelled, .cancelled])
        try await ledger.recordOutcome(.succeeded(nil), for: claim)
        let final = try await ledger.run(run.id)
        #expect(final.run.state == .cancelled)
        #expect(final.steps[0].state == .succeeded)
        await #expect(throws: LedgerError.notCancellable(run.id, .cancelled)) { try await ledger.cancelRun(run.id) }
        await #expect(throws: LedgerError.runNotFound(999)) { try await ledger.run(999) }
    }

    @Test("an empty run is refused")
    func emptyRun() async throws {
        await #expect(throws: LedgerError.emptyRun) { try await ledger.createRun(request(steps: 0)) }
    }
}
