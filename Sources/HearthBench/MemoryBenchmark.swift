import Foundation
import HearthAgent
import HearthCore
import HearthMemory
import HearthPostgres
import HearthStore

/// `hearth bench memory`: retrieval quality on LoCoMo and LongMemEval, and latency at scale,
/// each Hearth figure beside plain BM25 over the same records in the same run.
public struct MemoryBenchmark: Sendable {
    public let embedder: (any Embedder)?
    public let directory: URL
    public var settings = RetrievalSettings()
    /// How a chat turn recalls and packs memories (`hearth bench chat`).
    public var chat = ChatEngine.Settings()
    /// The latency benchmark's synthetic stores on this PostgreSQL server (a fresh database
    /// each) instead of SQLite files.
    public var postgres: PostgresLocation?
    public var postgresPassword: String?

    public init(embedder: (any Embedder)?, directory: URL) {
        self.embedder = embedder
        self.directory = directory
        // The datasets' dates are written in UTC.
        settings.calendar = .utcGregorian
    }

    /// Opens a fresh store and engine in `name` under the scratch directory.
    func engine(_ name: String) async throws -> (MemoryEngine, URL) {
        let url = directory.appending(path: "\(name).sqlite")
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
        let database = try HearthDatabase.open(at: url)
        let engine = MemoryEngine(store: MemorySQLStore(database: database), embedder: embedder, settings: settings)
        try await engine.open()
        return (engine, url)
    }

    static func removeDatabase(_ url: URL) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
    }

    // MARK: LoCoMo

    /// Every turn of every conversation indexed once; each question retrieves within its conversation.
    public func locomo(file: URL, progress: @Sendable (String) -> Void) async throws -> JSONValue {
        let conversations = try LoCoMo.load(file)
        let (engine, url) = try await engine("locomo")
        defer { Self.removeDatabase(url) }
        var turnIDs: [Int64: String] = [:]
        var sessionOf: [Int64: String] = [:]
        let started = Date()
        for conversation in conversations {
            let stored = try await engine.remember(conversation.turns.map(\.record))
            for (record, turn) in zip(stored, conversation.turns) {
                turnIDs[record.id] = turn.diaID
                sessionOf[record.id] = turn.record.sessionID
            }
        }
        progress("locomo: \(turnIDs.count) turns stored; embedding")
        let embedded = try await engine.indexPending()
        let indexSeconds = Date().timeIntervalSince(started)
        progress("locomo: \(embedded) vectors in \(String(format: "%.0f", indexSeconds)) s; \(await engine.embeddingState)")
        var tallies: [String: RecallTally] = [:]
        for conversation in conversations {
            let filter = MemoryFilter(sources: [conversation.id])
            for question in conversation.questions {
                let evidence = Set(question.evidence)
                let evidenceSessions = Set(question.evidence.map(LoCoMo.session(ofDiaID:)))
                for mode in MemoryEngine.Mode.allCases {
                    let hits = try await engine.search(question.question, k: 10, filter: filter, mode: mode)
                    let ids = hits.map { turnIDs[$0.record.id] ?? "" }
                    let sessions = hits.prefix(5).map { LoCoMo.session(ofDiaID: turnIDs[$0.record.id] ?? "") }
                    let group = question.category == 5 ? "category5" : "main"
                    for key in [group, "\(mode.rawValue)-category\(question.category)"] {
                        tallies["\(mode.rawValue)-\(key)", default: RecallTally()].add(
                            recall5: Double(evidence.intersection(ids.prefix(5)).count) / Double(evidence.count),
                            recall10: Double(evidence.intersection(ids).count) / Double(evidence.count),
                            session5: Double(evidenceSessions.intersection(sessions).count) / Double(evidenceSessions.count))
                    }
                }
            }
        }
        func figures(_ key: String) -> JSONValue {
            let tally = tallies[key] ?? RecallTally()
            return [
                "turn_recall@5": .number(tally.mean(\.recall5)), "turn_recall@10": .number(tally.mean(\.recall10)),
                "session_recall@5": .number(tally.mean(\.session5)), "questions": .number(Double(tally.count)),
            ]
        }
        var perCategory: [String: JSONValue] = [:]
        for category in 1...5 {
            perCategory["\(category)"] = [
                "hearth": figures("hybrid-hybrid-category\(category)"), "bm25": figures("bm25-bm25-category\(category)"),
            ]
        }
        return [
            "dataset": "locomo", "turns": .number(Double(turnIDs.count)), "embedding": .string("\(await engine.embeddingState)"),
            "hearth": figures("hybrid-main"), "bm25": figures("bm25-main"),
            "category5": ["hearth": figures("hybrid-category5"), "bm25": figures("bm25-category5")],
            "per_category": .object(perCategory), "index_seconds": .number(indexSeconds),
        ]
    }

    // MARK: LongMemEval

    /// Per question: its haystack indexed into a fresh store, sessions retrieved, `_abs` skipped.
    public func longMemEval(file: URL, limit: Int? = nil, progress: @Sendable (String) -> Void) async throws -> JSONValue {
        var questions = try LongMemEval.load(file).filter { !$0.id.hasSuffix("_abs") }
        if let limit { questions = Array(questions.prefix(limit)) }
        var tallies: [MemoryEngine.Mode: SessionTally] = [:]
        var byType: [String: [MemoryEngine.Mode: SessionTally]] = [:]
        var (records, embedded, withoutVector, embedSeconds) = (0, 0, 0, 0.0)
        for (index, question) in questions.enumerated() {
            let (engine, url) = try await engine("longmemeval")
            _ = try await engine.remember(question.records)
            let embedStart = ContinuousClock.now
            embedded += try await engine.indexPending()
            embedSeconds += (ContinuousClock.now - embedStart).inSeconds
            withoutVector += try await Self.withoutVector(engine) ?? 0
            records += question.records.count
            for mode in MemoryEngine.Mode.allCases {
                let hits = try await engine.search(
                    question.question, k: settings.depth, filter: .any, mode: mode, asOf: question.questionDate)
                let ranked = SessionRanking.rank(hits)
                tallies[mode, default: SessionTally()].add(ranked: ranked, answers: Set(question.answerSessions))
                byType[question.type, default: [:]][mode, default: SessionTally()].add(
                    ranked: ranked, answers: Set(question.answerSessions))
            }
            Self.removeDatabase(url)
            if (index + 1) % 10 == 0 || index + 1 == questions.count {
                progress(
                    "longmemeval: \(index + 1)/\(questions.count) questions; hearth recall_all@5 \(String(format: "%.3f", tallies[.hybrid]?.mean(\.all5) ?? 0))"
                )
            }
        }
        var types: [String: JSONValue] = [:]
        for (type, modes) in byType {
            types[type] = ["hearth": modes[.hybrid]?.json ?? .null, "bm25": modes[.bm25]?.json ?? .null]
        }
        return [
            "dataset": "longmemeval", "questions": .number(Double(questions.count)), "records": .number(Double(records)),
            "embedding": [
                "vectors": .number(Double(embedded)), "seconds": SpineBenchmark.round(embedSeconds),
                "blend_context": .bool(settings.blendContext),
                "blend_from": settings.blendFrom == .max ? .null : .number(Double(settings.blendFrom)),
                "records_without_vector": .number(Double(withoutVector)), "embed_tokens": .number(Double(settings.embedding.tokens)),
            ],
            "hearth": tallies[.hybrid]?.json ?? .null, "bm25": tallies[.bm25]?.json ?? .null, "per_type": .object(types),
        ]
    }
}

/// Sessions in the order of their best-ranked record.
public enum SessionRanking {
    public static func rank(_ hits: [MemoryHit]) -> [String] {
        var seen = Set<String>()
        var order: [String] = []
        for hit in hits {
            guard let session = hit.record.sessionID, seen.insert(session).inserted else { continue }
            order.append(session)
        }
        return order
    }
}

/// The mean of one field over entries (0 for none).
func average<Entry>(_ entries: [Entry], _ key: KeyPath<Entry, Double>) -> Double {
    entries.isEmpty ? 0 : entries.map { $0[keyPath: key] }.reduce(0, +) / Double(entries.count)
}

struct RecallTally {
    struct Entry {
        var recall5: Double
        var recall10: Double
        var session5: Double
    }
    var entries: [Entry] = []
    var count: Int { entries.count }

    mutating func add(recall5: Double, recall10: Double, session5: Double) {
        entries.append(Entry(recall5: recall5, recall10: recall10, session5: session5))
    }

    func mean(_ key: KeyPath<Entry, Double>) -> Double { average(entries, key) }
}

struct SessionTally {
    struct Entry {
        var any5: Double
        var all5: Double
        var ndcg5: Double
        var all10: Double
    }
    var entries: [Entry] = []

    mutating func add(ranked: [String], answers: Set<String>) {
        func all(_ k: Int) -> Double { answers.isSubset(of: Set(ranked.prefix(k))) ? 1 : 0 }
        let any5: Double = answers.isDisjoint(with: ranked.prefix(5)) ? 0 : 1
        var dcg = 0.0
        for (rank, session) in ranked.prefix(5).enumerated() where answers.contains(session) { dcg += 1 / log2(Double(rank) + 2) }
        var ideal = 0.0
        for rank in 0..<min(5, answers.count) { ideal += 1 / log2(Double(rank) + 2) }
        entries.append(Entry(any5: any5, all5: all(5), ndcg5: ideal > 0 ? dcg / ideal : 0, all10: all(10)))
    }

    func mean(_ key: KeyPath<Entry, Double>) -> Double { average(entries, key) }

    var json: JSONValue {
        [
            "recall_any@5": .number(mean(\.any5)), "recall_all@5": .number(mean(\.all5)), "ndcg@5": .number(mean(\.ndcg5)),
            "recall_all@10": .number(mean(\.all10)),
        ]
    }
}

extension MemoryBenchmark {
    /// The figures as a few readable lines.
    public static func summary(_ figures: JSONValue) -> String {
        func number(_ value: JSONValue?, _ digits: Int = 3) -> String {
            guard let value = value?.doubleValue else { return "?" }
            return String(format: "%.\(digits)f", value)
        }
        func row(_ label: String, _ keys: [String], _ object: JSONValue?) -> String {
            label.padding(toLength: 8, withPad: " ", startingAt: 0) + keys.map { "\($0) \(number(object?[$0]))" }.joined(separator: "   ")
        }
        switch figures["dataset"]?.stringValue {
        case "locomo":
            let keys = ["turn_recall@5", "turn_recall@10", "session_recall@5"]
            var lines = [
                "LoCoMo, categories 1-4 (\(number(figures["hearth"]?["questions"], 0)) questions; \(figures["embedding"]?.stringValue ?? ""))"
            ]
            lines.append(row("hearth", keys, figures["hearth"]))
            lines.append(row("bm25", keys, figures["bm25"]))
            for category in 1...5 {
                let entry = figures["per_category"]?["\(category)"]
                lines.append(
                    "  category \(category): hearth R@10 \(number(entry?["hearth"]?["turn_recall@10"]))   bm25 R@10 \(number(entry?["bm25"]?["turn_recall@10"]))"
                )
            }
            return lines.joined(separator: "\n")
        case "longmemeval":
            let keys = ["recall_any@5", "recall_all@5", "ndcg@5", "recall_all@10"]
            return [
                "LongMemEval (\(number(figures["questions"], 0)) questions, _abs skipped)",
                row("hearth", keys, figures["hearth"]), row("bm25", keys, figures["bm25"]),
            ].joined(separator: "\n")
        default:
            var lines = [
                "Hybrid query latency (synthetic records; query embedding timed apart: p50 \(number(figures["query_embedding"]?["p50_ms"], 2)) ms)"
            ]
            for scale in figures["scales"]?.arrayValue ?? [] {
                lines.append(
                    "\(number(scale["records"], 0)) records: hearth p50 \(number(scale["hearth"]?["p50_ms"], 2)) ms p99 \(number(scale["hearth"]?["p99_ms"], 2)) ms"
                        + "   bm25 p50 \(number(scale["bm25"]?["p50_ms"], 2)) ms p99 \(number(scale["bm25"]?["p99_ms"], 2)) ms"
                        + "   build \(number(scale["index_build_seconds"], 2)) s   RSS/100k \(number((scale["rss_bytes_per_100k"]?.doubleValue).map { .number($0 / 1e6) }, 1)) MB"
                        + "   vector recall@10 \(number(scale["vector_recall@10_vs_exact"]))")
            }
            return lines.joined(separator: "\n")
        }
    }
}
