import Foundation

/// Where a fact stands in the system.
public enum FactStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Believed and used.
    case active
    /// Derived from untrusted content: held back until the user confirms it.
    case pending
    /// The user rejected it; kept for the record, never used.
    case rejected
}

/// What kind of statement a fact is.
public enum FactKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Something true about the world or the user ("Alice — lives in — Lisbon").
    case fact
    /// How the user likes things done ("user — prefers — tea over coffee").
    case preference
    /// A standing instruction ("spreadsheets — use — EUR with a comma decimal").
    case rule

    /// Preferences and rules make up the profile the agent always carries.
    public var isProfile: Bool { self != .fact }
}

/// A (subject, predicate, object) statement with bi-temporal validity.
///
/// World time: `validFrom`/`validTo` say when the statement holds. System time: `recordedAt` is
/// when Hearth learned it, `invalidatedAt` when a newer statement superseded it. Nothing is deleted
/// by contradiction, so "what did Hearth believe on date D about what was true on date W" is a
/// query (`FactQuery.asOf`).
public struct Fact: Sendable, Hashable, Codable {
    public var id: Int64
    public var kind: FactKind
    public var subject: String
    public var predicate: String
    public var object: String
    public var validFrom: Date?
    public var validTo: Date?
    public var recordedAt: Date
    public var invalidatedAt: Date?
    /// The fact that superseded this one.
    public var invalidatedBy: Int64?
    /// The memory record it was learned from.
    public var sourceRecordID: Int64?
    public var provenance: Provenance
    public var confidence: Double
    public var status: FactStatus

    public init(
        id: Int64 = 0, kind: FactKind = .fact, subject: String, predicate: String, object: String, validFrom: Date? = nil,
        validTo: Date? = nil, recordedAt: Date = Date(), invalidatedAt: Date? = nil, invalidatedBy: Int64? = nil,
        sourceRecordID: Int64? = nil, provenance: Provenance, confidence: Double = 1, status: FactStatus = .active
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.predicate = predicate
        self.object = object
        self.validFrom = validFrom
        self.validTo = validTo
        self.recordedAt = recordedAt
        self.invalidatedAt = invalidatedAt
        self.invalidatedBy = invalidatedBy
        self.sourceRecordID = sourceRecordID
        self.provenance = provenance
        self.confidence = confidence
        self.status = status
    }

    /// "subject predicate object", as shown to users and models.
    public var sentence: String { "\(subject) \(predicate) \(object)" }

    /// Subject and predicate, normalised: two active facts with the same slot contradict unless
    /// their objects agree (a slot holds one value at a time, e.g. "user · lives in").
    public var slot: String { MemoryText.normalise(subject) + "\u{1F}" + MemoryText.normalise(predicate) }

    /// Whether Hearth believed this fact at system time `known` about world time `world`.
    public func holds(at world: Date, asKnownAt known: Date) -> Bool {
        guard status == .active else { return false }
        if recordedAt > known { return false }
        if let invalidatedAt, invalidatedAt <= known { return false }
        if let validFrom, validFrom > world { return false }
        if let validTo, validTo <= world { return false }
        return true
    }
}
