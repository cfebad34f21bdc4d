import Foundation
import GRDB
import HearthCore

/// Model usage in SQLite: one row per call, summed for budgets and `hearth usage`.
public struct UsageStore: UsageHistory {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func record(_ record: UsageRecord) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO usage (at, provider, model, purpose, runId, goalId, promptTokens, completionTokens,
                        cachedPromptTokens, prefillTokensPerSecond, decodeTokensPerSecond, latencyMs, costMicrodollars, succeeded, error)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.at.millisecondsSince1970, record.provider, record.model, record.context.purpose, record.context.runID,
                    record.context.goalID, record.usage.promptTokens, record.usage.completionTokens, record.usage.cachedPromptTokens,
                    record.usage.prefillTokensPerSecond, record.usage.decodeTokensPerSecond,
                    Int64((record.usage.latencySeconds * 1000).rounded()), record.costMicrodollars, record.succeeded, record.error,
                ])
        }
    }

    public func totals(_ filter: UsageFilter) async throws -> UsageTotals {
        try await database.read { db in try Self.totals(filter, in: db) }
    }

    /// Totals grouped by day (local time), model and purpose, for `hearth usage`.
    public func breakdown(_ filter: UsageFilter) async throws -> [UsageBreakdownRow] {
        try await database.read { db in try Self.breakdown(filter, in: db) }
    }

    static func breakdown(_ filter: UsageFilter, in db: Database) throws -> [UsageBreakdownRow] {
        let (clause, arguments) = Self.whereClause(filter)
        return try Row.fetchAll(
            db,
            sql: """
                SELECT date(at / 1000, 'unixepoch', 'localtime') AS day, model, purpose, \(Self.sums)
                FROM usage \(clause) GROUP BY day, model, purpose ORDER BY day, model, purpose
                """,
            arguments: arguments
        ).map { row in UsageBreakdownRow(day: row["day"], model: row["model"], purpose: row["purpose"], totals: Self.totals(from: row)) }
    }

    /// The most recent calls, newest first.
    public func recentNow(limit: Int) throws -> [UsageRecord] {
        try database.readSync { db in try Self.recent(limit: limit, in: db) }
    }

    public func recent(limit: Int) async throws -> [UsageRecord] {
        try await database.read { db in try Self.recent(limit: limit, in: db) }
    }

    static func recent(limit: Int, in db: Database) throws -> [UsageRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM usage ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
            let latency: Int64 = row["latencyMs"]
            return UsageRecord(
                id: row["id"], at: Date(millisecondsSince1970: row["at"]), provider: row["provider"], model: row["model"],
                context: UsageContext(purpose: row["purpose"], runID: row["runId"], goalID: row["goalId"]),
                usage: ModelUsage(
                    promptTokens: row["promptTokens"], completionTokens: row["completionTokens"],
                    cachedPromptTokens: row["cachedPromptTokens"], prefillTokensPerSecond: row["prefillTokensPerSecond"],
                    decodeTokensPerSecond: row["decodeTokensPerSecond"], latencySeconds: Double(latency) / 1000),
                costMicrodollars: row["costMicrodollars"], succeeded: row["succeeded"], error: row["error"])
        }
    }

    private static let sums = """
        COUNT(*) AS calls, COALESCE(SUM(promptTokens), 0) AS prompt, COALESCE(SUM(completionTokens), 0) AS completion,
        COALESCE(SUM(cachedPromptTokens), 0) AS cached, COALESCE(SUM(latencyMs), 0) AS latency, COALESCE(SUM(costMicrodollars), 0) AS cost
        """

    static func totals(_ filter: UsageFilter, in db: Database) throws -> UsageTotals {
        let (clause, arguments) = whereClause(filter)
        guard let row = try Row.fetchOne(db, sql: "SELECT \(sums) FROM usage \(clause)", arguments: arguments) else {
            return UsageTotals()
        }
        return totals(from: row)
    }

    static func totals(from row: Row) -> UsageTotals {
        var totals = UsageTotals()
        totals.calls = row["calls"]
        totals.promptTokens = row["prompt"]
        totals.completionTokens = row["completion"]
        totals.cachedPromptTokens = row["cached"]
        totals.modelSeconds = Double(row["latency"] as Int64) / 1000
        totals.costMicrodollars = row["cost"]
        return totals
    }

    static func whereClause(_ filter: UsageFilter) -> (String, StatementArguments) {
        var conditions = SQLConditions()
        if let since = filter.since { conditions.add("at >= ?", since.millisecondsSince1970) }
        if let until = filter.until { conditions.add("at < ?", until.millisecondsSince1970) }
        if let run = filter.runID { conditions.add("runId = ?", run) }
        if let goal = filter.goalID { conditions.add("goalId = ?", goal) }
        return (conditions.whereClause, conditions.arguments)
    }
}
