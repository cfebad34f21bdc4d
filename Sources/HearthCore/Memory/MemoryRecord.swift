import Foundation

/// What a memory record remembers.
public enum MemoryKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// One turn of a conversation (the user's or the assistant's).
    case turn
    /// An event from the journal (a file changed, a mail arrived).
    case event
    /// What a tool returned.
    case toolResult
    /// What a run did, written when it ends.
    case runSummary
    /// Something the user asked Hearth to remember.
    case note
    /// A consolidation summary of older records.
    case summary
    /// A passage of a document the user gave Hearth (a regulation's requirement, with its page).
    case document
}

/// One episodic memory: a turn, event, tool result or summary, with where it came from.
///
/// `id` is assigned by the store (0 until then). `sessionID` groups records that belong together
/// (a conversation session, a mail thread); neighbours in a session give each record its context.
public struct MemoryRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var kind: MemoryKind
    public var text: String
    /// Who or what produced it: `chat`, `maildir`, `watcher`, a benchmark conversation's name.
    public var source: String
    public var provenance: Provenance
    /// When it happened in the world.
    public var occurredAt: Date
    /// When Hearth stored it.
    public var recordedAt: Date
    public var sessionID: String?
    public var runID: Int64?
    /// Who said it, for turns (`user`, `assistant`, a participant's name).
    public var speaker: String?
    /// 0…1; weighs the record in retrieval and protects it from consolidation caps.
    public var importance: Double

    public init(
        id: Int64 = 0, kind: MemoryKind, text: String, source: String, provenance: Provenance, occurredAt: Date,
        recordedAt: Date = Date(), sessionID: String? = nil, runID: Int64? = nil, speaker: String? = nil,
        importance: Double = 0.5
    ) {
        self.id = id
        self.kind = kind
        self.text = text
        self.source = source
        self.provenance = provenance
        self.occurredAt = occurredAt
        self.recordedAt = recordedAt
        self.sessionID = sessionID
        self.runID = runID
        self.speaker = speaker
        self.importance = importance
    }

    /// The speaker of the user's own turns in a conversation.
    public static let userSpeaker = "user"

    /// The text as embedded and shown in context: prefixed by its speaker when there is one.
    public var spokenText: String { Self.spoken(text, by: speaker) }

    /// `speaker: text`, or the text alone when there is no speaker.
    public static func spoken(_ text: String, by speaker: String?) -> String {
        guard let speaker, !speaker.isEmpty else { return text }
        return "\(speaker): \(text)"
    }
}

/// Which records a search or a deletion may touch. Empty sets and nil bounds mean "any".
public struct MemoryFilter: Sendable, Hashable, Codable {
    public var kinds: Set<MemoryKind>
    public var sources: Set<String>
    public var provenance: Provenance?
    public var occurredFrom: Date?
    public var occurredBefore: Date?
    public var sessionIDs: Set<String>

    public init(
        kinds: Set<MemoryKind> = [], sources: Set<String> = [], provenance: Provenance? = nil, occurredFrom: Date? = nil,
        occurredBefore: Date? = nil, sessionIDs: Set<String> = []
    ) {
        self.kinds = kinds
        self.sources = sources
        self.provenance = provenance
        self.occurredFrom = occurredFrom
        self.occurredBefore = occurredBefore
        self.sessionIDs = sessionIDs
    }

    public static let any = MemoryFilter()

    public func admits(_ record: MemoryRecord) -> Bool {
        if !kinds.isEmpty && !kinds.contains(record.kind) { return false }
        if !sources.isEmpty && !sources.contains(record.source) { return false }
        if let provenance, record.provenance != provenance { return false }
        if let occurredFrom, record.occurredAt < occurredFrom { return false }
        if let occurredBefore, record.occurredAt >= occurredBefore { return false }
        if !sessionIDs.isEmpty && !sessionIDs.contains(record.sessionID ?? "") { return false }
        return true
    }
}

/// Why a record was retrieved: each signal that ranked it, with its rank in that signal's list.
public enum MatchReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Full-text (BM25) match on the record's own words.
    case keywords(rank: Int, terms: [String])
    /// Full-text match on the record together with its neighbours in the session.
    case contextKeywords(rank: Int)
    /// Vector similarity of the record's text.
    case meaning(rank: Int, similarity: Double)
    /// Vector similarity of the record with its neighbours.
    case contextMeaning(rank: Int, similarity: Double)
    /// Its session as a whole matches the query.
    case session(rank: Int)
    /// It was said by, or mentions, someone the query names.
    case entity(String)
    /// It is linked to a fact about an entity the query names.
    case fact(String)
    /// Recent or important records get a small lift.
    case recency(days: Double)
    case importance(Double)
    /// It happened during a time the query names ("last week").
    case during(String)
    /// The user said it in the conversation recall centres on, and the query asks for advice.
    case ownWords
    /// The user said it, and the query asks for advice (a small lift).
    case userForAdvice

    public var description: String {
        switch self {
        case .keywords(let rank, let terms): "keywords #\(rank + 1) (\(terms.joined(separator: ", ")))"
        case .contextKeywords(let rank): "keywords in context #\(rank + 1)"
        case .meaning(let rank, let similarity): "meaning #\(rank + 1) (cosine \(String(format: "%.2f", similarity)))"
        case .contextMeaning(let rank, let similarity):
            "meaning in context #\(rank + 1) (cosine \(String(format: "%.2f", similarity)))"
        case .session(let rank): "session #\(rank + 1)"
        case .entity(let name): "about \(name)"
        case .fact(let fact): "fact: \(fact)"
        case .recency(let days): String(format: "recent (%.0f days)", days)
        case .importance(let value): String(format: "importance %.2f", value)
        case .during(let phrase): "during \"\(phrase)\""
        case .ownWords: "the user's words in the conversation recalled"
        case .userForAdvice: "the user's words, for advice"
        }
    }
}

/// One search result.
public struct MemoryHit: Sendable, Hashable, Codable {
    public var record: MemoryRecord
    public var score: Double
    public var reasons: [MatchReason]

    public init(record: MemoryRecord, score: Double, reasons: [MatchReason]) {
        self.record = record
        self.score = score
        self.reasons = reasons
    }
}
