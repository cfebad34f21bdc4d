import Foundation
import HearthCore
import Logging
import PostgresNIO

/// The counts behind `/metrics` from the shared PostgreSQL: the fleet's totals, whichever daemon did the work.
public struct PostgresTelemetry: TelemetryReader {
    let database: PostgresStore

    public init(database: PostgresStore) {
        self.database = database
    }

    public func read(afterUsage: Int64, since: Date) async throws -> TelemetryCounts {
        let (logger, day) = (database.logger, since.millisecondsSince1970)
        return try await database.read { connection in
            var counts = TelemetryCounts()
            for (source, count) in try await connection.rows(
                "SELECT source, COUNT(*) FROM event GROUP BY source", as: (String, Int).self, logger: logger)
            {
                counts.eventsBySource[source] = count
            }
            for (level, count) in try await connection.rows(
                "SELECT level, COUNT(*) FROM attention_item GROUP BY level", as: (String, Int).self, logger: logger)
            {
                counts.attentionByLevel[level] = count
            }
            for (state, count) in try await connection.rows(
                "SELECT run.state, COUNT(*) FROM goal JOIN run ON run.id = goal.runId GROUP BY run.state", as: (String, Int).self,
                logger: logger)
            {
                counts.goalsByState[state] = count
            }
            counts.toolCalls = try await connection.rows(
                "SELECT tool, state, COUNT(*) FROM task_action GROUP BY tool, state", as: (String, String, Int).self, logger: logger
            ).map { (tool: $0.0, outcome: $0.1, count: $0.2) }
            counts.approvalsWaiting =
                try await connection.rows("SELECT COUNT(*) FROM approval WHERE state = 'pending'", as: (Int).self, logger: logger).first
                ?? 0
            counts.models = try await connection.rows(
                """
                SELECT model, SUM(promptTokens)::bigint, SUM(completionTokens)::bigint, SUM(cachedPromptTokens)::bigint,
                    SUM(costMicrodollars)::bigint, COUNT(*), SUM(CASE WHEN succeeded THEN 0 ELSE 1 END)::bigint
                FROM usage GROUP BY model
                """, as: (String, Int, Int, Int, Int, Int, Int).self, logger: logger
            ).map {
                TelemetryCounts.ModelTotals(
                    model: $0.0, promptTokens: $0.1, completionTokens: $0.2, cachedTokens: $0.3, costMicrodollars: $0.4, calls: $0.5,
                    failures: $0.6)
            }
            counts.newCalls = try await connection.rows(
                """
                SELECT id, model, latencyMs, prefillTokensPerSecond, decodeTokensPerSecond FROM usage
                WHERE id > \(afterUsage) ORDER BY id LIMIT 10000
                """, as: (Int64, String, Int, Double?, Double?).self, logger: logger
            ).map {
                TelemetryCounts.ModelCall(
                    id: $0.0, model: $0.1, latencyMilliseconds: $0.2, prefillTokensPerSecond: $0.3, decodeTokensPerSecond: $0.4)
            }
            let today = try await connection.rows(
                """
                SELECT COALESCE(SUM(promptTokens + completionTokens), 0)::bigint, COALESCE(SUM(costMicrodollars), 0)::bigint
                FROM usage WHERE at >= \(day)
                """, as: (Int, Int).self, logger: logger)
            (counts.tokensSince, counts.costSince) = today.first ?? (0, 0)
            counts.memoryRecords =
                try await connection.rows("SELECT COUNT(*) FROM memory_record", as: (Int).self, logger: logger).first ?? 0
            return counts
        }
    }
}

extension PostgresTelemetry {
    public func storeCounts() async throws -> StoreCounts {
        let logger = database.logger
        return try await database.read { connection in
            func count(_ query: PostgresQuery) async throws -> Int64 {
                (try await connection.rows(query, as: (Int64?).self, logger: logger).first ?? nil) ?? 0
            }
            var runs: [String: Int] = [:]
            for (state, count) in try await connection.rows(
                "SELECT state, COUNT(*) FROM run GROUP BY state", as: (String, Int).self, logger: logger)
            {
                runs[state] = count
            }
            return StoreCounts(
                events: try await count("SELECT COUNT(*) FROM event"), lastEventID: try await count("SELECT MAX(id) FROM event"),
                runs: runs,
                stepsNeedingReview: Int(try await count("SELECT COUNT(*) FROM step WHERE state = 'needsReview'")),
                schedules: Int(try await count("SELECT COUNT(*) FROM schedule")),
                indexedFiles: Int(try await count("SELECT COUNT(*) FROM file_index")), runsNeedingReview: runs["needsReview"] ?? 0,
                approvalsWaiting: Int(try await count("SELECT COUNT(*) FROM approval WHERE state = 'pending'")),
                inboxWaiting: Int(
                    try await count("SELECT COUNT(*) FROM attention_item WHERE level = 'interrupt' AND acknowledgedAt IS NULL")))
        }
    }
}
