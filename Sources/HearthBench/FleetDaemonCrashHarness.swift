import Foundation
import Glibc
import HearthAgent
import HearthCore
import HearthPostgres
import HearthServer
import PostgresNIO
import Synchronization

/// Three whole `hearth daemon` processes on one PostgreSQL, each with its own data directory and
/// fleet name, killed with SIGKILL at random (one kill in five lands while the daemon is still
/// starting) and restarted, or paused (SIGSTOP) past their goal leases and resumed, while
/// events, runs with effect steps and goals whose tasks write files are posted to whichever
/// daemons are up and a cron schedule fires every minute. Then the store and the effects are
/// checked: every acknowledged event stored once, every acknowledged run and goal finished, every
/// effect step's line in its file exactly once, every goal task's file written and its write
/// journaled once, no tool call recorded under a lease another daemon had taken since, each cron
/// slot of the run fired once and none missed.
///
/// The goals' model is `HarnessModelServer` (plans and tool calls by rule): the harness measures
/// crash safety, not a model.
///
/// The effects land in one workspace all daemons share (the world the steps act on); a step a
/// killed daemon left running is reconciled by the next holder, never blindly re-run.
public struct FleetDaemonCrashHarness: Sendable {
    public struct Options: Sendable {
        public var kills: Int
        public var seed: UInt64
        /// The server the harness creates its fresh database on.
        public var store: PostgresLocation
        public var runs: Int
        public var steps: Int
        /// Goals posted (each of `tasks` tasks writing one file).
        public var goals: Int
        public var tasks = 3
        /// `[fleet] lease_seconds` of the daemons: a paused daemon loses its goal runs after it.
        public var leaseSeconds = 3
        /// Every this many rounds, a random daemon is also paused past its lease (then resumed)
        /// before the round's kill; 0: never.
        public var pauseEvery = 6
        public var daemons = 3
        public var binary: URL
        public var directory: URL
        /// The PostgreSQL password, and the 0600 file the daemons read it from, when the server asks for one.
        public var password: String?
        public var passwordFile: String?
        /// The longest a daemon is left serving before its kill.
        public var maximumServeMilliseconds = 700
        public var connectTimeout: Duration = .seconds(10)
        /// Takes the store away for a while halfway through (the server crashed and restarted):
        /// the daemons must pause, reconnect and lose nothing they acknowledged.
        public var outage: (@Sendable () async throws -> Void)?

        public init(
            kills: Int, seed: UInt64, store: PostgresLocation, runs: Int = 200, steps: Int = 3, goals: Int = 200,
            binary: URL = HearthBinary.url, directory: URL
        ) {
            self.kills = kills
            self.seed = seed
            self.store = store
            self.runs = runs
            self.steps = steps
            self.goals = goals
            self.binary = binary
            self.directory = directory
        }
    }

    public struct Report: Sendable, Codable, Equatable {
        public var seed: UInt64 = 0
        public var daemons = 0
        public var kills = 0
        public var killsDuringStartup = 0
        public var acknowledgedEvents = 0
        public var lostEvents: [String] = []
        public var duplicatedEvents: [String] = []
        public var runs = 0
        public var acknowledgedRuns = 0
        public var unfinishedRuns: [String] = []
        public var effectLines = 0
        public var missingEffects: [String] = []
        public var duplicatedEffects: [String] = []
        /// Steps performed more than once (an attempt interrupted by a kill, reconciled on restart).
        public var stepsReconciled = 0
        public var goals = 0
        public var acknowledgedGoals = 0
        public var unfinishedGoals: [String] = []
        /// Goal runs whose key was stored more than once (a retried request made a second goal).
        public var duplicatedGoals: [String] = []
        public var goalFiles = 0
        public var missingGoalFiles: [String] = []
        /// A task's `write_file` journaled as done more than once.
        public var duplicatedGoalWrites: [String] = []
        /// Rounds that paused a daemon past its lease instead of killing it.
        public var pauses = 0
        /// Goal runs claimed by another daemon than their previous holder.
        public var goalTakeovers = 0
        /// Tool calls recorded under a fence after another daemon had claimed the run with a higher one.
        public var actionsUnderLostLease = 0
        public var cronSlots = 0
        public var duplicatedSlots: [String] = []
        /// Minutes inside the run (a daemon was always up) that no daemon fired.
        public var missedSlots: [String] = []
        /// How long a restarted daemon took to say it was ready, median and worst.
        /// Daemons still running 40 s after SIGTERM at the end (then killed): a stop that hangs.
        public var didNotStop: [String] = []
        public var outages = 0
        /// Events stored after the store came back (the daemons reconnected and went on).
        public var eventsAfterOutage = 0
        public var startMedianSeconds = 0.0
        public var startMaximumSeconds = 0.0
        public var seconds = 0.0

        public var passed: Bool {
            lostEvents.isEmpty && duplicatedEvents.isEmpty && acknowledgedRuns == runs && unfinishedRuns.isEmpty
                && missingEffects.isEmpty && duplicatedEffects.isEmpty && duplicatedSlots.isEmpty && missedSlots.isEmpty
                && didNotStop.isEmpty && acknowledgedGoals == goals && unfinishedGoals.isEmpty && duplicatedGoals.isEmpty
                && missingGoalFiles.isEmpty && duplicatedGoalWrites.isEmpty && actionsUnderLostLease == 0
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    /// What the feeders had acknowledged, and which daemons are up to take more.
    final class Fleet: Sendable {
        let live = Mutex<[Int: DaemonClient]>([:])
        let eventKeys = Mutex<[String]>([])
        let markers = Mutex<[String]>([])
        let runKeys = Mutex<Set<String>>([])
        let goalKeys = Mutex<Set<String>>([])
        /// Runs (and goals) the feeders may have posted by now (raised as the kills go on).
        let allowance = Mutex(0)

        func anyLive(_ random: inout SplitMix64) -> DaemonClient? {
            let clients = live.withLock { Array($0.values) }
            return clients.isEmpty ? nil : clients[Int(random.next() % UInt64(clients.count))]
        }
    }

    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Report {
        let started = Date()
        var random = SplitMix64(seed: options.seed)
        var report = Report()
        report.seed = options.seed
        report.daemons = options.daemons
        report.runs = options.runs
        report.goals = options.goals
        let model = HarnessModelServer(tasks: options.tasks)
        let modelURL = try await model.start()
        defer { model.stop() }
        let location = try await PostgresStore.createDatabase(
            on: options.store, prefix: "hearth_fleet_daemons", password: options.password, timeout: options.connectTimeout)
        let database = try await PostgresStore.open(location, password: options.password, timeout: options.connectTimeout)
        defer { database.close() }

        let workspace = options.directory.appending(path: "workspace")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        let dataDirectories = (0..<options.daemons).map { options.directory.appending(path: "daemon-\($0)") }
        for (index, data) in dataDirectories.enumerated() {
            let password = options.passwordFile.map { "password_file = \"\($0)\"\n" } ?? ""
            try DaemonUnderTest.prepare(
                dataDirectory: data, workspace: workspace,
                extraConfig: """
                    [fleet]
                    name = "d\(index)"
                    lease_seconds = \(options.leaseSeconds)
                    [inference]
                    provider = "openai"
                    base_url = "\(modelURL)"
                    chat_model = "harness"
                    tool_calls = "constrained"
                    [memory]
                    vectors = false
                    [store]
                    url = "\(location.url)"
                    \(password)[maildir]
                    enabled = false
                    """)
        }
        // One schedule for the whole fleet, every minute: each slot must fire once, whoever is up.
        let added = try await ChildProcess.run(
            options.binary,
            ["schedule", "add", "harness", "* * * * *", "--tz", "UTC", "--kind", "harness.tick", "--data-dir", dataDirectories[0].path])
        guard added.status == 0 else { throw FleetHarnessError(message: "hearth schedule add failed: \(added.stderr)") }

        let fleet = Fleet()
        var daemons: [DaemonUnderTest] = []
        var startTimes: [Double] = []
        func start(_ index: Int) async throws -> DaemonUnderTest {
            let began = ContinuousClock.now
            let daemon = try await DaemonUnderTest.start(binary: options.binary, dataDirectory: dataDirectories[index], timeout: 60)
            startTimes.append((ContinuousClock.now - began).inSeconds)
            fleet.live.withLock { $0[index] = daemon.client }
            return daemon
        }
        for index in 0..<options.daemons { daemons.append(try await start(index)) }
        let firstReady = Date()

        var outageMark: Int?
        let stop = StopFlag()
        let feeding = Task { [seed = random.next()] in await feed(fleet, seed: seed, stop: stop) }
        let posting = Task { [seed = random.next()] in await postRuns(fleet, seed: seed, stop: stop) }
        let handing = Task { [seed = random.next()] in await postGoals(fleet, seed: seed, stop: stop) }
        do {
            // Runs arrive through the first 80% of the kills, so kills land on effect steps throughout.
            let arrivalRounds = max(1, options.kills * 4 / 5)
            for round in 0..<options.kills {
                if round == options.kills / 2, let outage = options.outage {
                    progress("the store goes away and comes back")
                    try await outage()
                    report.outages += 1
                    outageMark = try await database.count("SELECT COALESCE(max(id), 0) FROM event")
                }
                fleet.allowance.withLock { $0 = min(options.runs, options.runs * (round + 1) / arrivalRounds) }
                try await Task.sleep(for: .milliseconds(Int(100 + random.next() % UInt64(options.maximumServeMilliseconds))))
                if options.pauseEvery > 0, round % options.pauseEvery == options.pauseEvery - 1 {
                    // Paused past its lease (as a stalled VM would be), then resumed: another
                    // daemon takes its goal runs, and it must record nothing more for them.
                    let paused = Int(random.next() % UInt64(daemons.count))
                    fleet.live.withLock { _ = $0.removeValue(forKey: paused) }
                    daemons[paused].process.signal(SIGSTOP)
                    try await Task.sleep(for: .milliseconds(options.leaseSeconds * 1000 + 1_500))
                    daemons[paused].process.signal(SIGCONT)
                    fleet.live.withLock { $0[paused] = daemons[paused].client }
                    report.pauses += 1
                }
                let index = Int(random.next() % UInt64(daemons.count))
                fleet.live.withLock { _ = $0.removeValue(forKey: index) }
                await daemons[index].kill()
                if random.next() % 5 == 0 {
                    // Killed again while starting: opening the store, migrating, recovering.
                    let early = try await ChildProcess(
                        executable: options.binary, arguments: ["daemon", "--data-dir", dataDirectories[index].path])
                    try await Task.sleep(for: .milliseconds(Int(random.next() % 300)))
                    early.signal(SIGKILL)
                    await early.waitForExit()
                    report.killsDuringStartup += 1
                }
                daemons[index] = try await start(index)
                report.kills += 1
                if (round + 1) % max(1, options.kills / 10) == 0 {
                    progress(
                        "kill \(round + 1)/\(options.kills) (\(report.pauses) pauses): \(fleet.eventKeys.withLock { $0.count }) events, "
                            + "\(fleet.runKeys.withLock { $0.count }) runs and \(fleet.goalKeys.withLock { $0.count }) goals acknowledged"
                    )
                }
            }
            fleet.allowance.withLock { $0 = options.runs }
            progress("kills done; waiting for the daemons to finish every run")
            // The daemons finish the work, undisturbed.
            let deadline = ContinuousClock.now + .seconds(max(180, options.runs))
            while ContinuousClock.now < deadline {
                let acknowledged = fleet.runKeys.withLock { $0.count }
                let goals = fleet.goalKeys.withLock { $0.count }
                if acknowledged == options.runs, goals == options.goals,
                    try await database.count("SELECT count(*) FROM run WHERE state <> 'succeeded'") == 0
                {
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        } catch {
            stop.set()
            for daemon in daemons { await daemon.kill() }
            throw error
        }
        stop.set()
        progress("runs done; stopping the feeders")
        _ = await (feeding.value, posting.value, handing.value)
        let lastReady = Date()
        progress("stopping the daemons")
        for (index, daemon) in daemons.enumerated() where await daemon.stop(within: .seconds(40)) == nil {
            report.didNotStop.append("d\(index)")
        }
        progress("checking the store")

        try await check(&report, database: database, fleet: fleet, workspace: workspace, window: (firstReady, lastReady))
        if let outageMark { report.eventsAfterOutage = try await database.count("SELECT count(*) FROM event WHERE id > \(outageMark)") }
        let sorted = startTimes.sorted()
        report.startMedianSeconds = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        report.startMaximumSeconds = sorted.last ?? 0
        report.seconds = Date().timeIntervalSince(started)
        try? await PostgresStore.dropDatabase(location, on: options.store, password: options.password)
        return report
    }

    /// Events to whichever daemon is up: single keyed ones, batches of ten, and unkeyed ones
    /// carrying a marker (the journal cannot deduplicate those: stored twice would show).
    private func feed(_ fleet: Fleet, seed: UInt64, stop: StopFlag) async {
        var random = SplitMix64(seed: seed)
        var index = 0
        while !stop.isSet {
            guard let client = fleet.anyLive(&random) else {
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            index += 1
            do {
                switch index % 4 {
                case 0:
                    let keys = (0..<10).map { "fb-\(index)-\($0)" }
                    let batch = keys.map { key -> JSONValue in
                        ["source": "harness", "kind": "fleet.batch", "key": .string(key), "payload": ["marker": .string(key)]]
                    }
                    if try await client.post("/v1/events", .array(batch)).status == 200 { fleet.eventKeys.withLock { $0 += keys } }
                case 1:
                    let marker = "fu-\(index)"
                    _ = try await client.postEvent(["source": "harness", "kind": "fleet.unkeyed", "payload": ["marker": .string(marker)]])
                    fleet.markers.withLock { $0.append(marker) }
                default:
                    let key = "fk-\(index)"
                    _ = try await client.postEvent(["source": "harness", "kind": "fleet.keyed", "key": .string(key), "payload": [:]])
                    fleet.eventKeys.withLock { $0.append(key) }
                }
            } catch {
                // That daemon was killed mid-request: nothing acknowledged, the next goes elsewhere.
            }
        }
    }

    /// Runs of effect steps, each posted (again, under its key, until one daemon acknowledges it)
    /// to whichever daemon is up, as fast as the allowance lets.
    private func postRuns(_ fleet: Fleet, seed: UInt64, stop: StopFlag) async {
        var random = SplitMix64(seed: seed)
        var next = 0
        while !stop.isSet && next < options.runs {
            guard next < fleet.allowance.withLock({ $0 }), let client = fleet.anyLive(&random) else {
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            let key = "run-\(next)"
            let steps: [JSONValue] = (0..<options.steps).map { step in
                ["effect": "append_line", "arguments": ["path": "fleet/runs.txt", "text": .string("\(key) step \(step)")]]
            }
            if let reply = try? await client.post("/v1/runs", ["key": .string(key), "steps": .array(steps)]),
                reply.status == 200 || reply.status == 201
            {
                fleet.runKeys.withLock { _ = $0.insert(key) }
                next += 1
            }
        }
    }

    /// Goals, each posted (again, under its key, until one daemon acknowledges it) to whichever
    /// daemon is up, as the allowance lets.
    private func postGoals(_ fleet: Fleet, seed: UInt64, stop: StopFlag) async {
        var random = SplitMix64(seed: seed)
        var next = 0
        while !stop.isSet && next < options.goals {
            let allowed = fleet.allowance.withLock { $0 } * options.goals / max(1, options.runs)
            guard next < allowed, let client = fleet.anyLive(&random) else {
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            let key = "goal-\(next)"
            if let reply = try? await client.post("/v1/goals", ["goal": .string(HarnessModelServer.goal(next)), "key": .string(key)]),
                reply.status == 200 || reply.status == 201
            {
                fleet.goalKeys.withLock { _ = $0.insert(key) }
                next += 1
            }
        }
    }

    private func check(_ report: inout Report, database: PostgresStore, fleet: Fleet, workspace: URL, window: (Date, Date)) async throws {
        let eventKeys = fleet.eventKeys.withLock { $0 }
        let markers = fleet.markers.withLock { $0 }
        report.acknowledgedEvents = eventKeys.count + markers.count
        let stored = try await PostgresJournal(database: database).existingKeys(eventKeys)
        var markerCounts: [String: Int] = [:]
        for try await marker in try await database.client.query(
            "SELECT payload FROM event WHERE kind = 'fleet.unkeyed'"
        ).decode(String.self) {
            if let value = try? JSONValue(parsing: marker)["marker"]?.stringValue { markerCounts[value, default: 0] += 1 }
        }
        report.lostEvents = eventKeys.filter { !stored.contains($0) } + markers.filter { markerCounts[$0] == nil }
        report.duplicatedEvents = markerCounts.filter { $0.value > 1 }.map { "\($0.key) ×\($0.value)" }.sorted()

        let runKeys = fleet.runKeys.withLock { $0 }
        report.acknowledgedRuns = runKeys.count
        var states: [String: String] = [:]
        for try await (key, state) in try await database.client.query("SELECT key, state FROM run WHERE key LIKE 'run-%'").decode(
            (String, String).self)
        {
            states[key] = state
        }
        report.unfinishedRuns = runKeys.sorted().filter { states[$0] != "succeeded" }.map { "\($0) (\(states[$0] ?? "missing"))" }
        var stepKeys: [String] = []
        for try await (key, attempts) in try await database.client.query("SELECT idempotencyKey, attempts FROM step").decode(
            (String, Int).self)
        {
            stepKeys.append(key)
            if attempts > 1 { report.stepsReconciled += 1 }
        }
        let text = (try? String(contentsOf: workspace.appending(path: "fleet/runs.txt"), encoding: .utf8)) ?? ""
        let tags = AppendLineEffect.keyCounts(in: text)
        report.effectLines = tags.values.reduce(0, +)
        report.missingEffects = stepKeys.filter { tags[$0] == nil }.sorted()
        report.duplicatedEffects = tags.filter { $0.value > 1 }.map { "\($0.key) ×\($0.value)" }.sorted()

        try await checkGoals(&report, database: database, fleet: fleet, workspace: workspace)

        // Each minute slot's firing is keyed "cron:harness:SECONDS".
        var slots: [Int64: Int] = [:]
        for try await key in try await database.client.query("SELECT key FROM event WHERE source = 'cron' AND key LIKE 'cron:harness:%'")
            .decode(String.self)
        {
            if let seconds = key.split(separator: ":").last.flatMap({ Int64($0) }) { slots[seconds, default: 0] += 1 }
        }
        report.cronSlots = slots.count
        report.duplicatedSlots = slots.filter { $0.value > 1 }.map { "slot \($0.key) ×\($0.value)" }.sorted()
        // Every whole minute strictly inside the window: some daemon was up for it.
        let first = Int64(window.0.timeIntervalSince1970 / 60) + 1
        let last = Int64(window.1.timeIntervalSince1970 / 60) - 1
        if first <= last {
            report.missedSlots = (first...last).map { $0 * 60 }.filter { slots[$0] == nil }.map { "slot \($0)" }
        }
    }

    private func checkGoals(_ report: inout Report, database: PostgresStore, fleet: Fleet, workspace: URL) async throws {
        let goalKeys = fleet.goalKeys.withLock { $0 }
        report.acknowledgedGoals = goalKeys.count
        var states: [String: [String]] = [:]
        for try await (key, state) in try await database.client.query(
            "SELECT run.key, run.state FROM run JOIN goal ON goal.runId = run.id WHERE run.key LIKE 'goal-%'"
        ).decode((String, String).self) {
            states[key, default: []].append(state)
        }
        report.unfinishedGoals = goalKeys.sorted().filter { states[$0]?.first != "succeeded" }.map {
            "\($0) (\(states[$0]?.first ?? "missing"))"
        }
        report.duplicatedGoals = states.filter { $0.value.count > 1 }.map { "\($0.key) ×\($0.value.count)" }.sorted()
        for key in goalKeys {
            guard let goal = Int(key.dropFirst("goal-".count)) else { continue }
            for task in 0..<options.tasks {
                let path = HarnessModelServer.file(goal: goal, task: task)
                let text = try? String(contentsOf: workspace.appending(path: path), encoding: .utf8)
                if text == HarnessModelServer.content(goal: goal, task: task) {
                    report.goalFiles += 1
                } else {
                    report.missingGoalFiles.append(path)
                }
            }
        }
        report.missingGoalFiles.sort()
        for try await (run, task, count) in try await database.client.query(
            """
            SELECT runId, taskId, count(*) FROM task_action WHERE tool = 'write_file' AND state = 'succeeded'
            GROUP BY runId, taskId HAVING count(*) > 1 ORDER BY runId, taskId
            """
        ).decode((Int64, String, Int).self) {
            report.duplicatedGoalWrites.append("run \(run) \(task) ×\(count)")
        }
        report.goalTakeovers = try await database.count(
            "SELECT count(*) FROM run_claim c JOIN run_claim p ON p.runId = c.runId AND p.fence = c.fence - 1 WHERE p.holder <> c.holder")
        // Recorded (finished) after another daemon claimed the run with a higher fence: the fence failed.
        report.actionsUnderLostLease = try await database.count(
            """
            SELECT count(*) FROM task_action a JOIN run_claim c ON c.runId = a.runId AND c.fence > a.fence
            WHERE a.fence IS NOT NULL AND c.claimedAt < to_timestamp(COALESCE(a.finishedAt, a.startedAt) / 1000.0)
            """)
    }
}

extension PostgresStore {
    /// The single integer a harness's checking query returns.
    func count(_ sql: String) async throws -> Int {
        var value = 0
        for try await count in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { value = count }
        return value
    }
}

public struct FleetHarnessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
