import Foundation

/// Whether content came from the user (or Hearth itself) or from the outside world.
///
/// Untrusted content (mail, webhooks, files the agent did not write) may inform the agent but
/// never instruct it; later stages use this mark to force approvals and quarantine facts.
public enum Provenance: String, Sendable, Hashable, Codable, CaseIterable {
    case trusted
    case untrusted
}

/// Something that happened, as recorded in the journal.
///
/// Events are immutable once acknowledged. `key` is the caller's idempotency key: the journal
/// stores an event with a given key at most once.
public struct Event: Sendable, Hashable, Codable {
    /// Monotonic, never reused; doubles as a cursor for consumers.
    public var id: Int64
    /// Where it came from: `cli`, `http`, `cron`, `watcher`, `maildir`, or a caller's own name.
    public var source: String
    /// What it is, dotted by convention: `file.created`, `mail.received`, `cron.fired`.
    public var kind: String
    public var key: String?
    public var payload: JSONValue
    public var occurredAt: Date
    public var receivedAt: Date
    public var provenance: Provenance

    public init(
        id: Int64, source: String, kind: String, key: String?, payload: JSONValue, occurredAt: Date,
        receivedAt: Date, provenance: Provenance
    ) {
        self.id = id
        self.source = source
        self.kind = kind
        self.key = key
        self.payload = payload
        self.occurredAt = occurredAt
        self.receivedAt = receivedAt
        self.provenance = provenance
    }
}

/// An event on its way into the journal; it has no id until it is durable.
public struct NewEvent: Sendable, Hashable {
    public var source: String
    public var kind: String
    public var key: String?
    public var payload: JSONValue
    public var occurredAt: Date
    public var provenance: Provenance

    public init(
        source: String, kind: String, key: String? = nil, payload: JSONValue = .object([:]), occurredAt: Date,
        provenance: Provenance
    ) {
        self.source = source
        self.kind = kind
        self.key = key
        self.payload = payload
        self.occurredAt = occurredAt
        self.provenance = provenance
    }

    /// Checks the fields a caller controls, so bad input is refused before it reaches storage.
    ///
    /// - Throws: `EventValidationError` saying which field is wrong and how.
    public func validate() throws(EventValidationError) {
        try Self.checkName(source, field: "source")
        try Self.checkName(kind, field: "kind")
        if let key {
            guard !key.isEmpty else { throw EventValidationError(field: "key", problem: "must not be empty when given") }
            guard key.utf8.count <= 1024 else {
                throw EventValidationError(field: "key", problem: "is \(key.utf8.count) bytes; the limit is 1024")
            }
        }
    }

    private static func checkName(_ value: String, field: String) throws(EventValidationError) {
        guard !value.isEmpty else { throw EventValidationError(field: field, problem: "must not be empty") }
        guard value.utf8.count <= 128 else {
            throw EventValidationError(field: field, problem: "is longer than 128 bytes")
        }
        let allowed = value.unicodeScalars.allSatisfy { scalar in
            scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "._-:/".unicodeScalars.contains(scalar)
        }
        guard allowed else {
            throw EventValidationError(
                field: field, problem: "\"\(value)\" may contain only letters, digits and . _ - : /")
        }
    }
}

/// A field of an incoming event that cannot be accepted.
public struct EventValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let problem: String
    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }
    public var description: String { "event \(field) \(problem)" }
}

/// What the journal did with one appended event.
public struct AppendOutcome: Sendable, Hashable, Codable {
    /// The id of the stored event (the earlier one when this was a duplicate).
    public var id: Int64
    /// `true` when an event with the same key was already in the journal; nothing new was stored.
    public var duplicate: Bool

    public init(id: Int64, duplicate: Bool) {
        self.id = id
        self.duplicate = duplicate
    }
}

/// Which events to read back.
public struct EventQuery: Sendable, Hashable {
    /// Only events with an id greater than this.
    public var afterID: Int64
    public var limit: Int
    public var source: String?
    public var kind: String?
    /// Newest first instead of oldest first.
    public var newestFirst: Bool

    public init(afterID: Int64 = 0, limit: Int = 100, source: String? = nil, kind: String? = nil, newestFirst: Bool = false) {
        self.afterID = afterID
        self.limit = limit
        self.source = source
        self.kind = kind
        self.newestFirst = newestFirst
    }
}

/// The durable, append-only record of everything Hearth has seen.
///
/// An append returns only after the events are durable; callers acknowledge nothing before that.
public protocol EventJournal: Sendable {
    /// Appends events in one transaction, in order; duplicates (by key) are reported, not stored.
    func append(_ events: [NewEvent]) async throws -> [AppendOutcome]
    /// Reads events back in id order.
    func events(_ query: EventQuery) async throws -> [Event]
    /// Which of these keys are already in the journal (triggers use it to skip work already done).
    func existingKeys(_ keys: [String]) async throws -> Set<String>
}

extension EventJournal {
    /// Appends one event.
    public func append(_ event: NewEvent) async throws -> AppendOutcome {
        try await append([event])[0]
    }
}
