import Foundation
import HearthAgent
import HearthCore
import HearthMemory

/// `hearth bench compliance`: the review of a fixture directory (`Regulation.pdf`,
/// `Projects/NextGen/*.md`, `truth.json`) scored against its truth, beside two baselines in the
/// same run that differ only in how a spec line finds its requirement.
extension MemoryBenchmark {
    struct ComplianceScore {
        var flagged: Set<String> = []
        var pagesRight = 0
        var findings: [ComplianceFinding] = []

        func json(truth: [String: (article: Int, page: Int)]) -> JSONValue {
            var json = Self.counts(flagged: flagged, truth: truth).objectValue ?? [:]
            let hits = flagged.intersection(truth.keys)
            // Of the flagged lines that are violations, the share citing the right article and page.
            json["pages_correct"] = .number(hits.isEmpty ? 0 : Self.round(Double(pagesRight) / Double(hits.count)))
            return .object(json)
        }

        /// `violations` for the whole review, and apart for lines stating an amount (decided by
        /// code) and lines without one (judged by a model); `undecided`: lines left for a person.
        /// `amounts`: the "spec:line" keys of lines stating an amount.
        func json(truth: [String: (article: Int, page: Int)], amounts: Set<String>) -> JSONValue {
            var json = self.json(truth: truth).objectValue ?? [:]
            let byCode = Set(findings.filter { $0.verdict == .violation && $0.byCode }.map { "\($0.spec):\($0.line)" })
            for (name, amount) in [("quantitative", true), ("qualitative", false)] {
                let part = truth.filter { amounts.contains($0.key) == amount }
                json[name] = Self.counts(flagged: amount ? byCode : flagged.subtracting(byCode), truth: part)
            }
            // The ceiling a perfect judge would reach: planted violations without an amount that
            // were put to the judge against the right article and page, whatever it answered.
            let asked = Set(findings.filter { !$0.byCode }.map { "\($0.spec):\($0.line):\($0.article):\($0.page)" })
            let words = truth.filter { !amounts.contains($0.key) }
            json["qualitative_asked_right"] = .number(
                words.isEmpty
                    ? 1
                    : Self.round(
                        Double(words.filter { asked.contains("\($0.key):\($0.value.article):\($0.value.page)") }.count)
                            / Double(words.count)))
            json["undecided"] = .number(Double(findings.filter { $0.verdict == .undecided }.count))
            return .object(json)
        }

        static func counts(flagged: Set<String>, truth: [String: (article: Int, page: Int)]) -> JSONValue {
            let hits = flagged.intersection(truth.keys)
            return [
                "violations": [
                    "truth": .number(Double(truth.count)), "flagged": .number(Double(flagged.count)),
                    "precision": .number(flagged.isEmpty ? 0 : Self.round(Double(hits.count) / Double(flagged.count))),
                    "recall": .number(truth.isEmpty ? 1 : Self.round(Double(hits.count) / Double(truth.count))),
                ]
            ]
        }

        static func round(_ value: Double) -> Double { (value * 1_000).rounded() / 1_000 }
    }

    struct TruthEntry: Decodable {
        var spec: String
        var line: Int
        var article: Int
        var page: Int
    }

    /// `report`: also write Hearth's findings as the review's markdown report there. `judge`
    /// decides lines about requirements without an amount (the baselines use the same judge).
    public func compliance(
        fixture: URL, report: URL? = nil, judge: ComplianceJudge = .none, progress: @Sendable (String) -> Void
    ) async throws -> JSONValue {
        let started = ContinuousClock.now
        // Hearth and the baselines often ask about the same line and requirement: judged once.
        let judge = Self.remembering(judge)
        let truthEntries = try JSONDecoder().decode([TruthEntry].self, from: Data(contentsOf: fixture.appending(path: "truth.json")))
        let truth = Dictionary(truthEntries.map { ("\($0.spec):\($0.line)", (article: $0.article, page: $0.page)) }) { first, _ in first }
        let pdf = fixture.appending(path: "Regulation.pdf")
        let pages = try await ComplianceReview.pages(ofPDF: pdf)
        let requirements = RegulationReader.requirements(pages: pages)
        guard !requirements.isEmpty else { throw ComplianceReview.ReviewError.noRequirements(pdf.path) }
        progress(
            "compliance: \(pages.count) pages, \(requirements.count) binding sentences, \(requirements.filter { $0.limit != nil }.count) with a limit code can check"
        )
        let (engine, url) = try await engine("compliance")
        defer { Self.removeDatabase(url) }
        let review = try await ComplianceReview.index(requirements, into: engine, session: "Regulation.pdf")

        let specsFolder = fixture.appending(path: "Projects/NextGen")
        let names = try FileManager.default.contentsOfDirectory(atPath: specsFolder.path).filter { $0.hasSuffix(".md") }.sorted()
        var scores: [ComplianceReview.Retrieval: ComplianceScore] = [:]
        var failures: [ComplianceReport.Failure] = []
        var repairs: [SpecRepair.Record] = []
        var tokens = 0
        var amounts = Set<String>()
        for name in names {
            let spec = "Projects/NextGen/\(name)"
            let document: SpecDocument
            let bytes = try Data(contentsOf: specsFolder.appending(path: name))
            do {
                document = try SpecDocument.parse(bytes)
            } catch {
                // Course correction: a confined script normalises a copy; the original stays as it is.
                let (record, repaired) = try await SpecRepair().repair(
                    spec: spec, original: bytes, problem: "\(error)", scratch: directory.appending(path: "repair-\(repairs.count)"))
                repairs.append(record)
                progress("compliance: \(spec): \(error); \(repaired == nil ? "not repaired: \(record.stillBroken ?? "")" : "repaired")")
                guard let repaired else {
                    failures.append(.init(spec: spec, reason: "\(error); \(record.stillBroken ?? "")"))
                    continue
                }
                document = repaired
            }
            for line in document.lines where Quantity.all(in: line.text).count == 1 { amounts.insert("\(spec):\(line.number)") }
            for retrieval in ComplianceReview.Retrieval.allCases {
                var spent = 0
                let findings = try await review.review(spec: spec, document: document, retrieval: retrieval, judge: judge, tokens: &spent)
                if retrieval == .hybrid { tokens += spent }
                for finding in findings {
                    scores[retrieval, default: ComplianceScore()].findings.append(finding)
                    guard finding.verdict == .violation else { continue }
                    let key = "\(finding.spec):\(finding.line)"
                    scores[retrieval, default: ComplianceScore()].flagged.insert(key)
                    if let expected = truth[key], expected.article == finding.article, expected.page == finding.page {
                        scores[retrieval, default: ComplianceScore()].pagesRight += 1
                    }
                }
            }
        }
        let hearth = scores[.hybrid] ?? ComplianceScore()
        if let report {
            let styleGuide = (try? String(contentsOf: fixture.appending(path: "StyleGuide.md"), encoding: .utf8)).map {
                ("StyleGuide.md", $0)
            }
            let markdown = ComplianceReport.markdown(
                title: "Compliance review of Projects/NextGen", regulation: "Regulation.pdf", findings: hearth.findings, failures: failures,
                specsRead: names.count - failures.count, styleGuide: styleGuide, repairs: repairs)
            try FileManager.default.createDirectory(at: report.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(markdown.utf8).write(to: report)
        }
        var result = hearth.json(truth: truth, amounts: amounts).objectValue ?? [:]
        result["judge"] = .string(judge.name)
        result["specs"] = .number(Double(names.count))
        result["pages"] = .number(Double(pages.count))
        result["requirements"] = .number(Double(requirements.count))
        result["repaired"] = .number(Double(repairs.filter { $0.stillBroken == nil }.count))
        result["repairs"] = .array(repairs.map(\.json))
        result["failed"] = .array(failures.map { ["spec": .string($0.spec), "reason": .string($0.reason)] })
        result["tokens"] = .number(Double(tokens))
        result["seconds"] = .number(ComplianceScore.round((ContinuousClock.now - started).inSeconds))
        result["findings"] = .array(hearth.findings.filter { $0.verdict == .violation }.map(\.json))
        result["undecided_lines"] = .array(hearth.findings.filter { $0.verdict == .undecided }.map(\.json))
        result["baselines"] = [
            "keywords": (scores[.keywords] ?? ComplianceScore()).json(truth: truth, amounts: amounts),
            "bm25": (scores[.bm25] ?? ComplianceScore()).json(truth: truth, amounts: amounts),
        ]
        return .object(result)
    }

    /// `judge`, asked once per requirement and line (a repeated question costs no tokens).
    static func remembering(_ judge: ComplianceJudge) -> ComplianceJudge {
        let memo = JudgementMemo()
        return ComplianceJudge(name: judge.name, minConfidence: judge.minConfidence) { requirement, line in
            let key = "\(requirement.article)\u{1F}\(requirement.text)\u{1F}\(line)"
            if let known = await memo.answers[key] {
                var again = try known.get()
                again.tokens = 0
                return again
            }
            let result: Result<ComplianceJudge.Judgement, any Error>
            do { result = .success(try await judge.judge(requirement, line)) } catch { result = .failure(error) }
            await memo.set(key, result)
            return try result.get()
        }
    }
}

actor JudgementMemo {
    var answers: [String: Result<ComplianceJudge.Judgement, any Error>] = [:]
    func set(_ key: String, _ result: Result<ComplianceJudge.Judgement, any Error>) { answers[key] = result }
}
