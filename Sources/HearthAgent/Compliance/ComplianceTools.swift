import Foundation
import HearthCore
import HearthMemory
import HearthSandbox

/// Regulations read once per content: their requirements live in memory (source `regulation`,
/// one session per file and version), and the reviews built over them are kept here, so fifty
/// spec checks share one reading of a 300-page PDF.
public actor RegulationLibrary {
    let memory: MemoryEngine
    var reviews: [String: ComplianceReview] = [:]

    public init(memory: MemoryEngine) { self.memory = memory }

    /// What reading a regulation found.
    public struct Reading: Sendable {
        public var review: ComplianceReview
        public var session: String
        /// Pages read now; nil when memory already held this version.
        public var pages: Int?
    }

    /// The review over the regulation at `path` of the tool's workspace: read and indexed into
    /// memory the first time this version is seen, else taken from memory.
    public func reading(_ path: String, context: ToolContext, tool: String) async throws -> Reading {
        let data = try ComplianceFiles.read(path, context: context, tool: tool, limit: 256 << 20)
        let session = "\((path as NSString).lastPathComponent)@\(SHA256.hex(data).prefix(16))"
        if let review = reviews[session] { return Reading(review: review, session: session, pages: nil) }
        if let review = try await ComplianceReview.load(from: memory, session: session) {
            reviews[session] = review
            return Reading(review: review, session: session, pages: nil)
        }
        let pages = try await ComplianceFiles.onCopy(data, suffix: "pdf", tool: tool) { file in
            try await ComplianceReview.pages(ofPDF: file, named: path)
        }
        let found = RegulationReader.requirements(pages: pages)
        guard !found.isEmpty else { throw ComplianceReview.ReviewError.noRequirements(path) }
        let review = try await ComplianceReview.index(found, into: memory, session: session)
        reviews[session] = review
        return Reading(review: review, session: session, pages: pages.count)
    }
}

/// `read_regulation`: the regulation's binding sentences become page-cited requirement records.
public struct ReadRegulationTool: Tool {
    public let spec = ToolSpec(
        name: "read_regulation",
        description:
            "Read a regulation PDF into memory as requirements, each with its article and page (done once per version of the file).",
        parameters: [
            "type": "object", "properties": ["path": ["type": "string", "description": "the regulation PDF in the workspace"]],
            "required": ["path"], "additionalProperties": false,
        ])
    public let risk = ToolRisk.read
    public let idempotent = true
    let library: RegulationLibrary

    public init(library: RegulationLibrary) { self.library = library }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = arguments["path"]?.stringValue ?? ""
        let reading = try await ComplianceFiles.failing(name) { try await library.reading(path, context: context, tool: name) }
        let all = reading.review.all
        let checkable = all.filter { $0.limit != nil }.count
        let articles = Set(all.map(\.article)).count
        let read = reading.pages.map { "read \($0) pages: " } ?? "already in memory: "
        return ToolOutput(
            text: "\(path): \(read)\(all.count) requirements in \(articles) articles, \(checkable) with a limit code can check.",
            data: [
                "path": .string(path), "requirements": .number(Double(all.count)), "checkable": .number(Double(checkable)),
                "articles": .number(Double(articles)), "pages": reading.pages.map { .number(Double($0)) } ?? .null,
                "memory": .string(reading.session),
            ])
    }
}

/// `check_spec`: one spec's lines against the regulation; a spec the strict reader refuses is
/// normalised by the vetted recipe in the sandbox and its copy checked.
public struct CheckSpecTool: Tool {
    public let spec = ToolSpec(
        name: "check_spec",
        description:
            "Check a feature spec (markdown) against a regulation read with read_regulation: each line stating an amount a requirement limits is judged in code; a line about a requirement without an amount is judged by the model, or left for a person.",
        parameters: [
            "type": "object",
            "properties": [
                "path": ["type": "string", "description": "the spec in the workspace"],
                "regulation": ["type": "string", "description": "the regulation PDF in the workspace"],
            ],
            "required": ["path", "regulation"], "additionalProperties": false,
        ])
    public let risk = ToolRisk.read
    public let idempotent = true
    let library: RegulationLibrary
    let repair: SpecRepair
    let judge: ComplianceJudge

    public init(library: RegulationLibrary, repair: SpecRepair = SpecRepair(), judge: ComplianceJudge = .none) {
        self.library = library
        self.repair = repair
        self.judge = judge
    }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let path = arguments["path"]?.stringValue ?? ""
        let regulation = arguments["regulation"]?.stringValue ?? ""
        let review = try await ComplianceFiles.failing(name) { try await library.reading(regulation, context: context, tool: name).review }
        let bytes = try ComplianceFiles.read(path, context: context, tool: name, limit: 8 << 20)
        var data: [String: JSONValue] = ["path": .string(path)]
        let document: SpecDocument
        do {
            document = try SpecDocument.parse(bytes)
        } catch {
            // Course correction: a confined script normalises a copy; the original stays as it is.
            let scratch = context.workspace.appending(
                path: ".hearth/compliance/run-\(context.runID ?? 0)/\((path as NSString).lastPathComponent)")
            let (record, repaired) = try await ComplianceFiles.failing(name) {
                try await repair.repair(spec: path, original: bytes, problem: "\(error)", scratch: scratch)
            }
            guard let repaired else {
                throw ToolError.failed(
                    tool: name, message: "\(path): \(error); the \(record.author) did not fix it (\(record.stillBroken ?? "")): isolated")
            }
            data["repair"] = record.json
            document = repaired
        }
        var tokens = 0
        let findings = try await review.review(spec: path, document: document, retrieval: .hybrid, judge: judge, tokens: &tokens)
        data["findings"] = .array(findings.map(\.json))
        data["judge_tokens"] = .number(Double(tokens))
        let violations = findings.filter { $0.verdict == .violation }
        let undecided = findings.filter { $0.verdict == .undecided }
        data["flags"] = .array(violations.map { .string("line \($0.line): Article \($0.article), page \($0.page)") })
        var text = "\(path): \(findings.count) line(s) checked, \(violations.count) violation(s)"
        if !undecided.isEmpty { text += ", \(undecided.count) left for a person" }
        if data["repair"] != nil { text += " (read after a confined repair of a copy)" }
        for finding in violations {
            text += "\n- line \(finding.line) breaks Article \(finding.article) (page \(finding.page))"
            if let judgement = finding.judgement { text += ", judged by \(judgement)" }
        }
        for finding in undecided { text += "\n- line \(finding.line), Article \(finding.article): \(finding.reason ?? "undecided")" }
        return ToolOutput(text: text, data: .object(data))
    }
}

/// `compliance_report`: the review's report, `Reports/compliance-RUN.md`, from the run's own
/// check results and the standing rules of the profile.
public struct ComplianceReportTool: Tool {
    public let spec = ToolSpec(
        name: "compliance_report",
        description: "Write the compliance review's report (matrix, violations with the regulation's words and pages, remediation).",
        parameters: [
            "type": "object",
            "properties": [
                "regulation": ["type": "string"], "folder": ["type": "string"],
                "style_guide": ["type": "string", "description": "the engineering style guide, when there is one"],
            ],
            "required": ["regulation", "folder"], "additionalProperties": false,
        ])
    public let risk = ToolRisk.writeWorkspace
    public let idempotent = true
    let goals: any GoalStore
    let memory: MemoryEngine

    public init(goals: any GoalStore, memory: MemoryEngine) {
        self.goals = goals
        self.memory = memory
    }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        guard let runID = context.runID else {
            throw ToolError.refused(tool: name, reason: "a compliance report is written by a review run ('hearth goal …')")
        }
        let detail = try await goals.goal(runID)
        guard var review = ComplianceRun(detail) else {
            throw ToolError.failed(tool: name, message: "run \(runID) has no spec checks to report")
        }
        review.styleGuide = arguments["style_guide"]?.stringValue
        let written = try await review.write(in: context.workspace, exemptions: try await ComplianceRun.exemptions(in: memory))
        return ToolOutput(
            text: "wrote \(written.path): \(written.violations) violation(s)"
                + (written.dismissed > 0 ? ", \(written.dismissed) dismissed by standing rules" : "")
                + ", \(review.failures.count) spec(s) not reviewed",
            data: [
                "path": .string(written.path), "sha256": .string(written.sha256), "violations": .number(Double(written.violations)),
                "dismissed": .number(Double(written.dismissed)), "failed": .number(Double(review.failures.count)),
            ])
    }
}

/// Workspace reads for the compliance tools: confined, with errors a user can act on.
enum ComplianceFiles {
    static func read(_ path: String, context: ToolContext, tool: String, limit: Int) throws(ToolError) -> Data {
        let (root, relative) = try context.locate(path, tool: tool, writing: false)
        do {
            return try WorkspaceFiles.read(relative, in: root, limit: limit)
        } catch {
            if case .io = error { throw .failed(tool: tool, message: error.description) }
            throw .refused(tool: tool, reason: error.description)
        }
    }

    /// Runs `body` on a private temporary copy of `data`, so an external program never resolves
    /// a workspace path itself.
    static func onCopy<T>(_ data: Data, suffix: String, tool: String, _ body: (URL) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appending(path: "hearth-compliance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appending(path: "input.\(suffix)")
        try data.write(to: file)
        return try await body(file)
    }

    /// A review's own errors become the tool's failure, with their text.
    static func failing<T>(_ tool: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ToolError {
            throw error
        } catch let error as ComplianceReview.ReviewError {
            throw ToolError.failed(tool: tool, message: error.description)
        } catch let error as SpecRepair.RepairError {
            throw ToolError.failed(tool: tool, message: error.description)
        }
    }
}

/// The compliance review's tools, sharing one regulation library.
public enum ComplianceTools {
    /// The review's tools; `scriptWriter`: who writes repair scripts (a capable model), nil for
    /// the vetted recipe alone; `judge`: who decides lines about requirements without an amount.
    public static func all(
        memory: MemoryEngine, goals: any GoalStore, scriptWriter: SpecRepair.ScriptWriter? = nil, judge: ComplianceJudge = .none
    ) -> [any Tool] {
        let library = RegulationLibrary(memory: memory)
        return [
            ReadRegulationTool(library: library),
            CheckSpecTool(library: library, repair: SpecRepair(writer: scriptWriter), judge: judge),
            ComplianceReportTool(goals: goals, memory: memory),
        ]
    }
}
