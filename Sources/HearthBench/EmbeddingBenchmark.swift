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
        /// How Hearth embeds (`embedding`, `blendContext`).
        public var settings = RetrievalSettings()

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
            let engine = MemoryEngine(
                store: MemorySQLStore(database: try HearthDatabase.open(at: url)), embedder: server.client, settings: options.settings)
            _ = try await engine.remember(records)
            // The exact texts Hearth is about to embed, cut as it cuts them; and what it embedded
            // before texts were cut by word pieces (1,500 characters; the context window whole).
            let work = try await engine.store.pendingVectors(limit: .max)
            // Blended context vectors are computed from the text vectors: no text of theirs is sent.
            let texts = work.filter { !options.settings.blends($0) }.map(options.settings.embedding.text(for:))
            let earlier = work.map(Self.characterCut)
            _ = try await server.client.embed(Array(texts.prefix(8)))  // warm-up
            let direct = DirectCall(baseURL: server.connection.baseURL, apiKey: server.connection.apiKey)
            progress("embed: \(slots) slot(s): \(earlier.count) texts cut at 1,500 characters, straight to llama-server")
            let before = try await Self.post(earlier, batch: options.batch, to: direct)
            progress("embed: \(slots) slot(s): \(texts.count) texts cut by word pieces, straight to llama-server")
            let now = try await Self.post(texts, batch: options.batch, to: direct)
            progress("embed: \(slots) slot(s): the same texts through Hearth's embedding pass")
            let hearthStart = ContinuousClock.now
            _ = try await engine.indexPending(batch: options.batch)
            let hearthSeconds = (ContinuousClock.now - hearthStart).inSeconds
            let missing = try await engine.store.counts(model: "minilm-l6").pendingVectors
            await server.stop()
            MemoryBenchmark.removeDatabase(url)
            let hearthRate = Double(texts.count) / hearthSeconds
            let recordsPerSecond = { (seconds: Double) in SpineBenchmark.round(Double(records.count) / seconds) }
            runs.append([
                "slots": .number(Double(slots)), "texts": .number(Double(texts.count)),
                "direct_1500_characters": [
                    "texts_per_second": SpineBenchmark.round(before.rate), "records_per_second": recordsPerSecond(before.seconds),
                    "texts_refused": .number(Double(before.refused)),
                ],
                "direct": [
                    "texts_per_second": SpineBenchmark.round(now.rate), "records_per_second": recordsPerSecond(now.seconds),
                    "texts_refused": .number(Double(now.refused)),
                ],
                "hearth": [
                    "texts_per_second": SpineBenchmark.round(hearthRate), "records_per_second": recordsPerSecond(hearthSeconds),
                    "records_without_vector": .number(Double(missing)), "shortened": .number(Double(await engine.shortenedForEmbedding)),
                ],
                "hearth_vs_direct": SpineBenchmark.round(hearthRate / now.rate),
                "hearth_vs_1500_characters_records": SpineBenchmark.round(before.seconds / hearthSeconds),
            ])
        }
        return [
            "dataset": "longmemeval", "records": .number(Double(records.count)), "batch": .number(Double(options.batch)),
            "threads": .number(Double(options.threads)), "embed_tokens": .number(Double(options.settings.embedding.tokens)),
            "blend_context": .bool(options.settings.blendContext),
            "blend_from": options.settings.blendFrom == .max ? .null : .number(Double(options.settings.blendFrom)),
            "runs": .array(runs),
        ]
    }

    /// Texts posted straight to llama-server in batches. A text over the window costs the direct
    /// caller its batch (the server answers with an error); like any careful caller it then sends
    /// that batch one text at a time, and what the server still refuses is dropped.
    static func post(_ texts: [String], batch: Int, to direct: DirectCall) async throws -> (seconds: Double, rate: Double, refused: Int) {
        var refused = 0
        let start = ContinuousClock.now
        for first in stride(from: 0, to: texts.count, by: batch) {
            let slice = Array(texts[first..<min(first + batch, texts.count)])
            let reply = try? await direct.embed(["model": "minilm-l6", "input": .array(slice.map(JSONValue.string))])
            guard reply?["data"]?.arrayValue?.count != slice.count else { continue }
            for text in slice {
                let single = try? await direct.embed(["model": "minilm-l6", "input": [.string(text)]])
                if single?["data"]?.arrayValue?.count != 1 { refused += 1 }
            }
        }
        let seconds = (ContinuousClock.now - start).inSeconds
        return (seconds, Double(texts.count - refused) / seconds, refused)
    }

    /// How texts were cut before word pieces were counted: 1,500 characters, the context vector's
    /// window (the turn before, the record, the turn after) read from its start.
    static func characterCut(_ work: VectorWork) -> String {
        let text = work.field == .text ? work.text : [work.before, work.text, work.after].compactMap { $0 }.joined(separator: "\n")
        return String(text.prefix(1_500))
    }
}
