import Foundation
import HearthAgent
import HearthCore
import Logging
import ServiceLifecycle

/// Writes the morning brief and the end-of-day digest on their cron schedules. After downtime,
/// one brief covers the whole gap since the last one (not one per missed slot).
struct BriefService: Service {
    let writer: BriefWriter
    let morning: CronExpression
    let evening: CronExpression
    let timeZone: TimeZone
    let clock: any WallClock
    let wake: WakeSignal
    let logger: Logger
    let written: @Sendable (Brief) async -> Void

    func run() async throws {
        let startedAt = clock.now()
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let now = clock.now()
                do {
                    let last = try await writer.lastBriefEnd()
                    if let (kind, slot) = schedule.latestSlot(after: last ?? startedAt, upTo: now) {
                        let from = last ?? slot.addingTimeInterval(-24 * 3600)
                        let brief = try await writer.write(kind: kind, from: from, to: now)
                        logger.info("wrote the \(kind) brief: \(brief.path ?? "?")")
                        await written(brief)
                    }
                } catch {
                    logger.error("brief: \(error); trying again in a minute")
                    await wake.wait(until: now.addingTimeInterval(60), clock: clock)
                    continue
                }
                let next = schedule.next(after: now)
                await wake.wait(until: next ?? now.addingTimeInterval(3600), clock: clock)
            }
        } onGracefulShutdown: {
            wake.wake()
        }
    }

    var schedule: BriefSchedule { BriefSchedule(morning: morning, evening: evening, timeZone: timeZone) }
}
