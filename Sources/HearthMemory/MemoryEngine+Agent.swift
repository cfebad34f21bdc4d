import Foundation
import HearthCore

extension MemoryEngine: AgentMemory {
    public func remember(_ text: String, untrusted: Bool, runID: Int64?) async throws -> Int64 {
        let record = MemoryRecord(
            kind: .note, text: text, source: "agent", provenance: untrusted ? .untrusted : .trusted, occurredAt: Date(), runID: runID)
        return try await remember([record]).first?.id ?? 0
    }

    public func recall(_ query: String, limit: Int) async throws -> [String] {
        try await search(query, k: limit).map { hit in
            "[\(Timestamp.format(hit.record.occurredAt))] \(hit.record.spokenText)"
        }
    }

    public func profileLines() async throws -> [String] {
        try await profile().map { "\($0.subject) \($0.predicate) \($0.object)" }
    }
}
