import Foundation
import Glibc
import HearthCore
import HearthServer
import HearthStore

/// `hearth bench spine`: the spine's figures, each beside a baseline measured in the same run.
///
/// - journal: durable events/s, single (one transaction each, p50/p99 ack latency) and batched,
///   through `JournalStore` — baseline: raw GRDB inserts into the same schema, same pragmas;
/// - http: single-event POST ack latency against a real daemon — baseline: `GET /v1/health`;
/// - idle: RSS and CPU of a daemon idling over a 10k-file workspace — baseline: empty workspace;
/// - cold start: spawn to ready with 100k journal rows — baselines: empty database, bare process.
public struct SpineBenchmark: Sendable {
    public struct Options: Sendable {
        public var binary: URL
        public var directory: URL
        public var singleEvents = 2_000
        public var batchedEvents = 100_000
        public var batchSize = 1_000
        public var httpEvents = 1_000
        public var idleSeconds = 30
        public var files = 10_000
        public var coldRows = 100_000
        public var coldStarts = 5

        public init(binary: URL = HearthBinary.url, directory: URL) {
            self.binary = binary
            self.directory = directory
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> JSONValue {
        var document: [String: JSONValue] = [
            "benchmark": "spine",
            "build": .string(Self.buildKind),
            "cores": .number(Double(ProcessInfo.processInfo.activeProcessorCount)),
        ]
        progress("journal: \(options.singleEvents) single and \(options.batchedEvents) batched events, Hearth and raw GRDB")
        document["journal"] = try await journal()
        progress("http: \(options.httpEvents) single-event POSTs against a real daemon")
        document["http"] = try await http()
        progress("idle: \(options.idleSeconds) s with a \(options.files)-file workspace, then with an empty one")
        document["idle"] = try await idle()
        progress("cold start: \(options.coldStarts) starts with \(options.coldRows) journal rows, then empty")
        document["coldStart"] = try await coldStart()
        return .object(document)
    }

    static var buildKind: String {
        #if DEBUG
            "debug"
        #else
            "release"
        #endif
    }

    // MARK: Journal

    private func journal() async throws -> JSONValue {
        let directory = options.directory.appending(path: "journal")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = try HearthDatabase.open(at: directory.appending(path: "hearth.sqlite"))
        let journal = JournalStore(database: database)
        let payload: JSONValue = ["path": "Receipts/0042.txt", "size": 1834, "note": "a typical small payload"]
        func event(_ index: Int, _ prefix: String) -> NewEvent {
            NewEvent(
                source: "bench", kind: "bench.event", key: "\(prefix)-\(index)", payload: payload, occurredAt: Date(), provenance: .trusted)
        }

        var hearthSingle: [Double] = []
        let singleStart = ContinuousClock.now
        for index in 0..<options.singleEvents {
            let start = ContinuousClock.now
            _ = try await journal.append(event(index, "s"))
            hearthSingle.append((ContinuousClock.now - start).inMilliseconds)
        }
        let hearthSingleSeconds = (ContinuousClock.now - singleStart).inSeconds

        let batchStart = ContinuousClock.now
        for batch in stride(from: 0, to: options.batchedEvents, by: options.batchSize) {
            _ = try await journal.append((batch..<min(batch + options.batchSize, options.batchedEvents)).map { event($0, "b") })
        }
        let hearthBatchSeconds = (ContinuousClock.now - batchStart).inSeconds

        // Baseline: the same table and pragmas, plain GRDB statements, no validation or dedupe lookup.
        let raw = try await RawEventTable(file: directory.appending(path: "raw.sqlite"), payload: payload.jsonText)
        var rawSingle: [Double] = []
        let rawSingleStart = ContinuousClock.now
        for index in 0..<options.singleEvents {
            let start = ContinuousClock.now
            try await raw.insert(keys: ["s-\(index)"])
            rawSingle.append((ContinuousClock.now - start).inMilliseconds)
        }
        let rawSingleSeconds = (ContinuousClock.now - rawSingleStart).inSeconds
        let rawBatchStart = ContinuousClock.now
        for batch in stride(from: 0, to: options.batchedEvents, by: options.batchSize) {
            try await raw.insert(keys: (batch..<min(batch + options.batchSize, options.batchedEvents)).map { "b-\($0)" })
        }
        let rawBatchSeconds = (ContinuousClock.now - rawBatchStart).inSeconds
        try raw.close()

        return [
            "synchronous": "FULL",
            "single": [
                "events": .number(Double(options.singleEvents)),
                "hearth": Self.latencySummary(hearthSingle, seconds: hearthSingleSeconds),
                "rawGRDB": Self.latencySummary(rawSingle, seconds: rawSingleSeconds),
            ],
            "batched": [
                "events": .number(Double(options.batchedEvents)),
                "batchSize": .number(Double(options.batchSize)),
                "hearth": ["eventsPerSecond": Self.round(Double(options.batchedEvents) / hearthBatchSeconds)],
                "rawGRDB": ["eventsPerSecond": Self.round(Double(options.batchedEvents) / rawBatchSeconds)],
            ],
        ]
    }

    // MARK: HTTP

    private func http() async throws -> JSONValue {
        let data = options.directory.appending(path: "http")
        try DaemonUnderTest.prepare(
            dataDirectory: data, workspace: data.appending(path: "workspace"),
            extraConfig: "[maildir]\nenabled = false\n")
        try FileManager.default.createDirectory(at: data.appending(path: "workspace"), withIntermediateDirectories: true)
        let daemon = try await DaemonUnderTest.start(binary: options.binary, dataDirectory: data)
        defer { daemon.process.signal(SIGKILL) }
        var posts: [Double] = []
        var health: [Double] = []
        for index in 0..<options.httpEvents {
            let start = ContinuousClock.now
            _ = try await daemon.client.postEvent([
                "source": "bench", "kind": "bench.http", "key": .string("h-\(index)"), "payload": ["n": .number(Double(index))],
            ])
            posts.append((ContinuousClock.now - start).inMilliseconds)
            let healthStart = ContinuousClock.now
            _ = try await daemon.client.get("/v1/health")
            health.append((ContinuousClock.now - healthStart).inMilliseconds)
        }
        await daemon.stop()
        return [
            "events": .number(Double(options.httpEvents)),
            "postEvent": Self.latencySummary(posts, seconds: posts.reduce(0, +) / 1000),
            "healthBaseline": Self.latencySummary(health, seconds: health.reduce(0, +) / 1000),
        ]
    }

    // MARK: Idle

    private func idle() async throws -> JSONValue {
        let full = try await idleDaemon(name: "idle-full", files: options.files)
        let empty = try await idleDaemon(name: "idle-empty", files: 0)
        return [
            "seconds": .number(Double(options.idleSeconds)), "workspaceFiles": .number(Double(options.files)), "hearth": full,
            "emptyWorkspace": empty,
        ]
    }

    private func idleDaemon(name: String, files: Int) async throws -> JSONValue {
        let data = options.directory.appending(path: name)
        let workspace = data.appending(path: "workspace")
        for index in 0..<files {
            let folder = workspace.appending(path: "folder-\(index / 100)")
            if index % 100 == 0 { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
            try Data("file \(index)\n".utf8).write(to: folder.appending(path: "file-\(index).txt"))
        }
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        try DaemonUnderTest.prepare(dataDirectory: data, workspace: workspace)
        let spawned = ContinuousClock.now
        let daemon = try await DaemonUnderTest.start(binary: options.binary, dataDirectory: data)
        defer { daemon.process.signal(SIGKILL) }
        // Wait (polling is fine in a benchmark) until the watcher has journaled its start-up scan.
        while true {
            let status = try await daemon.client.get("/v1/status")
            if status.body["live"]?["startup"]?["watcher"] != nil { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let scanSeconds = (ContinuousClock.now - spawned).inSeconds
        let pid = daemon.process.pid
        try await Task.sleep(for: .seconds(2))  // let start-up allocations settle before measuring
        let ticksBefore = Self.cpuTicks(pid)
        var maxRSS = Self.rssKilobytes(pid)
        let measureStart = ContinuousClock.now
        for _ in 0..<options.idleSeconds {
            try await Task.sleep(for: .seconds(1))
            maxRSS = max(maxRSS, Self.rssKilobytes(pid))
        }
        let elapsed = (ContinuousClock.now - measureStart).inSeconds
        let ticks = Self.cpuTicks(pid) - ticksBefore
        let rss = Self.rssKilobytes(pid)
        await daemon.stop()
        let cpuPercent = Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK))) / elapsed * 100
        return [
            "rssMB": Self.round(Double(rss) / 1024),
            "maxRssMB": Self.round(Double(maxRSS) / 1024),
            "cpuPercent": Self.round(cpuPercent, places: 3),
            "startToScannedSeconds": Self.round(scanSeconds, places: 3),
        ]
    }

    static func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return 0 }
        return user + system
    }

    static func rssKilobytes(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    // MARK: Cold start

    private func coldStart() async throws -> JSONValue {
        let full = options.directory.appending(path: "cold-full")
        try DaemonUnderTest.prepare(
            dataDirectory: full, workspace: full.appending(path: "workspace"), extraConfig: "[maildir]\nenabled = false\n")
        try FileManager.default.createDirectory(at: full.appending(path: "workspace"), withIntermediateDirectories: true)
        do {
            let database = try HearthDatabase.open(at: full.appending(path: "hearth.sqlite"))
            let journal = JournalStore(database: database)
            let payload: JSONValue = ["path": "Receipts/0042.txt", "size": 1834, "note": "a typical small payload"]
            for batch in stride(from: 0, to: options.coldRows, by: 5_000) {
                _ = try journal.appendNow(
                    (batch..<min(batch + 5_000, options.coldRows)).map {
                        NewEvent(
                            source: "bench", kind: "bench.event", key: "k-\($0)", payload: payload, occurredAt: Date(), provenance: .trusted
                        )
                    })
            }
            try database.checkpoint()
        }
        let empty = options.directory.appending(path: "cold-empty")
        try DaemonUnderTest.prepare(
            dataDirectory: empty, workspace: empty.appending(path: "workspace"), extraConfig: "[maildir]\nenabled = false\n")
        try FileManager.default.createDirectory(at: empty.appending(path: "workspace"), withIntermediateDirectories: true)
        _ = try await startTimes(empty, count: 1)  // creates the empty database and token

        let fullTimes = try await startTimes(full, count: options.coldStarts)
        let emptyTimes = try await startTimes(empty, count: options.coldStarts)
        var spawnTimes: [Double] = []
        for _ in 0..<options.coldStarts {
            let start = ContinuousClock.now
            _ = try await ChildProcess.run(options.binary, ["--version"])
            spawnTimes.append((ContinuousClock.now - start).inMilliseconds)
        }
        let quickCheck = try await measureQuickCheck(full.appending(path: "hearth.sqlite"))
        return [
            "rows": .number(Double(options.coldRows)),
            "starts": .number(Double(options.coldStarts)),
            "hearth": Self.spread(fullTimes),
            "emptyDatabase": Self.spread(emptyTimes),
            "bareProcess": Self.spread(spawnTimes),
            "quickCheckMs": Self.round(quickCheck),
        ]
    }

    private func startTimes(_ data: URL, count: Int) async throws -> [Double] {
        var times: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            let daemon = try await DaemonUnderTest.start(binary: options.binary, dataDirectory: data)
            times.append((ContinuousClock.now - start).inMilliseconds)
            await daemon.stop()
        }
        return times
    }

    private func measureQuickCheck(_ url: URL) async throws -> Double {
        let start = ContinuousClock.now
        let audit = try DatabaseAudit(readOnly: url)
        _ = try await audit.quickCheck()
        try audit.close()
        return (ContinuousClock.now - start).inMilliseconds
    }

    // MARK: Figures

    static func latencySummary(_ milliseconds: [Double], seconds: Double) -> JSONValue {
        [
            "eventsPerSecond": round(Double(milliseconds.count) / max(seconds, 1e-9)),
            "p50Ms": round(percentile(milliseconds, 0.50), places: 3),
            "p99Ms": round(percentile(milliseconds, 0.99), places: 3),
            "maxMs": round(milliseconds.max() ?? 0, places: 3),
        ]
    }

    static func spread(_ milliseconds: [Double]) -> JSONValue {
        [
            "medianMs": round(percentile(milliseconds, 0.5)), "minMs": round(milliseconds.min() ?? 0),
            "maxMs": round(milliseconds.max() ?? 0),
        ]
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count - 1)).rounded())
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    static func round(_ value: Double, places: Int = 1) -> JSONValue {
        let scale = pow(10, Double(places))
        return .number((value * scale).rounded() / scale)
    }
}
