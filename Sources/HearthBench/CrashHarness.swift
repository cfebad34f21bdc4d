import Foundation
import Glibc
import HearthAgent
import HearthCore
import HearthServer
import HearthStore
import Synchronization

/// Kills the real daemon with SIGKILL at random moments while events and effect runs pour in
/// over the CLI and HTTP, then checks that nothing acknowledged was lost or duplicated.
///
/// Each round starts `hearth daemon`, feeds it (HTTP events single and batched, keyed and not,
/// HTTP runs; CLI events and runs, which write the database directly), and SIGKILLs it after a
/// random delay — one round in five while it is still starting. After the last round a final
/// daemon drains every run, stops gracefully, and the database is checked:
/// every acknowledged event is present exactly once, every run finished, every effect line is in
/// its file exactly once, and `PRAGMA integrity_check` is `ok`.
public struct CrashHarness: Sendable {
    public struct Options: Sendable {
        public var rounds: Int
        public var seed: UInt64
        public var binary: URL
        public var directory: URL
        /// The longest a round feeds before the kill.
        public var maximumRoundMilliseconds: Int

        public init(rounds: Int, seed: UInt64, binary: URL = HearthBinary.url, directory: URL, maximumRoundMilliseconds: Int = 400) {
            self.rounds = rounds
            self.seed = seed
            self.binary = binary
            self.directory = directory
            self.maximumRoundMilliseconds = maximumRoundMilliseconds
        }
    }

    public struct Report: Sendable, Codable, Equatable {
        /// Replays this run: `HEARTH_CRASH_SEED=<seed>` in the suite, `--seed` on `hearth bench`.
        public var seed: UInt64 = 0
        public var rounds = 0
        public var killsDuringStartup = 0
        public var killsWhileServing = 0
        public var acknowledgedEvents = 0
        public var acknowledgedViaHTTP = 0
        public var acknowledgedViaCLI = 0
        public var lostEvents: [String] = []
        public var duplicatedEvents: [String] = []
        public var acknowledgedRuns = 0
        public var runsInDatabase = 0
        public var lostRuns: [String] = []
        public var unfinishedRuns: [String] = []
        public var effectLines = 0
        public var missingLines: [String] = []
        public var duplicatedLines: [String] = []
        public var integrityCheck = ""
        public var seconds = 0.0

        public var passed: Bool {
            lostEvents.isEmpty && duplicatedEvents.isEmpty && lostRuns.isEmpty && unfinishedRuns.isEmpty
                && missingLines.isEmpty && duplicatedLines.isEmpty && integrityCheck == "ok"
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    /// The seed a suite run uses: `HEARTH_CRASH_SEED` when set (to replay a failure), else a fresh one.
    ///
    /// - Throws: a message naming the variable when it is not a number.
    public static func seed(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> UInt64 {
        guard let text = environment["HEARTH_CRASH_SEED"] else { return freshSeed() }
        guard let seed = UInt64(text.trimmingCharacters(in: .whitespaces)) else {
            throw CrashSeedError(text: text)
        }
        return seed
    }

    /// A random seed below 2^53, so it survives any JSON reader exactly.
    public static func freshSeed() -> UInt64 { UInt64.random(in: 0..<(1 << 53)) }

    public struct CrashSeedError: Error, CustomStringConvertible {
        public var text: String
        public var description: String { "HEARTH_CRASH_SEED=\"\(text)\" is not a number from 0 to \(UInt64.max)" }
    }

    /// Acknowledgements collected while the daemon is being killed.
    final class Ledger: Sendable {
        let eventKeys = Mutex<[String]>([])
        let unkeyedMarkers = Mutex<[String]>([])
        let runKeys = Mutex<[String]>([])
        let viaHTTP = Mutex(0)
        let viaCLI = Mutex(0)
    }

    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Report {
        let started = Date()
        let data = options.directory.appending(path: "data")
        let workspace = options.directory.appending(path: "workspace")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        try DaemonUnderTest.prepare(dataDirectory: data, workspace: workspace, extraConfig: "[maildir]\nenabled = false\n")
        var random = SplitMix64(seed: options.seed)
        var report = Report()
        report.seed = options.seed
        let acknowledged = Ledger()

        for round in 0..<options.rounds {
            let duringStartup = random.next() % 5 == 0
            let delay = Int(random.next() % UInt64(max(1, duringStartup ? 150 : options.maximumRoundMilliseconds)))
            let process = try await ChildProcess(executable: options.binary, arguments: ["daemon", "--data-dir", data.path])
            let stop = StopFlag()
            // Only this task reads the daemon's stdout; the feeders get the port from it.
            var client: DaemonClient?
            if !duringStartup {
                guard let line = await process.firstLine(containing: "hearth daemon ready"), let port = DaemonUnderTest.port(in: line)
                else {
                    process.signal(SIGKILL)
                    await process.waitForExit()
                    throw DaemonStartError(stderr: process.standardError)
                }
                let token = try String(contentsOf: data.appending(path: "api-token"), encoding: .utf8)
                client = DaemonClient(port: port, token: token.trimmingCharacters(in: .whitespacesAndNewlines), timeout: .seconds(5))
            }
            await withTaskGroup(of: Void.self) { group in
                if let client {
                    group.addTask { await feedHTTP(client, round: round, stop: stop, acknowledged: acknowledged) }
                }
                group.addTask { await feedCLI(data: data, round: round, stop: stop, acknowledged: acknowledged) }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(delay))
                    process.signal(SIGKILL)
                    await process.waitForExit()
                    stop.set()
                }
            }
            if duringStartup { report.killsDuringStartup += 1 } else { report.killsWhileServing += 1 }
            report.rounds += 1
            if (round + 1) % max(1, options.rounds / 10) == 0 {
                progress(
                    "round \(round + 1)/\(options.rounds): \(acknowledged.eventKeys.withLock { $0.count }) events and \(acknowledged.runKeys.withLock { $0.count }) runs acknowledged so far"
                )
            }
        }

        // A last, undisturbed daemon finishes every run, then stops gracefully.
        let final = try await DaemonUnderTest.start(binary: options.binary, dataDirectory: data, timeout: 60)
        let database = try DatabaseAudit(readOnly: data.appending(path: "hearth.sqlite"))
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if try await database.unfinishedRunCount() == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await final.stop()

        try await verify(database: database, workspace: workspace, acknowledged: acknowledged, report: &report)
        try database.close()
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    private func feedHTTP(_ client: DaemonClient, round: Int, stop: StopFlag, acknowledged: Ledger) async {
        var index = 0
        while !stop.isSet {
            index += 1
            do {
                switch index % 6 {
                case 0:
                    let key = "hr-\(round)-\(index)"
                    let steps: [JSONValue] = (0..<(1 + (index / 6) % 3)).map { step in
                        ["effect": "append_line", "arguments": ["path": "crash/http.txt", "text": .string("\(key)-\(step)")]]
                    }
                    let reply = try await client.post("/v1/runs", ["key": .string(key), "steps": .array(steps)])
                    if reply.status == 200 || reply.status == 201 { acknowledged.runKeys.withLock { $0.append(key) } }
                case 1:
                    let keys = (0..<20).map { "hb-\(round)-\(index)-\($0)" }
                    let batch = keys.map { key -> JSONValue in
                        ["source": "harness", "kind": "crash.batch", "key": .string(key), "payload": ["marker": .string(key)]]
                    }
                    let reply = try await client.post("/v1/events", .array(batch))
                    if reply.status == 200 {
                        acknowledged.eventKeys.withLock { $0 += keys }
                        acknowledged.viaHTTP.withLock { $0 += keys.count }
                    }
                case 2:
                    let marker = "hu-\(round)-\(index)"
                    _ = try await client.postEvent(["source": "harness", "kind": "crash.unkeyed", "payload": ["marker": .string(marker)]])
                    acknowledged.unkeyedMarkers.withLock { $0.append(marker) }
                    acknowledged.viaHTTP.withLock { $0 += 1 }
                default:
                    let key = "h-\(round)-\(index)"
                    _ = try await client.postEvent(
                        ["source": "harness", "kind": "crash.http", "key": .string(key), "payload": ["marker": .string(key)]])
                    acknowledged.eventKeys.withLock { $0.append(key) }
                    acknowledged.viaHTTP.withLock { $0 += 1 }
                }
            } catch {
                return  // the daemon is gone; this round's HTTP feeding is over
            }
        }
    }

    private func feedCLI(data: URL, round: Int, stop: StopFlag, acknowledged: Ledger) async {
        var index = 0
        while !stop.isSet {
            index += 1
            if index % 3 == 0 {
                let key = "cr-\(round)-\(index)"
                let result = try? await ChildProcess.run(
                    options.binary,
                    ["effect", "append-line", "--data-dir", data.path, "--file", "crash/cli.txt", "--text", key, "--key", key])
                if result?.status == 0 { acknowledged.runKeys.withLock { $0.append(key) } }
            } else {
                let key = "c-\(round)-\(index)"
                let result = try? await ChildProcess.run(
                    options.binary,
                    [
                        "event", "add", "--data-dir", data.path, "--source", "harness", "--kind", "crash.cli", "--key", key,
                        "--payload", #"{"marker": "\#(key)"}"#,
                    ])
                if result?.status == 0 {
                    acknowledged.eventKeys.withLock { $0.append(key) }
                    acknowledged.viaCLI.withLock { $0 += 1 }
                }
            }
        }
    }

    private func verify(database: DatabaseAudit, workspace: URL, acknowledged: Ledger, report: inout Report) async throws {
        let eventKeys = acknowledged.eventKeys.withLock { $0 }
        let markers = acknowledged.unkeyedMarkers.withLock { $0 }
        let runKeys = acknowledged.runKeys.withLock { $0 }
        report.acknowledgedEvents = eventKeys.count + markers.count
        report.acknowledgedViaHTTP = acknowledged.viaHTTP.withLock { $0 }
        report.acknowledgedViaCLI = acknowledged.viaCLI.withLock { $0 }
        report.acknowledgedRuns = runKeys.count

        let snapshot = try await database.snapshot(markerKind: "crash.unkeyed", markerField: "marker")
        let (storedKeys, markerCounts, runs, steps, integrity) = (
            snapshot.eventKeys, snapshot.markerCounts, snapshot.runs, snapshot.stepKeys, snapshot.integrity
        )
        report.integrityCheck = integrity
        report.lostEvents = eventKeys.filter { !storedKeys.contains($0) } + markers.filter { markerCounts[$0] == nil }
        report.duplicatedEvents = markerCounts.filter { $0.value > 1 }.map(\.key).sorted()
        let storedRuns = Set(runs.map(\.0))
        report.runsInDatabase = runs.count
        report.lostRuns = runKeys.filter { !storedRuns.contains($0) }
        report.unfinishedRuns = runs.filter { $0.1 != "succeeded" }.map { "\($0.0) (\($0.1))" }

        // Every step's line, tagged with its idempotency key, must be in its file exactly once.
        var tagCounts: [String: Int] = [:]
        for file in ["crash/http.txt", "crash/cli.txt"] {
            let text = (try? String(contentsOf: workspace.appending(path: file), encoding: .utf8)) ?? ""
            tagCounts.merge(AppendLineEffect.keyCounts(in: text), uniquingKeysWith: +)
        }
        report.effectLines = tagCounts.values.reduce(0, +)
        report.missingLines = steps.filter { tagCounts[$0] == nil }
        report.duplicatedLines = tagCounts.filter { $0.value > 1 }.map(\.key).sorted()
    }
}

/// Set once when a round's daemon is dead, read by the feeders.
final class StopFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
