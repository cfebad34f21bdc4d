import ArgumentParser
import Foundation
import HearthBench
import HearthCore

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print measured figures beside a baseline measured in the same run.",
        subcommands: [SpineBenchCommand.self])
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
            let seed = seed ?? UInt64.random(in: 0...UInt64.max)
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
            return value.rounded() == value && abs(value) >= 10 ? String(Int(value)) : String(value)
        }
        let journal = figures["journal"] ?? [:]
        let single = journal["single"] ?? [:]
        let batched = journal["batched"] ?? [:]
        let http = figures["http"] ?? [:]
        let idle = figures["idle"] ?? [:]
        let cold = figures["coldStart"] ?? [:]
        var lines = ["hearth bench spine (\(figures["build"]?.stringValue ?? "?") build, \(number(figures["cores"])) cores)"]
        if figures["build"] == "debug" { lines.append("  WARNING: debug build; use 'swift build -c release' for figures worth recording") }
        lines += [
            "                                   hearth          baseline",
            "journal single  events/s           \(number(single["hearth"]?["eventsPerSecond"])) \(String(repeating: " ", count: max(1, 15 - number(single["hearth"]?["eventsPerSecond"]).count)))\(number(single["rawGRDB"]?["eventsPerSecond"]))  (raw GRDB, synchronous=FULL)",
            "journal single  ack p50 / p99 ms   \(number(single["hearth"]?["p50Ms"])) / \(number(single["hearth"]?["p99Ms"]))    \(number(single["rawGRDB"]?["p50Ms"])) / \(number(single["rawGRDB"]?["p99Ms"]))",
            "journal batched events/s (\(number(batched["batchSize"])))    \(number(batched["hearth"]?["eventsPerSecond"]))      \(number(batched["rawGRDB"]?["eventsPerSecond"]))",
            "HTTP POST event p50 / p99 ms       \(number(http["postEvent"]?["p50Ms"])) / \(number(http["postEvent"]?["p99Ms"]))    \(number(http["healthBaseline"]?["p50Ms"])) / \(number(http["healthBaseline"]?["p99Ms"]))  (GET /v1/health)",
            "idle RSS MB (\(number(idle["workspaceFiles"])) files)        \(number(idle["hearth"]?["rssMB"])) (max \(number(idle["hearth"]?["maxRssMB"])))    \(number(idle["emptyWorkspace"]?["rssMB"]))  (empty workspace)",
            "idle CPU % over \(number(idle["seconds"])) s             \(number(idle["hearth"]?["cpuPercent"]))           \(number(idle["emptyWorkspace"]?["cpuPercent"]))",
            "cold start to ready ms (\(number(cold["rows"])) rows) \(number(cold["hearth"]?["medianMs"])) (min \(number(cold["hearth"]?["minMs"])))  \(number(cold["emptyDatabase"]?["medianMs"])) empty db, \(number(cold["bareProcess"]?["medianMs"])) bare 'hearth --version'",
        ]
        return lines.joined(separator: "\n")
    }
}
