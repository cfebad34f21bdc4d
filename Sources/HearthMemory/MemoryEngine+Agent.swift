import Foundation
import HearthCore

extension MemoryEngine: AgentMemory {
    public func remember(_ text: String, untrusted: Bool, runID: Int64?) async throws -> Int64 {
        let record = MemoryRecord(
            kind: .note, text: text, source: "agent", provenance: untrusted ? .untrusted : .trusted, occurredAt: Date(), runID: runID)
        return try await remember([record]).first?.id ?? 0
    }

    public func recall(_ query: String, limit: Int) async throws -> [String] {
        Self.relevant(try await search(query, k: limit), minSimilarity: MemoryEngine.defaultMinSimilarity).map { hit in
            "[\(Timestamp.format(hit.record.occurredAt))] \(hit.record.spokenText)"
        }
    }

    public func profileLines(for task: String, budget: Int) async throws -> [String] {
        ProfileSelection.select(try await profile(), for: task, budget: budget).lines
    }
}

extension MemoryEngine {
    /// Below this cosine, a record found only by meaning is not shown (MiniLM puts unrelated
    /// sentences around 0 to 0.2, paraphrases above 0.4).
    public static let defaultMinSimilarity = 0.25

    /// The hits that are about the query: any that share words with it (alone or with its
    /// neighbours), name a person the query names or are linked to a fact about one, and those
    /// found by meaning at `minSimilarity` or more. Session rank, recency and importance lift a
    /// relevant record; they never make an unrelated one relevant.
    public static func relevant(_ hits: [MemoryHit], minSimilarity: Double) -> [MemoryHit] {
        guard minSimilarity > 0 else { return hits }
        return hits.filter { hit in
            hit.reasons.contains { reason in
                switch reason {
                case .keywords, .contextKeywords, .entity, .fact, .ownWords: true
                case .meaning(_, let similarity), .contextMeaning(_, let similarity): similarity >= minSimilarity
                case .session, .recency, .importance, .during, .userForAdvice: false
                }
            }
        }
    }
}
