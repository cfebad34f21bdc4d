import Foundation
import HearthCore
import HearthPostgres
import HearthStore
import HearthTesting
import Synchronization
import Testing

extension StoreBackend {
    /// The work queue on this backend, on a fresh store.
    func makeQueue() async throws -> (queue: any WorkQueue, close: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "work")
            let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
            return (WorkSQLQueue(database: database), { withExtendedLifetime(directory) {} })
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            return (PostgresWorkQueue(database: database), { database.close() })
        }
    }
}

@Suite("Shared work under leases and fences, on both backends", .timeLimit(.minutes(2)))
struct WorkQueueBackendTests {
    static func goals(_ range: Range<Int>) -> [NewWork] {
        range.map { NewWork(kind: "goal", key: "goal-\($0)", payload: ["n": .number(Double($0))]) }
    }

    @Test(
        "claims skip what another holder has, steps are recorded once, a duplicate key is stored once", arguments: StoreBackend.allCases)
    func conformance(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (queue, close) = try await backend.makeQueue()
        defer { close() }
        let enqueued = try await queue.enqueue(Self.goals(0..<3) + [NewWork(kind: "goal", key: "goal-1", payload: "again")])
        #expect(enqueued.map(\.duplicate) == [false, false, false, true] && enqueued[3].id == enqueued[1].id)
        let a = try await queue.claim(kind: "goal", holder: "a", lease: .seconds(60), limit: 2)
        #expect(a.map(\.item.key) == ["goal-0", "goal-1"] && a.allSatisfy { $0.lease.fence == 1 && $0.item.payload["n"] != nil })
        let b = try await queue.claim(kind: "goal", holder: "b", lease: .seconds(60), limit: 5)
        #expect(b.map(\.item.key) == ["goal-2"])
        #expect(try await queue.claim(kind: "goal", holder: "b", lease: .seconds(60), limit: 5).isEmpty)
        #expect(try await queue.claim(kind: "routine", holder: "b", lease: .seconds(60), limit: 5).isEmpty)

        let runs = Counter()
        let first = try await queue.step(a[0].lease, number: 0, limit: .seconds(10)) {
            runs.increment()
            return ["wrote": 1]
        }
        let again = try await queue.step(a[0].lease, number: 0, limit: .seconds(10)) {
            runs.increment()
            return ["wrote": 2]
        }
        #expect(first == ["wrote": 1] && again == ["wrote": 1] && runs.value == 1, "a recorded step is not run again")
        try await queue.renew(a[0].lease, for: .seconds(60))
        try await queue.complete(a[0].lease, result: ["ok": true])
        await #expect(throws: WorkQueueError.leaseLost(a[0].lease)) { try await queue.complete(a[0].lease, result: ["ok": true]) }
        let done = try #require(try await queue.item(a[0].item.id))
        #expect(done.state == "done" && done.result == ["ok": true] && done.stepsDone == [0: ["wrote": 1]])
        #expect(try await queue.counts(kind: "goal") == WorkCounts(pending: 0, claimed: 2, done: 1))
        #expect(try await queue.item(999) == nil)
        await #expect(throws: WorkQueueError.self) { _ = try await queue.enqueue([NewWork(kind: "goal", key: "", payload: .null)]) }
    }

    @Test(
        "an expired lease is taken over with a higher fence; the old holder can neither step, renew nor complete, and the new one sees its steps",
        arguments: StoreBackend.allCases)
    func takeover(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (queue, close) = try await backend.makeQueue()
        defer { close() }
        _ = try await queue.enqueue(Self.goals(0..<1))
        let old = try #require(try await queue.claim(kind: "goal", holder: "paused", lease: .seconds(60), limit: 1).first)
        _ = try await queue.step(old.lease, number: 0, limit: .seconds(10)) { ["step": 0] }
        #expect(try await queue.claim(kind: "goal", holder: "other", lease: .seconds(60), limit: 1).isEmpty, "the lease still holds")
        // The holder stops renewing: its last renewal was for a millisecond.
        try await queue.renew(old.lease, for: .milliseconds(1))
        var taken: [ClaimedWork] = []
        for _ in 0..<100 where taken.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            taken = try await queue.claim(kind: "goal", holder: "other", lease: .seconds(60), limit: 1)
        }
        let new = try #require(taken.first, "the expired lease was never taken over")
        #expect(new.lease.fence == old.lease.fence + 1 && new.item.stepsDone == [0: ["step": 0]])

        let ran = Counter()
        await #expect(throws: WorkQueueError.leaseLost(old.lease)) {
            _ = try await queue.step(old.lease, number: 1, limit: .seconds(10)) {
                ran.increment()
                return ["step": 1]
            }
        }
        #expect(ran.value == 0, "a holder that lost its lease does not run the step's effect")
        await #expect(throws: WorkQueueError.leaseLost(old.lease)) { try await queue.renew(old.lease, for: .seconds(60)) }
        await #expect(throws: WorkQueueError.leaseLost(old.lease)) { try await queue.complete(old.lease, result: "stale") }
        _ = try await queue.step(new.lease, number: 1, limit: .seconds(10)) { ["step": 1] }
        try await queue.complete(new.lease, result: "fresh")
        let item = try #require(try await queue.item(new.item.id))
        #expect(item.result == "fresh" && item.stepsDone.keys.sorted() == [0, 1])
        #expect("\(WorkQueueError.leaseLost(old.lease))".contains("paused lost its lease on work item"))
    }

    @Test(
        "claimers racing on one queue: every item claimed once; one cron slot fired once among racing firers",
        arguments: StoreBackend.allCases)
    func racing(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (queue, close) = try await backend.makeQueue()
        defer { close() }
        _ = try await queue.enqueue(Self.goals(0..<80))
        let claimed = Keys()
        let effects = Counter()
        let fired = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for claimer in 0..<4 {
                group.addTask {
                    while let work = try await queue.claim(kind: "goal", holder: "d\(claimer)", lease: .seconds(60), limit: 3).nilIfEmpty {
                        for item in work {
                            claimed.add(item.item.key)
                            try await queue.complete(item.lease, result: .null)
                        }
                    }
                    let first = try await queue.fireSlot(schedule: "digest", slot: 42, holder: "d\(claimer)", limit: .seconds(10)) {
                        effects.increment()
                        return ["sent": true]
                    }
                    if first { fired.increment() }
                }
            }
            try await group.waitForAll()
        }
        let keys = claimed.all
        #expect(keys.count == 80 && Set(keys).count == 80)
        #expect(try await queue.counts(kind: "goal") == WorkCounts(done: 80))
        #expect(fired.value == 1)
        if backend == .postgres { #expect(effects.value == 1, "the slot's effect ran once") }
    }

    @Test(
        "PostgreSQL: a holder stopped inside a step longer than its limit has its transaction ended; nothing is recorded and the item is free"
    )
    func stoppedInsideStep() async throws {
        try #require(TestPostgres.url != nil || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let database = try await TestPostgres.freshDatabase()
        defer { database.close() }
        let queue = PostgresWorkQueue(database: database)
        _ = try await queue.enqueue(Self.goals(0..<1))
        let work = try #require(try await queue.claim(kind: "goal", holder: "slow", lease: .milliseconds(400), limit: 1).first)
        let error = await #expect(throws: (any Error).self) {
            _ = try await queue.step(work.lease, number: 0, limit: .milliseconds(400)) {
                try await Task.sleep(for: .seconds(2))
                return ["late": true]
            }
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("nothing was recorded"))
        let item = try #require(try await queue.item(work.item.id))
        #expect(item.stepsDone.isEmpty, "the stopped holder's step was not recorded")
        let next = try #require(try await queue.claim(kind: "goal", holder: "next", lease: .seconds(60), limit: 1).first)
        #expect(next.lease.fence == 2)
        _ = try await queue.step(next.lease, number: 0, limit: .seconds(10)) { ["step": 0] }
        try await queue.complete(next.lease, result: .null)
    }
}

private final class Keys: Sendable {
    private let keys = Mutex<[String]>([])
    func add(_ key: String) { keys.withLock { $0.append(key) } }
    var all: [String] { keys.withLock { $0 } }
}

extension Array {
    fileprivate var nilIfEmpty: Self? { isEmpty ? nil : self }
}
