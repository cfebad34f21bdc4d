import Foundation
import HearthCore
import HearthStore

/// An embedder that remembers vectors in a SQLite file, keyed by model and text, so repeated
/// benchmark runs (and LongMemEval's overlapping haystacks) embed each text once.
public final class CachingEmbedder: Embedder {
    let inner: any Embedder
    let cache: EmbeddingCacheFile
    public var endpoint: ModelEndpoint { inner.endpoint }

    public init(_ inner: any Embedder, cacheFile: URL) throws {
        self.inner = inner
        cache = try EmbeddingCacheFile(file: cacheFile)
    }

    public func embed(_ texts: [String]) async throws -> EmbeddingResult {
        let model = endpoint.embeddingModel
        var vectors = try await cache.vectors(model: model, texts: texts)
        let missing = vectors.indices.filter { vectors[$0] == nil }
        var usage = ModelUsage(promptTokens: 0, completionTokens: 0, latencySeconds: 0)
        if !missing.isEmpty {
            let result = try await inner.embed(missing.map { texts[$0] })
            usage = result.usage
            for (slot, vector) in zip(missing, result.vectors) { vectors[slot] = vector }
            try await cache.save(model: model, zip(missing, result.vectors).map { (texts[$0.0], $0.1) })
        }
        return EmbeddingResult(vectors: vectors.map { $0 ?? [] }, usage: usage)
    }
}
