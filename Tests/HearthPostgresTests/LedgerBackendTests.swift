import Foundation
import GRDB
import HearthCore
import HearthPostgres
import HearthTesting
import PostgresNIO
import Testing

@testable import HearthStore

/// The work ledger on a fresh store, with a way to count rows and write one by hand (a crash
/// between two statements of a transaction).
struct LedgerFixture: Sendable {
    var ledger: any WorkLedger
    var count: @Sendable (_ table: String) async throws -> Int
    var insertResult: @Sendable (_ key: String, _ attempt: Int, _ step: Int64) async throws -> Void
    /// A second daemon on the same store, claiming as `holder` with leases of `lease`.
    var daemon: @Sendable (_ holder: String, _ lease: Duration) async throws -> (ledger: any WorkLedger, close: @Sendable () -> Void)
    var close: @Sendable () -> Void
}

extension StoreBackend {
    func makeLedger() async throws -> LedgerFixture {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "ledger")
            let path = directory.appending("hearth.sqlite")
            let database = try HearthDatabase.open(at: path)
            return LedgerFixture(
                ledger: LedgerStore(database: database),
                count: { table in try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 } },
                insertResult: { key, attempt, step in
                    try await database.pool.write { db in
                        try db.execute(
                            sql:
                                "INSERT INTO result (idempotencyKey, attempt, stepId, succeeded, output, recordedAt) VALUES (?, ?, ?, 1, '{\"done\":true}', 0)",
                            arguments: [key, attempt, step])
                    }
                },
                daemon: { _, _ in
                    let second = try HearthDatabase.open(at: path)
                    return (LedgerStore(database: second), { withExtendedLifetime(second) {} })
                }, close: { withExtendedLifetime(directory) {} })
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            let location = database.location
            return LedgerFixture(
                ledger: PostgresLedger(database: database, holder: "first"),
                count: { table in
                    var total = 0
                    for try await count in try await database.client.query(PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM \(table)"))
                        .decode(Int.self)
                    {
                        total = count
                    }
                    return total
                },
                insertResult: { key, attempt, step in
                    try await database.client.query(
                        """
                        INSERT INTO result (idempotencyKey, attempt, stepId, succeeded, output, recordedAt)
                        VALUES (\(key), \(attempt), \(step), TRUE, '{"done":true}', 0)
                        """)
                },
                daemon: { holder, lease in
                    let second = try await TestPostgres.open(location)
                    return (PostgresLedger(database: second, holder: holder, lease: lease), { second.close() })
                }, close: { database.close() })
        }
    }
}

@Suite("The work ledger on both backends", .timeLimit(.minutes(2)))
struct LedgerBackendTests {
    func request(key: String? = nil, steps: Int = 2, idempotent: Bool = true) -> RunRequest {
        RunRequest(
            title: "test run", origin: "test", key: key,
            steps: (0..<steps).map {
                RunRequest.StepRequest(effect: "append_line", arguments: ["n": .number(Double($0))], idempotent: idempotent)
            })
    }

    @Test("steps of a run are claimed in order, one at a time, with an intent each", arguments: StoreBackend.allCases)
    func claimsInOrder(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let fixture = try await backend.makeLedger()
        defer { fixture.close() }
        let ledger = fixture.ledger
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
        #expect(try await fixture.count("intent") == 2)
        #expect(try await fixture.count("result") == 2)
        #expect(try await ledger.runs(limit: 10, states: [.succeeded]).map(\.id) == [run.id])
        #expect(try await ledger.runs(limit: 10, states: [.failed]).isEmpty)
        #expect(try await ledger.runs(limit: 10, states: nil).count == 1)
    }

    @Test("the same run key twice creates one run", arguments: StoreBackend.allCases)
    func idempotentSubmission(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let fixture = try await backend.makeLedger()
        defer { fixture.close() }
        let ledger = fixture.ledger
        let (first, created) = try await ledger.createRun(request(key: "job-1"))
        let (second, createdAgain) = try await ledger.createRun(request(key: "job-1", steps: 5))
        #expect(created && !createdAgain)
        #expect(first.id == second.id)
        #expect(try await ledger.run(first.id).steps.count == 2)
        #expect(try await ledger.run(first.id).steps[0].idempotencyKey == "key:job-1#0")
        let (unkeyed, _) = try await ledger.createRun(request())
        #expect(try await ledger.run(unkeyed.id).steps[1].idempotencyKey.hasPrefix("run:"))
    }

    @Test("recovery re-queues interrupted idempotent steps and flags the others for review", arguments: StoreBackend.allCases)
    func recovery(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let fixture = try await backend.makeLedger()
        defer { fixture.close() }
        let ledger = fixture.ledger
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

    @Test("recovery adopts a result that was durable when the process died", arguments: StoreBackend.allCases)
    func adoptsDurableResult(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let fixture = try await backend.makeLedger()
        defer { fixture.close() }
        _ = try await fixture.ledger.createRun(request(steps: 1, idempotent: false))
        let claim = try #require(try await fixture.ledger.claimNextStep())
        // A crash between the result insert and the state update (normally one transaction).
        try await fixture.insertResult(claim.step.idempotencyKey, claim.attempt, claim.step.id)
        let recovery = try await fixture.ledger.recover()
        #expect(recovery.adoptedResults == [claim.step.id])
        #expect(try await fixture.ledger.run(claim.step.runID).run.state == .succeeded)
    }

    @Test("a failed step stops its run; resume retries it", arguments: StoreBackend.allCases)
    func failureAndResume(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let fixture = try await backend.makeLedger()
        defer { fixture.close() }
        let ledger = fixture.ledger
        let (run, _) = try await ledger.createRun(request(steps: 2))
        let claim = try #require(try await ledger.claimNextStep())
        try await ledger.recordOutcome(.failed("no space left on device"), for: claim)
        let failed = try await ledger.run(run.id)
        #expect(failed.run.state == .failed)
        #expect(failed.steps[0].error == "no space left on device")
        #expect(try await ledger.claimNextStep() == nil)
        _ = try await ledger.resumeRun(run.id)
        #expect(try await ledger.claimNextStep()?.attempt == 2)
        await #expect(throws: LedgerError.notResumable(run.id, .running)) { try await ledger.resumeRun(run.id) }
    }

    @Test("cancel stops pending steps; an in-flight step finishes and is recorded truthfully", arguments: StoreBackend.allCases)
    func cancel(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let fixture = try await backend.makeLedger()
        defer { fixture.close() }
        let ledger = fixture.ledger
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
        await #expect(throws: LedgerError.emptyRun) { try await ledger.createRun(request(steps: 0)) }
    }

    @Test("a goal's run is cancelled and resumed through the ledger by the goal's own rules", arguments: StoreBackend.allCases)
    func goalRunThroughLedger(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let stores = try await backend.makeGoalStores()
        defer { stores.close() }
        let run = try await stores.goals.createGoal("Tidy Notes/", budget: GoalBudget(), workspace: nil)
        try await stores.goals.savePlan(run.id, draft: PlanDraft(tasks: []), tasks: [GoalBackendTests.task("a")])
        let cancelled = try await stores.ledger.cancelRun(run.id)
        #expect(cancelled.run.state == .cancelled && cancelled.steps.isEmpty)
        #expect(try await stores.goals.goal(run.id).tasks[0].state == .cancelled)
        try await stores.goals.setRunState(run.id, state: .failed, pauseReason: nil)
        #expect(try await stores.ledger.resumeRun(run.id).run.state == .pending)
    }

    // MARK: A fleet on one PostgreSQL

    @Test("two daemons claiming from one ledger: every step claimed once and in its run's order")
    func daemonsShareSteps() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let fixture = try await StoreBackend.postgres.makeLedger()
        defer { fixture.close() }
        for index in 0..<12 { _ = try await fixture.ledger.createRun(request(key: "run-\(index)", steps: 3)) }
        let daemons = [try await fixture.daemon("a", .seconds(600)), try await fixture.daemon("b", .seconds(600))]
        defer { for daemon in daemons { daemon.close() } }
        let claimed = await withTaskGroup(of: [StepClaim].self) { group in
            for daemon in daemons {
                group.addTask {
                    var mine: [StepClaim] = []
                    var idle = 0
                    while idle < 20 {
                        guard let claim = try? await daemon.ledger.claimNextStep() else {
                            idle += 1
                            try? await Task.sleep(for: .milliseconds(5))
                            continue
                        }
                        idle = 0
                        mine.append(claim)
                        try? await daemon.ledger.recordOutcome(.succeeded(["by": .string("\(mine.count)")]), for: claim)
                    }
                    return mine
                }
            }
            var all: [[StepClaim]] = []
            for await claims in group { all.append(claims) }
            return all
        }
        let steps = claimed.flatMap { $0 }.map(\.step.id)
        #expect(steps.count == 36 && Set(steps).count == 36, "every step claimed once: \(steps.count) claims")
        #expect(claimed.allSatisfy { $0.allSatisfy { $0.attempt == 1 } })
        let runs = try await fixture.ledger.runs(limit: 100, states: nil)
        #expect(runs.count == 12 && runs.allSatisfy { $0.state == .succeeded })
        #expect(try await fixture.count("intent") == 36)
        #expect(try await fixture.count("result") == 36)
    }

    @Test("a daemon whose lease ran out is fenced: another takes the step over and only its outcome is recorded")
    func expiredLeaseTakenOver() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let fixture = try await StoreBackend.postgres.makeLedger()
        defer { fixture.close() }
        let holder = try await fixture.daemon("holder", .seconds(600))
        let paused = try await fixture.daemon("paused", .milliseconds(1))
        let live = try await fixture.daemon("live", .seconds(600))
        defer {
            for daemon in [holder, paused, live] { daemon.close() }
        }
        _ = try await fixture.ledger.createRun(request(key: "held", steps: 1))
        let held = try #require(try await holder.ledger.claimNextStep())
        let (run, _) = try await fixture.ledger.createRun(request(steps: 1, idempotent: true))
        let stale = try #require(try await paused.ledger.claimNextStep())
        #expect(stale.step.runID == run.id)
        try await Task.sleep(for: .milliseconds(20))
        // Another daemon's recovery leaves a step alone while its holder's lease holds...
        let recovered = try await live.ledger.recover()
        #expect(!recovered.requeuedSteps.contains(held.step.id), "a live lease is not recovered by another daemon")
        // ...and takes it over once the lease ran out: the idempotent step runs again as attempt 2.
        #expect(recovered.requeuedSteps == [stale.step.id])
        let takeover = try #require(try await live.ledger.claimNextStep())
        #expect(takeover.step.id == stale.step.id && takeover.attempt == 2)
        // The paused daemon wakes and reports: its outcome is for a stale attempt and is not recorded.
        try await paused.ledger.recordOutcome(.succeeded(["by": "paused"]), for: stale)
        #expect(try await fixture.ledger.run(run.id).steps[0].state == .running)
        try await live.ledger.recordOutcome(.succeeded(["by": "live"]), for: takeover)
        let detail = try await fixture.ledger.run(run.id)
        #expect(detail.run.state == .succeeded && detail.steps[0].result == ["by": "live"])
        #expect(try await fixture.count("result") == 1)
    }

    @Test("a step left running by a dead daemon is reconciled by the next claim after its lease, without a restart")
    func claimReconcilesExpired() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let fixture = try await StoreBackend.postgres.makeLedger()
        defer { fixture.close() }
        let (run, _) = try await fixture.ledger.createRun(request(steps: 1, idempotent: false))
        let dead = try await fixture.daemon("dead", .milliseconds(1))
        _ = try #require(try await dead.ledger.claimNextStep())
        dead.close()
        try await Task.sleep(for: .milliseconds(20))
        #expect(try await fixture.ledger.claimNextStep() == nil)
        let detail = try await fixture.ledger.run(run.id)
        #expect(detail.steps[0].state == .needsReview && detail.run.state == .needsReview, "not idempotent: a human decides")
    }
}
