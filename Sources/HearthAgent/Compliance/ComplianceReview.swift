import Foundation
import HearthCore
import HearthMemory
import HearthSandbox

/// One spec line judged against the requirement retrieval found for it.
public struct ComplianceFinding: Sendable, Hashable {
    /// `undecided`: a requirement without an amount that no one could judge (no model, a model
    /// too small, unsure or failing): listed for a person, never counted as compliant.
    public enum Verdict: String, Sendable, Hashable { case violation, compliant, undecided }

    public var spec: String
    public var line: Int
    public var claim: String
    public var article: Int
    public var page: Int
    public var requirement: String
    public var verdict: Verdict
    /// "code" for a quantity checked against a limit; "model NAME" for a judged requirement
    /// without an amount; "nobody" when it waits for a person.
    public var decidedBy: String
    /// 1 for code; the model's stated confidence; 0 when undecided.
    public var confidence: Double = 1
    /// The model's reason, or why the line was left undecided.
    public var reason: String?
    /// A violation's id in its run ("7-3"), for 'hearth finding dismiss'.
    public var id: String?
    /// The standing rule that dismissed it, when one does.
    public var dismissedBy: ComplianceExemption?

    public init(
        spec: String, line: Int, claim: String, article: Int, page: Int, requirement: String, verdict: Verdict, decidedBy: String,
        confidence: Double = 1, reason: String? = nil
    ) {
        self.spec = spec
        self.line = line
        self.claim = claim
        self.article = article
        self.page = page
        self.requirement = requirement
        self.verdict = verdict
        self.decidedBy = decidedBy
        self.confidence = confidence
        self.reason = reason
    }

    /// Decided by code (an amount against a limit), not by a model or a person.
    public var byCode: Bool { decidedBy == "code" }

    /// Who judged a line without an amount and how sure ("model qwen2.5-7b (confidence 0.90)");
    /// nil when code decided it.
    public var judgement: String? {
        byCode ? nil : "\(decidedBy) (confidence \(String(format: "%.2f", confidence)))"
    }

    public var json: JSONValue {
        var json: [String: JSONValue] = [
            "spec": .string(spec), "line": .number(Double(line)), "article": .number(Double(article)), "page": .number(Double(page)),
            "verdict": .string(verdict.rawValue), "decidedBy": .string(decidedBy), "claim": .string(claim),
            "requirement": .string(requirement), "confidence": .number((confidence * 100).rounded() / 100),
        ]
        if let reason { json["reason"] = .string(reason) }
        if let id { json["id"] = .string(id) }
        if let dismissedBy { json["dismissed"] = .string(dismissedBy.sentence) }
        return .object(json)
    }
}

/// A compliance review: a regulation's binding sentences become page-cited memory records; each
/// spec line finds its candidate requirements by retrieval. Code compares an amount with the
/// limit of the best candidate measuring the same thing; a line about a requirement without an
/// amount is judged by a model under a JSON schema (`ComplianceJudge`), and the matrix says which.
public struct ComplianceReview: Sendable {
    /// How a claim finds its requirement (the last two are the benchmark's baselines).
    public enum Retrieval: String, Sendable, CaseIterable {
        /// Hearth's hybrid retrieval (vectors when the engine has them).
        case hybrid
        /// Plain BM25 over the requirement sentences.
        case bm25
        /// The requirement sharing the most words with the line.
        case keywords
    }

    public enum ReviewError: Error, Sendable, CustomStringConvertible {
        case unreadablePDF(String, reason: String)
        case noRequirements(String)
        case noText(String, pages: Int)

        public var description: String {
            switch self {
            case .unreadablePDF(let path, let reason): "cannot read \(path) as a PDF: \(reason)"
            case .noText(let path, let pages):
                "\(path) has \(pages) page(s) but no text on them: they are scanned images. OCR them into a searchable PDF first "
                    + "(e.g. 'ocrmypdf \(path) out.pdf'); Hearth does not OCR a regulation itself, so a misread limit cannot pass unnoticed"
            case .noRequirements(let path):
                "\(path) holds no binding sentence ('shall', 'must'); if its pages are scanned images, OCR them first"
            }
        }
    }

    let memory: MemoryEngine
    /// The memory session holding this regulation's requirements.
    let session: String
    /// A stored requirement with its content terms (read once, not per line).
    struct Indexed: Sendable {
        var requirement: RegulationRequirement
        var terms: Set<String>
    }

    /// Memory record id → the requirement it holds.
    let requirements: [Int64: Indexed]
    /// The memory sessions of this regulation's articles.
    let articleSessions: Set<String>
    /// How many requirements of each kind (the dimension they limit, or none) use each content
    /// term: a word every such rule uses ("incident") says less about which of them a line is
    /// about than one only its rule uses ("personnel"). Counted per kind because a line chooses
    /// among the rules of one kind: the rules of another kind do not make a word common.
    let termCounts: [Quantity.Dimension?: [String: Int]]
    let kindCounts: [Quantity.Dimension?: Int]

    init(memory: MemoryEngine, session: String, requirements: [Int64: RegulationRequirement]) {
        self.memory = memory
        self.session = session
        self.requirements = requirements.mapValues { Indexed(requirement: $0, terms: Self.contentTerms($0.text)) }
        articleSessions = Set(requirements.values.map { "\(session)#article-\($0.article)" })
        var counts: [Quantity.Dimension?: [String: Int]] = [:]
        var kinds: [Quantity.Dimension?: Int] = [:]
        for entry in self.requirements.values {
            let kind = entry.requirement.limit?.quantity.dimension
            kinds[kind, default: 0] += 1
            for term in entry.terms { counts[kind, default: [:]][term, default: 0] += 1 }
        }
        termCounts = counts
        kindCounts = kinds
    }

    /// The weight of the words `terms` shares with the line (inverse document frequency among
    /// the requirements of `kind`).
    func overlap(_ terms: Set<String>, _ lineTerms: Set<String>, kind: Quantity.Dimension?) -> Double {
        let total = Double(max(1, kindCounts[kind] ?? 1))
        return terms.intersection(lineTerms).reduce(0) { sum, term in
            sum + log(1 + total / Double(termCounts[kind]?[term] ?? 1))
        }
    }

    /// The PDF's pages through `pdftotext` (poppler-utils); `name` is how errors call the file.
    /// An encrypted, damaged or truncated file, or one whose pages hold no text (scanned
    /// images), is refused with what to do.
    public static func pages(ofPDF url: URL, named name: String? = nil) async throws -> [String] {
        let name = name ?? url.path
        let output: ProgramRunner.Output
        do {
            output = try await ProgramRunner.run(
                "pdftotext", package: "poppler-utils", arguments: ["-layout", "-enc", "UTF-8", url.path, "-"], timeout: .seconds(300),
                maxOutput: 256 << 20)
        } catch let error as ProgramError {
            guard case .failed(_, _, let stderr) = error else { throw error }
            var lines: [String] = []
            for line in stderr.split(whereSeparator: \.isNewline).map(String.init) where !lines.contains(line) { lines.append(line) }
            let said = lines.joined(separator: "; ")
            if said.localizedCaseInsensitiveContains("password") {
                throw ReviewError.unreadablePDF(
                    name, reason: "it is encrypted (password-protected); save an unprotected copy (e.g. 'qpdf --decrypt') and review that")
            }
            throw ReviewError.unreadablePDF(name, reason: "it is damaged, truncated or not a PDF (pdftotext: \(said))")
        }
        let pages = PDFText.pages(fromPdftotext: output.stdout)
        guard pages.contains(where: { $0.contains(where: \.isLetter) }) else {
            throw ReviewError.noText(name, pages: pages.count)
        }
        return pages
    }

    /// Stores the regulation's requirements in `memory` as document records of source
    /// `regulation`, one session per article under `session` (one per regulation and version,
    /// e.g. "Regulation.pdf@3f2a…#article-12": an article is a unit, like a conversation, so one
    /// long document does not crowd a search), each saying its article and page.
    public static func index(_ found: [RegulationRequirement], into memory: MemoryEngine, session: String) async throws
        -> ComplianceReview
    {
        let records = found.map { requirement in
            MemoryRecord(
                kind: .document, text: requirement.text, source: "regulation", provenance: .untrusted,
                occurredAt: Date(timeIntervalSince1970: 0), sessionID: "\(session)#article-\(requirement.article)",
                speaker: "Article \(requirement.article), page \(requirement.page)")
        }
        let stored = try await memory.remember(records)
        try await memory.indexPending()
        var byID: [Int64: RegulationRequirement] = [:]
        for (record, requirement) in zip(stored, found) { byID[record.id] = requirement }
        return ComplianceReview(memory: memory, session: session, requirements: byID)
    }

    /// The review over requirements an earlier `index` stored in `memory`; nil when none are there.
    public static func load(from memory: MemoryEngine, session: String) async throws -> ComplianceReview? {
        var byID: [Int64: RegulationRequirement] = [:]
        for record in try await memory.store.sessionRecords(source: "regulation", sessionPrefix: session + "#")
        where record.kind == .document {
            guard let speaker = record.speaker,
                let cited = speaker.wholeMatch(of: /Article (\d+), page (\d+)/), let article = Int(cited.1), let page = Int(cited.2)
            else { continue }
            byID[record.id] = RegulationRequirement(article: article, page: page, text: record.text)
        }
        return byID.isEmpty ? nil : ComplianceReview(memory: memory, session: session, requirements: byID)
    }

    /// The requirements, in article order.
    public var all: [RegulationRequirement] {
        requirements.values.map(\.requirement).sorted { ($0.article, $0.page, $0.text) < ($1.article, $1.page, $1.text) }
    }

    /// Findings for every line of `document` a requirement speaks to: a line stating an amount a
    /// requirement limits is decided by code; any other line sharing at least two telling words
    /// with a requirement without an amount goes to `judge`. `tokens` counts what judging cost.
    public func review(
        spec: String, document: SpecDocument, retrieval: Retrieval, judge: ComplianceJudge = .none, tokens: inout Int
    ) async throws -> [ComplianceFinding] {
        var findings: [ComplianceFinding] = []
        for line in document.lines {
            let text = line.text.trimmingCharacters(in: .whitespaces)
            let claims = Quantity.all(in: line.text)
            if claims.count == 1, let claim = claims.first,
                let requirement = try await candidate(for: line.text, measuring: claim.dimension, retrieval: retrieval),
                let limit = requirement.limit, let broken = limit.isBroken(by: claim)
            {
                findings.append(
                    ComplianceFinding(
                        spec: spec, line: line.number, claim: text, article: requirement.article, page: requirement.page,
                        requirement: requirement.text, verdict: broken ? .violation : .compliant, decidedBy: "code"))
                continue
            }
            guard let requirement = try await candidate(for: line.text, measuring: nil, retrieval: retrieval) else { continue }
            var finding = ComplianceFinding(
                spec: spec, line: line.number, claim: text, article: requirement.article, page: requirement.page,
                requirement: requirement.text, verdict: .undecided, decidedBy: "nobody", confidence: 0)
            do {
                let judgement = try await judge.judge(requirement, text)
                tokens += judgement.tokens
                if judgement.confidence >= judge.minConfidence {
                    finding.verdict = judgement.violates ? .violation : .compliant
                    finding.decidedBy = judge.name
                    finding.confidence = judgement.confidence
                    finding.reason = judgement.reason
                } else {
                    finding.reason =
                        "\(judge.name) was unsure (\(String(format: "%.2f", judgement.confidence)) < \(String(format: "%.2f", judge.minConfidence))): \(judgement.reason)"
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                finding.reason = "\(error)"
            }
            findings.append(finding)
        }
        return findings
    }

    /// `review` without counting tokens.
    public func review(spec: String, document: SpecDocument, retrieval: Retrieval, judge: ComplianceJudge = .none) async throws
        -> [ComplianceFinding]
    {
        var tokens = 0
        return try await review(spec: spec, document: document, retrieval: retrieval, judge: judge, tokens: &tokens)
    }

    /// The retrieved requirement that shares the most telling words with the line (an amount
    /// alone is no evidence that a rule is about it): with `dimension`, among those limiting the
    /// same dimension; without, among those with no amount, sharing at least two content words
    /// (what it is about and what it asks: "payment card records", "transmitted").
    func candidate(for line: String, measuring dimension: Quantity.Dimension?, retrieval: Retrieval) async throws
        -> RegulationRequirement?
    {
        let lineTerms = Self.contentTerms(line)
        guard lineTerms.count >= (dimension == nil ? 2 : 1) else { return nil }
        let ranked: [Int64]
        switch retrieval {
        case .hybrid, .bm25:
            let hits = try await memory.search(
                line, k: 50, filter: MemoryFilter(sources: ["regulation"], sessionIDs: articleSessions),
                mode: retrieval == .hybrid ? .hybrid : .bm25)
            ranked = hits.map(\.record.id)
        case .keywords:
            let scored = requirements.map { id, entry in (id: id, entry: entry, shared: entry.terms.intersection(lineTerms).count) }
            ranked = scored.filter { $0.shared > 0 }.sorted { Self.keywordOrder(($0.entry, $0.shared), ($1.entry, $1.shared)) }.map(\.id)
        }
        // Of the candidates that fit, the one sharing the most telling words with the line (what
        // it is about: "employee personnel files"), the better ranked of equals.
        var best: (requirement: RegulationRequirement, shared: Double)?
        for id in ranked {
            guard let entry = requirements[id], entry.requirement.limit?.quantity.dimension == dimension else { continue }
            if dimension == nil && entry.terms.intersection(lineTerms).count < 2 { continue }
            let shared = overlap(entry.terms, lineTerms, kind: dimension)
            if shared > (best?.shared ?? 0) { best = (entry.requirement, shared) }
        }
        return best?.requirement
    }

    /// Words that say what a sentence is about: not stop words, amounts, units or the words of obligation.
    static func contentTerms(_ text: String) -> Set<String> {
        var terms = Set<String>()
        for word in MemoryText.words(text) where word.count > 2 && !MemoryText.stopWords.contains(word) {
            guard Double(word) == nil, Quantity.units[word] == nil, !obligationWords.contains(word), !functionWords.contains(word) else {
                continue
            }
            terms.insert(String(word.prefix(6)))
        }
        return terms
    }

    static func keywordOrder(
        _ left: (entry: Indexed, shared: Int), _ right: (entry: Indexed, shared: Int)
    ) -> Bool {
        if left.shared != right.shared { return left.shared > right.shared }
        let (one, other) = (left.entry.requirement, right.entry.requirement)
        if one.article != other.article { return one.article < other.article }
        return one.text < other.text
    }

    /// Words that join or bound a clause without saying what it is about ("without", "only"):
    /// two of them shared are no evidence that a line speaks to a rule.
    static let functionWords: Set<String> = [
        "without", "across", "any", "each", "every", "only", "over", "under", "also", "such", "other", "same", "into", "onto", "upon",
        "before", "can", "may", "lets", "does", "done", "way", "ways", "all", "per", "via",
    ]

    static let obligationWords: Set<String> = [
        "shall", "must", "required", "least", "more", "less", "than", "longer", "within", "every", "after", "period", "exceed",
        "exceeding", "minimum", "maximum", "fewer", "later", "intervals",
    ]
}
