import HearthCore
import Logging
import ServiceLifecycle

/// Retries a durable write with exponential backoff until it succeeds.
///
/// Triggers and the executor must not drop what they saw or did because the disk was full or
/// the database busy for a moment; they retry. They stop only when the task is cancelled (or,
/// with `untilShutdown`, when the daemon shuts down), and then whatever was not recorded is
/// rediscovered at the next start (the index was not updated, the intent has no result).
///
/// - Returns: the body's result, or `nil` if stopped first.
func retryUntilDurable<T: Sendable>(
    _ what: String, logger: Logger, initialDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(30),
    untilShutdown: Bool = true, _ body: () async throws -> T
) async -> T? {
    var backoff = Backoff(initial: initialDelay, maximum: maximumDelay)
    while !Task.isCancelled && !(untilShutdown && Task.isShuttingDownGracefully) {
        do {
            return try await body()
        } catch {
            let delay = backoff.next()
            logger.error("cannot \(what): \(error); retrying in \(delay)")
            try? await Task.sleep(for: delay)
        }
    }
    return nil
}
