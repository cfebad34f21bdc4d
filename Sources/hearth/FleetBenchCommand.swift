import ArgumentParser
import Foundation
import HearthBench
import HearthConfig
import HearthCore
import HearthPostgres
import HearthStore

struct FleetBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract:
            "A fleet on PostgreSQL: durable events/s and goal claims/s with 1, 2 and 4 writers beside SQLite; --crash N kills (and pauses) daemons.",
        discussion: """
            Without --crash: each writer appends one event per transaction (committed before the next: what an \
            acknowledged event costs), and each claimer claims one goal under a lease and completes it (two commits). Then \
            the goal service's own path on PostgreSQL: 1, 2 and 4 daemons each lease the oldest goal run nobody holds, \
            finish it under the lease's fence and release it. The writers, claimers and daemons are concurrent connections of this process standing in for daemons; each figure uses a fresh \
            database on the server named by --store (its user must be allowed to create databases). The server's own \
            durability settings apply: measure against a cluster with fsync on (scripts/test-postgres start --durable).

            With --crash N: three whole 'hearth daemon' processes (each its own data directory and fleet name, a 3 s goal \
            lease) share a fresh database and one workspace; events, runs of three effect steps and goals (three tasks, \
            each writing its file; a loopback model answers their planner and agents by rule) are posted to whichever \
            daemons are up and a schedule fires every minute, while N times one daemon is SIGKILLed (one time in five \
            again while it starts) and restarted, and every sixth time one is first paused (SIGSTOP) past its lease and \
            resumed. Then: every acknowledged event stored once, every run and goal finished (each goal once), every \
            effect step's line and goal file once, no tool call recorded under a lost lease, each minute's cron slot fired \
            once and none missed, every daemon stopped on SIGTERM at the end. Exit status 1 if not.

            With --crash N --workers: three lighter 'hearth bench fleet-worker' processes (the work queue, journal and \
            effects of a daemon) instead, faster to restart, and one kill in six comes after a pause past the worker's \
            one-second lease (SIGSTOP): the fence must refuse what the paused worker tries to record after another took \
            its goal over.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "The PostgreSQL server: postgresql://USER@HOST:PORT/DATABASE. Default: the config's [store] url.")
    var store: String?

    @Option(help: "Events appended, and goals claimed, per figure.")
    var events = 2_000

    @Option(help: "Kill a daemon this many times (the fleet crash harness) instead of measuring rates.")
    var crash: Int?

    @Flag(help: "With --crash: kill 'hearth bench fleet-worker' processes (and pause them past their lease) instead of daemons.")
    var workers = false

    @Option(
        help:
            "Work the crash harness hands over: for daemons, this many goals (three tasks, each writing a file) and as many runs of three effect steps; for workers, queued goals of three effect steps."
    )
    var goals = 200

    @Option(help: "The crash harness's seed (replays a run's kill schedule).")
    var seed: UInt64?

    @Option(
        help: ArgumentHelp(
            "Synthetic memory records for the hybrid-query latency on PostgreSQL beside SQLite (0 skips it).", valueName: "n"))
    var memoryRecords = 100_000

    @Option(help: "Timed memory queries per backend.")
    var memoryQueries = 300

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        guard let url = store ?? context.configuration.store.url else {
            throw CLIError.usage("name the PostgreSQL server: --store postgresql://USER@HOST:PORT/DATABASE, or [store] url in the config")
        }
        let base = try PostgresLocation.parse(url)
        let password = try context.configuration.store.passwordFile.map { path throws in try PostgresLocation.password(fromFile: path) }
        if let crash {
            guard (1...100_000).contains(crash) else { throw CLIError.usage("--crash must be 1 to 100000") }
            guard (1...100_000).contains(goals) else { throw CLIError.usage("--goals must be 1 to 100000") }
            let passwordFile = context.configuration.store.passwordFile
            if workers {
                try await runCrash(kills: crash, base: base, password: password, passwordFile: passwordFile)
            } else {
                try await runDaemonCrash(kills: crash, base: base, password: password, passwordFile: passwordFile)
            }
            return
        }
        guard (100...1_000_000).contains(events) else { throw CLIError.usage("--events must be 100 to 1000000") }
        guard memoryRecords == 0 || (1_000...2_000_000).contains(memoryRecords) else {
            throw CLIError.usage("--memory-records must be 0 or 1000 to 2000000")
        }
        guard (1...100_000).contains(memoryQueries) else { throw CLIError.usage("--memory-queries must be 1 to 100000") }
        var appends: [String: [Int: Double]] = ["sqlite": [:], "postgres": [:]]
        var claims: [String: [Int: Double]] = ["sqlite": [:], "postgres": [:]]
        var claimsBusy: [Int: Double] = [:]
        var leases: [Int: Double] = [:]
        for writers in [1, 2, 4] {
            let directory = FileManager.default.temporaryDirectory.appending(path: "hearth-fleet-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let database = try HearthDatabase.open(at: directory.appending(path: "hearth.sqlite"))
            appends["sqlite"]![writers] = try await Self.appendRate(JournalStore(database: database), writers: writers, events: events)
            claims["sqlite"]![writers] = try await Self.claimRate(WorkSQLQueue(database: database), claimers: writers, goals: events)

            let location = try await PostgresStore.createDatabase(on: base, prefix: "hearth_bench", password: password)
            let shared = try await PostgresStore.open(location, password: password)
            appends["postgres"]![writers] = try await Self.appendRate(PostgresJournal(database: shared), writers: writers, events: events)
            let before = CPUBusy.now()
            claims["postgres"]![writers] = try await Self.claimRate(PostgresWorkQueue(database: shared), claimers: writers, goals: events)
            if let before, let after = CPUBusy.now() { claimsBusy[writers] = after.share(since: before) }
            leases[writers] = try await Self.leaseRate(shared, daemons: writers, goals: events)
            shared.close()
            try await PostgresStore.dropDatabase(location, on: base, password: password)
            if !json {
                for backend in ["sqlite", "postgres"] {
                    print(
                        "\(backend.padding(toLength: 9, withPad: " ", startingAt: 0)) \(writers) writer(s): \(Int(appends[backend]![writers]!)) events/s"
                            + "   \(writers) claimer(s): \(Int(claims[backend]![writers]!)) goal claims/s")
                }
                print("postgres  \(writers) daemon(s): \(Int(leases[writers]!)) goal runs leased, finished and released/s")
            }
        }
        let memory = memoryRecords > 0 ? try await memoryLatency(base: base, password: password) : .null
        if json {
            func object(_ figures: [Int: Double]) -> JSONValue {
                .object(Dictionary(uniqueKeysWithValues: figures.map { ("\($0.key)", .number($0.value.rounded())) }))
            }
            printJSON([
                "events": .number(Double(events)),
                "sqlite": object(appends["sqlite"]!), "postgres": object(appends["postgres"]!),
                "claims": [
                    "sqlite": object(claims["sqlite"]!), "postgres": object(claims["postgres"]!),
                    "postgres_cpu_busy": .object(
                        Dictionary(uniqueKeysWithValues: claimsBusy.map { ("\($0.key)", .number(($0.value * 100).rounded() / 100)) })),
                    "postgres_run_leases": object(leases),
                ],
                "memory": memory,
            ])
        } else {
            let pg = claims["postgres"]!
            print(
                String(format: "goal claims on PostgreSQL: ×%.2f from 1 to 2 claimers, ×%.2f from 1 to 4", pg[2]! / pg[1]!, pg[4]! / pg[1]!)
            )
            print(
                String(
                    format: "goal-run leases on PostgreSQL (the daemon's path): ×%.2f from 1 to 2 daemons, ×%.2f from 1 to 4",
                    leases[2]! / leases[1]!, leases[4]! / leases[1]!))
            let busy = [1, 2, 4].compactMap { claimers in claimsBusy[claimers].map { "\(Int(($0 * 100).rounded()))% with \(claimers)" } }
            if !busy.isEmpty {
                print(
                    "CPU busy while claiming on PostgreSQL (all \(ProcessInfo.processInfo.activeProcessorCount) cores, server and claimers): "
                        + busy.joined(separator: ", "))
            }
        }
    }

    /// Hybrid memory queries over `memoryRecords` synthetic records (stored, embedded and indexed
    /// through the real path) on SQLite and on a fresh PostgreSQL database, in this run.
    func memoryLatency(base: PostgresLocation, password: String?) async throws -> JSONValue {
        let directory = FileManager.default.temporaryDirectory.appending(path: "hearth-fleet-memory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var benchmark = MemoryBenchmark(embedder: nil, directory: directory)
        let json = json
        let progress: @Sendable (String) -> Void = { line in
            if !json { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
        var figures: [String: JSONValue] = ["records": .number(Double(memoryRecords)), "queries": .number(Double(memoryQueries))]
        for backend in ["sqlite", "postgres"] {
            benchmark.postgres = backend == "postgres" ? base : nil
            benchmark.postgresPassword = password
            let scales = try await benchmark.latency(sizes: [memoryRecords], queries: memoryQueries) { progress("\(backend): \($0)") }
            let scale = scales["scales"]?.arrayValue?.first ?? .null
            figures[backend] = [
                "hybrid": scale["hearth"] ?? .null, "keyword_only": scale["bm25"] ?? .null,
                "store_and_embed_seconds": scale["store_and_embed_seconds"] ?? .null,
                "index_build_seconds": scale["index_build_seconds"] ?? .null,
            ]
        }
        let p99 = { (backend: String) in figures[backend]?["hybrid"]?["p99_ms"]?.doubleValue ?? .nan }
        figures["hybrid_p99_ratio"] = .number((p99("postgres") / p99("sqlite") * 100).rounded() / 100)
        if !json {
            for backend in ["sqlite", "postgres"] {
                let hybrid = figures[backend]?["hybrid"]
                print(
                    String(
                        format: "memory, %d records, %@: hybrid query p50 %.1f ms, p99 %.1f ms (store + embed %.0f s, index build %.1f s)",
                        memoryRecords, backend, hybrid?["p50_ms"]?.doubleValue ?? .nan, hybrid?["p99_ms"]?.doubleValue ?? .nan,
                        figures[backend]?["store_and_embed_seconds"]?.doubleValue ?? .nan,
                        figures[backend]?["index_build_seconds"]?.doubleValue ?? .nan))
            }
            print(String(format: "memory hybrid p99, PostgreSQL / SQLite: ×%.2f", p99("postgres") / p99("sqlite")))
        }
        return .object(figures)
    }

    func runCrash(kills: Int, base: PostgresLocation, password: String?, passwordFile: String?) async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "hearth-fleet-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = FleetCrashHarness.Options(
            kills: kills, seed: seed ?? CrashHarness.freshSeed(), store: base, goals: goals, directory: directory)
        options.password = password
        options.passwordFile = passwordFile
        let json = json
        let report = try await FleetCrashHarness(options: options).run { line in
            if !json { print(line) }
        }
        try show(report, Self.render(report))
        if !report.passed { throw ExitCode(1) }
    }

    func runDaemonCrash(kills: Int, base: PostgresLocation, password: String?, passwordFile: String?) async throws {
        // Kept when the run fails: each daemon's log is in its data directory there.
        let directory = FileManager.default.temporaryDirectory.appending(path: "hearth-fleet-daemons-\(UUID().uuidString)")
        var options = FleetDaemonCrashHarness.Options(
            kills: kills, seed: seed ?? CrashHarness.freshSeed(), store: base, runs: goals, goals: goals, directory: directory)
        options.password = password
        options.passwordFile = passwordFile
        let json = json
        let report: FleetDaemonCrashHarness.Report
        do {
            report = try await FleetDaemonCrashHarness(options: options).run { line in
                if !json { print(line) }
            }
        } catch {
            throw CLIError(
                "the fleet crash harness stopped (seed \(options.seed)): \(error); the daemons' data is kept in \(directory.path)")
        }
        try show(report, Self.render(report))
        guard report.passed else {
            FileHandle.standardError.write(Data("the daemons' data is kept in \(directory.path)\n".utf8))
            throw ExitCode(1)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A crash harness's report: as JSON with --json, else its text.
    func show(_ report: some Encodable, _ text: String) throws {
        if json {
            printJSON(try JSONValue(parsing: JSONEncoder().encode(report)))
        } else {
            print(text)
        }
    }

    /// A report's list: "0", or how many and the first five.
    static func list(_ items: [String]) -> String { items.isEmpty ? "0" : "\(items.count) (\(items.prefix(5).joined(separator: ", ")))" }

    static func render(_ report: FleetDaemonCrashHarness.Report) -> String {
        return """
            fleet crash harness, \(report.daemons) daemons, seed \(report.seed): \(report.kills) SIGKILLs \
            (\(report.killsDuringStartup) more while starting), \(report.pauses) pauses past the lease, \(String(format: "%.0f", report.seconds)) s
              goals finished        \(report.acknowledgedGoals - report.unfinishedGoals.count) of \(report.goals) acknowledged; unfinished \(list(report.unfinishedGoals)), \
            created twice \(list(report.duplicatedGoals)); \(report.goalTakeovers) taken over from another daemon
              goal files            \(report.goalFiles); missing \(list(report.missingGoalFiles)), written twice \(list(report.duplicatedGoalWrites)); \
            tool calls recorded under a lost lease \(report.actionsUnderLostLease)
              runs finished         \(report.acknowledgedRuns - report.unfinishedRuns.count) of \(report.runs) acknowledged; unfinished \(list(report.unfinishedRuns))
              events acknowledged   \(report.acknowledgedEvents); lost \(list(report.lostEvents)), duplicated \(list(report.duplicatedEvents))
              effect lines          \(report.effectLines); missing \(list(report.missingEffects)), duplicated \(list(report.duplicatedEffects)); \
            \(report.stepsReconciled) steps reconciled after a kill
              cron slots fired      \(report.cronSlots); fired twice \(list(report.duplicatedSlots)), missed \(list(report.missedSlots))
              graceful stop         \(report.didNotStop.isEmpty ? "every daemon stopped on SIGTERM" : "did not stop within 40 s: \(list(report.didNotStop))")
              daemon start          median \(String(format: "%.2f", report.startMedianSeconds)) s, longest \(String(format: "%.2f", report.startMaximumSeconds)) s
            \(report.passed ? "PASSED" : "FAILED")
            """
    }

    static func render(_ report: FleetCrashHarness.Report) -> String {
        return """
            fleet crash harness, seed \(report.seed): \(report.kills) SIGKILLs (\(report.pauses) after a pause past the lease), \
            \(String(format: "%.0f", report.seconds)) s
              goals finished        \(report.goalsDone) of \(report.goals) (\(report.takeovers) taken over from another worker)
              events acknowledged   \(report.acknowledgedEvents); lost \(list(report.lostEvents)), duplicated \(report.duplicatedEvents)
              effect lines          \(report.effectLines); missing \(list(report.missingEffects)), duplicated \(list(report.duplicatedEffects))
              cron slots fired      \(report.cronSlots); fired twice \(list(report.duplicatedSlots)), without effect \(list(report.slotsWithoutEffect))
              retries               \(report.retries) (a worker paused on the store and tried again)
              lost leases           \(report.fencedOut) refusals; steps recorded under one \(report.stepsUnderLostLease), goals completed under one \(report.completedUnderLostLease)
            \(report.passed ? "PASSED" : "FAILED")
            """
    }

    /// Events per second for `writers` concurrent appenders sharing `events`.
    static func appendRate(_ journal: any EventJournal, writers: Int, events: Int) async throws -> Double {
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in stride(from: writer, to: events, by: writers) {
                        _ = try await journal.append([
                            NewEvent(
                                source: "bench", kind: "event", key: "w\(writer)-\(index)", payload: ["n": .number(Double(index))],
                                occurredAt: Date(), provenance: .trusted)
                        ])
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(events) / (ContinuousClock.now - started).inSeconds
    }

    /// Goal runs finished per second by `daemons` concurrent daemons on the goal service's path:
    /// each leases the oldest run with work left that no other holds (`whileLeasingNext`),
    /// finishes it under the lease's fence and gives the lease back, until none is left.
    static func leaseRate(_ database: PostgresStore, daemons: Int, goals: Int) async throws -> Double {
        let store = PostgresGoalStore(database: database)
        for index in 0..<goals { _ = try await store.createGoal("bench goal \(index)", budget: GoalBudget()) }
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for daemon in 0..<daemons {
                group.addTask {
                    while try await database.whileLeasingNext(
                        holder: "bench-\(daemon)", lease: .seconds(60),
                        { lease in
                            try await store.fenced(by: lease).finish(
                                lease.run, state: .succeeded, report: nil, summary: "done", pauseReason: nil)
                        }) != nil
                    {}
                }
            }
            try await group.waitForAll()
        }
        let finished = try await store.activeGoals(states: [.succeeded]).count
        guard finished == goals else { throw CLIError("the lease benchmark finished \(finished) of \(goals) goals") }
        return Double(goals) / (ContinuousClock.now - started).inSeconds
    }

    /// Goals claimed and completed per second by `claimers` concurrent claimers sharing `goals`.
    static func claimRate(_ queue: any WorkQueue, claimers: Int, goals: Int) async throws -> Double {
        for start in stride(from: 0, to: goals, by: 500) {
            _ = try await queue.enqueue(
                (start..<min(goals, start + 500)).map { NewWork(kind: "goal", key: "goal-\($0)", payload: ["n": .number(Double($0))]) })
        }
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for claimer in 0..<claimers {
                group.addTask {
                    while let work = try await queue.claim(kind: "goal", holder: "bench-\(claimer)", lease: .seconds(60), limit: 1).first {
                        try await queue.complete(work.lease, result: .null)
                    }
                }
            }
            try await group.waitForAll()
        }
        let done = try await queue.counts(kind: "goal").done
        guard done == goals else { throw CLIError("the claim benchmark finished \(done) of \(goals) goals") }
        return Double(goals) / (ContinuousClock.now - started).inSeconds
    }
}
