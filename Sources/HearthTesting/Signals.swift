import Foundation
import HearthCore
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
///
/// The operation is cancelled at the time limit, and the caller gets the `TimeoutError` then even
/// when the operation does not heed the cancellation (a blocking read, a request that never
/// answers): a stuck wait fails its test instead of hanging the suite. The operation is left to end
/// on its own.
public func withTimeout<T: Sendable>(
    _ seconds: Double, _ what: String, operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = Race<T>()
    let work = Task {
        do { outcome.finish(.success(try await operation())) } catch { outcome.finish(.failure(error)) }
    }
    let timer = Task {
        guard (try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))) != nil else { return }
        outcome.finish(.failure(TimeoutError(what: what, seconds: seconds)))
        work.cancel()
    }
    defer {
        timer.cancel()
        work.cancel()
    }
    return try await withTaskCancellationHandler {
        try await outcome.value().get()
    } onCancel: {
        outcome.finish(.failure(CancellationError()))
        work.cancel()
        timer.cancel()
    }
}

public struct TimeoutError: Error, CustomStringConvertible {
    public let what: String
    public let seconds: Double
    public var description: String { "timed out after \(seconds) s waiting for \(what)" }
}

/// Polls `condition` every 10 ms until it holds; throws `TimeoutError` after `seconds` (generous by
/// default, so a starved machine still meets it).
public func waitUntil(_ what: String, seconds: Double = 30, _ condition: @escaping @Sendable () async throws -> Bool) async throws {
    try await withTimeout(seconds, what) {
        while try await !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }
}

/// A count any task can bump and read.
public final class Counter: Sendable {
    private let count = Mutex(0)
    public init() {}
    public func increment() { count.withLock { $0 += 1 } }
    public var value: Int { count.withLock { $0 } }
}

/// Preconditions of suites that need something of the machine (user namespaces, bubblewrap, the
/// local models). Where CI runs (`CI=true`) a missing precondition must fail, never skip.
public enum Preconditions {
    public static var requiredInCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Whether a suite needing `available` runs: when it is there, and always in CI.
    public static func run(if available: Bool) -> Bool { available || requiredInCI }
}
