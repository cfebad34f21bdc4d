import Foundation
import HearthCore
import Logging
import PostgresNIO

/// Model usage in the shared PostgreSQL: one row per call, summed for budgets and `hearth
/// usage`; a day's budget counts every daemon's calls.
public struct PostgresUsageStore: UsageHistory {
    let database: PostgresStore
    /// Days are counted in this time zone (the machine's, as on SQLite).
    let timeZone: TimeZone

    public init(database: PostgresStore, timeZone: TimeZone = .current) {
        self.database = database
        self.timeZone = timeZone
    }

    var logger: Logger { database.logger }

    public func record(_ record: UsageRecord) async throws {
        let at = record.at.millisecondsSince1970
        let latency = Int64((record.usage.latencySeconds * 1000).rounded())
        let usage = record.usage
        try await database.client.query(
            """
            INSERT INTO usage (at, provider, model, purpose, runId, goalId, promptTokens, completionTokens, cachedPromptTokens,
                prefillTokensPerSecond, decodeTokensPerSecond, latencyMs, costMicrodollars, succeeded, error)
            VALUES (\(at), \(record.provider), \(record.model), \(record.context.purpose), \(record.context.runID),
                \(record.context.goalID), \(usage.promptTokens), \(usage.completionTokens), \(usage.cachedPromptTokens),
                \(usage.prefillTokensPerSecond), \(usage.decodeTokensPerSecond), \(latency), \(record.costMicrodollars),
                \(record.succeeded), \(record.error))
            """, logger: logger)
    }

    static let sums = """
        COUNT(*), COALESCE(SUM(promptTokens), 0)::bigint, COALESCE(SUM(completionTokens), 0)::bigint,
        COALESCE(SUM(cachedPromptTokens), 0)::bigint, COALESCE(SUM(latencyMs), 0)::bigint, COALESCE(SUM(costMicrodollars), 0)::bigint
        """
    typealias Sums = (Int, Int, Int, Int, Int64, Int64)

    static func totals(from sums: Sums) -> UsageTotals {
        var totals = UsageTotals()
        (totals.calls, totals.promptTokens, totals.completionTokens, totals.cachedPromptTokens) = (sums.0, sums.1, sums.2, sums.3)
        totals.modelSeconds = Double(sums.4) / 1000
        totals.costMicrodollars = sums.5
        return totals
    }

    /// `WHERE` conditions for `filter`.
    static func conditions(_ filter: UsageFilter, into query: inout SQLBuilder) {
        query.append(" WHERE TRUE")
        if let since = filter.since { query.append(" AND at >= \(query.bind(since.millisecondsSince1970))") }
        if let until = filter.until { query.append(" AND at < \(query.bind(until.millisecondsSince1970))") }
        if let run = filter.runID { query.append(" AND runId = \(query.bind(run))") }
        if let goal = filter.goalID { query.append(" AND goalId = \(query.bind(goal))") }
    }

    public func totals(_ filter: UsageFilter) async throws -> UsageTotals {
        var query = SQLBuilder("SELECT \(Self.sums) FROM usage")
        Self.conditions(filter, into: &query)
        let (logger, built) = (logger, query.query)
        let rows = try await database.read { connection in try await connection.rows(built, as: Sums.self, logger: logger) }
        return rows.first.map(Self.totals(from:)) ?? UsageTotals()
    }

    public func breakdown(_ filter: UsageFilter) async throws -> [UsageBreakdownRow] {
        var query = SQLBuilder()
        let zone = query.bind(timeZone.identifier)
        query.append(
            "SELECT to_char(to_timestamp(at / 1000.0) AT TIME ZONE \(zone), 'YYYY-MM-DD') AS day, model, purpose, \(Self.sums) FROM usage")
        Self.conditions(filter, into: &query)
        query.append(" GROUP BY day, model, purpose ORDER BY day, model, purpose")
        let (logger, built) = (logger, query.query)
        return try await database.read { connection in
            try await connection.rows(built, as: (String, String, String, Int, Int, Int, Int, Int64, Int64).self, logger: logger).map {
                UsageBreakdownRow(day: $0.0, model: $0.1, purpose: $0.2, totals: Self.totals(from: ($0.3, $0.4, $0.5, $0.6, $0.7, $0.8)))
            }
        }
    }

    public func recent(limit: Int) async throws -> [UsageRecord] {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                """
                SELECT id, at, provider, model, purpose, runId, goalId, promptTokens, completionTokens, cachedPromptTokens,
                    prefillTokensPerSecond, decodeTokensPerSecond, latencyMs, costMicrodollars, succeeded, error
                FROM usage ORDER BY id DESC LIMIT \(limit)
                """,
                as: (Int64, Int64, String, String, String, Int64?, String?, Int, Int, Int, Double?, Double?, Int64, Int64, Bool, String?)
                    .self,
                logger: logger
            ).map { row in
                UsageRecord(
                    id: row.0, at: Date(millisecondsSince1970: row.1), provider: row.2, model: row.3,
                    context: UsageContext(purpose: row.4, runID: row.5, goalID: row.6),
                    usage: ModelUsage(
                        promptTokens: row.7, completionTokens: row.8, cachedPromptTokens: row.9, prefillTokensPerSecond: row.10,
                        decodeTokensPerSecond: row.11, latencySeconds: Double(row.12) / 1000),
                    costMicrodollars: row.13, succeeded: row.14, error: row.15)
            }
        }
    }
}
