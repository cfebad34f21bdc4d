import Foundation

/// Calendar time, injected so that schedules can be tested without waiting.
///
/// Cron is about wall-clock instants (08:30 in Paris), so this is a clock of `Date`s rather than
/// of a `Clock`'s monotonic instants. Production code uses `SystemWallClock`; tests use a manual
/// clock that they advance.
public protocol WallClock: Sendable {
    func now() -> Date
    /// Sleeps until `deadline` or until the task is cancelled.
    ///
    /// - Throws: `CancellationError` when the task is cancelled.
    func sleep(until deadline: Date) async throws
}

extension WallClock {
    /// Sleeps for `duration` of this clock's time (a manual clock in tests: until it is advanced).
    ///
    /// - Throws: `CancellationError` when the task is cancelled.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now().addingTimeInterval(duration.inSeconds))
    }
}

/// The machine's clock.
public struct SystemWallClock: WallClock {
    /// Sleeps are split so that a wall-clock jump (NTP, suspend) is noticed within this interval.
    public var maximumNap: Duration

    public init(maximumNap: Duration = .seconds(60)) {
        self.maximumNap = maximumNap
    }

    public func now() -> Date { Date() }

    public func sleep(until deadline: Date) async throws {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return }
            let nap = min(Duration.milliseconds(Int64((remaining * 1000).rounded(.up))), maximumNap)
            try await Task.sleep(for: nap)
        }
    }
}
