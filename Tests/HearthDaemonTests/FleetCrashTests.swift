import Foundation
import HearthBench
import HearthPostgres
import HearthTesting
import Testing

@Suite("Fleet crash harness on PostgreSQL", .timeLimit(.minutes(4)))
struct FleetCrashTests {
    @Test("three workers on one PostgreSQL, killed and paused at random: nothing lost, duplicated, or recorded under a lost lease")
    func shortHarness() async throws {
        let url = ProcessInfo.processInfo.environment["HEARTH_TEST_POSTGRES_URL"]
        try #require(url != nil || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let directory = try TemporaryDirectory(prefix: "fleet-crash")
        let seed = try CrashHarness.seed()
        print("fleet crash harness: seed \(seed) (replay with HEARTH_CRASH_SEED=\(seed))")
        let options = FleetCrashHarness.Options(
            kills: 12, seed: seed, store: try PostgresLocation.parse(try #require(url)), goals: 24, directory: directory.url)
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
}
