import Foundation

/// How much of the user's attention an event deserves.
///
/// `interrupt` is delivered at once and kept in the inbox until acknowledged; `digest` waits for
/// the next brief; `log` is remembered and counted in the brief's "suppressed" section, never shown
/// on its own. Ordered by urgency.
public enum AttentionLevel: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case log
    case digest
    case interrupt

    private var rank: Int {
        switch self {
        case .log: 0
        case .digest: 1
        case .interrupt: 2
        }
    }

    public static func < (lhs: AttentionLevel, rhs: AttentionLevel) -> Bool { lhs.rank < rhs.rank }
}

/// One signal that moved an event's score, and by how much: the explanation users and the
/// benchmark read ("sender is your manager +0.25").
public struct AttentionReason: Sendable, Hashable, Codable {
    /// A stable name: `sender.role`, `mail.bulk`, `urgency.subject`, `duplicate`, `burst`, …
    public var signal: String
    /// What it added to the score (negative lowers it); 0 for routing decisions (cap, quiet hours).
    public var weight: Double
    public var detail: String

    public init(signal: String, weight: Double, detail: String) {
        self.signal = signal
        self.weight = weight
        self.detail = detail
    }
}

/// What the scorer decided about one event, stored with it.
public struct AttentionDecision: Sendable, Hashable, Codable {
    public var level: AttentionLevel
    /// The sum of the signals' weights, clamped to 0…1.
    public var score: Double
    /// 0.5 at a threshold, 1 far from both.
    public var confidence: Double
    public var reasons: [AttentionReason]
    /// Items with the same cluster are one item in the inbox and the brief: one incident, one
    /// burst of saves, one metric series.
    public var cluster: String
    /// The event that opened this item's cluster, when this one only repeats it.
    public var duplicateOf: Int64?
    /// The one line the inbox and the brief show.
    public var headline: String
    public var category: AttentionSubject.Category
    /// Why the item was kept below its score's level (`duplicate`, `burst`, `quiet hours`,
    /// `interruption cap`), or nil.
    public var suppressedBy: String?

    public init(
        level: AttentionLevel, score: Double, confidence: Double, reasons: [AttentionReason], cluster: String,
        duplicateOf: Int64? = nil, headline: String, category: AttentionSubject.Category, suppressedBy: String? = nil
    ) {
        self.level = level
        self.score = score
        self.confidence = confidence
        self.reasons = reasons
        self.cluster = cluster
        self.duplicateOf = duplicateOf
        self.headline = headline
        self.category = category
        self.suppressedBy = suppressedBy
    }
}
