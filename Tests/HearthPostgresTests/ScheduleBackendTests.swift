import Foundation
import HearthCore
import HearthPostgres
import HearthStore
import HearthTesting
import Testing

extension StoreBackend {
    /// A schedule book and the journal it fires into, on a fresh store; `second` opens another
    /// daemon's view of the same store.
    func makeSchedules() async throws -> (
        book: any ScheduleBook, journal: any EventJournal, second: @Sendable () async throws -> (any ScheduleBook, @Sendable () -> Void),
        close: @Sendable () -> Void
    ) {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "schedules")
            let path = directory.appending("hearth.sqlite")
            let database = try HearthDatabase.open(at: path)
            return (
                ScheduleStore(database: database), JournalStore(database: database),
                {
                    let other = try HearthDatabase.open(at: path)
                    return (ScheduleStore(database: other), { withExtendedLifetime(other) {} })
                }, { withExtendedLifetime(directory) {} }
            )
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            let location = database.location
            return (
                PostgresScheduleBook(database: database), PostgresJournal(database: database),
                {
                    let other = try await TestPostgres.open(location)
                    return (PostgresScheduleBook(database: other), { other.close() })
                }, { database.close() }
            )
        }
    }
}

@Suite("Cron schedules on both backends", .timeLimit(.minutes(2)))
struct ScheduleBackendTests {
    @Test(
        "added, refused twice without --replace, listed, fired once per slot whichever daemon fires, removed",
        arguments: StoreBackend.allCases)
    func schedules(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (book, journal, second, close) = try await backend.makeSchedules()
        defer { close() }
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        let schedule = Schedule(
            name: "standup", expression: try CronExpression("0 9 * * 1-5"), timeZone: "Europe/Paris", kind: "standup.due",
            payload: ["room": "B"], nextFireAt: created.addingTimeInterval(3600), createdAt: created)
        try await book.add(schedule, replace: false)
        await #expect(throws: ScheduleError.exists("standup")) { try await book.add(schedule, replace: false) }
        var changed = schedule
        changed.payload = ["room": "C"]
        try await book.add(changed, replace: true)
        let listed = try await book.schedules()
        #expect(listed.map(\.name) == ["standup"] && listed[0].payload == ["room": "C"] && listed[0].timeZone == "Europe/Paris")
        #expect(listed[0].expression.source == "0 9 * * 1-5" && listed[0].nextFireAt == created.addingTimeInterval(3600))

        // Two daemons fire the same slot: one event is stored, the other hears it was a duplicate.
        let (other, closeOther) = try await second()
        defer { closeOther() }
        let slot = created.addingTimeInterval(3600)
        let event = NewEvent(
            source: "cron", kind: "standup.due", key: "cron:standup:\(Int64(slot.timeIntervalSince1970))", payload: ["room": "C"],
            occurredAt: slot, provenance: .trusted)
        let next = slot.addingTimeInterval(86_400)
        async let firstFiring = book.recordFiring(of: "standup", event: event, nextFireAt: next)
        async let secondFiring = other.recordFiring(of: "standup", event: event, nextFireAt: next)
        let outcomes = try await [firstFiring, secondFiring]
        #expect(outcomes.filter { !$0.duplicate }.count == 1 && Set(outcomes.map(\.id)).count == 1, "\(outcomes)")
        #expect(try await journal.events(EventQuery(kind: "standup.due")).count == 1)
        let fired = try await book.schedules()[0]
        #expect(fired.nextFireAt == next && fired.lastFiredAt == slot)
        try await book.setNextFire(of: "standup", at: next.addingTimeInterval(60))
        #expect(try await book.schedules()[0].nextFireAt == next.addingTimeInterval(60))

        try await book.remove("standup")
        await #expect(throws: ScheduleError.notFound("standup")) { try await book.remove("standup") }
        #expect(try await book.schedules().isEmpty)
    }
}
