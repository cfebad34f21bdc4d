import Foundation
import HearthCore
import HearthMemory
import HearthStore
import HearthTesting

/// A deterministic embedder for tests: bag-of-words over a hashed 64-dimensional space, so texts
/// sharing words are near each other. It can be switched off to simulate an unreachable server.
final class WordHashEmbedder: Embedder, @unchecked Sendable {
    let endpoint = ModelEndpoint(provider: .llamaCpp, baseURL: "test:", chatModel: "none", embeddingModel: "word-hash-64")
    private let lock = NSLock()
    private var failing = false
    private(set) var calls = 0
    /// Every text sent, in order.
    private(set) var texts: [String] = []

    func setFailing(_ value: Bool) { lock.withLock { failing = value } }

    func embed(_ texts: [String]) async throws -> EmbeddingResult {
        let fail = lock.withLock { () -> Bool in
            calls += 1
            if !failing { self.texts += texts }
            return failing
        }
        if fail { throw ModelError.unreachable(url: "test:", reason: "connection refused", hint: "start it") }
        return EmbeddingResult(vectors: texts.map(Self.vector(for:)), usage: ModelUsage())
    }

    static func vector(for text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: 64)
        for word in MemoryText.words(text) where !MemoryText.stopWords.contains(word) {
            var hash: UInt64 = 1_469_598_103_934_665_603
            for byte in word.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
            vector[Int(hash % 64)] += 1
        }
        return vector
    }
}

/// A fresh database, store and engine in a temporary directory.
struct MemoryFixture {
    let directory: TemporaryDirectory
    let database: HearthDatabase
    let store: MemorySQLStore
    let engine: MemoryEngine
    let embedder: WordHashEmbedder

    init(clock: any WallClock = SystemWallClock(), withEmbedder: Bool = true, settings: RetrievalSettings = RetrievalSettings())
        async throws
    {
        directory = try TemporaryDirectory()
        database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        store = MemorySQLStore(database: database)
        embedder = WordHashEmbedder()
        engine = MemoryEngine(store: store, embedder: withEmbedder ? embedder : nil, settings: settings, clock: clock)
        try await engine.open()
    }

    /// A fresh engine over the same database, as after a restart.
    func reopened() async throws -> MemoryEngine {
        let engine = MemoryEngine(
            store: MemorySQLStore(database: try HearthDatabase.open(at: directory.appending("hearth.sqlite"))), embedder: embedder)
        try await engine.open()
        return engine
    }
}

func turn(
    _ text: String, speaker: String = "user", session: String? = "s1", source: String = "chat", day: Double = 0,
    provenance: Provenance = .trusted
) -> MemoryRecord {
    MemoryRecord(
        kind: .turn, text: text, source: source, provenance: provenance,
        occurredAt: Date(timeIntervalSince1970: 1_700_000_000 + day * 86_400),
        sessionID: session, speaker: speaker)
}
