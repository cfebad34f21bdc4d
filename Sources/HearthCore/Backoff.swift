/// Delays between attempts at something that fails for a while (a store that went away, a full
/// disk): doubling from `initial` up to `maximum`. Start a new one after a success.
public struct Backoff: Sendable, Equatable {
    public let initial: Duration
    public let maximum: Duration
    private var upcoming: Duration

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        upcoming = initial
    }

    /// The delay before the next attempt.
    public mutating func next() -> Duration {
        defer { upcoming = min(upcoming * 2, maximum) }
        return upcoming
    }
}
