/// Text helpers shared by the store and the retriever, so both see the same words.
public enum MemoryText {
    /// Lower-cased runs of letters and digits, the way SQLite's `unicode61` tokenizer splits them
    /// (apart from diacritics, which only the tokenizer folds).
    public static func words(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
    }

    /// Words joined by single spaces: two texts that differ only in case, spacing or punctuation
    /// normalise to the same string.
    public static func normalise(_ text: String) -> String {
        words(text).joined(separator: " ")
    }

    /// Function words that carry no topic; queries drop them so full-text search stays selective.
    public static let stopWords: Set<String> = [
        "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "of", "to", "in", "on",
        "at", "for", "with", "and", "or", "but", "i", "you", "he", "she", "it", "we", "they", "me", "my", "your", "his",
        "her", "its", "our", "their", "this", "that", "these", "those", "what", "when", "where", "who", "whom", "which",
        "why", "how", "as", "by", "from", "about", "into", "over", "after", "before", "not", "no", "so", "if", "then",
        "than", "too", "very", "can", "could", "would", "should", "will", "just", "have", "has", "had", "s", "t",
    ]

    /// The words of a query worth searching for: stop words dropped, duplicates removed, in order.
    /// Falls back to every word when all are stop words.
    public static func queryTerms(_ text: String, keepStopWords: Bool = false) -> [String] {
        let all = words(text)
        var seen = Set<String>()
        let kept = keepStopWords ? all : all.filter { !stopWords.contains($0) }
        return (kept.isEmpty ? all : kept).filter { seen.insert($0).inserted }
    }

    /// Whether `query` asks for advice — suggestions, recommendations, tips, ideas, "should I…" —
    /// rather than back for something said before ("remind me what you recommended", "you
    /// mentioned…", "in our previous chat…") (English).
    public static func asksForAdvice(_ query: String) -> Bool {
        let words = words(query)
        let pairs = zip(words, words.dropFirst())
        let asksBack =
            words.contains { $0 == "remind" || $0 == "mentioned" || $0 == "discussed" }
            || pairs.contains { ["previous", "earlier", "last"].contains($0) && ["conversation", "chat", "discussion"].contains($1) }
        guard !asksBack else { return false }
        return words.contains(where: adviceWords.contains) || pairs.contains { $0 == "should" && ($1 == "i" || $1 == "we") }
    }

    static let adviceWords: Set<String> = [
        "suggest", "suggestion", "suggestions", "recommend", "recommendation", "recommendations", "tips", "ideas", "advice",
        "advise",
    ]
}
