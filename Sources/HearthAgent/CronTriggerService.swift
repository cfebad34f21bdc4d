import Foundation
import HearthCore
import Logging
import ServiceLifecycle

/// Fires cron schedules into the journal.
///
/// Each schedule's next fire time is persisted. When the daemon was down past one or more fire
/// times, the schedule fires **once** on start (for the latest missed slot, with `missedSlots`
/// in the payload), not once per missed slot. A firing's key is the schedule name plus the slot
/// time, and the event and the new next-fire time are written in one transaction, so a crash
/// neither skips nor repeats a slot.
public struct CronTriggerService: Service {
    private let book: any ScheduleBook
    private let defaultTimeZone: TimeZone
    private let clock: any WallClock
    private let wake: WakeSignal
    private let logger: Logger
    private let reportStartup: StartupReporter

    public init(
        book: any ScheduleBook, defaultTimeZone: TimeZone, clock: any WallClock, wake: WakeSignal, logger: Logger,
        reportStartup: @escaping StartupReporter = { _, _ in }
    ) {
        self.book = book
        self.defaultTimeZone = defaultTimeZone
        self.clock = clock
        self.wake = wake
        self.logger = logger
        self.reportStartup = reportStartup
    }

    public func run() async throws {
        var firstPass = true
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let nextDeadline: Date?
                do {
                    let (fired, deadline) = try await fireDue(now: clock.now())
                    if firstPass {
                        await reportStartup("cron", ["catchUps": .number(Double(fired))])
                        firstPass = false
                    }
                    nextDeadline = deadline
                } catch {
                    logger.error("cron: \(error); retrying in 5 s")
                    nextDeadline = clock.now().addingTimeInterval(5)
                }
                // Schedules changed by the CLI arrive as a wake; re-reading at least once a
                // minute covers a nudge that never arrived.
                let recheck = clock.now().addingTimeInterval(60)
                await wake.wait(until: nextDeadline.map { min($0, recheck) } ?? recheck, clock: clock)
            }
        } onGracefulShutdown: {
            wake.wake()
        }
    }

    /// Fires every schedule due at `now`; returns how many fired and when the next one is due.
    public func fireDue(now: Date) async throws -> (fired: Int, nextDeadline: Date?) {
        var fired = 0
        var earliest: Date?
        for schedule in try await book.schedules() {
            let zone = schedule.timeZone.flatMap(TimeZone.init(identifier:)) ?? defaultTimeZone
            guard let due = schedule.nextFireAt else {
                // New (or reset) schedule: it starts from now; nothing is "missed" before it existed.
                let next = schedule.expression.nextFire(after: now, in: zone)
                try await book.setNextFire(of: schedule.name, at: next)
                earliest = Self.earlier(earliest, next)
                continue
            }
            guard due <= now else {
                earliest = Self.earlier(earliest, due)
                continue
            }
            let (slot, missed) = Self.latestSlot(of: schedule.expression, firstDue: due, now: now, zone: zone)
            let next = schedule.expression.nextFire(after: now, in: zone)
            var payload = schedule.payload.objectValue ?? ["value": schedule.payload]
            payload["schedule"] = .string(schedule.name)
            payload["expression"] = .string(schedule.expression.source)
            payload["timeZone"] = .string(zone.identifier)
            payload["scheduledFor"] = .string(Timestamp.format(slot))
            payload["missedSlots"] = .number(Double(missed))
            payload["catchUp"] = .bool(missed > 1 || now.timeIntervalSince(slot) > 60)
            let event = NewEvent(
                source: "cron", kind: schedule.kind, key: "cron:\(schedule.name):\(Int64(slot.timeIntervalSince1970))",
                payload: .object(payload), occurredAt: slot, provenance: .trusted)
            let outcome = try await book.recordFiring(of: schedule.name, event: event, nextFireAt: next)
            if outcome.duplicate {
                // Another daemon of the fleet fired this slot first: the slot's key made it one event.
                logger.debug("cron: \(schedule.name) for \(Timestamp.format(slot)) was fired already (event \(outcome.id))")
                earliest = Self.earlier(earliest, next)
                continue
            }
            if missed > 1 {
                logger.notice("cron: \(schedule.name) missed \(missed) slots while down; fired once for \(Timestamp.format(slot))")
            } else {
                logger.info("cron: \(schedule.name) fired for \(Timestamp.format(slot)) (event \(outcome.id))")
            }
            fired += 1
            earliest = Self.earlier(earliest, next)
        }
        return (fired, earliest)
    }

    /// The most recent slot at or before `now`, and how many slots were due since `firstDue` (inclusive).
    static func latestSlot(of expression: CronExpression, firstDue: Date, now: Date, zone: TimeZone) -> (Date, Int) {
        let missedAfterFirst = expression.fireCount(after: firstDue, through: now, in: zone)
        guard missedAfterFirst > 0 else { return (firstDue, 1) }
        // Walk only the recent past to find the latest slot; a dense schedule down for months
        // would otherwise mean walking every missed minute.
        // A sparse schedule has nothing in that window: then walk from the first due slot (few steps).
        let windowStart = max(firstDue, now.addingTimeInterval(-2 * 86_400))
        for start in windowStart == firstDue ? [firstDue] : [windowStart, firstDue] {
            var latest: Date?
            var cursor = start
            while let next = expression.nextFire(after: cursor, in: zone), next <= now {
                latest = next
                cursor = next
            }
            if let latest { return (latest, missedAfterFirst + 1) }
        }
        return (firstDue, missedAfterFirst + 1)
    }

    private static func earlier(_ a: Date?, _ b: Date?) -> Date? {
        switch (a, b) {
        case (nil, let b): b
        case (let a, nil): a
        case (let a?, let b?): min(a, b)
        }
    }
}
