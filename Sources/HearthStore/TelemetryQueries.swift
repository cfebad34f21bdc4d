import Foundation
import GRDB
import HearthCore

/// The counts from this machine's SQLite.
public struct TelemetryQueries: TelemetryReader {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    /// - Parameters:
    ///   - afterUsage: the last usage row already observed.
    ///   - since: the start of the budget's day (for what is left of it).
    public func read(afterUsage: Int64, since: Date) async throws -> TelemetryCounts {
        try await database.read { db in
            var counts = TelemetryCounts()
            for row in try Row.fetchAll(db, sql: "SELECT source, COUNT(*) AS n FROM event GROUP BY source") {
                counts.eventsBySource[row["source"]] = row["n"]
            }
            for row in try Row.fetchAll(db, sql: "SELECT level, COUNT(*) AS n FROM attention_item GROUP BY level") {
                counts.attentionByLevel[row["level"]] = row["n"]
            }
            for row in try Row.fetchAll(
                db, sql: "SELECT run.state AS state, COUNT(*) AS n FROM goal JOIN run ON run.id = goal.runId GROUP BY run.state")
            {
                counts.goalsByState[row["state"]] = row["n"]
            }
            counts.toolCalls = try Row.fetchAll(db, sql: "SELECT tool, state, COUNT(*) AS n FROM task_action GROUP BY tool, state").map {
                (tool: $0["tool"], outcome: $0["state"], count: $0["n"])
            }
            counts.approvalsWaiting = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM approval WHERE state = 'pending'") ?? 0
            counts.models = try Row.fetchAll(
                db,
                sql: """
                    SELECT model, SUM(promptTokens) AS p, SUM(completionTokens) AS c, SUM(cachedPromptTokens) AS k,
                           SUM(costMicrodollars) AS m, COUNT(*) AS n, SUM(CASE WHEN succeeded THEN 0 ELSE 1 END) AS f
                    FROM usage GROUP BY model
                    """
            ).map {
                TelemetryCounts.ModelTotals(
                    model: $0["model"], promptTokens: $0["p"], completionTokens: $0["c"], cachedTokens: $0["k"], costMicrodollars: $0["m"],
                    calls: $0["n"], failures: $0["f"])
            }
            counts.newCalls = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, model, latencyMs, prefillTokensPerSecond, decodeTokensPerSecond FROM usage
                    WHERE id > ? ORDER BY id LIMIT 10000
                    """, arguments: [afterUsage]
            ).map {
                TelemetryCounts.ModelCall(
                    id: $0["id"], model: $0["model"], latencyMilliseconds: $0["latencyMs"],
                    prefillTokensPerSecond: $0["prefillTokensPerSecond"],
                    decodeTokensPerSecond: $0["decodeTokensPerSecond"])
            }
            let day = try Row.fetchOne(
                db,
                sql:
                    "SELECT COALESCE(SUM(promptTokens + completionTokens), 0) AS t, COALESCE(SUM(costMicrodollars), 0) AS m FROM usage WHERE at >= ?",
                arguments: [since.millisecondsSince1970])
            counts.tokensSince = day?["t"] ?? 0
            counts.costSince = day?["m"] ?? 0
            counts.memoryRecords = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memory_record") ?? 0
            return counts
        }
    }

    public func storeCounts() async throws -> StoreCounts {
        try await database.read { db in
            let events = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0
            let lastEventID = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM event") ?? 0
            var runs: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM run GROUP BY state") {
                runs[row["state"]] = row["n"]
            }
            return StoreCounts(
                events: events,
                lastEventID: lastEventID,
                runs: runs,
                stepsNeedingReview: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM step WHERE state = 'needsReview'") ?? 0,
                schedules: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM schedule") ?? 0,
                indexedFiles: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM fileIndex") ?? 0,
                runsNeedingReview: runs["needsReview"] ?? 0,
                approvalsWaiting: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM approval WHERE state = 'pending'") ?? 0,
                inboxWaiting: try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM attention_item WHERE level = 'interrupt' AND acknowledgedAt IS NULL") ?? 0)
        }
    }
}
