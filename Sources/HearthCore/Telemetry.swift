import Foundation

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

        public init(
            model: String, promptTokens: Int, completionTokens: Int, cachedTokens: Int, costMicrodollars: Int, calls: Int, failures: Int
        ) {
            self.model = model
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.cachedTokens = cachedTokens
            self.costMicrodollars = costMicrodollars
            self.calls = calls
            self.failures = failures
        }
    }

    public struct ModelCall: Sendable {
        public var id: Int64
        public var model: String
        public var latencyMilliseconds: Int
        public var prefillTokensPerSecond: Double?
        public var decodeTokensPerSecond: Double?

        public init(
            id: Int64, model: String, latencyMilliseconds: Int, prefillTokensPerSecond: Double?, decodeTokensPerSecond: Double?
        ) {
            self.id = id
            self.model = model
            self.latencyMilliseconds = latencyMilliseconds
            self.prefillTokensPerSecond = prefillTokensPerSecond
            self.decodeTokensPerSecond = decodeTokensPerSecond
        }
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

    public init() {}
}

/// Reads the counts behind `/metrics` from a store.
public protocol TelemetryReader: Sendable {
    /// - Parameters:
    ///   - afterUsage: the last usage row already observed.
    ///   - since: the start of the budget's day (for what is left of it).
    func read(afterUsage: Int64, since: Date) async throws -> TelemetryCounts
    /// What `hearth status` counts.
    func storeCounts() async throws -> StoreCounts
}

/// Counts shown by `hearth status`.
public struct StoreCounts: Sendable, Hashable, Codable {
    public var events: Int64
    public var lastEventID: Int64
    public var runs: [String: Int]
    public var stepsNeedingReview: Int
    public var schedules: Int
    public var indexedFiles: Int
    /// Runs (effect runs and goals) paused for a person's review: budgets, loops, interruptions.
    public var runsNeedingReview: Int = 0
    /// Approval requests nobody has answered yet.
    public var approvalsWaiting: Int = 0
    /// Interruptions not yet acknowledged (`hearth inbox`).
    public var inboxWaiting: Int = 0

    public init(
        events: Int64, lastEventID: Int64, runs: [String: Int], stepsNeedingReview: Int, schedules: Int, indexedFiles: Int,
        runsNeedingReview: Int, approvalsWaiting: Int, inboxWaiting: Int
    ) {
        self.events = events
        self.lastEventID = lastEventID
        self.runs = runs
        self.stepsNeedingReview = stepsNeedingReview
        self.schedules = schedules
        self.indexedFiles = indexedFiles
        self.runsNeedingReview = runsNeedingReview
        self.approvalsWaiting = approvalsWaiting
        self.inboxWaiting = inboxWaiting
    }
}
