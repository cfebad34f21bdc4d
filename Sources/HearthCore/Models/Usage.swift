import Foundation

/// Who a model call is for, so its usage lands on the right run, goal and day.
public struct UsageContext: Sendable, Hashable, Codable {
    /// What the call does: `ask`, `plan`, `extract`, `embed`, `bench`, …
    public var purpose: String
    public var runID: Int64?
    public var goalID: String?

    public init(purpose: String, runID: Int64? = nil, goalID: String? = nil) {
        self.purpose = purpose
        self.runID = runID
        self.goalID = goalID
    }
}

/// One model call as recorded: tokens, speed, latency, cost, outcome.
public struct UsageRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var at: Date
    public var provider: String
    public var model: String
    public var context: UsageContext
    public var usage: ModelUsage
    /// Cost in millionths of a US dollar (0 for local models unless priced).
    public var costMicrodollars: Int64
    public var succeeded: Bool
    public var error: String?

    public init(
        id: Int64 = 0, at: Date, provider: String, model: String, context: UsageContext, usage: ModelUsage, costMicrodollars: Int64,
        succeeded: Bool, error: String? = nil
    ) {
        self.id = id
        self.at = at
        self.provider = provider
        self.model = model
        self.context = context
        self.usage = usage
        self.costMicrodollars = costMicrodollars
        self.succeeded = succeeded
        self.error = error
    }
}

/// Sums over a set of calls.
public struct UsageTotals: Sendable, Hashable, Codable {
    public var calls = 0
    public var promptTokens = 0
    public var completionTokens = 0
    public var cachedPromptTokens = 0
    public var modelSeconds = 0.0
    public var costMicrodollars: Int64 = 0

    public init() {}

    public var tokens: Int { promptTokens + completionTokens }
}

/// Which calls to sum.
public struct UsageFilter: Sendable, Hashable {
    public var since: Date?
    public var until: Date?
    public var runID: Int64?
    public var goalID: String?

    public init(since: Date? = nil, until: Date? = nil, runID: Int64? = nil, goalID: String? = nil) {
        self.since = since
        self.until = until
        self.runID = runID
        self.goalID = goalID
    }
}

/// The durable record of model usage.
public protocol UsageLedger: Sendable {
    func record(_ record: UsageRecord) async throws
    func totals(_ filter: UsageFilter) async throws -> UsageTotals
}

/// Usage summed by day (local time), model and purpose.
public struct UsageBreakdownRow: Sendable, Hashable {
    public var day: String
    public var model: String
    public var purpose: String
    public var totals: UsageTotals

    public init(day: String, model: String, purpose: String, totals: UsageTotals) {
        self.day = day
        self.model = model
        self.purpose = purpose
        self.totals = totals
    }
}

/// A usage ledger that can also be read back by day and call (`hearth usage`, the dashboard).
public protocol UsageHistory: UsageLedger {
    func breakdown(_ filter: UsageFilter) async throws -> [UsageBreakdownRow]
    /// The most recent calls, newest first.
    func recent(limit: Int) async throws -> [UsageRecord]
}

/// Hard limits for one scope; `nil` means unlimited.
public struct Budget: Sendable, Hashable, Codable {
    public var tokens: Int?
    public var calls: Int?
    /// Summed wall time of model calls.
    public var modelSeconds: Double?
    public var costDollars: Double?

    public init(tokens: Int? = nil, calls: Int? = nil, modelSeconds: Double? = nil, costDollars: Double? = nil) {
        self.tokens = tokens
        self.calls = calls
        self.modelSeconds = modelSeconds
        self.costDollars = costDollars
    }
}

/// The budgets Hearth enforces: per calendar day, per run, per goal.
public struct Budgets: Sendable, Hashable, Codable {
    public var day: Budget
    public var run: Budget
    public var goal: Budget

    public init(day: Budget = Budget(), run: Budget = Budget(), goal: Budget = Budget()) {
        self.day = day
        self.run = run
        self.goal = goal
    }
}

/// Prices in US dollars per million tokens, by model name. Unpriced models cost nothing (but
/// their tokens still count against token budgets).
public struct Pricing: Sendable, Hashable, Codable {
    public struct Price: Sendable, Hashable, Codable {
        public var input: Double
        public var output: Double

        public init(input: Double, output: Double) {
            self.input = input
            self.output = output
        }
    }

    public var prices: [String: Price]

    public init(prices: [String: Price] = [:]) {
        self.prices = prices
    }

    /// The cost of `usage` on `model`, in microdollars.
    public func cost(of usage: ModelUsage, model: String) -> Int64 {
        guard let price = prices[model] else { return 0 }
        // Dollars per million tokens equal microdollars per token.
        return Int64((Double(usage.promptTokens) * price.input + Double(usage.completionTokens) * price.output).rounded())
    }
}
