import ArgumentParser
import Foundation
import HearthBench
import HearthConfig
import HearthCore
import HearthDaemon
import HearthMemory
import Logging

struct MemoryBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Memory retrieval on LoCoMo / LongMemEval and hybrid-query latency at scale, each beside plain BM25.",
        discussion: """
            Name at least one of --locomo, --longmemeval, --scale. Embeddings come from the configured model server \
            (or a private llama-server, as for 'hearth ask'); vectors are cached in --embedding-cache so a second run \
            embeds nothing. Scratch databases go to a temporary directory that is removed afterwards. \
            With --json each selected benchmark prints one JSON object per line.
            """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var server: BenchServerOptions

    @Option(help: ArgumentHelp("A LoCoMo file (locomo10.json).", valueName: "file"))
    var locomo: String?

    @Option(help: ArgumentHelp("A LongMemEval file (longmemeval_s.json or a slice of it).", valueName: "file"))
    var longmemeval: String?

    @Option(help: "Only the first N LongMemEval questions.")
    var limit: Int?

    @Option(
        help: ArgumentHelp(
            "Synthetic record counts for the latency benchmark, comma-separated (e.g. 10000,100000,1000000).", valueName: "n,n,…"))
    var scale: String?

    @Option(help: "Queries timed per scale.")
    var queries = 300

    @Option(help: ArgumentHelp("Vector cache file (default: <data>/cache/bench-embeddings.sqlite).", valueName: "file"))
    var embeddingCache: String?

    @Flag(help: "Measure Hearth without vectors (its full-text-only fallback).")
    var noEmbeddings = false

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a retrieval setting (fusionK, depth, sessionWeight, sessionDepth, meaningSessionWeight, entityWeight, factWeight, importanceWeight, recencyWeight, timeWeight, keepStopWords, embedTokens, blendContext, blendFrom).",
            valueName: "name=value"))
    var overrides: [String] = []

    @Flag(help: "Print the figures as JSON.")
    var json = false

    func validate() throws {
        guard locomo != nil || longmemeval != nil || scale != nil else {
            throw ValidationError("name at least one of --locomo FILE, --longmemeval FILE, --scale N[,N…]")
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
        if let scale { _ = try Self.sizes(scale) }
        guard (10...100_000).contains(queries) else { throw ValidationError("--queries must be between 10 and 100000") }
        for file in [locomo, longmemeval].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("cannot read \(file)")
        }
    }

    static func sizes(_ text: String) throws -> [Int] {
        let sizes = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")) }
        guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) >= 100 && ($0 ?? 0) <= 10_000_000 }) else {
            throw ValidationError("--scale takes counts between 100 and 10000000, comma-separated")
        }
        return sizes.compactMap { $0 }
    }

    func run() async throws {
        let context = try common.load()
        let serverConfiguration = server.configuration(context.configuration)
        let progress: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-memory-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        var embedder: (any Embedder)?
        var access: InferenceAccess?
        if !noEmbeddings && (locomo != nil || longmemeval != nil || scale != nil) {
            let opened = try await InferenceAccess.open(
                paths: context.paths, configuration: serverConfiguration, logger: Logger(label: "hearth"))
            access = opened
            let cacheFile =
                embeddingCache.map { URL(fileURLWithPath: $0) }
                ?? context.paths.dataDirectory.appending(path: "cache/bench-embeddings.sqlite")
            embedder = try CachingEmbedder(
                opened.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds), cacheFile: cacheFile)
        }
        var benchmark = MemoryBenchmark(embedder: embedder, directory: directory)
        benchmark.settings = RetrievalSettings(context.configuration.memory)
        try benchmark.settings.apply(overrides)
        var results: [JSONValue] = []
        do {
            if let locomo { results.append(try await benchmark.locomo(file: URL(fileURLWithPath: locomo), progress: progress)) }
            if let longmemeval {
                results.append(try await benchmark.longMemEval(file: URL(fileURLWithPath: longmemeval), limit: limit, progress: progress))
            }
            if let scale { results.append(try await benchmark.latency(sizes: try Self.sizes(scale), queries: queries, progress: progress)) }
        } catch {
            await access?.close()
            throw error
        }
        await access?.close()
        let inference = BenchServerOptions.describe(access, serverConfiguration)
        results = BenchServerOptions.naming(results, inference)
        for result in results {
            print(json ? result.jsonText : MemoryBenchmark.summary(result))
        }
        if !json, case .string(let server) = inference { print("vectors from the \(server)") }
    }
}

extension RetrievalSettings {
    /// Applies `--set name=value` overrides (the benchmarks' way to try a setting).
    mutating func apply(_ overrides: [String]) throws {
        for override in overrides {
            let parts = override.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Double(parts[1]), set(parts[0], to: value) else {
                throw ValidationError("--set takes name=number with a known name; got '\(override)'")
            }
        }
    }
}
