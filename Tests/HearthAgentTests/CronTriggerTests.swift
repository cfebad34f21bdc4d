import Foundation
import HearthAgent
import HearthCore
import HearthStore
import HearthTesting
import Logging
import Testing

@Suite("Cron trigger", .timeLimit(.minutes(10)))
struct CronTriggerTests {
    let directory: TemporaryDirectory
    let database: HearthDatabase
    let schedules: ScheduleStore
    let journal: JournalStore
    let utc = TimeZone(identifier: "UTC")!

    init() throws {
        directory = try TemporaryDirectory()
        database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        schedules = ScheduleStore(database: database)
        journal = JournalStore(database: database)
    }

    func date(_ text: String) -> Date { Timestamp.parse(text)! }

    func service(_ clock: ManualWallClock) -> CronTriggerService {
        CronTriggerService(
            book: schedules, defaultTimeZone: utc, clock: clock, wake: WakeSignal(), logger: Logger(label: "test"))
    }

    @Test("a new schedule starts from now, fires at its slot, and moves on")
    func firesOnTime() async throws {
        try await schedules.add(
            Schedule(
                name: "brief", expression: try CronExpression("0 8 * * *"), timeZone: nil, payload: ["topic": "morning"], nextFireAt: nil,
                createdAt: Date()),
            replace: false)
        let clock = ManualWallClock(now: date("2026-01-01T07:00:00Z"))
        let cron = service(clock)
        let first = try await cron.fireDue(now: clock.now())
        #expect(first.fired == 0)
        #expect(first.nextDeadline == date("2026-01-01T08:00:00Z"))
        let second = try await cron.fireDue(now: date("2026-01-01T08:00:00Z"))
        #expect(second.fired == 1)
        #expect(second.nextDeadline == date("2026-01-02T08:00:00Z"))
        let events = try await journal.events(EventQuery())
        #expect(events.count == 1)
        #expect(events[0].kind == "cron.fired")
        #expect(events[0].payload["topic"] == "morning")
        #expect(events[0].payload["missedSlots"] == 1)
        #expect(events[0].payload["catchUp"] == false)
        #expect(events[0].occurredAt == date("2026-01-01T08:00:00Z"))
    }

    @Test("after downtime a missed schedule fires once, for the latest slot, counting what it missed")
    func catchUpOnce() async throws {
        try await schedules.add(
            Schedule(
                name: "hourly", expression: try CronExpression("@hourly"), timeZone: nil, nextFireAt: date("2026-01-01T01:00:00Z"),
                createdAt: Date()),
            replace: false)
        let cron = service(ManualWallClock(now: date("2026-01-01T10:30:00Z")))
        let result = try await cron.fireDue(now: date("2026-01-01T10:30:00Z"))
        #expect(result.fired == 1)
        #expect(result.nextDeadline == date("2026-01-01T11:00:00Z"))
        let events = try await journal.events(EventQuery())
        #expect(events.count == 1)
        #expect(events[0].payload["missedSlots"] == 10)
        #expect(events[0].payload["scheduledFor"] == "2026-01-01T10:00:00.000Z")
        #expect(events[0].payload["catchUp"] == true)
        // Running again at the same instant changes nothing.
        #expect(try await cron.fireDue(now: date("2026-01-01T10:30:00Z")).fired == 0)
    }

    @Test("a slot another daemon of the fleet fired first (read as due by both) is one event and is not counted as fired again")
    func firedByAnother() async throws {
        try await schedules.add(
            Schedule(
                name: "brief", expression: try CronExpression("0 8 * * *"), timeZone: nil, nextFireAt: date("2026-01-01T08:00:00Z"),
                createdAt: Date()),
            replace: false)
        let now = date("2026-01-01T08:00:01Z")
        #expect(try await service(ManualWallClock(now: now)).fireDue(now: now).fired == 1)
        // The second daemon read the schedule before the first recorded its firing.
        try await schedules.setNextFire(of: "brief", at: date("2026-01-01T08:00:00Z"))
        let second = try await service(ManualWallClock(now: now)).fireDue(now: now)
        #expect(second.fired == 0)
        #expect(second.nextDeadline == date("2026-01-02T08:00:00Z"))
        #expect(try await journal.events(EventQuery()).count == 1)
        #expect(try await schedules.schedules().first?.nextFireAt == date("2026-01-02T08:00:00Z"))
    }

    @Test("a sparse schedule missed long ago still reports its latest slot")
    func sparseCatchUp() async throws {
        try await schedules.add(
            Schedule(
                name: "monthly", expression: try CronExpression("@monthly"), timeZone: nil, nextFireAt: date("2026-01-01T00:00:00Z"),
                createdAt: Date()),
            replace: false)
        _ = try await service(ManualWallClock(now: Date())).fireDue(now: date("2026-04-15T00:00:00Z"))
        let event = try #require(try await journal.events(EventQuery()).first)
        #expect(event.payload["scheduledFor"] == "2026-04-01T00:00:00.000Z")
        #expect(event.payload["missedSlots"] == 4)
    }

    @Test("the service sleeps until the next slot on the injected clock, then fires")
    func serviceLoop() async throws {
        try await schedules.add(
            Schedule(
                name: "tick", expression: try CronExpression("*/5 * * * *"), timeZone: "Europe/Paris", nextFireAt: nil, createdAt: Date()),
            replace: false)
        let clock = ManualWallClock(now: date("2026-01-01T00:01:00Z"))
        let task = Task { try await service(clock).run() }
        defer { task.cancel() }
        // Polls with a pause, not a busy loop of yields: on a starved machine those take the very
        // threads the service needs to get to its sleep.
        try await waitUntil("the service to sleep", seconds: 45) { clock.sleeperCount > 0 }
        #expect(try await journal.events(EventQuery()).isEmpty)
        clock.advance(to: date("2026-01-01T00:05:00Z"))
        let events = try await withTimeout(45, "the firing") { [journal] in
            while true {
                let events = try await journal.events(EventQuery())
                if !events.isEmpty { return events }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(events[0].payload["timeZone"] == "Europe/Paris")
        #expect(events[0].key == "cron:tick:\(Int(date("2026-01-01T00:05:00Z").timeIntervalSince1970))")
    }
}
