import ArgumentParser
import Foundation
import HearthAgent
import HearthBench
import HearthConfig
import HearthCore
import HearthDaemon
import HearthMemory
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
    @OptionGroup var server: BenchServerOptions

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

    @Option(help: "At most this many memories are recalled for a question; the budget decides how many fit.")
    var recall = ChatEngine.Settings().recall

    @Option(help: "How long the passage of a memory cut for its length may be (tokens).")
    var passageTokens = ChatEngine.Settings().passageTokens

    @Option(help: "How many of the best memories are carried whole (up to --whole-tokens each).")
    var whole = ChatEngine.Settings().wholeMemories

    @Option(help: "The longest a whole memory may be (tokens) before it too is cut to its passage.")
    var wholeTokens = ChatEngine.Settings().wholeMemoryTokens

    @Option(help: ArgumentHelp("Also time context assembly over N synthetic records (e.g. 100000).", valueName: "records"))
    var scale: Int?

    @Option(help: "Queries timed at --scale.")
    var queries = 200

    @Option(
        help: ArgumentHelp(
            "Also take N chat turns with the configured local model over the --locomo file's first conversation and report the share of each turn that is not the model call (then --locomo is only its source of questions).",
            valueName: "turns"))
    var overhead: Int?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override a retrieval setting, as 'hearth bench memory --set' takes it.", valueName: "name=value"))
    var overrides: [String] = []

    @Flag(help: "Full text only (no embedding calls).")
    var noEmbeddings = false

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if let overhead {
            guard locomo != nil else { throw ValidationError("--overhead takes its questions from --locomo FILE") }
            guard (1...1_000).contains(overhead) else { throw ValidationError("--overhead must be 1…1000 turns") }
        }
        guard locomo != nil || longmemeval != nil || scale != nil else {
            throw ValidationError("name --locomo FILE, --longmemeval FILE or --scale N")
        }
        if let scale, !(100...10_000_000).contains(scale) { throw ValidationError("--scale must be 100…10000000 records") }
        guard (1...100_000).contains(queries) else { throw ValidationError("--queries must be 1…100000") }
        guard (1...1_000).contains(recall) else { throw ValidationError("--recall must be 1…1000 memories") }
        guard memoryTokens >= 8 else { throw ValidationError("--memory-tokens must be at least 8") }
        guard (8...memoryTokens).contains(passageTokens) else {
            throw ValidationError("--passage-tokens must be 8…\(memoryTokens) (--memory-tokens) tokens")
        }
        guard (128...65_536).contains(budget) else { throw ValidationError("--budget must be 128…65536 tokens") }
        for file in [locomo, longmemeval].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("cannot read \(file)")
        }
    }

    func run() async throws {
        let context = try common.load()
        let serverConfiguration = server.configuration(context.configuration)
        let progress: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-chat-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var embedder: (any Embedder)?
        var access: InferenceAccess?
        // Vectors for the datasets (the synthetic store embeds in process), or the model for --overhead.
        if (!noEmbeddings && (locomo != nil || longmemeval != nil)) || overhead != nil {
            let opened = try await InferenceAccess.open(
                paths: context.paths, configuration: serverConfiguration, logger: Logger(label: "hearth"))
            access = opened
            embedder =
                noEmbeddings
                ? nil
                : try CachingEmbedder(
                    opened.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds),
                    cacheFile: context.paths.dataDirectory.appending(path: "cache/bench-embeddings.sqlite"))
        }
        var benchmark = MemoryBenchmark(embedder: embedder, directory: directory)
        benchmark.settings = RetrievalSettings(context.configuration.memory)
        try benchmark.settings.apply(overrides)
        benchmark.chat.memoryBudget = budget
        benchmark.chat.memoryTokens = memoryTokens
        benchmark.chat.passageTokens = passageTokens
        benchmark.chat.recall = recall
        benchmark.chat.wholeMemories = whole
        benchmark.chat.wholeMemoryTokens = wholeTokens
        var results: [JSONValue] = []
        do {
            if let locomo, overhead == nil {
                results.append(try await benchmark.chatLocomo(file: URL(fileURLWithPath: locomo), progress: progress))
            }
            if let scale {
                results.append([
                    "dataset": "synthetic", "assembly": try await benchmark.chatAssembly(size: scale, queries: queries, progress: progress),
                ])
            }
            if let overhead, let locomo, let access {
                let model = access.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds)
                results.append([
                    "dataset": "locomo",
                    "overhead": try await benchmark.chatOverhead(
                        file: URL(fileURLWithPath: locomo), model: model, turns: overhead, progress: progress),
                ])
            }
            if let longmemeval {
                results.append(
                    try await benchmark.chatLongMemEval(
                        file: URL(fileURLWithPath: longmemeval), limit: limit, progress: progress))
            }
        } catch {
            await access?.close()
            throw error
        }
        await access?.close()
        let inference = BenchServerOptions.describe(access, serverConfiguration)
        results = BenchServerOptions.naming(results, inference)
        if !json, case .string(let server) = inference { print("models on the \(server)") }
        for result in results {
            if json {
                print(result.jsonText)
                continue
            }
            if let assembly = result["assembly"] {
                print(
                    "context assembly over \(assembly["records"]?.intValue ?? 0) synthetic records: p50 \(assembly["p50_ms"]?.doubleValue ?? 0) ms, p99 \(assembly["p99_ms"]?.doubleValue ?? 0) ms (\(assembly["queries"]?.intValue ?? 0) queries, synthetic embedder in process)"
                )
                continue
            }
            if let turns = result["overhead"] {
                print(
                    "chat turns with \(turns["model"]?.stringValue ?? "?"): \(turns["turns"]?.intValue ?? 0) turns, mean \(Int(turns["turn_ms_mean"]?.doubleValue ?? 0)) ms, model call \(Int(turns["model_ms_mean"]?.doubleValue ?? 0)) ms; Hearth's own share \(turns["overhead_share"]?.doubleValue ?? 0) (p50 \(Int(turns["overhead_ms_p50"]?.doubleValue ?? 0)) ms, p99 \(Int(turns["overhead_ms_p99"]?.doubleValue ?? 0)) ms)"
                )
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
