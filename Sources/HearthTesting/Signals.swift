import Foundation
import Synchronization

/// A stream of notifications a test can await, fed from callbacks on any thread.
///
/// Services report progress through callbacks (`onJournaled`); tests turn those into awaitable
/// values instead of sleeping and hoping.
public final class Notifications<Value: Sendable>: Sendable {
    public let stream: AsyncStream<Value>
    private let continuation: AsyncStream<Value>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: Value.self)
    }

    public func send(_ value: Value) { continuation.yield(value) }

    /// Waits for the next value for which `predicate` holds.
    public func next(where predicate: (Value) -> Bool = { _ in true }) async -> Value? {
        for await value in stream where predicate(value) { return value }
        return nil
    }
}

/// Runs `operation`, failing with `TimeoutError` if it takes longer than `seconds`.
public func withTimeout<T: Sendable>(
    _ seconds: Double, _ what: String, operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TimeoutError(what: what, seconds: seconds)
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}

public struct TimeoutError: Error, CustomStringConvertible {
    public let what: String
    public let seconds: Double
    public var description: String { "timed out after \(seconds) s waiting for \(what)" }
}
