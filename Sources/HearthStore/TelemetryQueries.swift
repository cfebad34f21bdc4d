import Foundation
import GRDB
import HearthCore

/// What the store holds, counted for `/metrics`: read at each scrape, so work done by any process
/// on this data dir (a foreground `hearth goal`, the daemon) is counted once, from the truth.
public struct TelemetryCounts: Sendable {
    public struct ModelTotals: Sendable {
        public var model: String
        public var promptTokens: Int
        public var completionTokens: Int
        public var cachedTokens: Int
        public var costMicrodollars: Int
        public var calls: Int
        public var failures: Int
    }

    public struct ModelCall: Sendable {
        public var id: Int64
        public var model: String
        public var latencyMilliseconds: Int
        public var prefillTokensPerSecond: Double?
        public var decodeTokensPerSecond: Double?
    }

    public var eventsBySource: [String: Int] = [:]
    public var attentionByLevel: [String: Int] = [:]
    public var goalsByState: [String: Int] = [:]
    public var toolCalls: [(tool: String, outcome: String, count: Int)] = []
    public var approvalsWaiting = 0
    public var models: [ModelTotals] = []
    /// Model calls recorded after the cursor, oldest first (for the latency histograms).
    public var newCalls: [ModelCall] = []
    public var tokensSince: Int = 0
    public var costSince: Int = 0
    public var memoryRecords = 0
}

public enum TelemetryQueries {
    /// - Parameters:
    ///   - afterUsage: the last usage row already observed.
    ///   - since: the start of the budget's day (for what is left of it).
    public static func read(_ database: HearthDatabase, afterUsage: Int64, since: Date) async throws -> TelemetryCounts {
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
}
