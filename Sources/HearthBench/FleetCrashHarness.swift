import Foundation
import Glibc
import HearthCore
import HearthPostgres
import PostgresNIO

/// Three workers on one PostgreSQL, killed with SIGKILL and paused with SIGSTOP at random, while
/// goals with effect steps are queued and events and cron slots pour in; then the store and the
/// effects are checked: every acknowledged event stored once, every goal finished, every effect
/// line in its file exactly once, each cron slot fired once, no step recorded and no goal
/// completed under a lease another worker had taken over since.
///
/// The workers are `hearth bench fleet-worker` processes: the work queue, journal and effects of
/// a daemon, not yet the whole daemon (its other stores are SQLite).
public struct FleetCrashHarness: Sendable {
    public struct Options: Sendable {
        public var kills: Int
        public var seed: UInt64
        public var store: PostgresLocation
        public var goals: Int
        public var steps: Int
        public var binary: URL
        public var directory: URL
        public var workers = 3
        public var leaseMilliseconds = 1_000
        /// How long a worker works before each effect step (standing in for a model's turn), so kills land mid-goal.
        public var stepMilliseconds = 150
        /// Takes the store away for a while halfway through (the server crashed and restarted):
        /// the workers must pause, reconnect and lose nothing they acknowledged.
        public var outage: (@Sendable () async throws -> Void)?
        /// The PostgreSQL password, and the 0600 file the workers read it from, when the server asks for one.
        public var password: String?
        public var passwordFile: String?
        /// How long the harness waits to connect to the store.
        public var connectTimeout: Duration = .seconds(10)

        public init(
            kills: Int, seed: UInt64, store: PostgresLocation, goals: Int = 200, steps: Int = 3, binary: URL = HearthBinary.url,
            directory: URL
        ) {
            self.kills = kills
            self.seed = seed
            self.store = store
            self.goals = goals
            self.steps = steps
            self.binary = binary
            self.directory = directory
        }
    }

    public struct Report: Sendable, Codable, Equatable {
        public var seed: UInt64 = 0
        public var kills = 0
        public var pauses = 0
        public var goals = 0
        public var goalsDone = 0
        public var acknowledgedEvents = 0
        public var lostEvents: [String] = []
        public var duplicatedEvents = 0
        public var effectLines = 0
        public var missingEffects: [String] = []
        public var duplicatedEffects: [String] = []
        public var cronSlots = 0
        public var duplicatedSlots: [String] = []
        public var slotsWithoutEffect: [String] = []
        /// Steps recorded, and goals completed, after another worker had claimed the item with a higher fence.
        public var stepsUnderLostLease = 0
        public var completedUnderLostLease = 0
        /// Takeovers: claims of an item someone had claimed before.
        public var takeovers = 0
        /// Times a worker paused and tried again (the store unreachable: an outage makes them).
        public var retries = 0
        public var outages = 0
        /// Events stored after the store came back (the workers reconnected and went on).
        public var eventsAfterOutage = 0
        /// Times a worker's step or completion was refused because it had lost its lease.
        public var fencedOut = 0
        public var seconds = 0.0

        public var passed: Bool {
            goalsDone == goals && lostEvents.isEmpty && duplicatedEvents == 0 && missingEffects.isEmpty && duplicatedEffects.isEmpty
                && duplicatedSlots.isEmpty && slotsWithoutEffect.isEmpty && stepsUnderLostLease == 0 && completedUnderLostLease == 0
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    final class Worker: Sendable {
        let name: String
        let process: ChildProcess

        init(name: String, options: Options, store: PostgresLocation, effects: URL) async throws {
            self.name = name
            process = try await ChildProcess(
                executable: options.binary,
                arguments: [
                    "bench", "fleet-worker", "--store", store.url,
                    "--name", name, "--effects", effects.path, "--lease-milliseconds", "\(options.leaseMilliseconds)",
                    "--step-milliseconds", "\(options.stepMilliseconds)",
                ] + (options.passwordFile.map { ["--password-file", $0] } ?? []))
        }
    }

    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Report {
        let started = ContinuousClock.now
        var random = SplitMix64(seed: options.seed)
        var report = Report()
        report.seed = options.seed
        report.goals = options.goals
        let location = try await PostgresStore.createDatabase(
            on: options.store, prefix: "hearth_fleet_crash", password: options.password, timeout: options.connectTimeout)
        let database = try await PostgresStore.open(location, password: options.password, timeout: options.connectTimeout)
        defer {
            database.close()
        }
        let effects = options.directory.appending(path: "effects")
        try FileManager.default.createDirectory(at: effects.appending(path: "goals"), withIntermediateDirectories: true)
        let queue = PostgresWorkQueue(database: database)

        var workers: [Worker] = []
        for index in 0..<options.workers {
            workers.append(try await Worker(name: "w\(index)", options: options, store: location, effects: effects))
        }
        var finished: [Worker] = []
        var queued = 0
        var outageMark: Int?
        func enqueue(upTo count: Int) async throws {
            guard count > queued else { return }
            _ = try await queue.enqueue(
                (queued..<count).map { NewWork(kind: "goal", key: "goal-\($0)", payload: ["steps": .number(Double(options.steps))]) })
            queued = count
        }
        do {
            // Goals arrive through the first 80% of the kills, so kills land on goal work throughout.
            let arrivalRounds = max(1, options.kills * 4 / 5)
            for round in 0..<options.kills {
                if round == options.kills / 2, let outage = options.outage {
                    progress("the store goes away and comes back")
                    try await outage()
                    report.outages += 1
                    outageMark = try await database.count("SELECT COALESCE(max(id), 0) FROM event")
                }
                try await enqueue(upTo: min(options.goals, options.goals * (round + 1) / arrivalRounds))
                try await Task.sleep(for: .milliseconds(Int(50 + random.next() % 250)))
                let index = Int(random.next() % UInt64(workers.count))
                if random.next() % 6 == 0 {
                    // Paused past its lease: the others take its goal over; when it resumes, the store
                    // refuses what it tries to record.
                    let paused = workers[index].process
                    paused.signal(SIGSTOP)
                    // Just past the lease, often while the new holder is still working on the step the
                    // paused one was about to record: the race a fence must settle.
                    try await Task.sleep(for: .milliseconds(options.leaseMilliseconds + 50 + Int(random.next() % 300)))
                    paused.signal(SIGCONT)
                    // Time to run into the fence before the kill.
                    try await Task.sleep(for: .milliseconds(400))
                    report.pauses += 1
                }
                workers[index].process.signal(SIGKILL)
                await workers[index].process.waitForExit()
                finished.append(workers[index])
                workers[index] = try await Worker(name: workers[index].name, options: options, store: location, effects: effects)
                report.kills += 1
                if (round + 1) % max(1, options.kills / 10) == 0 {
                    let counts = try await queue.counts(kind: "goal")
                    progress("kill \(round + 1)/\(options.kills): \(counts.done) of \(queued) queued goals done")
                }
            }
            try await enqueue(upTo: options.goals)
            // The survivors finish the work.
            let deadline = ContinuousClock.now + .seconds(max(120, options.goals))
            while try await queue.counts(kind: "goal").done < options.goals, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        } catch {
            // Whatever failed, no worker outlives the run (a paused one is let go first).
            for worker in workers {
                worker.process.signal(SIGCONT)
                worker.process.signal(SIGKILL)
            }
            throw error
        }
        for worker in workers {
            worker.process.signal(SIGKILL)
            await worker.process.waitForExit()
            finished.append(worker)
        }
        for worker in finished { await worker.process.drained() }
        try await check(&report, database: database, workers: finished, effects: effects)
        if let outageMark { report.eventsAfterOutage = try await database.count("SELECT count(*) FROM event WHERE id > \(outageMark)") }
        report.seconds = (ContinuousClock.now - started).inSeconds
        try? await PostgresStore.dropDatabase(location, on: options.store, password: options.password)
        return report
    }

    private func check(_ report: inout Report, database: PostgresStore, workers: [Worker], effects: URL) async throws {
        var acknowledged: [String] = []
        for worker in workers {
            for line in worker.process.standardOutput.split(separator: "\n") {
                if line.hasPrefix("ACK ") { acknowledged.append(String(line.dropFirst(4))) }
                if line.hasPrefix("FENCED ") { report.fencedOut += 1 }
                if line.hasPrefix("RETRY ") { report.retries += 1 }
            }
        }
        report.acknowledgedEvents = acknowledged.count
        let stored = try await PostgresJournal(database: database).existingKeys(acknowledged)
        report.lostEvents = acknowledged.filter { !stored.contains($0) }
        report.duplicatedEvents = try await database.count("SELECT count(*) - count(DISTINCT key) FROM event")
        report.goalsDone = try await database.count("SELECT count(*) FROM work WHERE kind = 'goal' AND state = 'done'")
        report.stepsUnderLostLease = try await database.count(
            "SELECT count(*) FROM work_step s JOIN work_claim c ON c.item = s.item AND c.fence > s.fence AND c.claimedAt < s.recordedAt")
        report.completedUnderLostLease = try await database.count(
            """
            SELECT count(*) FROM work w JOIN work_claim c ON c.item = w.id AND c.fence > w.doneFence AND c.claimedAt < w.doneAt
            WHERE w.state = 'done'
            """)
        report.takeovers = try await database.count("SELECT count(*) FROM work_claim WHERE fence > 1")

        for goal in 0..<options.goals {
            let file = effects.appending(path: "goals/goal-\(goal).txt")
            let lines = ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n")
            report.effectLines += lines.count
            for step in 0..<options.steps {
                let tag = "[hearth:goal-\(goal)-step-\(step)]"
                let found = lines.filter { $0.hasSuffix(tag) }.count
                if found == 0 { report.missingEffects.append("goal-\(goal) step \(step)") }
                if found > 1 { report.duplicatedEffects.append("goal-\(goal) step \(step) ×\(found)") }
            }
        }
        let cron = ((try? String(contentsOf: effects.appending(path: "cron.txt"), encoding: .utf8)) ?? "").split(separator: "\n")
        var slotLines: [String: Int] = [:]
        for line in cron { slotLines[String(line), default: 0] += 1 }
        report.duplicatedSlots = slotLines.filter { $0.value > 1 }.map { "\($0.key) ×\($0.value)" }.sorted()
        var slots: [Int64] = []
        for try await slot in try await database.client.query("SELECT slot FROM cron_slot WHERE schedule = 'harness'").decode(Int64.self) {
            slots.append(slot)
        }
        report.cronSlots = slots.count
        report.slotsWithoutEffect = slots.filter { slotLines["slot \($0) [hearth:cron-\($0)]"] == nil }.map { "slot \($0)" }
    }
}
