import Foundation

/// One scored event as stored: the decision, where it came from, whether the user saw it.
public struct AttentionItem: Sendable, Hashable, Codable {
    public var eventID: Int64
    public var source: String
    public var kind: String
    public var occurredAt: Date
    /// When the scorer decided it: the brief that first covers this time shows it.
    public var decidedAt: Date
    public var decision: AttentionDecision
    /// Workspace-relative paths (or URLs) the item points at.
    public var links: [String]
    /// The episodic memory record the event became, if it was remembered.
    public var memoryRecordID: Int64?
    public var acknowledgedAt: Date?

    public init(
        eventID: Int64, source: String, kind: String, occurredAt: Date, decidedAt: Date, decision: AttentionDecision, links: [String] = [],
        memoryRecordID: Int64? = nil, acknowledgedAt: Date? = nil
    ) {
        self.eventID = eventID
        self.source = source
        self.kind = kind
        self.occurredAt = occurredAt
        self.decidedAt = decidedAt
        self.decision = decision
        self.links = links
        self.memoryRecordID = memoryRecordID
        self.acknowledgedAt = acknowledgedAt
    }
}

/// What ingestion stores for one event: its decision and, unless its source is ignored, the
/// memory record it becomes.
public struct IngestedEvent: Sendable, Hashable {
    public var item: AttentionItem
    public var record: MemoryRecord?

    public init(item: AttentionItem, record: MemoryRecord?) {
        self.item = item
        self.record = record
    }
}

/// Which items to read back.
public struct AttentionQuery: Sendable, Hashable {
    /// Decided at or after.
    public var from: Date?
    /// Decided before.
    public var to: Date?
    public var levels: Set<AttentionLevel>
    public var unacknowledgedOnly: Bool
    public var limit: Int
    /// Only items of events after this id.
    public var afterEventID: Int64?

    public init(
        from: Date? = nil, to: Date? = nil, levels: Set<AttentionLevel> = [], unacknowledgedOnly: Bool = false, limit: Int = 100_000,
        afterEventID: Int64? = nil
    ) {
        self.afterEventID = afterEventID
        self.from = from
        self.to = to
        self.levels = levels
        self.unacknowledgedOnly = unacknowledgedOnly
        self.limit = limit
    }
}

/// Where scored events live. Ingestion's cursor moves in the same transaction that stores a
/// batch's records and decisions, so a `kill -9` at any point neither loses nor repeats an event.
public protocol AttentionStore: Sendable {
    /// The id of the last journal event ingested.
    func ingestedThrough() async throws -> Int64
    /// Stores the batch (memory records, then decisions pointing at them) and moves the cursor to
    /// `cursor`, in one transaction; returns the items as stored.
    func ingest(_ batch: [IngestedEvent], through cursor: Int64) async throws -> [AttentionItem]
    func items(_ query: AttentionQuery) async throws -> [AttentionItem]
    func item(eventID: Int64) async throws -> AttentionItem?
    /// Marks an inbox item seen; false when there is no such item.
    func acknowledge(eventID: Int64, at: Date) async throws -> Bool
}

/// One interrupt's delivery to one channel.
public struct Delivery: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Codable { case pending, retrying, delivered }
    public var eventID: Int64
    public var channel: String
    public var state: State
    public var attempts: Int
    public var lastError: String?
    public var nextAttemptAt: Date
    public var deliveredAt: Date?

    public init(
        eventID: Int64, channel: String, state: State, attempts: Int, lastError: String?, nextAttemptAt: Date, deliveredAt: Date?
    ) {
        self.eventID = eventID
        self.channel = channel
        self.state = state
        self.attempts = attempts
        self.lastError = lastError
        self.nextAttemptAt = nextAttemptAt
        self.deliveredAt = deliveredAt
    }
}

/// Where interrupts wait for their channels. An interrupt's rows are written with its item; a
/// delivery counts only once the channel confirmed it.
public protocol DeliveryBook: Sendable {
    /// Deliveries not yet confirmed whose next attempt is due (taken for this caller where
    /// several daemons share the store: another sees them again only if this one goes quiet).
    func due(at now: Date, limit: Int) async throws -> [Delivery]
    /// When the next unconfirmed delivery is due.
    func nextAttempt() async throws -> Date?
    func delivered(_ delivery: Delivery, at date: Date) async throws
    func failed(_ delivery: Delivery, error: String, retryAt: Date) async throws
    func deliveries(eventIDs: [Int64]) async throws -> [Int64: [Delivery]]
}
