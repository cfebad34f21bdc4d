import Foundation
import HearthCore
import HearthMemory
import HearthStore
import HearthTesting
import Logging
import Testing

/// The memory upkeep service paced by a manual clock: rounds come every interval, and no sooner.
@Suite("Memory upkeep on the injected clock", .timeLimit(.minutes(2)))
struct MaintenanceClockTests {
    @Test("a round runs at start, then one per interval of clock time; the service sleeps in between")
    func periodic() async throws {
        let clock = ManualWallClock(now: Date(timeIntervalSince1970: 1_800_000_000))
        let fixture = try await MemoryFixture(clock: clock)
        let rounds = Counter()
        let service = MemoryMaintenanceService(
            engine: fixture.engine, extractor: nil, interval: .seconds(30), consolidationEvery: 3_600, logger: Logger(label: "test"),
            clock: clock, report: { _ in rounds.increment() })
        let task = Task { try await service.run() }
        defer { task.cancel() }
        try await waitUntil("the first round, then a sleep") { rounds.value == 1 && clock.sleeperCount == 1 }
        _ = try await fixture.engine.remember([turn("The upkeep embeds this record on its next round")])
        clock.advance(by: 29)
        try await Task.sleep(for: .milliseconds(50))
        #expect(rounds.value == 1, "no round before the interval has passed")
        clock.advance(by: 1)
        try await waitUntil("the second round") { rounds.value == 2 && clock.sleeperCount == 1 }
        #expect(try await fixture.store.counts(model: fixture.embedder.endpoint.embeddingModel).pendingVectors == 0)
        clock.advance(by: 30)
        try await waitUntil("the third round") { rounds.value == 3 && clock.sleeperCount == 1 }
    }
}
