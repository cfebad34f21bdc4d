import Foundation

/// A model-written summary of a session's older turns, kept with the session: the context
/// carries it in place of those turns. It is rolled forward — the last summary and the turns
/// that aged since are rewritten into a new one — so it never grows with the session.
public struct ChatSummary: Sendable, Hashable {
    public var text: String
    /// The last memory record it covers; the session's turns after it are not in it.
    public var through: Int64
    /// How many turns it covers.
    public var turns: Int
    public var writtenAt: Date

    public init(text: String, through: Int64, turns: Int, writtenAt: Date) {
        self.text = text
        self.through = through
        self.turns = turns
        self.writtenAt = writtenAt
    }
}

/// When a session's summary is rewritten, what the model is asked, and what of its answer is kept
/// — decisions without I/O.
public enum SessionSummary {
    public struct Turn: Sendable, Hashable {
        public var id: Int64
        public var speaker: String
        public var text: String
        public init(id: Int64, speaker: String, text: String) {
            self.id = id
            self.speaker = speaker
            self.text = text
        }
    }

    /// The turns to fold into a new summary, oldest first, or nil when it is not yet time: turns
    /// older than the `recent` latest (which the context carries verbatim) that the summary does
    /// not cover yet, once there are at least `every` of them.
    public static func due(_ turns: [Turn], summary: ChatSummary?, recent: Int, every: Int) -> [Turn]? {
        let aged = turns.dropLast(recent).filter { $0.id > (summary?.through ?? 0) }
        return aged.count >= max(1, every) ? Array(aged) : nil
    }

    static let instructions = """
        You keep the notes of a conversation between a user and their assistant. Rewrite the notes so they also cover \
        the new turns: what the user asked for, decided and told, and what was agreed or left open. Keep names, numbers \
        and dates exactly as said. Plain sentences, at most 120 words. Write only the notes.
        """

    /// The request for a new summary: the current one and the turns to fold in, each turn cut to
    /// `turnCharacters` and the oldest left out past `inputTokens` (the next summary covers them
    /// no more: they stay in memory, where recall finds them).
    public static func request(previous: String?, turns: [Turn], maxTokens: Int = 200, inputTokens: Int = 1_500, turnCharacters: Int = 600)
        -> ChatRequest
    {
        var lines: [String] = []
        var used = ChatContext.tokens(previous ?? "")
        for turn in turns.reversed() {
            let text = turn.text.count > turnCharacters ? String(turn.text.prefix(turnCharacters)) + "…" : turn.text
            let line = "\(turn.speaker): \(text)"
            used += ChatContext.tokens(line)
            if used > inputTokens && !lines.isEmpty { break }
            lines.insert(line, at: 0)
        }
        let input = "Notes so far:\n\(previous ?? "(none yet)")\n\nNew turns:\n" + lines.joined(separator: "\n")
        return ChatRequest(messages: [.system(instructions), .user(input)], temperature: 0.1, maxTokens: maxTokens)
    }

    /// The model's summary as kept, or why it is not: empty, repeating itself, unreadable, or cut
    /// off by its token limit mid-sentence. A refused summary leaves the old one in place.
    public static func accept(_ content: String, finishReason: String?) -> Result<String, Refusal> {
        let text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return .failure(.empty) }
        if finishReason == "repetition" || Repetition.isDegenerate(text) { return .failure(.repeating) }
        if Repetition.isUnreadable(text) { return .failure(.unreadable) }
        if finishReason == "length" {
            // Cut at its token limit: keep the whole sentences.
            guard let end = text.lastIndex(where: { ".!?".contains($0) }) else { return .failure(.cutOff) }
            return .success(String(text[...end]))
        }
        return .success(text)
    }

    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case empty, repeating, unreadable, cutOff
        public var description: String {
            switch self {
            case .empty: "the model wrote nothing"
            case .repeating: "the model's summary kept repeating itself"
            case .unreadable: "the model's summary was not readable text"
            case .cutOff: "the model's summary was cut off before its first sentence ended"
            }
        }
    }
}
