import Foundation

/// Questions whose answer is a stored fact about the user ("what is my dog called?", "who is my
/// manager?", "where do I live?"), answered from the fact graph without a model: quoted, with
/// when Hearth learned it. A small model cannot be trusted to copy a fact from its context; code can.
public enum FactAnswers {
    public struct Answer: Sendable, Hashable {
        public var text: String
        public var fact: Fact
    }

    /// The slot a question asks about (`user · dog is`), or nil when it is not such a question.
    public static func slot(of question: String) -> (subject: String, predicate: String)? {
        var text = question.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: " ?!.\n"))
        for lead in ["hearth, ", "hey, ", "so ", "and ", "do you remember ", "do you know ", "can you tell me ", "tell me "]
        where text.hasPrefix(lead) {
            text = String(text.dropFirst(lead.count))
        }
        let patterns: [(String, String?)] = [
            (#"^(?:what|who)(?: is|'s| was) my (.+?)(?: called| named| again)?$"#, nil),
            (#"^what(?: is|'s) the name of my (.+)$"#, nil),
            (#"^where do i live$"#, "lives in"),
            (#"^where do i work$"#, "works at"),
            (#"^who do i work for$"#, "works at"),
        ]
        for (pattern, fixed) in patterns {
            guard let range = text.range(of: pattern, options: .regularExpression), range == text.startIndex..<text.endIndex else {
                continue
            }
            if let fixed { return ("user", fixed) }
            guard let regex = try? NSRegularExpression(pattern: pattern),
                let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), match.numberOfRanges > 1,
                let captured = Range(match.range(at: 1), in: text)
            else { continue }
            let thing = String(text[captured]).trimmingCharacters(in: .whitespaces)
            guard !thing.isEmpty, thing.split(separator: " ").count <= 4 else { return nil }
            return ("user", "\(thing) is")
        }
        return nil
    }

    /// The answer from `facts` (active, trusted or confirmed), or nil.
    public static func answer(_ question: String, facts: [Fact]) -> Answer? {
        guard let (subject, predicate) = slot(of: question) else { return nil }
        let wanted = MemoryText.normalise(subject) + "\u{1F}" + MemoryText.normalise(predicate)
        let candidates = facts.filter { $0.status == .active && $0.invalidatedAt == nil && $0.slot == wanted }
        guard let fact = candidates.max(by: { $0.recordedAt < $1.recordedAt }) else { return nil }
        let thing = predicate.hasSuffix(" is") ? String(predicate.dropLast(3)) : predicate
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        let learned = formatter.string(from: fact.recordedAt)
        let text =
            switch predicate {
            case "lives in": "You live in \(fact.object)."
            case "works at": "You work at \(fact.object)."
            default: "Your \(thing) is \(fact.object)."
            }
        return Answer(text: "\(text) (from what you told me on \(learned))", fact: fact)
    }
}
