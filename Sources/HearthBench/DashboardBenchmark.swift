import AsyncHTTPClient
import Foundation
import HearthCore
import HearthServer
import HearthStore
import NIOCore
import NIOHTTP1

/// `hearth bench dashboard`: every dashboard page timed against a real daemon, first over a store
/// holding one goal (the baseline, same run), then over a full one (10,000 goal runs with plans,
/// traces and usage, 100,000 memory records, 1,000 waiting approvals), with each page's size.
public enum DashboardBenchmark {
    public struct Options: Sendable {
        public var runs = 10_000
        public var records = 100_000
        public var approvals = 1_000
        /// Timed requests per page (after two warm-up requests).
        public var samples = 40

        public init() {}
    }

    struct Timing {
        var path: String
        var p50: Double
        var p95: Double
        var max: Double
        var bytes: Int
        var status: Int
    }

    public static func run(_ options: Options, in directory: URL, progress: @Sendable (String) -> Void) async throws -> JSONValue {
        let data = directory.appending(path: "data")
        let workspace = directory.appending(path: "workspace")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        try DaemonUnderTest.prepare(dataDirectory: data, workspace: workspace, extraConfig: "[memory]\nvectors = false\n")
        let database = try HearthDatabase.open(at: data.appending(path: "hearth.sqlite"))
        let goals = GoalSQLStore(database: database)
        let usage = UsageStore(database: database)
        var generator = SplitMix64(seed: 20_261_202)

        // One goal with a plan and trace, so the goal and trace pages have something on both sides.
        let first = try await addGoal(0, goals: goals, usage: usage, generator: &generator)
        progress("baseline: one goal in the store")
        let baseline = try await measure(data: data, goal: first, samples: options.samples, progress: progress)

        progress("filling the store: \(options.runs) goal runs, \(options.records) memory records, \(options.approvals) approvals")
        var last = first
        for index in 1..<max(1, options.runs) {
            last = try await addGoal(index, goals: goals, usage: usage, generator: &generator)
            if index % 1000 == 0 { progress("  \(index) runs") }
        }
        let memory = MemorySQLStore(database: database)
        let now = Date()
        var inserted = 0
        while inserted < options.records {
            let batch = (inserted..<min(options.records, inserted + 2_000)).map { index in
                MemoryRecord(
                    kind: .event, text: sentence(&generator), source: ["mail", "file", "chat", "git"][index % 4],
                    provenance: index % 4 == 2 ? .trusted : .untrusted,
                    occurredAt: now.addingTimeInterval(-Double(generator.next() % 864_000)), sessionID: "s\(index / 20)")
            }
            _ = try await memory.insert(batch)
            inserted += batch.count
            if inserted % 20_000 == 0 { progress("  \(inserted) records") }
        }
        let book = ApprovalSQLStore(database: database)
        for index in 0..<options.approvals {
            _ = try await book.request(
                Approval(
                    runID: Int64(1 + index % max(1, options.runs)), taskID: "send", position: index, tool: "send_mail", risk: .sendExternal,
                    arguments: ["to": .string("person\(index)@example.test"), "subject": .string(sentence(&generator))],
                    origins: ["to": .untrusted], reason: "sending mail needs your approval", expiresAt: now.addingTimeInterval(86_400)))
        }
        let full = try await measure(data: data, goal: last, samples: options.samples, progress: progress)

        let pageBytes = full.pages.reduce(0) { $0 + $1.bytes }
        func json(_ timings: [Timing]) -> JSONValue {
            .array(
                timings.map {
                    [
                        "path": .string($0.path), "status": .number(Double($0.status)), "p50_ms": rounded($0.p50),
                        "p95_ms": rounded($0.p95),
                        "max_ms": rounded($0.max), "bytes": .number(Double($0.bytes)),
                    ]
                })
        }
        return [
            "store": [
                "runs": .number(Double(options.runs)), "records": .number(Double(options.records)),
                "approvals": .number(Double(options.approvals)),
            ],
            "samples": .number(Double(options.samples)),
            "pages": json(full.pages), "baseline_pages": json(baseline.pages),
            "floor": ["path": "/v1/health", "p95_ms": rounded(full.floor.p95), "baseline_p95_ms": rounded(baseline.floor.p95)],
            "worst_p95_ms": rounded(full.pages.map(\.p95).max() ?? 0),
            "baseline_worst_p95_ms": rounded(baseline.pages.map(\.p95).max() ?? 0),
            "transfer_bytes": .number(Double(pageBytes + full.assetBytes)), "asset_bytes": .number(Double(full.assetBytes)),
            "targets": ["p95_ms": 150, "transfer_bytes": 200_000],
        ]
    }

    static func rounded(_ value: Double) -> JSONValue { .number((value * 100).rounded() / 100) }

    /// A finished goal: a three-task plan, each task done, a model and a tool trace per task, usage.
    static func addGoal(_ index: Int, goals: GoalSQLStore, usage: UsageStore, generator: inout SplitMix64) async throws -> Int64 {
        let run = try await goals.createGoal("Summarise the notes of week \(index % 52 + 1): \(sentence(&generator))", budget: GoalBudget())
        let draft = PlanDraft(
            tasks: ["gather", "summarise", "report"].enumerated().map { position, id in
                PlanDraft.Task(
                    id: id, title: "\(id.capitalized) \(index)", instructions: "Do \(id).", dependsOn: position == 0 ? [] : ["gather"],
                    tools: ["read_file"])
            })
        try await goals.savePlan(run.id, draft: draft, tasks: try draft.expand(knownTools: ["read_file"]) { _ in [] })
        let start = Date().addingTimeInterval(-Double(index))
        for (offset, task) in ["gather", "summarise", "report"].enumerated() {
            try await goals.setTaskState(
                run.id, task: task, state: .succeeded, result: ["summary": .string(sentence(&generator))], error: nil)
            try await goals.trace(
                TraceEvent(
                    runID: run.id, taskID: task, kind: .model, name: "choose_action", detail: ["cachedTokens": 120], promptTokens: 640,
                    completionTokens: 48, milliseconds: 900, at: start.addingTimeInterval(Double(offset) + 0.9)))
            try await goals.trace(
                TraceEvent(
                    runID: run.id, taskID: task, kind: .tool, name: "read_file", detail: ["ok": true], milliseconds: 15,
                    at: start.addingTimeInterval(Double(offset) + 0.95)))
        }
        try await usage.record(
            UsageRecord(
                at: start, provider: "llama", model: index % 3 == 0 ? "qwen2.5-7b" : "smollm2-135m",
                context: UsageContext(purpose: index % 2 == 0 ? "goal" : "chat", runID: run.id),
                usage: ModelUsage(
                    promptTokens: 1920, completionTokens: 144, cachedPromptTokens: 360, prefillTokensPerSecond: 350,
                    decodeTokensPerSecond: 18,
                    latencySeconds: 2.7),
                costMicrodollars: 0, succeeded: true))
        try await goals.finish(run.id, state: .succeeded, report: nil, summary: "done", pauseReason: nil)
        return run.id
    }

    struct Measurement {
        var pages: [Timing]
        var floor: Timing
        var assetBytes: Int
    }

    /// Starts a daemon over `data`, signs in, and times every page.
    static func measure(data: URL, goal: Int64, samples: Int, progress: @Sendable (String) -> Void) async throws -> Measurement {
        let daemon = try await DaemonUnderTest.start(dataDirectory: data, timeout: 300)
        // Time the pages of a daemon at rest, not one still loading its memory after the start:
        // wait (at most a minute) until it used under 2 % of a core over a second.
        let settled = ContinuousClock.now
        var ticks = SpineBenchmark.cpuTicks(daemon.process.pid)
        while ContinuousClock.now - settled < .seconds(60) {
            try await Task.sleep(for: .seconds(1))
            let now = SpineBenchmark.cpuTicks(daemon.process.pid)
            defer { ticks = now }
            if now - ticks <= 2 { break }
        }
        progress("  daemon at rest after \((ContinuousClock.now - settled).components.seconds) s")
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let base = "http://127.0.0.1:\(daemon.port)"
            let token = try await daemon.client.post("/v1/dashboard/link", nil).body["token"]?.stringValue ?? ""
            let login = try await fetch(http, base + "/login?token=\(token)", cookie: nil)
            guard let cookie = login.cookie else {
                throw DashboardBenchmarkError(
                    "the login link set no session cookie (status \(login.status), token \(token.isEmpty ? "missing" : "given"))")
            }
            let paths = [
                "/", "/chat", "/goals", "/goals/\(goal)", "/goals/\(goal)/trace", "/approvals", "/memory", "/memory?q=budget+report",
                "/usage", "/health",
            ]
            var pages: [Timing] = []
            for path in paths {
                pages.append(try await time(http, base, path, cookie: cookie, samples: samples))
                let page = pages[pages.count - 1]
                progress(
                    "  \(path): p50 \(String(format: "%.1f", page.p50)) ms, p95 \(String(format: "%.1f", page.p95)) ms, \(page.bytes) bytes"
                )
            }
            let floor = try await time(http, base, "/v1/health", cookie: nil, samples: samples)
            var assets = 0
            for asset in ["/static/dashboard.css", "/static/dashboard.js", "/static/icon.svg"] {
                assets += try await fetch(http, base + asset, cookie: cookie).bytes
            }
            try await http.shutdown()
            _ = await daemon.stop()
            return Measurement(pages: pages, floor: floor, assetBytes: assets)
        } catch {
            try? await http.shutdown()
            _ = await daemon.stop()
            throw error
        }
    }

    static func time(_ http: HTTPClient, _ base: String, _ path: String, cookie: String?, samples: Int) async throws -> Timing {
        var times: [Double] = []
        var last = (status: 0, bytes: 0, cookie: String?.none)
        for round in 0..<(samples + 2) {
            let started = ContinuousClock.now
            last = try await fetch(http, base + path, cookie: cookie)
            let elapsed = ContinuousClock.now - started
            if round >= 2 {
                times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
            }
        }
        guard last.status == 200 else { throw DashboardBenchmarkError("\(path) answered \(last.status)") }
        let sorted = times.sorted()
        func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)] }
        return Timing(path: path, p50: quantile(0.5), p95: quantile(0.95), max: sorted.last ?? 0, bytes: last.bytes, status: last.status)
    }

    static func fetch(_ http: HTTPClient, _ url: String, cookie: String?) async throws -> (status: Int, bytes: Int, cookie: String?) {
        var request = HTTPClientRequest(url: url)
        if let cookie { request.headers.add(name: "Cookie", value: cookie) }
        let response = try await http.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        let set = response.headers.first(name: "Set-Cookie")?.split(separator: ";").first.map(String.init)
        return (Int(response.status.code), body.readableBytes, set)
    }

    static let words = """
        budget report invoice meeting launch deck review contract supplier quarter travel receipt draft notes plan
        team customer release roadmap hiring payroll audit forecast design proposal renewal migration incident
        """.split(whereSeparator: \.isWhitespace).map(String.init)

    static func sentence(_ generator: inout SplitMix64) -> String {
        (0..<(8 + Int(generator.next() % 10))).map { _ in words[Int(generator.next() % UInt64(words.count))] }.joined(separator: " ")
    }
}

struct DashboardBenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
