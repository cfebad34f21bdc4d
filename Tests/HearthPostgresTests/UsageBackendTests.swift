import Foundation
import HearthCore
import HearthPostgres
import HearthStore
import HearthTesting
import Testing

extension StoreBackend {
    func makeUsage() async throws -> (usage: any UsageHistory, close: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "usage")
            let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
            return (UsageStore(database: database), { withExtendedLifetime(directory) {} })
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            return (PostgresUsageStore(database: database), { database.close() })
        }
    }
}

@Suite("Model usage on both backends", .timeLimit(.minutes(2)))
struct UsageBackendTests {
    @Test(
        "calls recorded, summed by filter, broken down by local day, model and purpose, listed newest first",
        arguments: StoreBackend.allCases)
    func accounting(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (usage, close) = try await backend.makeUsage()
        defer { close() }
        let day = Calendar.current.startOfDay(for: Date(timeIntervalSince1970: 1_800_000_000))
        func call(_ hours: Double, model: String, purpose: String, run: Int64?, prompt: Int, succeeded: Bool = true) -> UsageRecord {
            UsageRecord(
                at: day.addingTimeInterval(hours * 3600), provider: "llama.cpp", model: model,
                context: UsageContext(purpose: purpose, runID: run, goalID: run.map { "g\($0)" }),
                usage: ModelUsage(
                    promptTokens: prompt, completionTokens: 10, cachedPromptTokens: 5, prefillTokensPerSecond: 250.5,
                    decodeTokensPerSecond: nil, latencySeconds: 1.25),
                costMicrodollars: 7, succeeded: succeeded, error: succeeded ? nil : "timed out")
        }
        for record in [
            call(1, model: "small", purpose: "goal", run: 1, prompt: 100), call(2, model: "small", purpose: "goal", run: 1, prompt: 50),
            call(3, model: "small", purpose: "ask", run: nil, prompt: 20),
            call(26, model: "big", purpose: "goal", run: 2, prompt: 1, succeeded: false),
        ] {
            try await usage.record(record)
        }
        let all = try await usage.totals(UsageFilter())
        #expect(all.calls == 4 && all.promptTokens == 171 && all.completionTokens == 40 && all.cachedPromptTokens == 20)
        #expect(all.modelSeconds == 5 && all.costMicrodollars == 28)
        #expect(try await usage.totals(UsageFilter(runID: 1)).promptTokens == 150)
        #expect(try await usage.totals(UsageFilter(goalID: "g2")).calls == 1)
        #expect(
            try await usage.totals(UsageFilter(since: day.addingTimeInterval(2.5 * 3600), until: day.addingTimeInterval(86_400))).calls == 1
        )
        #expect(try await usage.totals(UsageFilter(since: day.addingTimeInterval(-86_400), until: day)) == UsageTotals())
        let rows = try await usage.breakdown(UsageFilter())
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        let (first, second) = (formatter.string(from: day), formatter.string(from: day.addingTimeInterval(86_400)))
        #expect(
            rows.map { "\($0.day) \($0.model) \($0.purpose) \($0.totals.calls)" } == [
                "\(first) small ask 1", "\(first) small goal 2", "\(second) big goal 1",
            ])
        let recent = try await usage.recent(limit: 2)
        #expect(recent.map(\.model) == ["big", "small"] && recent[0].succeeded == false && recent[0].error == "timed out")
        #expect(recent[0].usage.prefillTokensPerSecond == 250.5 && recent[0].usage.decodeTokensPerSecond == nil)
        #expect(recent[0].context == UsageContext(purpose: "goal", runID: 2, goalID: "g2") && recent[0].usage.latencySeconds == 1.25)
    }
}
