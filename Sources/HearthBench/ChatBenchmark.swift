import Foundation
import HearthAgent
import HearthCore
import HearthMemory

/// `hearth bench chat`: for each question, the context a chat turn would assemble under its
/// memory budget, and whether the question's evidence is entirely inside it — beside what a chat
/// without memory sees (the latest turns) and plain BM25 filling the same budget.
extension MemoryBenchmark {
    struct ContextTally {
        var questions = 0
        var complete = 0
        var tokens = 0
        var milliseconds: [Double] = []

        mutating func add(complete: Bool, tokens: Int, milliseconds: Double?) {
            questions += 1
            if complete { self.complete += 1 }
            self.tokens += tokens
            if let milliseconds { self.milliseconds.append(milliseconds) }
        }

        var json: JSONValue {
            let sorted = milliseconds.sorted()
            func percentile(_ p: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                return (sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] * 100).rounded() / 100
            }
            var object: [String: JSONValue] = [
                "context_recall": .number(questions == 0 ? 0 : (Double(complete) / Double(questions) * 1_000).rounded() / 1_000),
                "context_tokens": .number(questions == 0 ? 0 : Double(tokens / questions)),
                "questions": .number(Double(questions)),
            ]
            if !sorted.isEmpty {
                object["p50_ms"] = .number(percentile(0.5))
                object["p99_ms"] = .number(percentile(0.99))
            }
            return .object(object)
        }
    }

    /// Records the embedding pass left without a vector (nil when vectors are off).
    static func withoutVector(_ engine: MemoryEngine) async throws -> Int? {
        guard case .ready(let model) = await engine.embeddingState else { return nil }
        return try await engine.store.counts(model: model).pendingVectors
    }

    /// Which of `hits` (best first) a chat context of `chat.memoryBudget` tokens holds whole (`ids`;
    /// a piece of evidence carried only as a passage does not count), as `ChatEngine.assemble` packs them.
    func packed(_ hits: [MemoryHit], about message: String) -> (ids: Set<Int64>, tokens: Int, memories: [ChatContext.Memory]) {
        let relevant = MemoryEngine.relevant(hits, minSimilarity: chat.minSimilarity).prefix(chat.recall)
        let memories = ChatEngine.memories(relevant.map(\.record), about: message, settings: chat)
        let context = ChatContext.assemble(
            system: "", profile: [], memories: memories, turns: [], message: "", budget: chat.memoryBudget)
        return (
            Set(context.memories.filter { !$0.excerpt }.map(\.id)), context.memories.reduce(0) { $0 + ChatContext.tokens($1.text) },
            context.memories
        )
    }

    /// Each memory a context carries: its rank among `hits`, its speaker's initial, its tokens, and
    /// "p" when only its passage ("3a:49p") — where a missed question's evidence was left out.
    static func layout(_ memories: [ChatContext.Memory], of hits: [MemoryHit]) -> JSONValue {
        let ranked = Dictionary(hits.enumerated().map { ($1.record.id, ($0, $1.record.speaker?.prefix(1) ?? "-")) }) { first, _ in first }
        return .array(
            memories.map { memory in
                let (rank, speaker) = ranked[memory.id] ?? (-1, "")
                return .string("\(rank)\(speaker):\(ChatContext.tokens(memory.text))\(memory.excerpt ? "p" : "")")
            })
    }

    /// The latest records that fit the memory budget whole: what a chat without memory sees.
    func latest(_ records: [(id: Int64, text: String)]) -> (ids: Set<Int64>, tokens: Int) {
        let memories = records.map { ChatContext.Memory(id: $0.id, text: $0.text, source: "bench", untrusted: false) }
        let context = ChatContext.assemble(
            system: "", profile: [], memories: memories, turns: [], message: "", budget: chat.memoryBudget)
        return (Set(context.memories.map(\.id)), context.memories.reduce(0) { $0 + ChatContext.tokens($1.text) })
    }

    /// LoCoMo categories 1–4: every conversation's turns stored once; each question's context
    /// assembled within its conversation.
    public func chatLocomo(file: URL, progress: @Sendable (String) -> Void) async throws -> JSONValue {
        let conversations = try LoCoMo.load(file)
        let (engine, url) = try await engine("chat-locomo")
        defer { Self.removeDatabase(url) }
        var diaOf: [Int64: String] = [:]
        var ordered: [String: [(id: Int64, text: String)]] = [:]
        for conversation in conversations {
            let stored = try await engine.remember(conversation.turns.map(\.record))
            for (record, turn) in zip(stored, conversation.turns) {
                diaOf[record.id] = turn.diaID
                ordered[conversation.id, default: []].append((record.id, record.spokenText))
            }
        }
        progress("chat/locomo: \(diaOf.count) turns stored; embedding")
        try await engine.indexPending()
        progress("chat/locomo: \(await engine.embeddingState)")
        let missing = try await Self.withoutVector(engine)
        var hearth = ContextTally()
        var recent = ContextTally()
        var bm25 = ContextTally()
        var embedMilliseconds: [Double] = []
        let clock = ContinuousClock()
        for conversation in conversations {
            let filter = MemoryFilter(sources: [conversation.id])
            let turns = ordered[conversation.id] ?? []
            for question in conversation.questions where (1...4).contains(question.category) {
                let evidence = Set(question.evidence)
                func complete(_ ids: Set<Int64>) -> Bool { evidence.isSubset(of: Set(ids.compactMap { diaOf[$0] })) }
                let embedStart = clock.now
                let vector = await engine.embedQuery(question.question)
                embedMilliseconds.append((clock.now - embedStart).inSeconds * 1_000)
                let start = clock.now
                let hits = try await engine.search(question.question, queryVector: vector, k: chat.recall, filter: filter, mode: .hybrid)
                let hybrid = packed(hits, about: question.question)
                hearth.add(complete: complete(hybrid.ids), tokens: hybrid.tokens, milliseconds: (clock.now - start).inSeconds * 1_000)
                // A chat without memory: the latest turns that fit.
                let latest = latest(Array(turns.reversed()))
                recent.add(complete: complete(latest.ids), tokens: latest.tokens, milliseconds: nil)
                let keyword = try await engine.search(question.question, queryVector: nil, k: chat.recall, filter: filter, mode: .bm25)
                let plain = packed(keyword, about: question.question)
                bm25.add(complete: complete(plain.ids), tokens: plain.tokens, milliseconds: nil)
            }
        }
        let embedSorted = embedMilliseconds.sorted()
        return [
            "dataset": "locomo", "budget": .number(Double(chat.memoryBudget)), "questions": .number(Double(hearth.questions)),
            "embedding": .string("\(await engine.embeddingState)"),
            "records_without_vector": missing.map { .number(Double($0)) } ?? .null, "hearth": hearth.json, "recent_only": recent.json,
            "bm25": bm25.json,
            "query_embedding_p50_ms": .number(embedSorted.isEmpty ? 0 : (embedSorted[embedSorted.count / 2] * 100).rounded() / 100),
        ]
    }

    /// LongMemEval: per question its haystack in a fresh store; the evidence is the answer sessions'
    /// turns that hold the answer (`has_answer`), else every turn of those sessions.
    public func chatLongMemEval(file: URL, limit: Int?, progress: @Sendable (String) -> Void) async throws -> JSONValue {
        var questions = try LongMemEval.load(file).filter { !$0.id.hasSuffix("_abs") }
        if let limit { questions = Array(questions.prefix(limit)) }
        var hearth = ContextTally()
        var recent = ContextTally()
        var bm25 = ContextTally()
        var byType: [String: (hearth: ContextTally, bm25: ContextTally)] = [:]
        var missed: [JSONValue] = []
        let clock = ContinuousClock()
        var missing: Int?
        var incomplete = 0
        for (index, question) in questions.enumerated() {
            let (engine, url) = try await engine("chat-longmemeval")
            let stored = try await engine.remember(question.records)
            try await engine.indexPending()
            if let gaps = try await Self.withoutVector(engine) {
                missing = (missing ?? 0) + gaps
                if gaps > 0 { incomplete += 1 }
            }
            let answerSessions = Set(question.answerSessions)
            let evidence = Set(question.evidenceTurns.filter { $0 < stored.count }.map { stored[$0].id })
            let needed = evidence.isEmpty ? Set(stored.filter { $0.sessionID.map(answerSessions.contains) == true }.map(\.id)) : evidence
            func complete(_ ids: Set<Int64>) -> Bool { needed.isSubset(of: ids) }
            let vector = await engine.embedQuery(question.question)
            let start = clock.now
            let hits = try await engine.search(
                question.question, queryVector: vector, k: chat.recall, filter: .any, mode: .hybrid, asOf: question.questionDate)
            let hybrid = packed(hits, about: question.question)
            hearth.add(complete: complete(hybrid.ids), tokens: hybrid.tokens, milliseconds: (clock.now - start).inSeconds * 1_000)
            byType[question.type, default: (ContextTally(), ContextTally())].hearth.add(
                complete: complete(hybrid.ids), tokens: hybrid.tokens, milliseconds: nil)
            if !complete(hybrid.ids) {
                // Where each piece of evidence ranked (null: not among those retrieved), and how many hits fit.
                let ranks = hits.map(\.record.id)
                missed.append([
                    "id": .string(question.id), "type": .string(question.type),
                    "evidence_ranks": .array(needed.sorted().map { id in ranks.firstIndex(of: id).map { .number(Double($0)) } ?? .null }),
                    "hits_in_context": .number(Double(hybrid.ids.count)), "context": Self.layout(hybrid.memories, of: hits),
                ])
            }
            let latest = latest(stored.reversed().map { ($0.id, $0.spokenText) })
            recent.add(complete: complete(latest.ids), tokens: latest.tokens, milliseconds: nil)
            let keyword = try await engine.search(question.question, queryVector: nil, k: chat.recall, filter: .any, mode: .bm25)
            let plain = packed(keyword, about: question.question)
            bm25.add(complete: complete(plain.ids), tokens: plain.tokens, milliseconds: nil)
            byType[question.type, default: (ContextTally(), ContextTally())].bm25.add(
                complete: complete(plain.ids), tokens: plain.tokens, milliseconds: nil)
            Self.removeDatabase(url)
            if (index + 1) % 10 == 0 { progress("chat/longmemeval: \(index + 1)/\(questions.count)") }
        }
        return [
            "dataset": "longmemeval", "budget": .number(Double(chat.memoryBudget)), "questions": .number(Double(questions.count)),
            "records_without_vector": missing.map { .number(Double($0)) } ?? .null,
            "haystacks_with_gaps": missing == nil ? .null : .number(Double(incomplete)), "hearth": hearth.json, "recent_only": recent.json,
            "bm25": bm25.json,
            "per_type": .object(byType.mapValues { ["hearth": $0.hearth.json, "bm25": $0.bm25.json] }), "missed": .array(missed),
        ]
    }
}
