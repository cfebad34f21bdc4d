import HearthCore
import Testing

@Suite("Backoff", .timeLimit(.minutes(10)))
struct BackoffTests {
    @Test("delays double from the first up to the cap, and stay there")
    func doubling() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .milliseconds(700))
        #expect((0..<6).map { _ in backoff.next() } == [100, 200, 400, 700, 700, 700].map { .milliseconds($0) })
        #expect(
            Backoff(initial: .seconds(2), maximum: .seconds(1)).maximum == .seconds(2), "a cap below the first delay is the first delay")
    }
}
