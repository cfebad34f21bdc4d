import Foundation

/// The passage of a long memory that is about a question.
///
/// A recalled memory can be a 2,000-token answer of which one paragraph matters; carried whole it
/// would push every other memory out of the turn's budget. A memory longer than the limit is cut
/// to its sentences that share the most words with the question, with their neighbours, in
/// their order, "…" marking what was left out. Shorter memories are kept whole.
///
///     Excerpt.passage(of: longAnswer, about: "which beer for the seco de cordero?", maxTokens: 160)
///     // ("… A light lager or a pale ale works best for the seco de cordero; … ", whole: false)
public enum Excerpt {
    /// `text` whole when it fits `maxTokens` (`ChatContext.tokens`), else its best passage of at
    /// most `passageTokens` (by default `maxTokens`).
    public static func passage(of text: String, about query: String, maxTokens: Int, passageTokens: Int? = nil) -> (
        text: String, whole: Bool
    ) {
        guard ChatContext.tokens(text) > maxTokens, maxTokens > 0 else { return (text, true) }
        let maxTokens = max(8, min(passageTokens ?? maxTokens, maxTokens))
        let sentences = split(text)
        let wanted = Set(MemoryText.queryTerms(query).map(stem))
        let scores = sentences.map { sentence in
            Set(MemoryText.words(sentence).map(stem)).intersection(wanted).count
        }
        // The best sentence (the earliest of equals), then its neighbours, the following first,
        // while they fit.
        let best = scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) } ?? 0
        let budget = maxTokens - 2
        var first = best
        var last = best
        var used = ChatContext.tokens(sentences[best])
        if used > budget {
            return ((best > 0 ? "… " : "") + String(sentences[best].prefix(utf8Bytes: budget * 4)) + " …", false)
        }
        var grew = true
        while grew {
            grew = false
            for candidate in [last + 1, first - 1] where sentences.indices.contains(candidate) {
                let cost = ChatContext.tokens(sentences[candidate]) + 1
                guard used + cost <= budget else { continue }
                used += cost
                if candidate > last { last = candidate } else { first = candidate }
                grew = true
            }
        }
        let body = sentences[first...last].joined(separator: " ")
        return ((first > 0 ? "… " : "") + body + (last < sentences.count - 1 ? " …" : ""), false)
    }

    /// Sentences and lines, trimmed, none empty.
    static func split(_ text: String) -> [String] {
        var sentences: [String] = []
        var current = ""
        var previous: Character = " "
        for character in text {
            if character.isNewline {
                sentences.append(current)
                current = ""
            } else if character == " " && [".", "!", "?"].contains(previous) {
                sentences.append(current)
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        sentences.append(current)
        let kept = sentences.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return kept.isEmpty ? [text] : kept
    }

    /// A crude stem (the first five letters) so "recipes" meets "recipe" without a stemmer here.
    static func stem(_ word: String) -> Substring { word.prefix(5) }
}
