import Foundation
import HearthCore
import Synchronization

/// Interrupts as they are decided, for the API's server-sent event stream: each listener gets
/// every item published after it subscribed.
public final class InboxFeed: Sendable {
    private let listeners = Mutex<[UUID: AsyncStream<AttentionItem>.Continuation]>([:])

    public init() {}

    public func publish(_ items: [AttentionItem]) {
        guard !items.isEmpty else { return }
        for continuation in listeners.withLock({ Array($0.values) }) { for item in items { continuation.yield(item) } }
    }

    public func subscribe() -> AsyncStream<AttentionItem> {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: AttentionItem.self, bufferingPolicy: .bufferingNewest(256))
        listeners.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in _ = self?.listeners.withLock { $0.removeValue(forKey: id) } }
        return stream
    }
}
