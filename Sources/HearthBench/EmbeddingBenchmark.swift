import Foundation
import HearthCore
import HearthMemory
import HearthModels
import HearthStore

/// `hearth bench embed`: texts per second through Hearth's embedding pass (work list in SQLite →
/// llama-server → vectors saved and indexed) beside the very same texts posted straight to the
/// same llama-server in batches — for each embedding-slot setting asked for, one server each.
public struct EmbeddingBenchmark: Sendable {
    public struct Options: Sendable {
        public var installation: ModelInstallation
        public var directory: URL
        public var file: URL
        /// Records (LongMemEval turns) to store; Hearth embeds about two texts per record (the
        /// turn, and the turn with its neighbours).
        public var records = 500
        public var batch = 64
        public var threads = 1
        public var slots = [1, 4]

        public init(installation: ModelInstallation, directory: URL, file: URL) {
            self.installation = installation
            self.directory = directory
            self.file = file
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run(progress: @Sendable (String) -> Void) async throws -> JSONValue {
        var records: [MemoryRecord] = []
        for question in try LongMemEval.load(options.file) where records.count < options.records {
            records += question.records.prefix(options.records - records.count)
        }
        var runs: [JSONValue] = []
        for slots in options.slots {
            let server = try await BenchModelServer.start(
                installation: options.installation, directory: options.directory.appending(path: "slots-\(slots)"),
                threads: options.threads, embeddingSlots: slots, progress: progress)
            defer { server.cancel() }
            let url = options.directory.appending(path: "embed-\(slots).sqlite")
            let engine = MemoryEngine(store: MemorySQLStore(database: try HearthDatabase.open(at: url)), embedder: server.client)
            _ = try await engine.remember(records)
            // The exact texts Hearth is about to embed, cut as it cuts them.
            let work = try await engine.store.pendingVectors(limit: .max)
            let texts = work.map { String($0.text.prefix(RetrievalSettings().embedCharacters)) }
            _ = try await server.client.embed(Array(texts.prefix(8)))  // warm-up
            progress("embed: \(slots) slot(s): \(texts.count) texts straight to llama-server")
            let direct = DirectCall(baseURL: server.connection.baseURL, apiKey: server.connection.apiKey)
            var refused = 0
            let directStart = ContinuousClock.now
            for start in stride(from: 0, to: texts.count, by: options.batch) {
                let batch = Array(texts[start..<min(start + options.batch, texts.count)])
                // A text over the window costs the direct caller its batch (the server answers with an
                // error); like any careful caller it then sends that batch one text at a time, and
                // what the server still refuses is dropped.
                let reply = try? await direct.embed(["model": "minilm-l6", "input": .array(batch.map(JSONValue.string))])
                guard reply?["data"]?.arrayValue?.count != batch.count else { continue }
                for text in batch {
                    let single = try? await direct.embed(["model": "minilm-l6", "input": [.string(text)]])
                    if single?["data"]?.arrayValue?.count != 1 { refused += 1 }
                }
            }
            let directSeconds = (ContinuousClock.now - directStart).inSeconds
            progress("embed: \(slots) slot(s): the same texts through Hearth's embedding pass")
            let hearthStart = ContinuousClock.now
            let done = try await engine.indexPending(batch: options.batch)
            let hearthSeconds = (ContinuousClock.now - hearthStart).inSeconds
            let missing = try await engine.store.counts(model: "minilm-l6").pendingVectors
            await server.stop()
            MemoryBenchmark.removeDatabase(url)
            let directRate = Double(texts.count - refused) / directSeconds
            let hearthRate = Double(done) / hearthSeconds
            runs.append([
                "slots": .number(Double(slots)), "texts": .number(Double(texts.count)),
                "direct": ["texts_per_second": SpineBenchmark.round(directRate), "texts_refused": .number(Double(refused))],
                "hearth": [
                    "texts_per_second": SpineBenchmark.round(hearthRate), "records_without_vector": .number(Double(missing)),
                    "shortened": .number(Double(await engine.shortenedForEmbedding)),
                ],
                "hearth_vs_direct": SpineBenchmark.round(hearthRate / directRate),
            ])
        }
        return [
            "dataset": "longmemeval", "records": .number(Double(records.count)), "batch": .number(Double(options.batch)),
            "threads": .number(Double(options.threads)), "runs": .array(runs),
        ]
    }
}
