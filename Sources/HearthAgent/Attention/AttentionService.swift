import Foundation
import HearthCore
import Logging
import ServiceLifecycle

/// Follows the journal from a durable cursor: every event is decided (interrupt, digest, log)
/// and remembered, exactly once across crashes — the batch's records, decisions and the cursor
/// are one transaction. No model is called; an idle journal costs nothing but a wait.
public struct AttentionService: Service {
    let journal: any EventJournal
    let store: any AttentionStore
    let ingestor: AttentionIngestor
    /// The profile as memory holds it now (facts, rules, feedback); re-read before each batch.
    let profile: @Sendable () async throws -> AttentionProfile
    let wake: WakeSignal
    let clock: any WallClock
    let logger: Logger
    let batchSize: Int
    /// Called after each stored batch (the engine catches up; interrupts are delivered).
    let stored: @Sendable ([AttentionItem]) async -> Void

    public init(
        journal: any EventJournal, store: any AttentionStore, ingestor: AttentionIngestor,
        profile: @escaping @Sendable () async throws -> AttentionProfile, wake: WakeSignal, clock: any WallClock, logger: Logger,
        batchSize: Int = 500, stored: @escaping @Sendable ([AttentionItem]) async -> Void = { _ in }
    ) {
        self.journal = journal
        self.store = store
        self.ingestor = ingestor
        self.profile = profile
        self.wake = wake
        self.clock = clock
        self.logger = logger
        self.batchSize = batchSize
        self.stored = stored
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await warmUp()
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let more: Bool
                do {
                    more = try await ingestBatch()
                } catch {
                    logger.error("attention: \(error); retrying in 5 s")
                    await wake.wait(until: clock.now().addingTimeInterval(5), clock: clock)
                    continue
                }
                if !more {
                    // The API wakes us after each write; triggers that write straight to the
                    // database are seen within five seconds (one indexed read, no model).
                    await wake.wait(until: clock.now().addingTimeInterval(5), clock: clock)
                }
            }
        } onGracefulShutdown: {
            wake.wake()
        }
    }

    /// Ingests the next batch; true when more events may be waiting.
    @discardableResult
    public func ingestBatch() async throws -> Bool {
        let cursor = try await store.ingestedThrough()
        let events = try await journal.events(EventQuery(afterID: cursor, limit: batchSize))
        guard let last = events.last else { return false }
        if let profile = try? await profile() { await ingestor.setProfile(profile) }
        let batch = await ingestor.process(events, now: clock.now())
        let items = try await store.ingest(batch, through: last.id)
        let interrupts = items.filter { $0.decision.level == .interrupt }.count
        logger.debug("attention: \(items.count) events ingested, \(interrupts) to interrupt")
        await stored(items)
        return events.count == batchSize
    }

    /// Rebuilds the scorer's memory of the last day (duplicates, bursts, the hourly cap, metric
    /// history) by deciding those events again, without storing anything, so a restart does not
    /// alert twice for one incident.
    func warmUp() async {
        do {
            if let profile = try? await profile() { await ingestor.setProfile(profile) }
            // Metric history first (a month's budget sums rows older than a day), then the last day.
            var metricRows = try await journal.events(EventQuery(limit: 1_000, kind: "metric.row", newestFirst: true)).reversed().map { $0 }
            let since = clock.now().addingTimeInterval(-24 * 3600)
            let items = try await store.items(AttentionQuery(from: since))
            let recentIDs = Set(items.map(\.eventID))
            metricRows.removeAll { recentIDs.contains($0.id) }
            for event in metricRows { _ = await ingestor.decide(event, content: nil, mode: .metadata, now: event.receivedAt) }
            guard let first = items.first else { return }
            let decided = Dictionary(uniqueKeysWithValues: items.map { ($0.eventID, $0.decidedAt) })
            var afterID = first.eventID - 1
            let through = items.last!.eventID
            while afterID < through {
                let events = try await journal.events(EventQuery(afterID: afterID, limit: 1_000)).filter { $0.id <= through }
                guard let last = events.last else { break }
                for event in events {
                    _ = await ingestor.decide(event, content: nil, mode: .metadata, now: decided[event.id] ?? event.receivedAt)
                }
                afterID = last.id
            }
        } catch {
            logger.warning("attention: could not rebuild the last day's duplicates, bursts and metric history: \(error)")
        }
    }
}
