import Foundation
import HearthAgent
import HearthCore
import HearthMemory
import HearthStore

/// A model that times every call it passes on, so a chat turn's own work can be told apart from
/// the model's.
final class TimedModel: LanguageModel, @unchecked Sendable {
    let model: any LanguageModel
    private let lock = NSLock()
    private var spent: [Double] = []

    init(_ model: any LanguageModel) { self.model = model }

    var endpoint: ModelEndpoint { model.endpoint }

    /// Milliseconds of each call since the last `take()`.
    func take() -> [Double] {
        lock.withLock {
            defer { spent = [] }
            return spent
        }
    }

    private func record(_ started: ContinuousClock.Instant) {
        let milliseconds = (ContinuousClock.now - started).inSeconds * 1_000
        lock.withLock { spent.append(milliseconds) }
    }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let started = ContinuousClock.now
        defer { record(started) }
        return try await model.complete(request)
    }

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatChunk, any Error> {
        let inner = model.stream(request)
        return AsyncThrowingStream { continuation in
            let task = Task {
                let started = ContinuousClock.now
                do {
                    for try await chunk in inner { continuation.yield(chunk) }
                    record(started)
                    continuation.finish()
                } catch {
                    record(started)
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

extension MemoryBenchmark {
    /// Context assembly as a chat turn does it (`ChatEngine.assemble`: profile, hybrid recall,
    /// passages, packing) over `size` synthetic records; the query embedding is computed by the
    /// in-process synthetic embedder (no model server), so the time is Hearth's own.
    public func chatAssembly(size: Int, queries: Int, progress: @Sendable (String) -> Void) async throws -> JSONValue {
        let url = directory.appending(path: "chat-synthetic-\(size).sqlite")
        defer { Self.removeDatabase(url) }
        let built = try await syntheticStore(size: size, in: .sqlite(url), progress: progress)
        var generator = built.generator
        let database = try HearthDatabase.open(at: url)
        let store = MemorySQLStore(database: database)
        let engine = MemoryEngine(store: store, embedder: built.synthetic, settings: settings)
        try await engine.open()
        let chat = ChatEngine(memory: engine, sessions: ChatSQLStore(database: database), model: { nil }, settings: self.chat)
        let sampled = try await store.records(ids: (0..<queries).map { _ in Int64(generator.next() % UInt64(size)) + 1 })
        var times: [Double] = []
        var tokens = 0
        var memories = 0
        for record in sampled {
            let words = MemoryText.words(record.text)
            let query = (0..<4).map { _ in words[Int(generator.next() % UInt64(words.count))] }.joined(separator: " ")
            let started = ContinuousClock.now
            let context = try await chat.assemble(query, previous: [])
            times.append((ContinuousClock.now - started).inSeconds * 1_000)
            tokens += context.memories.reduce(0) { $0 + ChatContext.tokens($1.text) }
            memories += context.memories.count
        }
        progress("chat assembly at \(size): p99 \(String(format: "%.1f", SpineBenchmark.percentile(times, 0.99))) ms")
        return [
            "records": .number(Double(size)), "queries": .number(Double(queries)),
            "p50_ms": .number(SpineBenchmark.percentile(times, 0.5)), "p99_ms": .number(SpineBenchmark.percentile(times, 0.99)),
            "memories_per_context": .number(Double(memories) / Double(max(1, queries))),
            "memory_tokens_per_context": .number(Double(tokens / max(1, queries))),
        ]
    }

    /// Chat turns with the local model over LoCoMo's first conversation: each turn's wall time,
    /// the model calls inside it, and the share that is Hearth's own work (storing the turn,
    /// learning, recall with the query embedding, assembly, storing the answer).
    public func chatOverhead(
        file: URL, model: any LanguageModel, turns: Int, progress: @Sendable (String) -> Void
    ) async throws -> JSONValue {
        guard let conversation = try LoCoMo.load(file).first else {
            throw BenchDataError.format(file: file.path, detail: "no conversation")
        }
        let (engine, url) = try await engine("chat-overhead")
        defer { Self.removeDatabase(url) }
        _ = try await engine.remember(conversation.turns.map(\.record))
        try await engine.indexPending()
        let database = try HearthDatabase.open(at: url)
        let timed = TimedModel(model)
        let chat = ChatEngine(memory: engine, sessions: ChatSQLStore(database: database), model: { timed }, settings: self.chat)
        let questions = conversation.questions.filter { (1...4).contains($0.category) }.prefix(turns)
        let session = try await chat.resolveSession(nil, new: true, firstMessage: "benchmark")
        var turnTimes: [Double] = []
        var modelTimes: [Double] = []
        var promptTokens = 0
        var completionTokens = 0
        var cachedTokens = 0
        var prefill: [Double] = []
        var decode: [Double] = []
        for (index, question) in questions.enumerated() {
            _ = timed.take()
            let started = ContinuousClock.now
            let result = try await chat.turn(question.question, session: session)
            let wall = (ContinuousClock.now - started).inSeconds * 1_000
            let calls = timed.take()
            // Turns answered from facts or memory made no model call: nothing to compare.
            guard result.answeredBy == "model", !calls.isEmpty else { continue }
            turnTimes.append(wall)
            modelTimes.append(calls.reduce(0, +))
            promptTokens += result.usage?.promptTokens ?? 0
            completionTokens += result.usage?.completionTokens ?? 0
            cachedTokens += result.usage?.cachedPromptTokens ?? 0
            if let rate = result.usage?.prefillTokensPerSecond { prefill.append(rate) }
            if let rate = result.usage?.decodeTokensPerSecond { decode.append(rate) }
            progress("chat overhead: turn \(index + 1)/\(questions.count): \(Int(wall)) ms, model \(Int(calls.reduce(0, +))) ms")
        }
        let turnTotal = turnTimes.reduce(0, +)
        let modelTotal = modelTimes.reduce(0, +)
        let overheads = zip(turnTimes, modelTimes).map { $0 - $1 }
        return [
            "model": .string(model.endpoint.chatModel), "records": .number(Double(conversation.turns.count)),
            "turns": .number(Double(turnTimes.count)), "turn_ms_mean": .number(turnTotal / Double(max(1, turnTimes.count))),
            "model_ms_mean": .number(modelTotal / Double(max(1, modelTimes.count))),
            "overhead_ms_p50": .number(SpineBenchmark.percentile(overheads, 0.5)),
            "overhead_ms_p99": .number(SpineBenchmark.percentile(overheads, 0.99)),
            "overhead_share": .number(turnTotal == 0 ? 0 : ((turnTotal - modelTotal) / turnTotal * 10_000).rounded() / 10_000),
            "prompt_tokens_mean": .number(Double(promptTokens / max(1, turnTimes.count))),
            "completion_tokens_mean": .number(Double(completionTokens / max(1, turnTimes.count))),
            "cached_prompt_tokens_mean": .number(Double(cachedTokens / max(1, turnTimes.count))),
            "prefill_tokens_per_second_p50": prefill.isEmpty ? .null : .number(SpineBenchmark.percentile(prefill, 0.5)),
            "decode_tokens_per_second_p50": decode.isEmpty ? .null : .number(SpineBenchmark.percentile(decode, 0.5)),
        ]
    }
}
