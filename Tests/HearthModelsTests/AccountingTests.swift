import Foundation
import HearthCore
import HearthStore
import HearthTesting
import Testing

@testable import HearthModels

@Suite("Token accounting and budgets", .timeLimit(.minutes(2)))
struct AccountingTests {
    let directory: TemporaryDirectory
    let usage: UsageStore

    init() throws {
        directory = try TemporaryDirectory()
        usage = UsageStore(database: try HearthDatabase.open(at: directory.appending("hearth.sqlite")))
    }

    func accounted(
        _ url: String, budgets: Budgets = Budgets(), pricing: Pricing = Pricing(), context: UsageContext = UsageContext(purpose: "test")
    ) -> AccountedModel {
        let client = openAIClient(url, attempts: 1)
        return AccountedModel(client, embedder: client, ledger: usage, budgets: budgets, pricing: pricing, context: context)
    }

    @Test("every call is recorded with tokens, cache, speed, latency, model, purpose, run and cost")
    func records() async throws {
        let server = ScriptedModelServer([.chat("hi", promptTokens: 1_000, completionTokens: 500, cachedTokens: 800)])
        let model = accounted(
            try await server.start(), pricing: Pricing(prices: ["chat-model": .init(input: 2, output: 10)]),
            context: UsageContext(purpose: "plan", runID: 7, goalID: "g1"))
        _ = try await model.complete(ChatRequest(messages: [.user("hello")]))
        let record = try #require(try usage.recentNow(limit: 1).first)
        #expect(record.usage.promptTokens == 1_000)
        #expect(record.usage.completionTokens == 500)
        #expect(record.usage.cachedPromptTokens == 800)
        #expect(record.usage.decodeTokensPerSecond == 100)
        #expect(record.usage.latencySeconds > 0)
        #expect(record.context == UsageContext(purpose: "plan", runID: 7, goalID: "g1"))
        #expect(record.costMicrodollars == 7_000)  // 1000 × $2/M + 500 × $10/M
        #expect(record.succeeded)
        let run = try await usage.totals(UsageFilter(runID: 7))
        #expect(run.tokens == 1_500)
        #expect(run.calls == 1)
    }

    @Test("failed calls are recorded too")
    func failures() async throws {
        let server = ScriptedModelServer([.status(400, message: "bad")])
        await #expect(throws: ModelError.self) {
            try await accounted(try await server.start()).complete(ChatRequest(messages: [.user("x")]))
        }
        let record = try #require(try usage.recentNow(limit: 1).first)
        #expect(!record.succeeded)
        #expect(record.error?.contains("answered 400: bad") == true)
    }

    @Test("a call budget is a hard cap: the next call is refused before it is sent")
    func callCap() async throws {
        let server = ScriptedModelServer([.chat("ok")])
        let model = accounted(try await server.start(), budgets: Budgets(day: Budget(calls: 2)))
        for _ in 0..<2 { _ = try await model.complete(ChatRequest(messages: [.user("x")])) }
        await #expect {
            try await model.complete(ChatRequest(messages: [.user("x")]))
        } throws: { error in
            error as? ModelError == .budgetExhausted(scope: "today", limit: "2 calls", used: "2 calls")
        }
        #expect(server.requests.count == 2)
    }

    @Test("a token budget clamps max_tokens to what is left and refuses a prompt that cannot fit")
    func tokenCap() async throws {
        let server = ScriptedModelServer([.chat("ok", promptTokens: 60, completionTokens: 20)])
        let model = accounted(
            try await server.start(), budgets: Budgets(run: Budget(tokens: 200)), context: UsageContext(purpose: "t", runID: 1))
        _ = try await model.complete(ChatRequest(messages: [.user("short")], maxTokens: 1_000))
        let clamped = server.requests[0].body["max_tokens"]?.intValue ?? 0
        #expect(clamped > 0 && clamped < 200)
        // 80 used, 120 left: a prompt of ~170 tokens cannot fit.
        await #expect {
            try await model.complete(ChatRequest(messages: [.user(String(repeating: "word ", count: 100))]))
        } throws: { error in
            String(describing: error).hasPrefix("budget exhausted for run 1: limit 200 tokens")
        }
        // Another run has its own budget.
        _ = try await model.with(UsageContext(purpose: "t", runID: 2)).complete(ChatRequest(messages: [.user("short")]))
        #expect(server.requests.count == 2)
    }

    @Test("cost and model-time budgets refuse once spent")
    func costAndTime() async throws {
        let server = ScriptedModelServer([.chat("ok", promptTokens: 1_000_000, completionTokens: 0)])
        let model = accounted(
            try await server.start(), budgets: Budgets(day: Budget(costDollars: 1)),
            pricing: Pricing(prices: ["chat-model": .init(input: 1.5, output: 0)]))
        _ = try await model.complete(ChatRequest(messages: [.user("x")]))
        await #expect {
            try await model.complete(ChatRequest(messages: [.user("x")]))
        } throws: { error in
            String(describing: error)
                == "budget exhausted for today: limit $1.00, used $1.5000; raise it in [budgets] or wait for the next period"
        }
    }

    @Test("embeddings are accounted like chat")
    func embeddings() async throws {
        let server = ScriptedModelServer([.embeddings(dimensions: 4)])
        let result = try await accounted(try await server.start()).embed(["a", "b", "c"])
        #expect(result.vectors.count == 3)
        #expect(try usage.recentNow(limit: 1).first?.usage.promptTokens == 12)
        #expect(try usage.recentNow(limit: 1).first?.model == "embed-model")
    }

    @Test("context policy: drop the oldest turns, keep system and last message, report it; overflow is an error")
    func contextPolicy() throws {
        let history: [ChatMessage] =
            [.system("rules")] + (0..<20).map { .user("turn \($0) " + String(repeating: "x", count: 300)) } + [.user("now?")]
        let fit = try ContextFitter.fit(history, contextTokens: 1_000, reserveForAnswer: 200)
        #expect(fit.messages.first == .system("rules"))
        #expect(fit.messages.last == .user("now?"))
        #expect(fit.droppedMessages > 0)
        #expect(fit.messages.count == history.count - fit.droppedMessages)
        #expect(fit.report == "left out the \(fit.droppedMessages) oldest message(s) to fit the context window")
        #expect(fit.estimatedPromptTokens <= 800)
        #expect(throws: ModelError.self) {
            try ContextFitter.fit([.user(String(repeating: "y", count: 10_000))], contextTokens: 1_000, reserveForAnswer: 200)
        }
    }
}
