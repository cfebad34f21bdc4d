import Foundation
import HearthCore
import Logging
import ServiceLifecycle

/// Starts goals for routines: each newly scored event is matched against the routines' filters
/// (held for a batch, or fired at once), cron routines fire on their schedule, and the goals run
/// through the ordinary planner, executor, policy gate and approvals.
///
/// Guards: events Hearth caused never trigger a routine (nor files a routine's own runs wrote); a
/// routine firing more than its hourly limit pauses with the reason; three failed runs in a row
/// pause it too.
public struct RoutineService: Service {
    let store: any RoutineStore
    let attention: any AttentionStore
    let journal: any EventJournal
    let budget: GoalBudget
    let timeZone: TimeZone
    let wake: WakeSignal
    let clock: any WallClock
    let logger: Logger
    let goalsCreated: @Sendable () -> Void

    public init(
        store: any RoutineStore, attention: any AttentionStore, journal: any EventJournal, budget: GoalBudget, timeZone: TimeZone,
        wake: WakeSignal, clock: any WallClock, logger: Logger, goalsCreated: @escaping @Sendable () -> Void
    ) {
        self.store = store
        self.attention = attention
        self.journal = journal
        self.budget = budget
        self.timeZone = timeZone
        self.wake = wake
        self.clock = clock
        self.logger = logger
        self.goalsCreated = goalsCreated
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                var deadline = clock.now().addingTimeInterval(30)
                do {
                    if let next = try await pass() { deadline = min(deadline, next) }
                } catch {
                    logger.error("routines: \(error); retrying in 5 s")
                    deadline = clock.now().addingTimeInterval(5)
                }
                await wake.wait(until: deadline, clock: clock)
            }
        } onGracefulShutdown: {
            wake.wake()
        }
    }

    /// One pass over new items, due batches and cron slots; returns when the next is due.
    @discardableResult
    public func pass() async throws -> Date? {
        var routines = try await store.routines()
        let now = clock.now()
        try await pauseFailing(&routines)
        guard routines.contains(where: { !$0.paused }) else {
            // Nothing listens: move the cursor so a later routine does not fire on old events.
            let latest = try await attention.ingestedThrough()
            if try await store.routineCursor() < latest { _ = try await store.apply(RoutineStep(), cursor: latest, budget: budget) }
            return nil
        }
        let cursor = try await store.routineCursor()
        let items = try await attention.items(AttentionQuery(limit: 500, afterEventID: cursor))
        let events = try await self.events(ids: items.map(\.eventID), after: cursor)
        var engine = try await engine(routines, now: now)
        let subjects = items.compactMap { item in events[item.eventID].map { (AttentionSubject.from($0), item.decision.level) } }
        let step = engine.step(items: subjects, now: now, timeZone: timeZone)
        let newCursor = items.last?.eventID ?? cursor
        if !step.isEmpty || newCursor != cursor {
            let runs = try await store.apply(step, cursor: newCursor, budget: budget)
            for (fire, run) in zip(step.fires, runs) {
                logger.info("routine \(fire.routine) started run \(run) for \(fire.eventIDs.count) event(s)")
            }
            for (name, reason) in step.pauses { logger.warning("routine \(name) paused: \(reason)") }
            if !runs.isEmpty { goalsCreated() }
        }
        if items.count == 500 { return now }
        return engine.nextDeadline(after: now, timeZone: timeZone)
    }

    /// The engine over the store's state: held events, the last hour's firings, written paths.
    func engine(_ routines: [Routine], now: Date) async throws -> RoutineEngine {
        let held = try await store.pending()
        var pending: [String: [RoutineEngine.Pending]] = [:]
        let heldIDs = held.values.flatMap { $0.map(\.eventID) }
        if let first = heldIDs.min() {
            let events = try await self.events(ids: heldIDs, after: first - 1)
            for (routine, entries) in held {
                pending[routine] = entries.compactMap { entry in
                    events[entry.eventID].map {
                        RoutineEngine.Pending(eventID: entry.eventID, at: entry.at, subject: AttentionSubject.from($0))
                    }
                }
            }
        }
        let hour = try await store.firings(routine: nil, since: now.addingTimeInterval(-3600))
        var lastCron: [String: Date] = [:]
        var written: [String: Set<String>] = [:]
        for routine in routines {
            if routine.cron != nil, let last = try await store.firings(routine: routine.name, since: routine.createdAt).last {
                lastCron[routine.name] = last.firedAt
            }
            if routine.on != nil {
                written[routine.name] = try await store.writtenPaths(routine: routine.name, since: now.addingTimeInterval(-86_400))
            }
        }
        return RoutineEngine(
            routines: routines, pending: pending, firedLastHour: Dictionary(grouping: hour, by: \.routine).mapValues(\.count),
            lastCronFire: lastCron, writtenByRoutine: written)
    }

    /// Three failed runs in a row pause a routine, with the reason.
    func pauseFailing(_ routines: inout [Routine]) async throws {
        for index in routines.indices where !routines[index].paused {
            let recent = try await store.firings(routine: routines[index].name, since: routines[index].createdAt).suffix(3)
            guard recent.count == 3, recent.allSatisfy({ $0.runState == "failed" }) else { continue }
            routines[index].paused = true
            routines[index].pausedReason =
                "its last three runs failed (\(recent.compactMap { $0.runID.map { "run \($0)" } }.joined(separator: ", "))); see 'hearth run ID', fix the goal or the filter, then 'hearth routine resume \(routines[index].name)'"
            try await store.save(routines[index])
            logger.warning("routine \(routines[index].name) paused: \(routines[index].pausedReason!)")
        }
    }

    private func events(ids: [Int64], after: Int64) async throws -> [Int64: Event] {
        guard let last = ids.max() else { return [:] }
        let wanted = Set(ids)
        var found: [Int64: Event] = [:]
        var cursor = after
        while cursor < last {
            let batch = try await journal.events(EventQuery(afterID: cursor, limit: 1_000))
            guard let tail = batch.last else { break }
            for event in batch where wanted.contains(event.id) { found[event.id] = event }
            cursor = tail.id
        }
        return found
    }
}
