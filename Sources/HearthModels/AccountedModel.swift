import Foundation
import HearthCore

/// A model wrapped in budgets and bookkeeping: every call is checked against the day's, the
/// run's and the goal's hard caps before it starts, and recorded after it ends (failed calls
/// too, with their latency).
///
/// Token caps are enforced before the call: the prompt is estimated conservatively (one token per
/// three bytes) and `max_tokens` is clamped to what is left, so a call cannot overrun its budget
/// by its completion. A call that would not fit fails with `ModelError.budgetExhausted`.
public struct AccountedModel: LanguageModel, Embedder {
    let inner: any LanguageModel
    let embedder: (any Embedder)?
    let ledger: any UsageLedger
    let budgets: Budgets
    let pricing: Pricing
    public let context: UsageContext
    let calendar: Calendar

    public var endpoint: ModelEndpoint { inner.endpoint }

    public init(
        _ inner: any LanguageModel, embedder: (any Embedder)? = nil, ledger: any UsageLedger, budgets: Budgets, pricing: Pricing,
        context: UsageContext, calendar: Calendar = .current
    ) {
        self.inner = inner
        self.embedder = embedder
        self.ledger = ledger
        self.budgets = budgets
        self.pricing = pricing
        self.context = context
        self.calendar = calendar
    }

    /// The same model, accounted to another purpose, run or goal.
    public func with(_ context: UsageContext) -> AccountedModel {
        AccountedModel(inner, embedder: embedder, ledger: ledger, budgets: budgets, pricing: pricing, context: context, calendar: calendar)
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let allowed = try await admit(request)
        let started = ContinuousClock.now
        do {
            let response = try await inner.complete(allowed)
            try await record(response.usage, model: response.model, error: nil)
            return response
        } catch {
            try? await record(
                ModelUsage(latencySeconds: (ContinuousClock.now - started).inSeconds), model: allowed.model ?? endpoint.chatModel,
                error: error)
            throw error
        }
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatChunk, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                let started = ContinuousClock.now
                var model = request.model ?? endpoint.chatModel
                var streamed = ""
                var watch = RepetitionWatch()
                // Tokens the server never reported (a stream stopped early) are estimated, and the record says so.
                func estimated() -> ModelUsage {
                    ModelUsage(
                        promptTokens: request.messages.reduce(0) { $0 + Self.estimateTokens($1.content) + 8 },
                        completionTokens: Self.estimateTokens(streamed), latencySeconds: (ContinuousClock.now - started).inSeconds)
                }
                do {
                    let allowed = try await admit(request)
                    model = allowed.model ?? model
                    var finished = false
                    for try await chunk in inner.stream(allowed) {
                        switch chunk {
                        case .done(let response):
                            try await record(response.usage, model: response.model, error: nil)
                            finished = true
                        case .text(let piece):
                            streamed += piece
                            // A model stuck in a loop never leaves it: stop paying for it. Leaving
                            // the loop closes the request, which stops the server generating.
                            if watch.add(piece) != nil {
                                continuation.yield(chunk)
                                let usage = estimated()
                                try await record(usage, model: model, error: nil)
                                continuation.yield(
                                    .done(ChatResponse(content: streamed, finishReason: Self.repetitionStop, model: model, usage: usage)))
                                continuation.finish()
                                return
                            }
                        }
                        continuation.yield(chunk)
                    }
                    if !finished && Task.isCancelled {
                        // The caller stopped listening; the record must still land, whatever the cancellation.
                        let usage = estimated()
                        await Task { [model] in try? await record(usage, model: model, error: StreamStopped()) }.value
                    }
                    continuation.finish()
                } catch {
                    let usage = Task.isCancelled ? estimated() : ModelUsage(latencySeconds: (ContinuousClock.now - started).inSeconds)
                    await Task { [model] in try? await record(usage, model: model, error: error) }.value
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func embed(_ texts: [String]) async throws -> EmbeddingResult {
        guard let embedder else {
            throw ModelError.modelNotFound(model: "(embeddings)", url: endpoint.baseURL, hint: "no embedding model is configured")
        }
        let estimate = texts.reduce(0) { $0 + Self.estimateTokens($1) }
        _ = try await remaining(estimate: estimate)
        let started = ContinuousClock.now
        do {
            let result = try await embedder.embed(texts)
            try await record(result.usage, model: embedder.endpoint.embeddingModel, error: nil)
            return result
        } catch {
            try? await record(
                ModelUsage(latencySeconds: (ContinuousClock.now - started).inSeconds), model: embedder.endpoint.embeddingModel, error: error
            )
            throw error
        }
    }

    /// Checks every scope's budget and returns the request with `maxTokens` clamped to what is left.
    func admit(_ request: ChatRequest) async throws -> ChatRequest {
        let estimate = request.messages.reduce(0) { $0 + Self.estimateTokens($1.content) + 8 }
        let left = try await remaining(estimate: estimate)
        var allowed = request
        if let left {
            let completion = left - estimate
            guard completion > 0 else {
                throw ModelError.budgetExhausted(
                    scope: "this call", limit: "\(left) tokens left", used: "about \(estimate) for the prompt alone")
            }
            allowed.maxTokens = min(request.maxTokens ?? completion, completion)
        }
        return allowed
    }

    /// The fewest tokens left in any scope (`nil`: no token cap), after refusing exhausted scopes.
    private func remaining(estimate: Int) async throws -> Int? {
        var scopes: [(String, Budget, UsageFilter)] = [("today", budgets.day, UsageFilter(since: calendar.startOfDay(for: Date())))]
        if let run = context.runID { scopes.append(("run \(run)", budgets.run, UsageFilter(runID: run))) }
        if let goal = context.goalID { scopes.append(("goal \(goal)", budgets.goal, UsageFilter(goalID: goal))) }
        var fewest: Int?
        for (name, budget, filter) in scopes where budget != Budget() {
            let used = try await ledger.totals(filter)
            if let calls = budget.calls, used.calls >= calls {
                throw ModelError.budgetExhausted(scope: name, limit: "\(calls) calls", used: "\(used.calls) calls")
            }
            if let seconds = budget.modelSeconds, used.modelSeconds >= seconds {
                throw ModelError.budgetExhausted(scope: name, limit: "\(Int(seconds)) s of model time", used: "\(Int(used.modelSeconds)) s")
            }
            if let dollars = budget.costDollars, Double(used.costMicrodollars) / 1e6 >= dollars {
                throw ModelError.budgetExhausted(
                    scope: name, limit: String(format: "$%.2f", dollars), used: String(format: "$%.4f", Double(used.costMicrodollars) / 1e6)
                )
            }
            if let tokens = budget.tokens {
                let left = tokens - used.tokens
                if left <= estimate {
                    throw ModelError.budgetExhausted(
                        scope: name, limit: "\(tokens) tokens", used: "\(used.tokens) tokens (this prompt needs about \(estimate))")
                }
                fewest = min(fewest ?? left, left)
            }
        }
        return fewest
    }

    private func record(_ usage: ModelUsage, model: String, error: (any Error)?) async throws {
        try await ledger.record(
            UsageRecord(
                at: Date(), provider: endpoint.provider.rawValue, model: model, context: context, usage: usage,
                costMicrodollars: pricing.cost(of: usage, model: model), succeeded: error == nil,
                error: error.map { String(describing: $0) }))
    }

    /// The finish reason of a stream stopped because the model was repeating itself.
    public static let repetitionStop = "repetition"

    /// Why a usage record of a stream the caller stopped has estimated tokens.
    struct StreamStopped: Error, CustomStringConvertible {
        var description: String { "stopped by the caller before the end (tokens estimated)" }
    }

    /// A conservative token estimate: one token per three UTF-8 bytes (real tokenizers average
    /// about four for English), so budgets err on the side of refusing.
    static func estimateTokens(_ text: String) -> Int {
        (text.utf8.count + 2) / 3
    }
}
