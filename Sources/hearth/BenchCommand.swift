import ArgumentParser
import Foundation
import HearthBench
import HearthConfig
import HearthCore
import HearthDaemon
import HearthMemory
import HearthModels

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print measured figures beside a baseline measured in the same run.",
        subcommands: [
            SpineBenchCommand.self, InferenceBenchCommand.self, MemoryBenchCommand.self, AuditBenchCommand.self, LoopBenchCommand.self,
            AttentionBenchCommand.self, ChatBenchCommand.self, EmbedBenchCommand.self, DashboardBenchCommand.self,
            ComplianceBenchCommand.self, FleetBenchCommand.self, FleetWorkerCommand.self,
        ])
}

struct EmbedBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embedding texts/s through Hearth's embedding pass vs the same texts posted straight to llama-server.",
        discussion: """
            Stores LongMemEval turns, then embeds exactly the texts Hearth would (each turn, and each turn centred \
            between its neighbours, cut by word pieces) on one private llama-server: posted directly in batches, and \
            through the memory engine's work list; beside them, the texts as they were cut before (1,500 characters) \
            posted directly. Repeated for each --slots value (texts per forward pass). Build with \
            'swift build -c release' first.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "A LongMemEval-S file (JSON).")
    var longmemeval: String

    @Option(help: "Turns to store (about two texts each).")
    var records = 500

    @Option(help: "Texts per request.")
    var batch = 64

    @Option(help: "Embedding slots to compare, comma-separated.")
    var slots = "4"

    @Option(help: "llama-server threads (-t).")
    var threads = 1

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override how Hearth embeds (embedTokens=N, blendContext=1, blendFrom=N), as 'hearth bench memory --set' takes it.",
            valueName: "name=value")
    )
    var overrides: [String] = []

    @Flag(help: "Print the figures as JSON.")
    var json = false

    func validate() throws {
        guard (10...100_000).contains(records) else { throw ValidationError("--records must be between 10 and 100000") }
        guard (1...512).contains(batch) else { throw ValidationError("--batch must be between 1 and 512") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64") }
        guard !parsedSlots.isEmpty else { throw ValidationError("--slots takes counts from 1 to 64, e.g. 1,4") }
        guard FileManager.default.isReadableFile(atPath: longmemeval) else {
            throw ValidationError("cannot read \(longmemeval) (a LongMemEval-S JSON file)")
        }
    }

    var parsedSlots: [Int] {
        let values = slots.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return values.allSatisfy { (1...64).contains($0) } ? values : []
    }

    func run() async throws {
        let context = try common.load()
        let installation = try ModelInstallation.load(binary: context.paths.llamaServer, modelsDirectory: context.paths.modelsDirectory)
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-embed-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = EmbeddingBenchmark.Options(installation: installation, directory: directory, file: URL(fileURLWithPath: longmemeval))
        options.records = records
        options.batch = batch
        options.threads = threads
        options.slots = parsedSlots
        options.settings = RetrievalSettings(context.configuration.memory)
        try options.settings.apply(overrides)
        let progress: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        let figures = try await EmbeddingBenchmark(options: options).run(progress: progress)
        if json {
            print(figures.jsonText)
            return
        }
        print(
            "hearth bench embed: \(figures["records"]?.intValue ?? 0) LongMemEval turns, batches of \(batch), llama-server -t \(threads), "
                + "texts cut at \(figures["embed_tokens"]?.intValue ?? 0) word pieces")
        for run in figures["runs"]?.arrayValue ?? [] {
            let rate = { (key: String) in
                "\(run[key]?["texts_per_second"]?.doubleValue ?? 0) texts/s, \(run[key]?["records_per_second"]?.doubleValue ?? 0) records/s"
            }
            print(
                "slots \(run["slots"]?.intValue ?? 0), \(run["texts"]?.intValue ?? 0) texts: direct at 1,500 characters \(rate("direct_1500_characters")); "
                    + "direct \(rate("direct")); hearth \(rate("hearth")) (\(run["hearth_vs_direct"]?.doubleValue ?? 0) of direct, "
                    + "records ×\(run["hearth_vs_1500_characters_records"]?.doubleValue ?? 0) faster than at 1,500 characters); "
                    + "\(run["hearth"]?["records_without_vector"]?.intValue ?? 0) without a vector")
        }
    }
}

struct SpineBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spine",
        abstract: "Journal throughput and latency, idle cost, cold start; or the crash harness with --crash N.",
        discussion: """
            Build with 'swift build -c release' first: debug figures are not representative. \
            Scratch data goes to a temporary directory that is removed afterwards (kept if the crash harness fails).
            """)

    @Option(help: "Run the crash harness for N SIGKILL rounds instead of the performance figures.")
    var crash: Int?

    @Option(help: "Seed for the crash harness's random kill times (to replay a failure).")
    var seed: UInt64?

    @Option(help: "Seconds to measure the idle daemon.")
    var idleSeconds = 30

    @Option(help: "Files in the idle daemon's workspace.")
    var files = 10_000

    @Option(help: "Journal rows for the cold-start measurement.")
    var rows = 100_000

    @Flag(help: "Print the figures as JSON.")
    var json = false

    func validate() throws {
        if let crash, crash < 1 { throw ValidationError("--crash takes a positive number of rounds") }
        guard idleSeconds >= 1, files >= 0, rows >= 0 else { throw ValidationError("--idle-seconds, --files and --rows must be positive") }
    }

    func run() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let progress: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        if let crash {
            let seed = seed ?? CrashHarness.freshSeed()
            progress("crash harness: \(crash) rounds, seed \(seed), scratch \(directory.path)")
            let report = try await CrashHarness(options: .init(rounds: crash, seed: seed, directory: directory)).run(progress: progress)
            let encoded = try JSONValue(parsing: JSONEncoder().encode(report))
            if json {
                print(
                    JSONValue.object(
                        (encoded.objectValue ?? [:]).merging(["seed": .number(Double(seed)), "passed": .bool(report.passed)]) { $1 }
                    ).jsonText)
            } else {
                print(Self.render(report, seed: seed))
            }
            if report.passed {
                try? FileManager.default.removeItem(at: directory)
            } else {
                throw CLIError("the crash harness found problems (seed \(seed)); the data is kept in \(directory.path)")
            }
            return
        }
        var options = SpineBenchmark.Options(directory: directory)
        options.idleSeconds = idleSeconds
        options.files = files
        options.coldRows = rows
        defer { try? FileManager.default.removeItem(at: directory) }
        let figures = try await SpineBenchmark(options: options).run(progress: progress)
        print(json ? figures.jsonText : Self.render(figures))
    }

    static func render(_ report: CrashHarness.Report, seed: UInt64) -> String {
        """
        crash harness: \(report.rounds) rounds (\(report.killsWhileServing) SIGKILLs while serving, \(report.killsDuringStartup) during start-up), seed \(seed), \(String(format: "%.1f", report.seconds)) s
          events acknowledged  \(report.acknowledgedEvents) (HTTP \(report.acknowledgedViaHTTP), CLI \(report.acknowledgedViaCLI)); lost \(report.lostEvents.count), duplicated \(report.duplicatedEvents.count)
          runs acknowledged    \(report.acknowledgedRuns) (\(report.runsInDatabase) in the database); lost \(report.lostRuns.count), unfinished \(report.unfinishedRuns.count)
          effect lines         \(report.effectLines); missing \(report.missingLines.count), duplicated \(report.duplicatedLines.count)
          integrity_check      \(report.integrityCheck)
          \(report.passed ? "PASSED" : "FAILED: " + (report.lostEvents + report.duplicatedEvents + report.lostRuns + report.unfinishedRuns + report.missingLines + report.duplicatedLines).prefix(10).joined(separator: ", "))
        """
    }

    static func render(_ figures: JSONValue) -> String {
        func number(_ value: JSONValue?) -> String {
            guard let value = value?.doubleValue else { return "?" }
            return value.rounded() == value ? String(Int(value)) : String(value)
        }
        func pair(_ a: JSONValue?, _ b: JSONValue?) -> String { "\(number(a)) / \(number(b))" }
        let journal = figures["journal"] ?? [:]
        let single = journal["single"] ?? [:]
        let batched = journal["batched"] ?? [:]
        let http = figures["http"] ?? [:]
        let idle = figures["idle"] ?? [:]
        let cold = figures["coldStart"] ?? [:]
        let rows: [(String, String, String)] = [
            ("", "hearth", "baseline (same run)"),
            (
                "journal, single: events/s", number(single["hearth"]?["eventsPerSecond"]),
                "\(number(single["rawGRDB"]?["eventsPerSecond"])) raw GRDB"
            ),
            (
                "journal, single: ack p50 / p99 ms", pair(single["hearth"]?["p50Ms"], single["hearth"]?["p99Ms"]),
                "\(pair(single["rawGRDB"]?["p50Ms"], single["rawGRDB"]?["p99Ms"])) raw GRDB"
            ),
            (
                "journal, batches of \(number(batched["batchSize"])): events/s", number(batched["hearth"]?["eventsPerSecond"]),
                "\(number(batched["rawGRDB"]?["eventsPerSecond"])) raw GRDB"
            ),
            (
                "HTTP POST event: p50 / p99 ms", pair(http["postEvent"]?["p50Ms"], http["postEvent"]?["p99Ms"]),
                "\(pair(http["healthBaseline"]?["p50Ms"], http["healthBaseline"]?["p99Ms"])) GET /v1/health"
            ),
            (
                "idle RSS MB, \(number(idle["workspaceFiles"]))-file workspace", number(idle["hearth"]?["rssMB"]),
                "\(number(idle["emptyWorkspace"]?["rssMB"])) empty workspace"
            ),
            (
                "idle CPU % over \(number(idle["seconds"])) s", number(idle["hearth"]?["cpuPercent"]),
                "\(number(idle["emptyWorkspace"]?["cpuPercent"])) empty workspace"
            ),
            (
                "cold start to ready ms, \(number(cold["rows"])) rows", number(cold["hearth"]?["medianMs"]),
                "\(number(cold["emptyDatabase"]?["medianMs"])) empty db, \(number(cold["bareProcess"]?["medianMs"])) bare process"
            ),
        ]
        let first = rows.map(\.0.count).max() ?? 0
        let second = rows.map(\.1.count).max() ?? 0
        var lines = ["hearth bench spine (\(figures["build"]?.stringValue ?? "?") build, \(number(figures["cores"])) cores)"]
        if figures["build"] == "debug" { lines.append("WARNING: debug build; use 'swift build -c release' for figures worth recording") }
        for (label, hearth, baseline) in rows {
            lines.append(
                label.padding(toLength: first + 2, withPad: " ", startingAt: 0)
                    + hearth.padding(toLength: second + 3, withPad: " ", startingAt: 0) + baseline)
        }
        return lines.joined(separator: "\n")
    }
}

struct InferenceBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inference",
        abstract: "Decode speed through Hearth vs a direct llama-server call, prompt-cache reuse, embeddings/s.",
        discussion: """
            Starts a private llama-server from the installation 'scripts/setup' made (models from the data dir). \
            Build with 'swift build -c release' first.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Alternating pairs of Hearth and direct generations.")
    var pairs = 8

    @Option(help: "llama-server threads (-t).")
    var threads = 1

    @Flag(help: "Print the figures as JSON.")
    var json = false

    func validate() throws {
        guard (1...100).contains(pairs) else { throw ValidationError("--pairs must be between 1 and 100") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64") }
    }

    func run() async throws {
        let context = try common.load()
        let installation = try ModelInstallation.load(binary: context.paths.llamaServer, modelsDirectory: context.paths.modelsDirectory)
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-inference-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = InferenceBenchmark.Options(installation: installation, directory: directory)
        options.decodePairs = pairs
        options.threads = threads
        let progress: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        let figures = try await InferenceBenchmark(options: options).run(progress: progress)
        if json {
            print(figures.jsonText)
            return
        }
        let decode = figures["decode"] ?? [:]
        let cache = figures["promptCache"] ?? [:]
        let embeddings = figures["embeddings"] ?? [:]
        func number(_ value: JSONValue?) -> String {
            guard let value = value?.doubleValue else { return "?" }
            return value.rounded() == value ? String(Int(value)) : String(value)
        }
        print(
            """
            hearth bench inference (\(figures["build"]?.stringValue ?? "?") build, llama-server -t \(threads), \(figures["model"]?.stringValue ?? ""))
            decode tok/s, end to end        hearth \(number(decode["hearthTokensPerSecond"]))   direct \(number(decode["directTokensPerSecond"]))   overhead \(number(decode["overheadPercent"])) %   (server-side decode \(number(decode["serverDecodeTokensPerSecond"])))
            prompt tokens from cache        stable prefix \(number(cache["stablePrefix"]?["cachedPercent"])) %   changing prefix \(number(cache["changingPrefix"]?["cachedPercent"])) %   (steps 2-10 of 10)
            embeddings/s (\(number(embeddings["sentences"])) sentences)   hearth \(number(embeddings["hearthPerSecond"]))   direct \(number(embeddings["directPerSecond"]))
            """)
    }
}

struct LoopBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loops",
        abstract:
            "How often the local chat model's answers loop: plain sampling versus Hearth's repetition controls, same prompts, same run.",
        discussion: """
            30 fixed prompts (the README's ask examples first), each answered with the server's plain sampling and with the \
            penalties Hearth sends for free text; answers run to their end, and a loop is what every surface would cut. \
            --tune tries the candidate settings on 30 other prompts (how the defaults were chosen). Needs scripts/setup's models.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(help: "Try the candidate settings on the tuning prompts instead.")
    var tune = false

    @Option(help: "The most tokens per answer.")
    var maxTokens = 256

    @Flag(help: "Print the figures (and every answer) as JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        let installation = try ModelInstallation.load(binary: context.paths.llamaServer, modelsDirectory: context.paths.modelsDirectory)
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-loops-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = LoopBenchmark.Options(installation: installation, directory: directory)
        options.maxTokens = maxTokens
        options.threads = context.configuration.inference.threads
        if tune {
            options.prompts = LoopBenchmark.tuningPrompts
            options.settings = LoopBenchmark.candidates.map { LoopBenchmark.Setting(name: $0.name, control: $0.control) }
        }
        let report = try await LoopBenchmark(options: options).run { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        print(json ? report.jsonText : LoopBenchmark.render(report))
    }
}
