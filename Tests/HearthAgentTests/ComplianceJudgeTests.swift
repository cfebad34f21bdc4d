import Foundation
import HearthAgent
import HearthCore
import HearthMemory
import HearthStore
import HearthTesting
import Synchronization
import Testing

/// A model seam that answers `generateJSON` from a closure and records what it was asked.
private final class JudgeModel: AgentModel, Sendable {
    let answer: @Sendable ([ChatMessage]) throws -> JSONValue
    let asked = Mutex<[[ChatMessage]]>([])

    init(_ answer: @escaping @Sendable ([ChatMessage]) throws -> JSONValue) { self.answer = answer }

    func chooseAction(messages: [ChatMessage], tools: [ToolSpec], allowAnswer: Bool, maxTokens: Int) async throws -> AgentChoice {
        throw ModelError.schemaViolation(errors: ["a judge never chooses tools"], output: "")
    }

    func generateJSON(messages: [ChatMessage], schema: JSONValue, name: String, maxTokens: Int) async throws -> AgentJSON {
        asked.withLock { $0.append(messages) }
        let usage = ModelUsage(promptTokens: 90, completionTokens: 20, latencySeconds: 0)
        return AgentJSON(
            json: try answer(messages), responses: [ChatResponse(content: "", finishReason: "stop", model: "judge", usage: usage)])
    }
}

@Suite("Compliance: requirements without an amount, judged by a model", .timeLimit(.minutes(2)))
struct ComplianceJudgeTests {
    static let requirements = [
        RegulationRequirement(article: 9, page: 14, text: "Payment card records shall not be retained for longer than 30 days."),
        RegulationRequirement(article: 17, page: 27, text: "Payment card records shall only be transmitted over encrypted connections."),
        RegulationRequirement(article: 33, page: 51, text: "Every access to billing statements shall be recorded in an audit log."),
        RegulationRequirement(article: 40, page: 60, text: "The controller shall maintain a record of processing activities in writing."),
    ]

    static let spec = """
        # NG-001: Offline sync

        Offline sync lets customers keep working without a connection. This spec covers data handling.

        - Payment card records are kept for 90 days after the account is closed.
        - Payment card records are sent to the partner API over plain HTTP.
        - Reads of billing statements are written to the audit log.
        - Exports are offered as CSV and JSON.
        """

    func review() async throws -> (ComplianceReview, SpecDocument, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        let memory = MemoryEngine(store: MemorySQLStore(database: database), embedder: nil)
        let review = try await ComplianceReview.index(Self.requirements, into: memory, session: "Regulation.pdf@test")
        return (review, try SpecDocument.parse(Data(Self.spec.utf8)), directory)
    }

    @Test("amounts are decided by code; a line about a practice goes to the model, fenced as data, and the matrix says who decided")
    func judged() async throws {
        let (review, document, directory) = try await review()
        _ = directory
        let model = JudgeModel { messages in
            let asked = messages.last?.content ?? ""
            return asked.contains("plain HTTP")
                ? ["verdict": "violation", "confidence": 0.9, "reason": "plain HTTP is not an encrypted connection"]
                : ["verdict": "compliant", "confidence": 0.8, "reason": "reads are logged"]
        }
        var tokens = 0
        let findings = try await review.review(
            spec: "NG-001.md", document: document, retrieval: .hybrid, judge: .model(model, name: "qwen2.5-7b"), tokens: &tokens)
        let byLine = Dictionary(uniqueKeysWithValues: findings.map { ($0.line, $0) })
        // Line 5: 90 days against 30, by code; the model is not asked about it.
        #expect(byLine[5]?.verdict == .violation && byLine[5]?.decidedBy == "code" && byLine[5]?.article == 9)
        // Line 6: the practice, judged by the model, cited with its own article and page.
        let http = try #require(byLine[6])
        #expect(http.verdict == .violation && http.decidedBy == "model qwen2.5-7b")
        #expect(http.article == 17 && http.page == 27 && http.confidence == 0.9)
        #expect(http.reason == "plain HTTP is not an encrypted connection")
        #expect(byLine[7]?.verdict == .compliant && byLine[7]?.article == 33)
        // The summary and the exports line share too little with any rule to be asked about.
        #expect(byLine[3] == nil && byLine[8] == nil)
        let asked = model.asked.withLock { $0 }
        #expect(asked.count == 2)
        #expect(tokens == 220)
        let prompt = asked.first?.last?.content ?? ""
        #expect(prompt.contains("<data>\n- Payment card records are sent to the partner API over plain HTTP.\n</data>"))
        #expect(prompt.contains("Article 17, page 27"))

        // The report's matrix and violation say who decided and how sure.
        let markdown = ComplianceReport.markdown(
            title: "Review", regulation: "Regulation.pdf", findings: findings, failures: [], specsRead: 1, styleGuide: nil)
        #expect(markdown.contains("model qwen2.5-7b (no amount to compare)"))
        #expect(markdown.contains("code (amount against limit)"))
        #expect(markdown.contains("Judged by model qwen2.5-7b (confidence 0.90): plain HTTP is not an encrypted connection"))
        // A finding survives the tool's JSON, confidence and reason included.
        #expect(ComplianceFinding(json: http.json) == http)
    }

    @Test("an unsure verdict, a model that breaks the schema, a small model and no model: the line is left for a person, with why")
    func undecided() async throws {
        let (review, document, directory) = try await review()
        _ = directory
        let unsure = JudgeModel { _ in ["verdict": "violation", "confidence": 0.3, "reason": "hard to say"] }
        let failing = JudgeModel { _ in
            throw ModelError.schemaViolation(errors: ["verdict must be one of violation, compliant"], output: "{}")
        }
        let cases: [(ComplianceJudge, String)] = [
            (.model(unsure, name: "qwen2.5-7b"), "model qwen2.5-7b was unsure (0.30 < 0.60): hard to say"),
            (.model(failing, name: "qwen2.5-7b"), "verdict must be one of"),
            (.forChatModel(unsure, name: "smollm2-135m-instruct"), "is too small to judge a requirement without an amount"),
            (.forChatModel(nil, name: "qwen2.5-7b"), "no model judged it"),
        ]
        for (judge, reason) in cases {
            let findings = try await review.review(spec: "NG-001.md", document: document, retrieval: .hybrid, judge: judge)
            let left = findings.filter { $0.verdict == .undecided }
            #expect(left.map(\.line) == [6, 7], "\(judge.name)")
            #expect(left.allSatisfy { $0.reason?.contains(reason) == true && $0.decidedBy == "nobody" }, "\(left.map(\.reason))")
            // Amounts are still decided by code.
            #expect(findings.contains { $0.line == 5 && $0.verdict == .violation })
            let markdown = ComplianceReport.markdown(
                title: "Review", regulation: "Regulation.pdf", findings: findings, failures: [], specsRead: 1, styleGuide: nil)
            #expect(markdown.contains("2 left for you to judge"))
            #expect(markdown.contains("## Left for you to judge"))
            #expect(markdown.contains("undecided — yours to judge"))
        }
        // The small model was never asked.
        #expect(unsure.asked.withLock { $0.count } == 2)
    }
}
