import Foundation
import HearthCore

/// The part of the profile a prompt carries: the entries most relevant to the task first, within
/// a token budget, so a long profile never swamps a small model's context or slows every step.
public struct ProfileSelection: Sendable, Hashable {
    /// The lines a prompt carries, best first.
    public var lines: [String]
    /// Estimated tokens of those lines.
    public var tokens: Int
    /// Entries of the whole profile, and their estimated tokens.
    public var totalEntries: Int
    public var totalTokens: Int

    /// Rough tokens of a text for English prose (about four characters a token), plus one for the line.
    public static func estimatedTokens(_ text: String) -> Int { (text.utf8.count + 3) / 4 + 1 }

    /// Chooses lines for `query` within `budget` tokens.
    ///
    /// Order: entries sharing (stemmed) words with the query first, more shared words before
    /// fewer; then standing rules before preferences; then the newest. An entry that does not
    /// fit is skipped and smaller ones after it may still fit.
    public static func select(_ facts: [Fact], for query: String, budget: Int) -> ProfileSelection {
        let queryWords = Set(MemoryText.queryTerms(query).map(Stemmer.stem))
        let ranked = facts.map { fact -> (fact: Fact, line: String, shared: Int) in
            let line = "\(fact.subject) \(fact.predicate) \(fact.object)"
            let words = Set(MemoryText.queryTerms(line).map(Stemmer.stem)).subtracting(["user", "rule", "prefer", "like"])
            return (fact, line, words.intersection(queryWords).count)
        }.sorted { a, b in
            if a.shared != b.shared { return a.shared > b.shared }
            if a.fact.kind != b.fact.kind { return a.fact.kind == .rule }
            if a.fact.recordedAt != b.fact.recordedAt { return a.fact.recordedAt > b.fact.recordedAt }
            return a.fact.id < b.fact.id
        }
        var lines: [String] = []
        var used = 0
        for entry in ranked {
            let cost = estimatedTokens(entry.line)
            if used + cost > budget { continue }
            lines.append(entry.line)
            used += cost
        }
        return ProfileSelection(
            lines: lines, tokens: used, totalEntries: facts.count, totalTokens: ranked.reduce(0) { $0 + estimatedTokens($1.line) })
    }
}
