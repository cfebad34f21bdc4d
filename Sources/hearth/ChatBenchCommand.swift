import ArgumentParser
import Foundation
import HearthAgent
import HearthBench
import HearthConfig
import HearthCore
import HearthDaemon
import Logging

struct ChatBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Context recall of chat turns: is each question's evidence inside the context a turn assembles under its memory budget?",
        discussion: """
            Beside it, in the same run: the latest turns only (a chat without memory) and plain BM25 filling the same budget. \
            Latency times retrieval and assembly; the query embedding is timed apart. Embeddings come from the configured \
            model server (cached in <data>/cache/bench-embeddings.sqlite).
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("A LoCoMo file (locomo10.json).", valueName: "file"))
    var locomo: String?

    @Option(help: ArgumentHelp("A LongMemEval file.", valueName: "file"))
    var longmemeval: String?

    @Option(help: "Only the first N LongMemEval questions.")
    var limit: Int?

    @Option(help: "The memory budget in tokens.")
    var budget = 2_048

    @Option(help: "A recalled memory past the first few is cut to its passage about the question when longer than this (tokens).")
    var memoryTokens = ChatEngine.Settings().memoryTokens

    @Option(help: "How many of the best memories are carried whole (up to --whole-tokens each).")
    var whole = ChatEngine.Settings().wholeMemories

    @Option(help: "The longest a whole memory may be (tokens) before it too is cut to its passage.")
    var wholeTokens = ChatEngine.Settings().wholeMemoryTokens

    @Flag(help: "Full text only (no embedding calls).")
    var noEmbeddings = false

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard locomo != nil || longmemeval != nil else { throw ValidationError("name --locomo FILE or --longmemeval FILE") }
        guard (128...65_536).contains(budget) else { throw ValidationError("--budget must be 128…65536 tokens") }
        for file in [locomo, longmemeval].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("cannot read \(file)")
        }
    }

    func run() async throws {
        let context = try common.load()
        let progress: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-chat-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var embedder: (any Embedder)?
        var access: InferenceAccess?
        if !noEmbeddings {
            let opened = try await InferenceAccess.open(
                paths: context.paths, configuration: context.configuration, logger: Logger(label: "hearth"))
            access = opened
            embedder = try CachingEmbedder(
                opened.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds),
                cacheFile: context.paths.dataDirectory.appending(path: "cache/bench-embeddings.sqlite"))
        }
        var benchmark = MemoryBenchmark(embedder: embedder, directory: directory)
        benchmark.chat.memoryBudget = budget
        benchmark.chat.memoryTokens = memoryTokens
        benchmark.chat.wholeMemories = whole
        benchmark.chat.wholeMemoryTokens = wholeTokens
        var results: [JSONValue] = []
        do {
            if let locomo {
                results.append(try await benchmark.chatLocomo(file: URL(fileURLWithPath: locomo), budget: budget, progress: progress))
            }
            if let longmemeval {
                results.append(
                    try await benchmark.chatLongMemEval(
                        file: URL(fileURLWithPath: longmemeval), budget: budget, limit: limit, progress: progress))
            }
        } catch {
            await access?.close()
            throw error
        }
        await access?.close()
        for result in results {
            if json {
                print(result.jsonText)
                continue
            }
            print("\(result["dataset"]?.stringValue ?? "?"): \(result["questions"]?.intValue ?? 0) questions, budget \(budget) tokens")
            for name in ["hearth", "recent_only", "bm25"] {
                let figures = result[name] ?? .null
                let latency =
                    figures["p50_ms"].map { ", p50 \($0.doubleValue ?? 0) ms, p99 \(figures["p99_ms"]?.doubleValue ?? 0) ms" } ?? ""
                print(
                    "  \(name): context_recall \(figures["context_recall"]?.doubleValue ?? 0), \(figures["context_tokens"]?.intValue ?? 0) tokens\(latency)"
                )
            }
        }
    }
}
