import Foundation
import GRDB
import HearthCore

/// An embedder that remembers vectors in a SQLite file, keyed by model and text, so repeated
/// benchmark runs (and LongMemEval's overlapping haystacks) embed each text once.
public final class CachingEmbedder: Embedder {
    let inner: any Embedder
    let queue: DatabaseQueue
    public var endpoint: ModelEndpoint { inner.endpoint }

    public init(_ inner: any Embedder, cacheFile: URL) throws {
        self.inner = inner
        try FileManager.default.createDirectory(at: cacheFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        queue = try DatabaseQueue(path: cacheFile.path)
        try queue.write { db in
            try db.execute(
                sql:
                    "CREATE TABLE IF NOT EXISTS embedding (model TEXT NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text))"
            )
        }
    }

    public func embed(_ texts: [String]) async throws -> EmbeddingResult {
        let model = endpoint.embeddingModel
        var vectors = try await queue.read { db in
            try texts.map { text -> [Float]? in
                guard
                    let data = try Data.fetchOne(
                        db, sql: "SELECT vector FROM embedding WHERE model = ? AND text = ?", arguments: [model, text])
                else { return nil }
                return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            }
        }
        let missing = vectors.indices.filter { vectors[$0] == nil }
        var usage = ModelUsage(promptTokens: 0, completionTokens: 0, latencySeconds: 0)
        if !missing.isEmpty {
            let result = try await inner.embed(missing.map { texts[$0] })
            usage = result.usage
            for (slot, vector) in zip(missing, result.vectors) { vectors[slot] = vector }
            let rows = zip(missing, result.vectors).map { (texts[$0.0], $0.1.withUnsafeBufferPointer { Data(buffer: $0) }) }
            try await queue.write { db in
                for (text, blob) in rows {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO embedding (model, text, vector) VALUES (?, ?, ?)", arguments: [model, text, blob])
                }
            }
        }
        return EmbeddingResult(vectors: vectors.map { $0 ?? [] }, usage: usage)
    }
}
