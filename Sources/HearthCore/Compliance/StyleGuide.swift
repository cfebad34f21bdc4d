import Foundation

/// The rules of an engineering style guide that code can apply to a remediation text and check
/// afterwards, read from the guide's own words whatever its layout (numbered or bulleted rules,
/// or plain sentences): a word limit, one sentence, how an article is cited, a fixed lead, a
/// closing line naming the owner, words never to use, the imperative. A rule code cannot apply is
/// kept and listed as such (`unapplied`), never silently dropped.
public struct StyleGuide: Sendable, Equatable {
    /// Every rule as written.
    public var rules: [String]
    /// The most words a change's sentence may have.
    public var maxWords: Int?
    /// A change is one sentence.
    public var oneSentence = false
    /// How a rule is cited, `{article}` standing for its number: "(Regulation, Article {article})".
    public var citation: String?
    /// A fixed lead every text starts with ("Action:").
    public var prefix: String?
    /// A closing line naming who owns the change ("Owner: the team named in the spec.").
    public var owner: String?
    /// Words a text must not use (lowercased).
    public var banned: [String] = []
    /// A text starts with a verb in the imperative.
    public var imperative = false
    /// The positions in `rules` of the rules code applies.
    public var applied: Set<Int> = []

    public init(rules: [String]) { self.rules = rules }

    /// What Hearth follows without a guide: the imperative, the article cited, numerals with units
    /// and the owner named.
    public static let defaults: StyleGuide = {
        var guide = StyleGuide(rules: [])
        guide.citation = "(Regulation, Article {article})"
        guide.owner = "Owner: the team named in the spec."
        guide.imperative = true
        guide.oneSentence = true
        return guide
    }()

    /// The rules code does not apply, as written (for the reader to check by hand).
    public var unapplied: [String] { rules.indices.filter { !applied.contains($0) }.map { rules[$0] } }

    /// Reads a guide's rules from its markdown.
    public static func read(_ markdown: String) -> StyleGuide {
        var guide = StyleGuide(rules: Self.rules(in: markdown))
        for (index, rule) in guide.rules.enumerated() where guide.learn(from: rule) {
            guide.applied.insert(index)
        }
        return guide
    }

    /// The list items of the guide (a continuation line joins its item), or, without a list, the
    /// sentences of its paragraphs; headings are not rules.
    static func rules(in markdown: String) -> [String] {
        var items: [String] = []
        var prose: [String] = []
        var inItem = false
        for raw in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("```") {
                inItem = false
                continue
            }
            if let marker = line.firstMatch(of: /^(?:[-*+]|\d{1,3}[.)])\s+/) {
                items.append(String(line[marker.range.upperBound...]))
                inItem = true
            } else if inItem, raw.first?.isWhitespace == true, !items.isEmpty {
                items[items.count - 1] += " " + line
            } else {
                inItem = false
                prose.append(line)
            }
        }
        if !items.isEmpty { return items }
        return sentences(prose.joined(separator: " "))
    }

    /// Sentences: a split after ".", "!" or "?" where the next word starts with a capital or a quote.
    static func sentences(_ text: String) -> [String] {
        var sentences: [String] = []
        var current = ""
        var characters = text.makeIterator()
        var pending: Character? = characters.next()
        while let character = pending {
            current.append(character)
            pending = characters.next()
            guard ".!?".contains(character), pending?.isWhitespace == true else { continue }
            var spaces = ""
            while let next = pending, next.isWhitespace {
                spaces.append(next)
                pending = characters.next()
            }
            if let next = pending, next.isUppercase || "\"“".contains(next) {
                sentences.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current += spaces
            }
        }
        let last = current.trimmingCharacters(in: .whitespaces)
        if !last.isEmpty { sentences.append(last) }
        return sentences
    }

    /// Takes what code can apply from one rule; whether it found anything.
    mutating func learn(from rule: String) -> Bool {
        let lowered = rule.lowercased()
        var learned = false
        if let limit = Self.wordLimit(lowered) {
            maxWords = min(maxWords ?? limit, limit)
            learned = true
        }
        if lowered.contains(/\b(one|a single|single)[ -]sentence\b/) {
            oneSentence = true
            learned = true
        }
        if lowered.contains("imperative") || (lowered.contains(/\b(start|begin|lead|open)/) && lowered.contains("verb")) {
            imperative = true
            learned = true
        }
        // Numerals and units: the drafts always write limits as numerals with their unit.
        if lowered.contains(/\b(numerals?|digits)\b/) && !lowered.contains("spell") { learned = true }
        var words: [String] = []
        for quoted in Self.quoted(rule) {
            let text = quoted.trimmingCharacters(in: .whitespaces)
            if citation == nil, let number = text.firstMatch(of: /(?i)(?:article|art\.|§|section|sec\.|clause|paragraph)\s*(\d+)/) {
                let digits = number.output.1
                citation = text.replacingCharacters(in: digits.startIndex..<digits.endIndex, with: "{article}")
                learned = true
            } else if prefix == nil, text.hasSuffix(":"), text.split(separator: " ").count <= 3,
                lowered.contains(/\b(start|begin|open|lead|prefix)/)
            {
                prefix = text
                learned = true
            } else if owner == nil, text.contains(/^[A-Z][A-Za-z ]{0,30}:\s+\S/),
                lowered.contains(/\b(owner|owns|own|responsib\w*|accountab\w*|who)\b/)
            {
                owner = text
                learned = true
            } else if text.split(separator: " ").count <= 3, !text.contains(where: \.isNumber) {
                words.append(text.lowercased())
            }
        }
        if !words.isEmpty, lowered.contains(/\b(no|never|avoid|don't|do not|without|not use|banned|forbidden)\b/) {
            banned += words.filter { !banned.contains($0) }
            learned = true
        }
        return learned
    }

    /// "no more than 30 words", "under 25 words", "30 words or fewer", "at most 40 words".
    static func wordLimit(_ rule: String) -> Int? {
        if let match = rule.firstMatch(
            of:
                /(no more than|not more than|at most|a maximum of|maximum of|max\.?|up to|not exceed(?:ing)?|under|fewer than|less than|below)\s+(\d+)\s+words/
        ),
            let count = Int(match.output.2)
        {
            return ["under", "fewer than", "less than", "below"].contains(String(match.output.1)) ? count - 1 : count
        }
        if let match = rule.firstMatch(of: /(\d+)\s+words\s+(?:or fewer|or less|at most|maximum|max)/), let count = Int(match.output.1) {
            return count
        }
        return nil
    }

    /// The texts a rule quotes ("…", “…” or `…`).
    static func quoted(_ rule: String) -> [String] {
        rule.matches(of: /"([^"]+)"|“([^”]+)”|`([^`]+)`/).compactMap { match in
            (match.output.1 ?? match.output.2 ?? match.output.3).map(String.init)
        }
    }

    /// A remediation text for a change to a rule of `article`: the first of `changes` (imperative
    /// clauses, longest first, without citation or full stop) that keeps every rule, else the
    /// last one drafted with the rules it still breaks.
    public func draft(_ changes: [String], article: Int) -> (text: String, problems: [String]) {
        var last = (text: "", problems: ["nothing to draft"])
        for change in changes {
            var sentence = change
            sentence += " " + (citation ?? "(Article {article})").replacingOccurrences(of: "{article}", with: "\(article)")
            if !sentence.hasSuffix(".") { sentence += "." }
            if let prefix { sentence = prefix + " " + sentence }
            let text = owner.map { sentence + " " + $0 } ?? sentence
            last = (text, problems(in: text, article: article))
            if last.problems.isEmpty { return last }
        }
        return last
    }

    /// The rules `text` breaks, each said in a few words.
    public func problems(in text: String, article: Int) -> [String] {
        var problems: [String] = []
        var change = text.trimmingCharacters(in: .whitespaces)
        if let owner {
            if change.hasSuffix(owner) {
                change = String(change.dropLast(owner.count)).trimmingCharacters(in: .whitespaces)
            } else {
                problems.append("does not end with \"\(owner)\"")
            }
        }
        if let prefix {
            if change.hasPrefix(prefix) {
                change = String(change.dropFirst(prefix.count))
            } else {
                problems.append("does not start with \"\(prefix)\"")
            }
        }
        if let citation {
            let cited = citation.replacingOccurrences(of: "{article}", with: "\(article)")
            if !change.contains(cited) { problems.append("does not cite \(cited)") }
        }
        let words = change.split(whereSeparator: \.isWhitespace).count
        if let maxWords, words > maxWords { problems.append("\(words) words, more than \(maxWords)") }
        if oneSentence, change.trimmingCharacters(in: CharacterSet(charactersIn: ". ")).contains(/[.!?]\s+[A-Z]/) {
            problems.append("more than one sentence")
        }
        let lowered = text.lowercased()
        for word in banned where Self.contains(word: word, in: lowered) { problems.append("uses \"\(word)\"") }
        return problems
    }

    /// Whether `word` stands in `text` as a word (not inside a longer one: "simplify" is not "simply").
    static func contains(word: String, in text: String) -> Bool {
        var searched = text.startIndex
        while let found = text.range(of: word, range: searched..<text.endIndex) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            if !(before?.isLetter ?? false) && !(after?.isLetter ?? false) { return true }
            searched = found.upperBound
        }
        return false
    }

    /// The rules code applies, in a few words each, for the report.
    public var summary: [String] {
        var parts: [String] = []
        if imperative { parts.append("the imperative") }
        if oneSentence { parts.append("one sentence per change") }
        if let maxWords { parts.append("at most \(maxWords) words") }
        if let citation { parts.append("cited as \"\(citation.replacingOccurrences(of: "{article}", with: "N"))\"") }
        if let prefix { parts.append("starting \"\(prefix)\"") }
        if let owner { parts.append("ending \"\(owner)\"") }
        if !banned.isEmpty { parts.append("never " + banned.map { "\"\($0)\"" }.joined(separator: ", ")) }
        return parts
    }
}
