import Foundation
import HearthPostgres
import HearthStore
import HearthTesting
import Testing

@testable import HearthCore

extension StoreBackend {
    func makeRoutines() async throws -> (routines: any RoutineStore, goals: any GoalStore, close: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "routines")
            let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
            return (RoutineSQLStore(database: database), GoalSQLStore(database: database), { withExtendedLifetime(directory) {} })
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            return (PostgresRoutineStore(database: database), PostgresGoalStore(database: database), { database.close() })
        }
    }
}

@Suite("Routines on both backends", .timeLimit(.minutes(2)))
struct RoutineBackendTests {
    @Test("saved, listed, held, fired into a goal once per step, paused, and removed", arguments: StoreBackend.allCases)
    func routines(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (store, goals, close) = try await backend.makeRoutines()
        defer { close() }
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        let routine = Routine(
            name: "invoices", on: "mail.received", cron: nil, goal: "File the invoices", batchSeconds: 600, maxPerHour: 4,
            createdAt: created)
        try await store.save(routine)
        try await store.save(
            Routine(name: "digest", on: nil, cron: "0 18 * * *", goal: "Write the digest", batchSeconds: nil, createdAt: created))
        #expect(try await store.routines().map(\.name) == ["digest", "invoices"])
        #expect(try await store.routineCursor() == 0)

        var hold = RoutineStep()
        hold.holds = [
            RoutineStep.Hold(routine: "invoices", eventID: 7, at: created), RoutineStep.Hold(routine: "invoices", eventID: 9, at: created),
        ]
        #expect(try await store.apply(hold, cursor: 3, budget: GoalBudget()) == [])
        #expect(try await store.pending()["invoices"]?.map(\.eventID) == [7, 9])
        #expect(try await store.routineCursor() == 3)

        var fire = RoutineStep()
        fire.fires = [
            RoutineStep.Fire(
                routine: "invoices", goal: "File the invoices in Mail/", eventIDs: [7, 9], at: created.addingTimeInterval(600))
        ]
        fire.pauses = ["digest": "fired too often"]
        let runs = try await store.apply(fire, cursor: 5, budget: GoalBudget())
        #expect(runs.count == 1)
        #expect(try await goals.goal(runs[0]).goal == "File the invoices in Mail/")
        #expect(try await store.pending()["invoices"] == nil)
        let firings = try await store.firings(routine: "invoices", since: created)
        #expect(firings.map(\.eventIDs) == [[7, 9]] && firings[0].runID == runs[0] && firings[0].runState == "pending")
        #expect(try await store.firings(routine: nil, since: created.addingTimeInterval(3600)).isEmpty)
        #expect(try await store.routines().first { $0.name == "digest" }?.pausedReason == "fired too often")
        #expect(try await store.writtenPaths(routine: "invoices", since: created).isEmpty)

        #expect(try await store.remove("invoices"))
        #expect(try await store.remove("invoices") == false)
        #expect(try await store.routines().map(\.name) == ["digest"])
    }

    @Test("PostgreSQL: a step two daemons computed from the same items fires once")
    func firesOnce() async throws {
        try #require(StoreBackend.postgres.available, "no PostgreSQL for the tests: run them with scripts/test")
        let first = try await TestPostgres.freshDatabase()
        let second = try await TestPostgres.open(first.location)
        defer {
            first.close()
            second.close()
        }
        let stores = [PostgresRoutineStore(database: first), PostgresRoutineStore(database: second)]
        try await stores[0].save(
            Routine(name: "r", on: "note.added", cron: nil, goal: "Handle the note", batchSeconds: nil, createdAt: Date()))
        var step = RoutineStep()
        step.fires = [RoutineStep.Fire(routine: "r", goal: "Handle the note", eventIDs: [1], at: Date())]
        async let a = stores[0].apply(step, cursor: 1, budget: GoalBudget())
        async let b = stores[1].apply(step, cursor: 1, budget: GoalBudget())
        let runs = try await a + b
        #expect(runs.count == 1, "one goal, whichever daemon applied the step first")
        #expect(try await stores[1].firings(routine: "r", since: .distantPast).count == 1)
    }
}
