import Foundation
import HearthCore
import Logging
import ServiceLifecycle

/// Limits and ages for consolidation.
public struct ConsolidationPolicy: Sendable, Hashable {
    /// Hard cap on records; the oldest, least important records beyond it are dropped (and listed).
    public var maxRecords = 500_000
    /// Sessions whose last record is older than this get a summary record.
    public var summariseAfterDays = 14.0
    public var minimumSessionRecords = 6
    /// Kinds never dropped by the cap.
    public var protectedKinds: Set<MemoryKind> = [.note, .summary, .runSummary]

    public init() {}
}

/// Exactly what a consolidation pass changed.
public struct ConsolidationReport: Sendable, Hashable, Codable {
    public struct Merge: Sendable, Hashable, Codable {
        public var kept: Int64
        public var removed: [Int64]

        public init(kept: Int64, removed: [Int64]) {
            self.kept = kept
            self.removed = removed
        }
    }
    public struct Summary: Sendable, Hashable, Codable {
        public var source: String
        public var sessionID: String
        public var recordID: Int64
        public var covers: Int
    }
    public var summaries: [Summary] = []
    public var merged: [Merge] = []
    public var dropped: [Int64] = []
    public var at: Date

    public var isEmpty: Bool { summaries.isEmpty && merged.isEmpty && dropped.isEmpty }

    public var text: String {
        var lines = ["consolidation at \(Timestamp.format(at))"]
        for summary in summaries {
            lines.append(
                "  summarised session \(summary.source)/\(summary.sessionID) (\(summary.covers) records) as record \(summary.recordID)")
        }
        for merge in merged {
            lines.append("  merged duplicates \(merge.removed.map(String.init).joined(separator: ", ")) into \(merge.kept)")
        }
        if !dropped.isEmpty {
            lines.append("  dropped \(dropped.count) records over the cap: \(dropped.map(String.init).joined(separator: ", "))")
        }
        if isEmpty { lines.append("  nothing to do") }
        return lines.joined(separator: "\n")
    }
}

extension MemoryEngine {
    /// Summaries of old sessions, de-duplication and the size cap, in that order; the report is
    /// also saved in the store (`hearth memory stats` shows the latest).
    public func consolidate(_ policy: ConsolidationPolicy = ConsolidationPolicy()) async throws -> ConsolidationReport {
        var report = ConsolidationReport(at: clock.now())
        let cutoff = clock.now().addingTimeInterval(-policy.summariseAfterDays * 86_400)
        for session in try await store.sessionsToSummarise(before: cutoff, minimumRecords: policy.minimumSessionRecords, limit: 100) {
            let records = try await store.sessionRecords(source: session.source, sessionID: session.sessionID)
            guard let last = records.last else { continue }
            let summary = MemoryRecord(
                kind: .summary, text: Self.extractiveSummary(records), source: session.source,
                provenance: records.contains { $0.provenance == .untrusted } ? .untrusted : .trusted,
                occurredAt: last.occurredAt, recordedAt: clock.now(), sessionID: session.sessionID, importance: 0.7)
            let stored = try await remember([summary])[0]
            report.summaries.append(.init(source: session.source, sessionID: session.sessionID, recordID: stored.id, covers: records.count))
        }
        for group in try await store.duplicateGroups(limit: 10_000) {
            guard let kept = group.first else { continue }
            let removal = try await forget(ids: Array(group.dropFirst()))
            report.merged.append(.init(kept: kept, removed: removal.records))
        }
        let beyond = try await store.recordsBeyondCap(keep: policy.maxRecords, protectedKinds: policy.protectedKinds)
        if !beyond.isEmpty { report.dropped = try await forget(ids: beyond).records }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let detail = String(decoding: try encoder.encode(report), as: UTF8.self)
        _ = try await store.saveReport(kind: "consolidation", at: report.at, detail: detail)
        return report
    }

    /// A model-free summary: when, who, the session's most frequent topic words, and its first lines.
    static func extractiveSummary(_ records: [MemoryRecord]) -> String {
        var counts: [String: Int] = [:]
        for record in records {
            for word in Set(MemoryText.words(record.text)) where word.count > 3 && !MemoryText.stopWords.contains(word) {
                counts[word, default: 0] += 1
            }
        }
        let topics = counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(8).map(\.key)
        let speakers = Array(Set(records.compactMap(\.speaker))).sorted()
        let dates = [records.first, records.last].compactMap { $0.map { String(Timestamp.format($0.occurredAt).prefix(10)) } }
        let opening = records.prefix(3).map { String($0.spokenText.prefix(160)) }.joined(separator: " / ")
        return "Session of \(dates.first ?? "?")–\(dates.last ?? "?") (\(records.count) records"
            + (speakers.isEmpty ? "" : ", \(speakers.joined(separator: ", "))")
            + "). Topics: \(topics.joined(separator: ", ")). Opening: \(opening)"
    }

    /// Reads records past the extraction cursor, `batch` at a time, and learns what the model finds.
    /// Returns the records read and statements learned; the cursor moves only after a batch is stored.
    public func extractFacts(with extractor: FactExtractor, batch: Int = 8, maxBatches: Int = 4) async throws -> (
        read: Int, report: LearnReport, rejected: [String]
    ) {
        var read = 0
        var total = LearnReport()
        var rejected: [String] = []
        for _ in 0..<maxBatches {
            let cursor = try await store.cursor("extraction")
            let records = try await store.records(after: cursor, kinds: [.turn, .event, .note], limit: batch)
            guard let last = records.last else { break }
            let result = try await extractor.extract(from: records)
            let report = try await learn(result.statements)
            total.added += report.added
            total.pending += report.pending
            total.invalidated += report.invalidated
            total.duplicates += report.duplicates
            rejected += result.rejected
            try await store.setCursor("extraction", to: last.id)
            read += records.count
        }
        return (read, total, rejected)
    }
}

/// The daemon's memory upkeep: embeds new records, extracts facts, consolidates once a day.
public struct MemoryMaintenanceService: Service {
    let engine: MemoryEngine
    let extractor: FactExtractor?
    let extractionBatch: Int
    let policy: ConsolidationPolicy
    let interval: Duration
    let consolidationEvery: TimeInterval
    let logger: Logger
    /// Told the retrieval state after each round (for `hearth status`).
    let report: @Sendable (EmbeddingState) -> Void
    /// Paces the rounds and consolidation (a manual clock in tests).
    let clock: any WallClock

    public init(
        engine: MemoryEngine, extractor: FactExtractor?, extractionBatch: Int = 8, policy: ConsolidationPolicy = ConsolidationPolicy(),
        interval: Duration = .seconds(30), consolidationEvery: TimeInterval = 86_400, logger: Logger,
        clock: any WallClock = SystemWallClock(), report: @escaping @Sendable (EmbeddingState) -> Void = { _ in }
    ) {
        self.report = report
        self.clock = clock
        self.engine = engine
        self.extractor = extractor
        self.extractionBatch = extractionBatch
        self.policy = policy
        self.interval = interval
        self.consolidationEvery = consolidationEvery
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await engine.open()
        } catch {
            logger.error("memory: cannot load the vector index: \(error)")
        }
        var lastConsolidation = Date.distantPast
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let embedded = try await engine.indexPending()
                if embedded > 0 { logger.info("memory: embedded \(embedded) texts") }
                // What other processes embedded meanwhile joins this one's indexes.
                try await engine.followVectors()
                if let extractor {
                    let (read, report, rejected) = try await engine.extractFacts(with: extractor, batch: extractionBatch)
                    if read > 0 {
                        logger.info(
                            "memory: read \(read) records for facts: \(report.added.count) added, \(report.pending.count) pending, \(report.invalidated.count) superseded, \(rejected.count) model items rejected"
                        )
                    }
                }
                if clock.now().timeIntervalSince(lastConsolidation) >= consolidationEvery {
                    let report = try await engine.consolidate(policy)
                    lastConsolidation = clock.now()
                    if !report.isEmpty { logger.info("memory: \(report.text)") }
                }
            } catch {
                logger.warning("memory upkeep failed, retrying next round: \(error)")
            }
            let state = await engine.embeddingState
            report(state)
            // While the model server is starting or away, look again soon.
            let pause: Duration
            if case .unavailable = state { pause = min(interval, .seconds(5)) } else { pause = interval }
            // A graceful shutdown ends the pause at once instead of waiting it out.
            try? await cancelWhenGracefulShutdown { try await clock.sleep(for: pause) }
        }
    }
}
