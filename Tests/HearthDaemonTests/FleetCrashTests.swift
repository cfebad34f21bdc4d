import Foundation
import Glibc
import HearthBench
import HearthPostgres
import HearthTesting
import Testing

@Suite("Fleet crash harness on PostgreSQL", .timeLimit(.minutes(4)))
struct FleetCrashTests {
    @Test("three workers on one PostgreSQL, killed and paused at random: nothing lost, duplicated, or recorded under a lost lease")
    func shortHarness() async throws {
        let url = ProcessInfo.processInfo.environment["HEARTH_TEST_POSTGRES_URL"]
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let directory = try TemporaryDirectory(prefix: "fleet-crash")
        let seed = try CrashHarness.seed()
        print("fleet crash harness: seed \(seed) (replay with HEARTH_CRASH_SEED=\(seed))")
        var options = FleetCrashHarness.Options(
            kills: 12, seed: seed, store: try PostgresLocation.parse(try #require(url)), goals: 24, directory: directory.url)
        options.connectTimeout = TestPostgres.connectTimeout
        let report = try await FleetCrashHarness(options: options).run()
        let replay = Comment(rawValue: "seed \(seed); replay with HEARTH_CRASH_SEED=\(seed)")
        #expect(report.kills == 12, replay)
        #expect(report.goalsDone == 24, replay)
        #expect(report.acknowledgedEvents > 0 && report.lostEvents == [] && report.duplicatedEvents == 0, replay)
        #expect(report.effectLines == 24 * 3 && report.missingEffects == [] && report.duplicatedEffects == [], replay)
        #expect(report.cronSlots > 0 && report.duplicatedSlots == [] && report.slotsWithoutEffect == [], replay)
        #expect(report.stepsUnderLostLease == 0 && report.completedUnderLostLease == 0, replay)
        #expect(report.passed, replay)
    }

    @Test(
        "three whole daemons on one PostgreSQL, killed at random (also while starting) and paused past their leases: every event, run, goal, effect and cron slot once"
    )
    func daemonHarness() async throws {
        let url = ProcessInfo.processInfo.environment["HEARTH_TEST_POSTGRES_URL"]
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let directory = try TemporaryDirectory(prefix: "fleet-daemons")
        let seed = try CrashHarness.seed()
        print("fleet daemon crash harness: seed \(seed) (replay with HEARTH_CRASH_SEED=\(seed))")
        var options = FleetDaemonCrashHarness.Options(
            kills: 10, seed: seed, store: try PostgresLocation.parse(try #require(url)), runs: 16, goals: 10, directory: directory.url)
        options.connectTimeout = TestPostgres.connectTimeout
        options.pauseEvery = 4
        let report = try await FleetDaemonCrashHarness(options: options).run()
        let replay = Comment(rawValue: "seed \(seed); replay with HEARTH_CRASH_SEED=\(seed)")
        #expect(report.kills == 10 && report.daemons == 3 && report.pauses == 2, replay)
        #expect(report.acknowledgedGoals == 10 && report.unfinishedGoals == [] && report.duplicatedGoals == [], replay)
        #expect(report.goalFiles == 10 * 3 && report.missingGoalFiles == [] && report.duplicatedGoalWrites == [], replay)
        #expect(report.actionsUnderLostLease == 0, replay)
        #expect(report.acknowledgedRuns == 16 && report.unfinishedRuns == [], replay)
        #expect(report.acknowledgedEvents > 0 && report.lostEvents == [] && report.duplicatedEvents == [], replay)
        #expect(report.effectLines == 16 * 3 && report.missingEffects == [] && report.duplicatedEffects == [], replay)
        #expect(report.duplicatedSlots == [] && report.missedSlots == [], replay)
        #expect(report.passed, replay)
    }

    @Test("the store crashes and restarts under three daemons: they pause, reconnect, and lose or duplicate nothing")
    func daemonStoreOutage() async throws {
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let directory = try TemporaryDirectory(prefix: "fleet-daemon-outage")
        let seed = try CrashHarness.seed()
        print("fleet daemon outage harness: seed \(seed) (replay with HEARTH_CRASH_SEED=\(seed))")
        let report = try await TestPostgres.withCluster { cluster in
            var options = FleetDaemonCrashHarness.Options(
                kills: 6, seed: seed, store: cluster.location, runs: 10, goals: 6, directory: directory.url)
            options.connectTimeout = TestPostgres.connectTimeout
            options.outage = { try await cluster.outage(seconds: 2) }
            return try await FleetDaemonCrashHarness(options: options).run { print("fleet daemon outage harness: \($0)") }
        }
        let replay = Comment(rawValue: "seed \(seed); replay with HEARTH_CRASH_SEED=\(seed)")
        #expect(report.outages == 1 && report.eventsAfterOutage > 0, "the daemons went on after the store came back; \(replay)")
        #expect(report.didNotStop == [], "every daemon stopped on SIGTERM after the outage; \(replay)")
        #expect(report.unfinishedRuns == [] && report.lostEvents == [] && report.duplicatedEvents == [], replay)
        #expect(report.missingEffects == [] && report.duplicatedEffects == [] && report.duplicatedSlots == [], replay)
        #expect(report.unfinishedGoals == [] && report.missingGoalFiles == [] && report.actionsUnderLostLease == 0, replay)
        #expect(report.passed, replay)
    }

    @Test("the store crashes and restarts under the workers: they pause, reconnect, and lose or duplicate nothing")
    func storeOutage() async throws {
        try #require(TestPostgres.available || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let directory = try TemporaryDirectory(prefix: "fleet-outage")
        let seed = try CrashHarness.seed()
        print("fleet outage harness: seed \(seed) (replay with HEARTH_CRASH_SEED=\(seed))")
        let report = try await TestPostgres.withCluster { cluster in
            var options = FleetCrashHarness.Options(kills: 6, seed: seed, store: cluster.location, goals: 12, directory: directory.url)
            options.connectTimeout = TestPostgres.connectTimeout
            options.outage = { try await cluster.outage(seconds: 2) }
            return try await FleetCrashHarness(options: options).run()
        }
        let replay = Comment(rawValue: "seed \(seed); replay with HEARTH_CRASH_SEED=\(seed)")
        #expect(report.outages == 1 && report.eventsAfterOutage > 0, "the workers went on after the store came back; \(replay)")
        #expect(report.goalsDone == 12 && report.lostEvents == [] && report.duplicatedEvents == 0, replay)
        #expect(report.missingEffects == [] && report.duplicatedEffects == [] && report.duplicatedSlots == [], replay)
        #expect(report.stepsUnderLostLease == 0 && report.completedUnderLostLease == 0 && report.passed, replay)
    }
}

/// Clusters of a test's own, started and stopped with scripts/test-postgres.
extension TestPostgres {
    struct Cluster: Sendable {
        var location: PostgresLocation
        var directory: String
        var script: URL

        func outage(seconds: Int) async throws {
            _ = try await TestPostgres.script(script, ["outage", directory, "\(seconds)"])
        }

        func stop() async {
            _ = try? await TestPostgres.script(script, ["stop", directory])
        }
    }

    struct ClusterError: Error, CustomStringConvertible {
        var detail: String
        var description: String { "scripts/test-postgres failed: \(detail)" }
    }

    /// Runs `body` on a cluster of its own (the suite's shared one must not go away under other
    /// tests), stopped afterwards whatever `body` does.
    static func withCluster<T: Sendable>(_ body: (Cluster) async throws -> T) async throws -> T {
        let cluster = try await startCluster()
        do {
            let value = try await body(cluster)
            await cluster.stop()
            return value
        } catch {
            await cluster.stop()
            throw error
        }
    }

    static func startCluster() async throws -> Cluster {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../scripts/test-postgres").standardized
        let output = try await Self.script(script, ["start"])
        var exports: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.replacingOccurrences(of: "export ", with: "").split(separator: "=", maxSplits: 1)
            if parts.count == 2 { exports[String(parts[0])] = String(parts[1]) }
        }
        guard let url = exports["HEARTH_TEST_POSTGRES_URL"], let directory = exports["HEARTH_TEST_POSTGRES_DIR"] else {
            throw ClusterError(detail: "no exports in \(output)")
        }
        return Cluster(location: try PostgresLocation.parse(url), directory: directory, script: script)
    }

    /// Runs scripts/test-postgres and returns its output. Spawned and waited for by hand: the
    /// server it starts outlives it, and Foundation's Process never reported the script's exit then.
    static func script(_ script: URL, _ arguments: [String]) async throws -> String {
        let directory = try TemporaryDirectory(prefix: "pg-script")
        let output = directory.appending("output")
        let argv = [script.path] + arguments
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            Thread {
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                defer { posix_spawn_file_actions_destroy(&actions) }
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
                var pid: pid_t = 0
                var cArguments = argv.map { strdup($0) } + [nil]
                defer { for argument in cArguments { free(argument) } }
                let spawned = posix_spawn(&pid, script.path, &actions, nil, &cArguments, environ)
                guard spawned == 0 else {
                    continuation.resume(throwing: ClusterError(detail: "cannot start \(script.path): errno \(spawned)"))
                    return
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: status)
            }.start()
        }
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw ClusterError(detail: text) }
        return text
    }
}
