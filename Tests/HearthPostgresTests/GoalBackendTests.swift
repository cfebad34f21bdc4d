import Foundation
import HearthCore
import HearthPostgres
import HearthStore
import HearthTesting
import PostgresNIO
import Testing

/// A goal store and an approval book sharing one store, as a daemon has them.
struct GoalBackendStores: Sendable {
    var goals: any GoalStore
    var ledger: any WorkLedger
    var approvals: any ApprovalBook
    /// Another daemon's view of the same store (its own connections), for racing answers.
    var other: @Sendable () async throws -> (approvals: any ApprovalBook, close: @Sendable () -> Void)
    var close: @Sendable () -> Void
}

extension StoreBackend {
    func makeGoalStores() async throws -> GoalBackendStores {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "goals")
            let path = directory.appending("hearth.sqlite")
            let database = try HearthDatabase.open(at: path)
            return GoalBackendStores(
                goals: GoalSQLStore(database: database), ledger: LedgerStore(database: database),
                approvals: ApprovalSQLStore(database: database),
                other: {
                    let second = try HearthDatabase.open(at: path)
                    return (ApprovalSQLStore(database: second), { withExtendedLifetime(second) {} })
                }, close: { withExtendedLifetime(directory) {} })
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            let location = database.location
            return GoalBackendStores(
                goals: PostgresGoalStore(database: database), ledger: PostgresLedger(database: database, holder: "test"),
                approvals: PostgresApprovalBook(database: database),
                other: {
                    let second = try await TestPostgres.open(location)
                    return (PostgresApprovalBook(database: second), { second.close() })
                }, close: { database.close() })
        }
    }
}

@Suite("Goals, the tool journal and approvals on both backends", .timeLimit(.minutes(2)))
struct GoalBackendTests {
    static func task(_ id: String, dependsOn: [String] = [], group: String? = nil) -> PlanTask {
        PlanTask(
            id: id, group: group ?? id, item: nil, title: "Task \(id)", instructions: "Do \(id).", dependsOn: dependsOn,
            expectedOutput: "", tools: ["read_file"])
    }

    @Test(
        "a goal created with a key is created once: a retry gets the same run; a key of a run that is not a goal is refused",
        arguments: StoreBackend.allCases)
    func keyedGoal(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let stores = try await backend.makeGoalStores()
        defer { stores.close() }
        let goals = stores.goals
        let first = try await goals.createGoal("Write the weekly report", budget: GoalBudget(), workspace: nil, key: "weekly-48")
        #expect(first.created && first.run.key == "weekly-48")
        // Retried at once, concurrently: one goal.
        let retries = try await withThrowingTaskGroup(of: (run: Run, created: Bool).self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await goals.createGoal("Write the weekly report", budget: GoalBudget(), workspace: nil, key: "weekly-48")
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(retries.allSatisfy { !$0.created && $0.run.id == first.run.id })
        let other = try await goals.createGoal("Write the weekly report", budget: GoalBudget(), workspace: nil, key: "weekly-49")
        #expect(other.created && other.run.id != first.run.id)
        #expect(try await goals.createGoal("Unkeyed", budget: GoalBudget()).id != first.run.id)
        let ledgerRun = try await stores.ledger.createRun(
            RunRequest(
                title: "a run", origin: "test", key: "taken",
                steps: [RunRequest.StepRequest(effect: "append_line", arguments: ["n": 1], idempotent: true)]))
        await #expect(throws: GoalError.keyTaken("taken", ledgerRun.run.id)) {
            _ = try await goals.createGoal("x", budget: GoalBudget(), workspace: nil, key: "taken")
        }
    }

    @Test("a goal's plan, task states, tool journal, usage, traces, progress, cancel and resume", arguments: StoreBackend.allCases)
    func conformance(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let stores = try await backend.makeGoalStores()
        defer { stores.close() }
        let goals = stores.goals
        await #expect(throws: GoalError.emptyGoal) { _ = try await goals.createGoal("  \n", budget: GoalBudget(), workspace: nil) }
        let run = try await goals.createGoal("  Summarise Notes/ into Reports/notes.md ✓ ", budget: GoalBudget(), workspace: "Projects/x")
        #expect(run.state == .pending && run.origin == "goal" && run.title == "Summarise Notes/ into Reports/notes.md ✓")
        #expect(try await goals.runState(run.id) == .pending)
        await #expect(throws: LedgerError.self) { _ = try await goals.runState(run.id + 1000) }
        await #expect(throws: LedgerError.self) { _ = try await goals.goal(run.id + 1000) }

        try await goals.savePlan(run.id, draft: PlanDraft(tasks: []), tasks: [Self.task("a"), Self.task("b", dependsOn: ["a"])])
        let another = PlanDraft(tasks: [
            PlanDraft.Task(id: "z", title: "z", instructions: "z", dependsOn: [], expectedOutput: "", tools: [])
        ])
        try await goals.savePlan(run.id, draft: another, tasks: [Self.task("z")])
        var detail = try await goals.goal(run.id)
        #expect(detail.goal == "Summarise Notes/ into Reports/notes.md ✓" && detail.workspace == "Projects/x")
        #expect(detail.plan?.tasks.isEmpty == true && detail.tasks.map(\.task.id) == ["a", "b"], "a second plan is not saved")
        #expect(try await goals.activeGoals().contains(run.id))

        try await goals.setTaskState(run.id, task: "a", state: .running, result: nil, error: nil)
        let action = TaskAction(
            position: 0, tool: "read_file", arguments: ["path": "Notes/ä.md"], idempotencyKey: "k-\(run.id)-a-0", state: .intent)
        try await goals.recordIntent(run.id, task: "a", action: action)
        #expect(try await goals.actions(run.id, task: "a").map(\.state) == [.intent])
        try await goals.recordOutcome(run.id, task: "a", position: 0, output: ToolOutput(text: "read", data: ["bytes": 3]), error: nil)
        let recorded = try await goals.actions(run.id, task: "a")
        #expect(
            recorded.first?.state == .succeeded && recorded.first?.output?.text == "read"
                && recorded.first?.arguments["path"] == "Notes/ä.md")
        try await goals.setTaskState(run.id, task: "a", state: .succeeded, result: ["ok": true], error: nil)
        var usage = GoalUsage()
        (usage.promptTokens, usage.completionTokens, usage.modelCalls) = (100, 20, 1)
        try await goals.addUsage(run.id, usage)
        (usage.promptTokens, usage.completionTokens) = (50, 5)
        try await goals.addUsage(run.id, usage)
        try await goals.trace(
            TraceEvent(runID: run.id, taskID: "a", kind: .tool, name: "read_file", detail: ["path": "Notes/ä.md"], milliseconds: 12))
        try await goals.trace(TraceEvent(runID: run.id, taskID: nil, kind: .state, name: "running", detail: .null))
        detail = try await goals.goal(run.id)
        #expect(detail.tasks[0].state == .succeeded && detail.tasks[0].attempts == 1 && detail.tasks[0].result == ["ok": true])
        #expect(detail.usage.promptTokens == 150 && detail.usage.completionTokens == 25 && detail.usage.modelCalls == 2)
        let traces = try await goals.traces(run.id)
        #expect(traces.map(\.name) == ["read_file", "running"] && traces[0].milliseconds == 12 && traces[1].taskID == nil)
        #expect(try await goals.progress([run.id]) == [run.id: GoalProgress(done: 1, total: 2, tokens: 175)])
        #expect(try await goals.progress([]) == [:])

        // A failed task replaced: its dependents wait for the successor, a skip it caused is undone.
        try await goals.setTaskState(run.id, task: "b", state: .skipped, result: nil, error: "a failed")
        try await goals.replaceTask(run.id, failed: Self.task("a"), with: [Self.task("a2")], successor: "a2", reason: "retry")
        detail = try await goals.goal(run.id)
        #expect(detail.tasks.map(\.task.id) == ["a", "b", "a2"] && detail.tasks[0].state == .replaced && detail.tasks[0].error == "retry")
        #expect(detail.tasks[1].state == .pending && detail.tasks[1].task.dependsOn == ["a2"])

        // A crash with a task running: recovery puts it back to pending and names its run.
        try await goals.setTaskState(run.id, task: "a2", state: .running, result: nil, error: nil)
        #expect(try await goals.recoverGoals(only: run.id + 1000) == [])
        #expect(try await goals.recoverGoals(only: nil) == [run.id])
        #expect(try await goals.goal(run.id).tasks[2].state == .pending)

        try await goals.setRunState(run.id, state: .needsReview, pauseReason: "over budget")
        #expect(try await goals.goal(run.id).pauseReason == "over budget")
        let resumed = try await goals.resumeGoal(run.id)
        #expect(resumed.run.state == .pending && resumed.pauseReason == nil)
        let cancelled = try await goals.cancelGoal(run.id)
        #expect(cancelled.run.state == .cancelled && cancelled.tasks.allSatisfy { $0.state != .pending })
        await #expect(throws: LedgerError.self) { _ = try await goals.cancelGoal(run.id) }
        await #expect(throws: GoalError.self) { _ = try await goals.resumeGoal(run.id) }
        try await goals.finish(run.id, state: .succeeded, report: "Reports/x.md", summary: "done", pauseReason: nil)
        detail = try await goals.goal(run.id)
        #expect(detail.run.state == .succeeded && detail.report == "Reports/x.md" && detail.summary == "done")
        #expect(try await goals.activeGoals().contains(run.id) == false)
    }

    func waitingApproval(_ stores: GoalBackendStores, expiresIn: TimeInterval = 3600) async throws -> (run: Run, approval: Approval) {
        let run = try await stores.goals.createGoal("Send the report", budget: GoalBudget(), workspace: nil)
        try await stores.goals.savePlan(run.id, draft: PlanDraft(tasks: []), tasks: [Self.task("send")])
        try await stores.goals.setTaskState(run.id, task: "send", state: .awaitingApproval, result: nil, error: nil)
        try await stores.goals.setRunState(run.id, state: .awaitingApproval, pauseReason: nil)
        let now = Date()
        let arguments: JSONValue = ["to": "ann@example.com", "body": "Q2"]
        let approval = Approval(
            runID: run.id, taskID: "send", position: 1, tool: "send_message", risk: .sendExternal, arguments: arguments,
            origins: ["to": .untrusted], reason: "sends outside", createdAt: now, expiresAt: now.addingTimeInterval(expiresIn))
        return (run, try await stores.approvals.request(approval))
    }

    @Test("an approval is requested once, paged, answered once, and its task goes back to work", arguments: StoreBackend.allCases)
    func approvals(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let stores = try await backend.makeGoalStores()
        defer { stores.close() }
        let (run, approval) = try await waitingApproval(stores)
        let again = try await stores.approvals.request(approval)
        #expect(again.id == approval.id && approval.state == .pending, "asking again returns the first request")
        let found = try await stores.approvals.approval(runID: run.id, taskID: "send", position: 1)
        #expect(found?.hash == approval.hash && found?.origins == ["to": .untrusted] && found?.arguments["to"] == "ann@example.com")
        #expect(try await stores.approvals.approval(runID: run.id, taskID: "send", position: 2) == nil)
        let page = try await stores.approvals.waiting(now: Date(), limit: 10, offset: 0)
        #expect(page.total == 1 && page.approvals.map(\.id) == [approval.id])
        #expect(try await stores.approvals.waiting(now: Date().addingTimeInterval(7200), limit: 10, offset: 0).total == 0)

        let decided = try await stores.approvals.decide(approval.id, approve: true, note: "yes", now: Date())
        #expect(decided.state == .approved && decided.note == "yes" && decided.decidedAt != nil)
        let detail = try await stores.goals.goal(run.id)
        #expect(detail.run.state == .pending && detail.tasks[0].state == .pending, "the answer puts the task back to work")
        await #expect(throws: ApprovalError.alreadyDecided(approval.id, .approved)) {
            _ = try await stores.approvals.decide(approval.id, approve: false, note: nil, now: Date())
        }
        await #expect(throws: ApprovalError.notFound(approval.id + 1000)) {
            _ = try await stores.approvals.decide(approval.id + 1000, approve: true, note: nil, now: Date())
        }
        try await stores.approvals.markUsed(approval.id)
        #expect(try await stores.approvals.approvals(states: [.used]).map(\.id) == [approval.id])
        #expect(try await stores.approvals.approvals(states: nil).count == 1)
        #expect(try await stores.approvals.approvals(states: [.pending, .approved]).isEmpty)
    }

    @Test("a pending approval past its deadline expires as a denial and frees its task", arguments: StoreBackend.allCases)
    func expiry(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let stores = try await backend.makeGoalStores()
        defer { stores.close() }
        let (run, approval) = try await waitingApproval(stores, expiresIn: 60)
        #expect(try await stores.approvals.expire(now: Date()).isEmpty)
        let expired = try await stores.approvals.expire(now: Date().addingTimeInterval(120))
        #expect(expired.map(\.id) == [approval.id])
        #expect(try await stores.approvals.approvals(states: [.expired]).first?.note == "no answer before the deadline")
        #expect(try await stores.goals.goal(run.id).tasks[0].state == .pending)
        await #expect(throws: ApprovalError.alreadyDecided(approval.id, .expired)) {
            _ = try await stores.approvals.decide(approval.id, approve: true, note: nil, now: Date())
        }
    }

    @Test("two daemons answer one approval at once: one answer holds, the other is told it was decided", arguments: StoreBackend.allCases)
    func answeredOnce(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let stores = try await backend.makeGoalStores()
        defer { stores.close() }
        let (_, approval) = try await waitingApproval(stores)
        let others = try await (0..<3).asyncMap { _ in try await stores.other() }
        defer { for other in others { other.close() } }
        let books = [stores.approvals] + others.map(\.approvals)
        let results = await withTaskGroup(of: Result<Approval.State, ApprovalError>?.self) { group in
            for (index, book) in books.enumerated() {
                group.addTask {
                    do {
                        let decided = try await book.decide(
                            approval.id, approve: index.isMultiple(of: 2), note: "daemon \(index)", now: Date())
                        return .success(decided.state)
                    } catch let error as ApprovalError {
                        return .failure(error)
                    } catch {
                        Issue.record("unexpected: \(error)")
                        return nil
                    }
                }
            }
            var results: [Result<Approval.State, ApprovalError>] = []
            for await result in group { results += result.map { [$0] } ?? [] }
            return results
        }
        let won = results.compactMap { try? $0.get() }
        #expect(won.count == 1, "exactly one answer holds: \(results)")
        let stored = try await stores.approvals.approvals(states: nil)
        #expect(stored.count == 1 && won.first == stored.first?.state, "the stored answer is the one that won")
        for case .failure(let error) in results {
            #expect(error == .alreadyDecided(approval.id, stored[0].state))
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

@Suite("A goal run's lease on PostgreSQL", .timeLimit(.minutes(2)))
struct RunLeaseTests {
    /// A fresh store with `count` goals, and a second daemon's view of it.
    static func fleet(goals count: Int) async throws -> (first: PostgresStore, second: PostgresStore, runs: [Int64]) {
        let first = try await TestPostgres.freshDatabase()
        let second = try await TestPostgres.open(first.location)
        var runs: [Int64] = []
        for index in 0..<count {
            runs.append(try await PostgresGoalStore(database: first).createGoal("goal \(index)", budget: GoalBudget(), workspace: nil).id)
        }
        return (first, second, runs)
    }

    @Test("one holder fleet-wide: a second daemon is refused while the first works, and gets the run after it")
    func oneHolder() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (first, second, runs) = try await Self.fleet(goals: 2)
        defer {
            first.close()
            second.close()
        }
        let inside = try await first.whileLeasing(run: runs[0], holder: "a", lease: .seconds(30)) { lease in
            #expect(lease.fence == 1 && lease.holder == "a")
            return try await second.whileLeasing(run: runs[0], holder: "b", lease: .seconds(30)) { _ in "second got it" } ?? "refused"
        }
        #expect(inside == "refused")
        #expect(try await second.whileLeasing(run: runs[1], holder: "b", lease: .seconds(30)) { _ in "another run" } == "another run")
        #expect(
            try await second.whileLeasing(run: runs[0], holder: "b", lease: .seconds(30)) { "after, fence \($0.fence)" } == "after, fence 2"
        )
        // A holder that fails gives the run back too.
        await #expect(throws: PostgresStoreError.failed("boom")) {
            _ = try await first.whileLeasing(run: runs[0], holder: "a", lease: .seconds(30)) { _ -> String in
                throw PostgresStoreError.failed("boom")
            }
        }
        #expect(try await second.whileLeasing(run: runs[0], holder: "b", lease: .seconds(30)) { _ in "again" } == "again")
        // A daemon restarted after a kill (the same holder) takes back its own lease at once.
        let held = try #require(try await first.claimRun(runs[1], holder: "a", lease: .seconds(30)))
        let again = try #require(try await first.claimRun(runs[1], holder: "a", lease: .seconds(30)))
        #expect(again.fence == held.fence + 1)
        #expect(try await second.claimRun(runs[1], holder: "b", lease: .seconds(30)) == nil)
    }

    @Test("the next free run: the oldest with work left that nobody else holds; held, skipped and finished runs are passed over")
    func nextFreeRun() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (first, second, runs) = try await Self.fleet(goals: 4)
        defer {
            first.close()
            second.close()
        }
        try await PostgresGoalStore(database: first).finish(runs[0], state: .succeeded, report: nil, summary: "done", pauseReason: nil)
        let a = try #require(try await first.claimNextRun(holder: "a", lease: .seconds(30)))
        #expect(a.run == runs[1] && a.fence == 1)
        let b = try #require(try await second.claimNextRun(holder: "b", lease: .seconds(30)))
        #expect(b.run == runs[2], "the run a holds is passed over")
        #expect(try await second.claimNextRun(holder: "c", lease: .seconds(30), skip: [runs[3]]) == nil)
        // A holder's own lease is its to take again (a daemon restarted under its name).
        #expect(try await first.claimNextRun(holder: "a", lease: .seconds(30))?.run == runs[1])
        // Concurrent daemons each get a different run, or none.
        let (third, _, more) = try await Self.fleet(goals: 6)
        defer { third.close() }
        let taken = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for index in 0..<8 { group.addTask { try await third.claimNextRun(holder: "d\(index)", lease: .seconds(30))?.run } }
            return try await group.reduce(into: [Int64]()) { if let run = $1 { $0.append(run) } }
        }
        #expect(taken.sorted() == more, "six runs, each leased once: \(taken)")
        let value = try await third.whileLeasingNext(holder: "z", lease: .seconds(30)) { lease in lease.run }
        #expect(value == nil, "every run is held")
        // What a daemon starting as "a" may say it resumes: its own and the unheld, not b's.
        #expect(try await first.runs(runs, notHeldByOthersThan: "a") == [runs[0], runs[1], runs[3]])
    }

    @Test("a holder paused past its lease is taken over, and its fenced writes are refused: nothing it records lands")
    func takeoverFencesThePausedHolder() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (first, second, runs) = try await Self.fleet(goals: 1)
        defer {
            first.close()
            second.close()
        }
        let run = runs[0]
        // The first holder claims and then stops renewing (a paused daemon: no renewer runs). Its
        // lease outlasts the setup below on a loaded machine (300 ms did not, in a CI run: the
        // second claim then came after it had run out).
        let claimed = ContinuousClock.now
        let paused = try #require(try await first.claimRun(run, holder: "a", lease: .seconds(3)))
        let pausedStore = PostgresGoalStore(database: first).fenced(by: paused)
        try await pausedStore.savePlan(run, draft: PlanDraft(tasks: []), tasks: [GoalBackendTests.task("x"), GoalBackendTests.task("y")])
        try await pausedStore.setTaskState(run, task: "x", state: .running, result: nil, error: nil)
        #expect(try await second.claimRun(run, holder: "b", lease: .seconds(30)) == nil, "held until the lease runs out")
        try await Task.sleep(until: claimed + .milliseconds(3_300))
        let taken = try #require(try await second.claimRun(run, holder: "b", lease: .seconds(30)))
        #expect(taken.fence == paused.fence + 1)
        let takerStore = PostgresGoalStore(database: second).fenced(by: taken)
        #expect(try await takerStore.recoverGoals(only: run) == [run])

        // The paused holder wakes up: every write for the run is refused and changes nothing.
        let lost = PostgresStoreError.leaseLost(run: run)
        let action = TaskAction(position: 0, tool: "append_line", arguments: ["line": "x"], idempotencyKey: "k-x-0", state: .intent)
        await #expect(throws: lost) { try await pausedStore.recordIntent(run, task: "x", action: action) }
        await #expect(throws: lost) { try await pausedStore.setTaskState(run, task: "x", state: .succeeded, result: "done", error: nil) }
        await #expect(throws: lost) { try await pausedStore.recordOutcome(run, task: "x", position: 0, output: nil, error: "late") }
        await #expect(throws: lost) { try await pausedStore.finish(run, state: .succeeded, report: nil, summary: "late", pauseReason: nil) }
        await #expect(throws: lost) { try await pausedStore.setRunState(run, state: .needsReview, pauseReason: "late") }
        await #expect(throws: lost) { try await first.renewRun(paused, for: .seconds(30)) }
        #expect(try await pausedStore.actions(run, task: "x").isEmpty)
        var detail = try await takerStore.goal(run)
        #expect(detail.tasks.first { $0.task.id == "x" }?.state == .pending)
        #expect(detail.run.state != .succeeded && detail.summary == nil)
        // Its release changes nothing either; the new holder records, under its fence.
        try await first.releaseRun(paused)
        #expect(try await first.claimRun(run, holder: "a", lease: .seconds(30)) == nil)
        try await takerStore.recordIntent(run, task: "x", action: action)
        try await takerStore.setTaskState(run, task: "x", state: .succeeded, result: "done", error: nil)
        detail = try await takerStore.goal(run)
        #expect(detail.tasks.first { $0.task.id == "x" }?.state == .succeeded)
        let fences = try await second.client.query("SELECT fence FROM task_action WHERE runId = \(run)").decode(Int64.self)
        var recorded: [Int64] = []
        for try await fence in fences { recorded.append(fence) }
        #expect(recorded == [taken.fence])
        let claims = try await second.client.query("SELECT holder FROM run_claim WHERE runId = \(run) ORDER BY fence").decode(String.self)
        var holders: [String] = []
        for try await holder in claims { holders.append(holder) }
        #expect(holders == ["a", "b"])
    }

    @Test("a run whose lease another took is cancelled: the holder is told, and stops working on it")
    func leaseLostCancelsTheRun() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (first, second, runs) = try await Self.fleet(goals: 1)
        defer {
            first.close()
            second.close()
        }
        let run = runs[0]
        let running = Counter()
        let stopped = Counter()
        let holding = Task {
            try await first.whileLeasing(run: run, holder: "a", lease: .milliseconds(900)) { _ -> String in
                running.increment()
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    stopped.increment()
                    throw error
                }
                return "finished"
            }
        }
        for _ in 0..<200 where running.value == 0 { try await Task.sleep(for: .milliseconds(25)) }
        try #require(running.value == 1)
        // Renewed while it works: still held well past the lease.
        try await Task.sleep(for: .seconds(2))
        #expect(try await second.claimRun(run, holder: "b", lease: .seconds(30)) == nil)
        // Taken as a takeover takes it (the fence raised under another holder).
        try await second.client.query("UPDATE run_lease SET holder = 'b', fence = fence + 1 WHERE runId = \(run)")
        await #expect(throws: PostgresStoreError.leaseLost(run: run)) { _ = try await holding.value }
        #expect(stopped.value == 1, "the run was cancelled, not left working without its lease")
        #expect("\(PostgresStoreError.leaseLost(run: run))".contains("another daemon took the run"))
    }

    @Test("many transactions and reads leave one close watch per pooled connection and no waiter behind")
    func closeWatchesStayBounded() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let database = try await TestPostgres.freshDatabase()
        defer { database.close() }
        let journal = PostgresJournal(database: database)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for index in 0..<100 {
                        _ = try await journal.append([
                            NewEvent(
                                source: "test", kind: "k", key: "w\(writer)-\(index)", payload: [:], occurredAt: Date(),
                                provenance: .trusted)
                        ])
                        _ = try await journal.events(EventQuery(limit: 1, newestFirst: true))
                    }
                }
            }
            try await group.waitForAll()
        }
        let watched = database.watchedConnections
        #expect(watched.waiters == 0)
        #expect(watched.connections >= 1 && watched.connections <= 8, "one watch per pooled connection: \(watched)")
    }
}
