import Foundation
import HearthCore

/// What a goal asks for, when it has one of the shapes Hearth plans with code: work over the
/// files of a folder (or named files) — summarise them, list their open questions, to-dos,
/// dates, amounts, links or e-mail addresses — search for a text, or compare two documents.
///
/// The parser reads the goal's words and the workspace's file list, never the answers. It
/// claims a goal only when it understands all of it: a goal that also asks to write, send,
/// move or change something is left to the model planner, so no part of it is dropped.
public struct GoalShape: Sendable, Hashable {
    /// Items found by code (the `extract_items` tool's kinds).
    public enum Item: String, Sendable, Hashable, CaseIterable {
        case questions, todos, dates, amounts, links, emails
    }

    /// Workspace globs the per-file work fans out over (a folder's files, or one named file each).
    public var targets: [String]
    public var summarise: Bool
    public var items: [Item]
    /// The text to search for.
    public var search: String?
    /// Two documents to compare (older, newer).
    public var compare: [String]?

    public init(targets: [String] = [], summarise: Bool = false, items: [Item] = [], search: String? = nil, compare: [String]? = nil) {
        self.targets = targets
        self.summarise = summarise
        self.items = items
        self.search = search
        self.compare = compare
    }

    /// The shapes, in words, for messages that suggest rewording a goal.
    public static let examples = [
        "Summarise each file in Notes/", "List the open questions and TODOs in Notes/", "Find the dates and amounts in Invoices/",
        "Search Notes/ for \"budget\"", "Compare Drafts/v1.md with Drafts/v2.md",
    ]

    /// The shape of `goal` over a workspace holding `files` (relative paths), or nil when the
    /// goal is not (entirely) one of the shapes.
    public static func parse(_ goal: String, files: [String]) -> GoalShape? {
        let text = goal.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.count <= 400 else { return nil }
        let lower = text.lowercased()
        let references = References(goal: text, files: files)
        guard !asksForMore(lower) else { return nil }

        var shape = GoalShape()
        if let pair = comparedPair(text, references: references) {
            shape.compare = pair
            return shape
        }
        shape.summarise = has(
            lower,
            [
                #"\bsumm?ar(?:y|ies|ise|ize|ised|ized|ising|izing)\b"#, #"\bsum(?:s|med)? (?:it |them )?up\b"#, #"\btl;?dr\b"#,
                #"\boverviews?\b"#, #"\bgist\b"#, #"\brecaps?\b"#, #"\b(?:key|main) points\b"#,
                #"\bwhat (?:each|every|it|they) (?:is|are|says?) about\b"#,
            ])
        // An explicit search ("grep for FIXME", "search for 'open questions'") looks for its words
        // literally; the kinds of items are read from the rest of the goal.
        if let found = searchTerm(text, references: references) {
            // "look for the open questions" asks for questions; "grep for FIXME" and anything quoted are literal.
            let namesItems = itemPatterns.values.joined().contains {
                found.term.lowercased().range(of: $0, options: .regularExpression) != nil
            }
            if found.literal || !namesItems { shape.search = found.term }
        }
        let rest = shape.search.map { lower.replacingOccurrences(of: $0.lowercased(), with: " ") } ?? lower
        shape.items = Item.allCases.filter { has(rest, itemPatterns[$0]!) }
        guard shape.summarise || !shape.items.isEmpty || shape.search != nil else { return nil }

        var targets = references.files.map { $0 } + references.folders.map { folder in folder + "/**" + references.extensionGlob }
        if targets.isEmpty
            && has(
                lower,
                [
                    #"\b(?:my |the |whole |entire )?workspace\b"#, #"\b(?:all|every|each) (?:of my )?(?:files?|documents?|notes?)\b"#,
                    #"\beverywhere\b"#,
                ])
        {
            targets = ["**" + references.extensionGlob]
        }
        // Work on files needs files; a search alone may run over the whole workspace.
        if targets.isEmpty {
            guard shape.search != nil && !shape.summarise && shape.items.isEmpty else { return nil }
        }
        shape.targets = targets
        return shape
    }

    // MARK: Words

    static let itemPatterns: [Item: [String]] = [
        .questions: [#"\bquestions?\b"#, #"\bunknowns\b"#, #"\bopen (?:points|issues)\b"#, #"\bunanswered\b"#],
        .todos: [
            #"\bto-?dos?\b"#, #"\bto do(?:s| items| list)\b"#, #"\baction items?\b"#, #"\bnext steps?\b"#, #"\bfollow[- ]?ups?\b"#,
            #"\bfixmes?\b"#, #"\bopen (?:tasks|items)\b"#, #"\bchecklists?\b"#,
            #"\b(?:list|find|collect|gather|show) (?:the |all |every |any )?(?:open )?tasks\b"#,
        ],
        .dates: [#"\bdates?\b"#, #"\bdeadlines?\b"#, #"\bdue\b"#],
        .amounts: [
            #"\bamounts?\b"#, #"\btotals?\b"#, #"\bprices?\b"#, #"\bcosts?\b"#, #"\bmoney\b"#, #"\bsums\b"#, #"\bfigures\b"#,
            #"\bspend(?:ing)?\b"#, #"\bbudget(?:s| figures)\b"#,
        ],
        .links: [#"\blinks?\b"#, #"\burls?\b"#],
        .emails: [#"\be-?mail addresses\b"#, #"\be-?mail address\b"#, #"\bcontact details\b"#],
    ]

    /// Verbs Hearth cannot carry out from a recipe (each would need writing, sending or changing
    /// something), at the start of a clause: "… and email them to Ann", "then move them".
    /// "Write a summary" and "make a list" are reading, not writing.
    static func asksForMore(_ lower: String) -> Bool {
        let harmless =
            #"^(?:\s+(?:me|us|a|an|the|short|brief|quick|one|single))*\s+(?:summary|summaries|list|overview|table|report|digest|recap)\b"#
        let verbs = [
            "write", "draft", "send", "e-?mail", "mail", "reply", "respond", "answer", "post", "publish", "upload", "share", "move",
            "rename",
            "delete", "remove", "archive", "copy", "translate", "fix", "correct", "edit", "rewrite", "update", "change", "create",
            "generate",
            "build", "make", "produce", "prepare", "schedule", "book", "buy", "order", "pay", "merge", "convert", "reformat", "sort",
            "organi[sz]e", "classify", "categori[sz]e", "tag", "label", "rank", "grade", "notify", "remind", "invite", "prioriti[sz]e",
            "fill in", "sign", "approve", "implement", "refactor", "run", "execute", "install", "download", "fetch", "call", "save",
            "store",
            "remember", "forward", "print", "resolve", "close", "complete", "finish", "plan",
        ]
        let clause = #"(?:^|[,;.:!?]\s*|\b(?:and|then|also|please|to|afterwards|next)\s+)(?:please\s+)?(?:also\s+)?"#
        for verb in verbs {
            let expression = clause + "(?:" + verb + #")\b"#
            var searchRange = lower.startIndex..<lower.endIndex
            // Only verbs of making can make a summary or a list; "email the summary" still sends it.
            let making = ["write", "draft", "make", "produce", "prepare", "create", "generate", "build"].contains(verb)
            while let range = lower.range(of: expression, options: .regularExpression, range: searchRange) {
                let rest = String(lower[range.upperBound...])
                if !making || rest.range(of: harmless, options: .regularExpression) == nil { return true }
                searchRange = range.upperBound..<lower.endIndex
            }
        }
        return false
    }

    static func has(_ lower: String, _ patterns: [String]) -> Bool {
        patterns.contains { lower.range(of: $0, options: .regularExpression) != nil }
    }

    /// The text a search goal looks for: a quoted phrase, or the words after "search … for",
    /// "look for", "mentions of", "files that mention" …, up to a folder, a clause or the end.
    static func searchTerm(_ goal: String, references: References) -> (term: String, literal: Bool)? {
        let lower = goal.lowercased()
        let literal = lower.range(of: #"\b(?:search|grep)\b"#, options: .regularExpression) != nil
        let triggers = [
            #"\b(?:search|grep)\b(?:\s+(?:through|in|inside|across|within))?(?:\s+\S+)?\s+for\s+"#,
            #"\b(?:search|grep)\s+for\s+"#,
            #"\blook(?:ing)?\s+for\s+"#,
            #"\b(?:mentions?|occurrences?|references?)\s+(?:of|to)\s+"#,
            #"\b(?:files?|notes?|documents?|lines?|places?)\s+(?:that\s+|which\s+|where\s+)?(?:\w+\s+)?(?:mentions?|mentioning|contains?|containing|references?|referencing|talks? about|refers? to)\s+"#,
            #"\bwhere\s+(?:do|does|did|is|are|was|were)?\s*(?:i|we)?\s*(?:mention|mentioned|talk about|wrote about|write about)\s+"#,
            #"\bwhich\s+\w+\s+(?:mention|contain|reference)\s+"#,
        ]
        guard let trigger = triggers.lazy.compactMap({ lower.range(of: $0, options: .regularExpression) }).first else { return nil }
        // A quoted phrase anywhere is the term, exactly as written.
        if let quoted = goal.range(of: #"["“'`‘]([^"”'`’]{1,60})["”'`’]"#, options: .regularExpression) {
            let term = String(goal[quoted].dropFirst().dropLast())
            if !references.isReference(term) { return (term, true) }
        }
        let start = goal.index(goal.startIndex, offsetBy: lower.distance(from: lower.startIndex, to: trigger.upperBound))
        var words: [String] = []
        for raw in goal[start...].split(separator: " ") {
            let word = String(raw)
            let bare = word.trimmingCharacters(in: CharacterSet(charactersIn: ".,;:!?()\"'“”‘’`"))
            let lowered = bare.lowercased()
            if references.isReference(bare) || ["in", "across", "within", "inside", "under", "and", "then", "from"].contains(lowered) {
                break
            }
            if words.isEmpty && ["the", "a", "an", "any", "all", "every", "word", "words", "term", "text", "phrase"].contains(lowered) {
                continue
            }
            words.append(bare)
            if word.last.map({ ".,;:!?".contains($0) }) == true { break }
        }
        let term = words.joined(separator: " ").trimmingCharacters(in: .whitespaces)
        guard !term.isEmpty, term.count <= 60 else { return nil }
        return (term, literal)
    }

    /// The two documents of "compare A with B", "differences between A and B", "A vs B".
    static func comparedPair(_ goal: String, references: References) -> [String]? {
        let patterns = [
            #"\bcompare\s+(\S+)\s+(?:with|to|and|against|versus|vs\.?)\s+(\S+)"#,
            #"\b(?:diff|differences?|changes?|changed)\s+(?:between|from)\s+(\S+)\s+(?:and|to)\s+(\S+)"#,
            #"\bdiff\s+(\S+)\s+(?:and|with|against)\s+(\S+)"#,
            #"(\S+)\s+(?:vs\.?|versus)\s+(\S+)"#,
        ]
        for pattern in patterns {
            guard let expression = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]),
                let match = expression.firstMatch(in: goal, range: NSRange(goal.startIndex..., in: goal)),
                let first = Range(match.range(at: 1), in: goal), let second = Range(match.range(at: 2), in: goal)
            else { continue }
            let a = references.file(named: String(goal[first]))
            let b = references.file(named: String(goal[second]))
            if let a, let b, a != b { return [a, b] }
        }
        return nil
    }
}

/// The files and folders of the workspace a goal names.
struct References {
    var files: [String] = []
    var folders: [String] = []
    /// `/*.md` when the goal names a kind of file ("markdown files", "the PDFs"), else empty.
    var extensionGlob = ""
    private let fileSet: Set<String>
    private let lowerFiles: [String: String]
    private let directories: [String: String]

    init(goal: String, files: [String]) {
        fileSet = Set(files)
        lowerFiles = Dictionary(files.map { ($0.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        var directories: [String: String] = [:]
        for file in files {
            var parts = file.split(separator: "/").dropLast()
            while !parts.isEmpty {
                let directory = parts.joined(separator: "/")
                directories[directory.lowercased()] = directories[directory.lowercased()] ?? directory
                parts = parts.dropLast()
            }
        }
        self.directories = directories
        var named: [String] = []
        var loose: [String] = []
        for raw in goal.split(whereSeparator: \.isWhitespace) {
            let token = Self.bare(String(raw))
            guard !token.isEmpty else { continue }
            if let file = file(named: token) {
                if !self.files.contains(file) { self.files.append(file) }
            } else if let folder = folder(named: token) {
                // "Notes/" or "Projects/NextGen" say it outright; "notes" in "my notes" may just be a word.
                let explicit = token.hasSuffix("/") || token.contains("/") || token.first?.isUppercase == true
                if explicit { if !named.contains(folder) { named.append(folder) } } else if !loose.contains(folder) { loose.append(folder) }
            }
        }
        folders = named.isEmpty ? loose : named
        // A folder inside another named folder is covered by it.
        folders = folders.filter { folder in !folders.contains { folder != $0 && folder.hasPrefix($0 + "/") } }
        let lower = goal.lowercased()
        for (words, glob) in [
            ("markdown", "/*.md"), (".md", "/*.md"), ("pdf", "/*.pdf"), ("text files", "/*.txt"), (".txt", "/*.txt"), ("csv", "/*.csv"),
        ] where lower.contains(words) {
            extensionGlob = glob
            break
        }
    }

    static func bare(_ token: String) -> String {
        var text = token.trimmingCharacters(in: CharacterSet(charactersIn: "\"'“”‘’`()[]{}<>,;:!?*"))
        while text.hasSuffix(".") { text.removeLast() }
        return text
    }

    func file(named token: String) -> String? {
        let token = Self.bare(token)
        if fileSet.contains(token) { return token }
        return lowerFiles[token.lowercased()]
    }

    func folder(named token: String) -> String? {
        var name = token
        while name.hasSuffix("/") { name.removeLast() }
        guard !name.isEmpty else { return nil }
        if let directory = directories[name.lowercased()] { return directory }
        // "each receipt" for Receipts/ is too loose; a plural word naming a folder is not.
        return nil
    }

    func isReference(_ token: String) -> Bool {
        file(named: token) != nil || folder(named: token) != nil
    }
}
