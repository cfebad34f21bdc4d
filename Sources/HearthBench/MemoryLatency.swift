import Foundation
import HearthCore
import HearthMemory
import HearthPostgres
import HearthStore

/// Deterministic "embeddings" for synthetic records: each word maps to a fixed random direction
/// and a text to the normalised sum of its words, so texts sharing words are near each other.
/// The vocabulary's directions are drawn once (a million records would otherwise draw tens of
/// billions of Gaussians); other words are drawn when met.
struct SyntheticEmbedder: Embedder {
    let dimensions: Int
    let endpoint = ModelEndpoint(provider: .llamaCpp, baseURL: "synthetic:", chatModel: "none", embeddingModel: "synthetic-384")
    private let rowOf: [String: Int]
    private let table: [Float]

    init(dimensions: Int, vocabulary: [String] = []) {
        self.dimensions = dimensions
        var rowOf: [String: Int] = [:]
        var table: [Float] = []
        table.reserveCapacity(vocabulary.count * dimensions)
        for word in vocabulary where rowOf[word] == nil {
            rowOf[word] = rowOf.count
            table.append(contentsOf: Self.direction(of: word, dimensions: dimensions))
        }
        self.rowOf = rowOf
        self.table = table
    }

    func embed(_ texts: [String]) async throws -> EmbeddingResult {
        EmbeddingResult(vectors: texts.map(vector(for:)), usage: ModelUsage())
    }

    func vector(for text: String) -> [Float] {
        var sum = [Float](repeating: 0, count: dimensions)
        for word in MemoryText.words(text) {
            if let row = rowOf[word] {
                let start = row * dimensions
                for index in 0..<dimensions { sum[index] += table[start + index] }
            } else {
                for (index, value) in Self.direction(of: word, dimensions: dimensions).enumerated() { sum[index] += value }
            }
        }
        return sum
    }

    private static func direction(of word: String, dimensions: Int) -> [Float] {
        var generator = SplitMix64(seed: UInt64(truncatingIfNeeded: word.hashValueStable))
        return (0..<dimensions).map { _ in Float(generator.nextGaussian()) }
    }
}

extension SplitMix64 {
    mutating func nextGaussian() -> Double {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-12)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

extension String {
    /// FNV-1a: stable across runs (Swift's `hashValue` is seeded per process).
    var hashValueStable: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}

extension MemoryBenchmark {
    /// Latency and size at each scale: synthetic records (Zipf-distributed words, sessions of 20),
    /// stored, embedded and indexed through the real path, then timed queries.
    public func latency(sizes: [Int], queries: Int, progress: @Sendable (String) -> Void) async throws -> JSONValue {
        var rows: [JSONValue] = []
        var queryEmbedding: JSONValue = .null
        if let embedder {
            // The real model's cost per query, timed apart from retrieval.
            var times: [Double] = []
            for index in 0..<min(queries, 100) {
                let started = DispatchTime.now().uptimeNanoseconds
                _ = try await embedder.embed(["what did we decide about the trip number \(index) last week?"])
                times.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
            }
            queryEmbedding = [
                "model": .string(embedder.endpoint.embeddingModel), "p50_ms": .number(SpineBenchmark.percentile(times, 0.5)),
                "p99_ms": .number(SpineBenchmark.percentile(times, 0.99)), "note": "includes one cache lookup",
            ]
        }
        for size in sizes {
            rows.append(try await latency(size: size, queries: queries, progress: progress))
        }
        return [
            "dataset": "synthetic", "query_embedding": queryEmbedding, "hamming_kernel": .string(VectorIndex.hammingKernel),
            "scales": .array(rows),
        ]
    }

    /// A synthetic store of `size` records (Zipf-distributed words over 30,000, sessions of 20),
    /// stored, embedded and indexed through the real path; and how long that took.
    func syntheticStore(size: Int, in scratch: ScratchStore, progress: @Sendable (String) -> Void) async throws -> (
        synthetic: SyntheticEmbedder, generator: SplitMix64, seconds: Double
    ) {
        var generator = SplitMix64(seed: 20_261_121 &+ UInt64(size))
        let vocabulary = (0..<30_000).map { index in "w\(String(index, radix: 36))" }
        let synthetic = SyntheticEmbedder(dimensions: 384, vocabulary: vocabulary)
        let zipf = ZipfDistribution(count: vocabulary.count)
        func word() -> String { vocabulary[zipf.sample(using: &generator)] }
        progress("synthetic \(size): storing records")
        let buildStarted = Date()
        let opened = try await scratch.open()
        defer { opened.close() }
        let engine = MemoryEngine(store: opened.store, embedder: synthetic, settings: settings)
        try await engine.open()
        let base = Date(timeIntervalSince1970: 1_700_000_000)
        var produced = 0
        while produced < size {
            let batch = min(10_000, size - produced)
            let records = (0..<batch).map { offset -> MemoryRecord in
                let index = produced + offset
                let text = (0..<(12 + index % 17)).map { _ in word() }.joined(separator: " ")
                return MemoryRecord(
                    kind: .turn, text: text, source: "synthetic", provenance: .trusted,
                    occurredAt: base.addingTimeInterval(Double(index) * 60), sessionID: "s\(index / 20)",
                    speaker: index % 2 == 0 ? "user" : "assistant")
            }
            _ = try await engine.remember(records)
            produced += batch
            try await engine.indexPending(batch: 2_000)
            if produced % 100_000 == 0 { progress("synthetic \(size): \(produced) records stored and embedded") }
        }
        return (synthetic, generator, Date().timeIntervalSince(buildStarted))
    }

    func latency(size: Int, queries: Int, progress: @Sendable (String) -> Void) async throws -> JSONValue {
        let scratch = try await scratchStore(size: size)
        do {
            let result = try await latency(size: size, queries: queries, in: scratch, progress: progress)
            await scratch.remove()
            return result
        } catch {
            await scratch.remove()
            throw error
        }
    }

    /// Where a latency run keeps its synthetic records: a SQLite file in the scratch directory, or
    /// a fresh database on `postgres` (dropped afterwards).
    struct ScratchStore: Sendable {
        var open: @Sendable () async throws -> (store: any MemoryStore, close: @Sendable () -> Void)
        var remove: @Sendable () async -> Void

        /// A SQLite file at `url` (removed first, and by `remove`).
        static func sqlite(_ url: URL) -> ScratchStore {
            MemoryBenchmark.removeDatabase(url)
            return ScratchStore(
                open: { (MemorySQLStore(database: try HearthDatabase.open(at: url)), {}) }, remove: { MemoryBenchmark.removeDatabase(url) })
        }
    }

    func scratchStore(size: Int) async throws -> ScratchStore {
        guard let postgres else {
            return ScratchStore.sqlite(directory.appending(path: "synthetic-\(size).sqlite"))
        }
        let location = try await PostgresStore.createDatabase(on: postgres, prefix: "hearth_memory_bench", password: postgresPassword)
        let password = postgresPassword
        return ScratchStore(
            open: {
                let database = try await PostgresStore.open(location, password: password)
                return (PostgresMemoryStore(database: database), { database.close() })
            }, remove: { try? await PostgresStore.dropDatabase(location, on: postgres, password: password) })
    }

    func latency(size: Int, queries: Int, in scratch: ScratchStore, progress: @Sendable (String) -> Void) async throws -> JSONValue {
        let built = try await syntheticStore(size: size, in: scratch, progress: progress)
        let (synthetic, storeSeconds) = (built.synthetic, built.seconds)
        var generator = built.generator

        // Index build: a fresh engine loading every vector from the store, as the daemon does at start.
        let rssBefore = SpineBenchmark.rssKilobytes(getpid()) * 1024
        let loadStarted = Date()
        let opened = try await scratch.open()
        defer { opened.close() }
        let store = opened.store
        let engine = MemoryEngine(store: store, embedder: synthetic, settings: settings)
        let vectors = try await engine.open()
        let buildSeconds = Date().timeIntervalSince(loadStarted)
        let rssAfter = SpineBenchmark.rssKilobytes(getpid()) * 1024
        let indexBytes = await engine.vectorIndexBytes
        progress("synthetic \(size): index of \(vectors) vectors built in \(String(format: "%.2f", buildSeconds)) s")

        // Queries: four words of a random record; the vector is computed before timing.
        var hybrid: [Double] = []
        var bm25: [Double] = []
        var querySet: [(String, [Float])] = []
        let sampleIDs = (0..<queries).map { _ in Int64(generator.next() % UInt64(size)) + 1 }
        let sampled = try await store.records(ids: sampleIDs)
        for record in sampled {
            let words = MemoryText.words(record.text)
            let picked = (0..<4).map { _ in words[Int(generator.next() % UInt64(words.count))] }.joined(separator: " ")
            querySet.append((picked, synthetic.vector(for: picked)))
        }
        for (round, (text, vector)) in querySet.enumerated() {
            // Alternate which mode goes first so caches favour neither.
            for mode in round % 2 == 0 ? [MemoryEngine.Mode.hybrid, .bm25] : [.bm25, .hybrid] {
                let started = DispatchTime.now().uptimeNanoseconds
                _ = try await engine.search(text, queryVector: mode == .hybrid ? vector : nil, k: 10, filter: .any, mode: mode)
                let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
                if mode == .hybrid { hybrid.append(milliseconds) } else { bm25.append(milliseconds) }
            }
        }
        let quality = await engine.vectorRecall(queries: querySet.prefix(100).map(\.1), k: 10)
        // Recall and time of the vector list alone at other rescoring depths, to choose the default from.
        var byDepth: [JSONValue] = []
        for depth in [1_000, 2_000, 4_000, 8_000, 16_000] where depth < size {
            let queries = querySet.prefix(100).map(\.1)
            byDepth.append([
                "depth": .number(Double(depth)), "recall@10": .number(await engine.vectorRecall(queries: queries, k: 10, depth: depth)),
                "mean_ms": .number(
                    (await engine.vectorSearchMilliseconds(queries: queries, k: 10, depth: depth) * 1_000).rounded() / 1_000),
            ])
        }
        return [
            "records": .number(Double(size)), "vectors": .number(Double(vectors)),
            "store_and_embed_seconds": .number(storeSeconds), "index_build_seconds": .number(buildSeconds),
            "rss_bytes_per_100k": .number(Double(rssAfter - rssBefore) / Double(size) * 100_000),
            "index_bytes_per_100k": .number(Double(indexBytes) / Double(size) * 100_000),
            "hearth": [
                "p50_ms": .number(SpineBenchmark.percentile(hybrid, 0.5)), "p99_ms": .number(SpineBenchmark.percentile(hybrid, 0.99)),
            ],
            "bm25": ["p50_ms": .number(SpineBenchmark.percentile(bm25, 0.5)), "p99_ms": .number(SpineBenchmark.percentile(bm25, 0.99))],
            "vector_recall@10_vs_exact": .number(quality), "vector_by_depth": .array(byDepth),
        ]
    }
}
