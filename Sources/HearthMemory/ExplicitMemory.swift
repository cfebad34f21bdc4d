import Foundation
import HearthCore

/// "remember that …" and "forget …", recognised without a model.
public enum MemoryInstruction: Sendable, Hashable {
    case remember(String)
    case forget(String)

    /// Recognises an explicit instruction at the start of a message ("Please remember that my
    /// dentist is Dr. Lee", "forget about the Lisbon trip"); nil for anything else.
    public static func parse(_ message: String) -> MemoryInstruction? {
        var text = message.trimmingCharacters(in: .whitespacesAndNewlines)
        for prefix in ["hearth,", "hearth:", "please", "can you", "could you"] where text.lowercased().hasPrefix(prefix) {
            text = String(text.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        }
        let lower = text.lowercased()
        func rest(after prefixes: [String]) -> String? {
            for prefix in prefixes where lower.hasPrefix(prefix) {
                let remainder = String(text.dropFirst(prefix.count)).trimmingCharacters(in: CharacterSet(charactersIn: " :,.!?"))
                return remainder.isEmpty ? nil : remainder
            }
            return nil
        }
        if let body = rest(after: ["remember that ", "remember: ", "remember "]) { return .remember(body) }
        if let body = rest(after: ["forget that ", "forget about ", "forget everything about ", "forget: ", "forget "]) {
            return .forget(body)
        }
        return nil
    }
}

/// Turns a remembered sentence into fact statements with a few fixed patterns.
public enum StatementPatterns {
    public static func statements(in sentence: String, provenance: Provenance, sourceRecordID: Int64?) -> [FactStatement] {
        let text = sentence.trimmingCharacters(in: CharacterSet(charactersIn: " .!"))
        let lower = text.lowercased()
        func make(_ kind: FactKind, _ subject: String, _ predicate: String, _ object: String, negated: Bool = false) -> [FactStatement] {
            var object = object.trimmingCharacters(in: .whitespaces)
            // "my dog is called Biscuit": the name is the value.
            for lead in ["called ", "named "] where object.lowercased().hasPrefix(lead) && predicate.hasSuffix(" is") {
                object = String(object.dropFirst(lead.count))
            }
            guard !object.isEmpty else { return [] }
            let fact = Fact(
                kind: kind, subject: subject, predicate: predicate, object: object, sourceRecordID: sourceRecordID,
                provenance: provenance, confidence: 1, status: provenance == .trusted ? .active : .pending)
            return [FactStatement(fact: fact, negated: negated)]
        }
        func after(_ prefix: String) -> String? {
            lower.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : nil
        }
        if let object = after("i no longer like ") ?? after("i do not like anymore ") {
            return make(.preference, "user", "likes", object, negated: true)
        }
        for (prefix, predicate) in [
            ("i prefer ", "prefers"), ("i like ", "likes"), ("i love ", "likes"), ("i don't like ", "dislikes"),
            ("i dislike ", "dislikes"), ("i hate ", "dislikes"),
        ] {
            if let object = after(prefix) { return make(.preference, "user", predicate, object) }
        }
        for (prefix, predicate) in [
            ("i live in ", "lives in"), ("i work at ", "works at"), ("i work for ", "works at"), ("i am ", "is"), ("i'm ", "is"),
        ] {
            if let object = after(prefix) { return make(.fact, "user", predicate, object) }
        }
        if StandingRule.isExplicit(text) { return make(.rule, "user", "rule", StandingRule.body(text)) }
        // "Ann Lee is my manager": the same slot as "my manager is Ann Lee".
        if let match = text.range(of: #"^(.+?) is my (.+)$"#, options: [.regularExpression, .caseInsensitive]),
            match.lowerBound == text.startIndex,
            let split = text.range(of: " is my ", options: .caseInsensitive)
        {
            return make(.fact, "user", String(text[split.upperBound...]) + " is", String(text[..<split.lowerBound]))
        }
        // "The NextGen cloud budget is 5,000 a month": a bound the attention scorer checks metrics against.
        if let split = text.range(of: " budget is ", options: .caseInsensitive), !lower.hasPrefix("my ") {
            var owner = String(text[..<split.lowerBound])
            for article in ["the ", "our ", "The ", "Our "] where owner.hasPrefix(article) {
                owner = String(owner.dropFirst(article.count))
            }
            return make(.fact, owner, "budget is", String(text[split.upperBound...]))
        }
        if let match = lower.range(of: #"^my (.+?) (is|are) (.+)$"#, options: .regularExpression), match.lowerBound == lower.startIndex {
            let words = text.dropFirst(3)
            for verb in [" is ", " are "] {
                if let split = words.range(of: verb) {
                    return make(
                        .fact, "user", String(words[..<split.lowerBound]) + verb.trimmingCharacters(in: .whitespaces).prepending(" "),
                        String(words[split.upperBound...]))
                }
            }
        }
        // "We use Postgres 16 for billing", "spreadsheets use EUR": knowledge, not a standing rule.
        for verb in [" use ", " uses "] {
            if let split = text.range(of: verb) {
                return make(
                    .fact, String(text[..<split.lowerBound]), verb.trimmingCharacters(in: .whitespaces), String(text[split.upperBound...]))
            }
        }
        return []
    }
}

/// A standing rule said as such: "always …", "never …", "from now on …", "as a rule …",
/// "rule: …", "you should/must …" (said to the agent). Ordinary notes that merely contain
/// "should" or "must" ("the report should be short", "we must ship by Friday") are not rules:
/// a rule enters every prompt, so it is only ever what the user said as one.
public enum StandingRule {
    static let openings = [
        "always ", "never ", "from now on ", "from now on, ", "as a rule ", "as a rule, ", "rule: ", "my rule is ", "a standing rule: ",
        "you should always ", "you should never ", "you must always ", "you must never ", "you should ", "you must ", "hearth should ",
        "hearth must ", "make sure to always ", "make sure you always ", "make sure you never ", "do not ever ", "don't ever ",
        "i always want ", "i never want ", "in future ", "in future, ", "going forward ", "going forward, ",
        // Standing instructions about attention: what to interrupt for, what never to.
        "tell me at once ", "tell me immediately ", "tell me right away ", "alert me ", "interrupt me ", "notify me ", "ping me ",
        "let me know at once ", "let me know immediately ", "let me know right away ", "don't bother me ", "do not bother me ",
        "don't interrupt me ", "do not interrupt me ",
    ]

    public static func isExplicit(_ sentence: String) -> Bool {
        let lower = stripped(sentence).lowercased()
        return openings.contains { lower.hasPrefix($0) }
    }

    /// The rule as stored: the sentence without a leading "please", and without "rule:" labels.
    static func body(_ sentence: String) -> String {
        var text = stripped(sentence)
        for label in ["rule: ", "a standing rule: ", "my rule is "] where text.lowercased().hasPrefix(label) {
            text = String(text.dropFirst(label.count))
        }
        return text
    }

    static func stripped(_ sentence: String) -> String {
        var text = sentence.trimmingCharacters(in: .whitespaces)
        for prefix in ["please, ", "please ", "hearth, ", "hearth: "] where text.lowercased().hasPrefix(prefix) {
            text = String(text.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        }
        return text
    }
}

/// What an explicit instruction did.
public struct InstructionOutcome: Sendable, Hashable {
    public var remembered: MemoryRecord?
    public var learned = LearnReport()
    public var forgotten = MemoryRemoval()
    public var factsForgotten: [Int64] = []
}

extension MemoryEngine {
    /// Carries out "remember that …" / "forget …" found in a message; nil when there is none.
    ///
    /// Untrusted messages may be remembered as records, but their statements stay pending, and they
    /// can never make Hearth forget anything.
    public func handleInstruction(in message: String, source: String, provenance: Provenance, sessionID: String? = nil)
        async throws -> InstructionOutcome?
    {
        guard let instruction = MemoryInstruction.parse(message) else { return nil }
        var outcome = InstructionOutcome()
        switch instruction {
        case .remember(let body):
            let record = MemoryRecord(
                kind: .note, text: body, source: source, provenance: provenance, occurredAt: clock.now(), recordedAt: clock.now(),
                sessionID: sessionID, speaker: "user", importance: 0.9)
            let stored = try await remember([record])[0]
            outcome.remembered = stored
            outcome.learned = try await learn(StatementPatterns.statements(in: body, provenance: provenance, sourceRecordID: stored.id))
        case .forget(let body):
            guard provenance == .trusted else { return outcome }
            let records = try await recordsMatchingAll(body)
            outcome.forgotten = try await forget(ids: records.map(\.id))
            let facts = try await store.facts(FactQuery(statuses: [.active, .pending], mentioning: body, includeInvalidated: true))
            _ = try await store.deleteFacts(ids: facts.map(\.id))
            outcome.factsForgotten = facts.map(\.id)
            try await factsChanged()
        }
        return outcome
    }
}

extension String {
    fileprivate func prepending(_ prefix: String) -> String { prefix + self }
}
