import Foundation
import HearthCore
import HearthMemory
import HearthSandbox

/// A compliance review run as its tasks recorded it: every spec's checked lines, repairs and
/// failures, read back from the run's results (the store is the truth, the report its rendering).
public struct ComplianceRun: Sendable {
    public var runID: Int64
    public var regulation: String
    public var folder: String
    /// The style guide's workspace path, when the review had one.
    public var styleGuide: String?
    /// Every checked line, in spec and line order; violations carry their ids ("7-3").
    public var findings: [ComplianceFinding]
    public var failures: [ComplianceReport.Failure]
    public var repairs: [SpecRepair.Record]
    public var specsRead: Int

    /// The review's findings in `detail`, nil when the run checked no spec.
    public init?(_ detail: GoalDetail) {
        let checks = detail.tasks.filter { $0.task.item != nil && $0.task.tools == ["check_spec"] }
        guard let first = checks.first else { return nil }
        runID = detail.run.id
        regulation = first.task.bindings["regulation"] ?? ""
        let report = detail.tasks.first { $0.task.tools == ["compliance_report"] }
        folder = report?.task.bindings["folder"] ?? ""
        styleGuide = report?.task.bindings["style_guide"]
        var findings: [ComplianceFinding] = []
        failures = []
        repairs = []
        specsRead = 0
        for record in checks.sorted(by: { ($0.task.item ?? "") < ($1.task.item ?? "") }) {
            let data = record.result?["data"]
            if let repair = data?["repair"].flatMap(SpecRepair.Record.init(json:)) { repairs.append(repair) }
            guard record.state == .succeeded else {
                failures.append(.init(spec: record.task.item ?? record.task.id, reason: record.error ?? record.state.rawValue))
                continue
            }
            specsRead += 1
            findings += (data?["findings"]?.arrayValue ?? []).compactMap(ComplianceFinding.init(json:))
        }
        findings.sort { ($0.spec, $0.line) < ($1.spec, $1.line) }
        var number = 0
        for index in findings.indices where findings[index].verdict == .violation {
            number += 1
            findings[index].id = "\(detail.run.id)-\(number)"
        }
        self.findings = findings
    }

    public static func reportPath(_ runID: Int64) -> String { "Reports/compliance-\(runID).md" }

    /// The standing rules of the profile that dismiss findings.
    public static func exemptions(in memory: MemoryEngine) async throws -> [ComplianceExemption] {
        try await memory.profile().filter { $0.subject == ComplianceExemption.subject }.compactMap {
            ComplianceExemption.parse($0.object)
        }
    }

    /// The findings with `exemptions` applied: a violation a rule covers is marked dismissed.
    public func applying(_ exemptions: [ComplianceExemption]) -> [ComplianceFinding] {
        findings.map { finding in
            var finding = finding
            if finding.verdict == .violation,
                let rule = exemptions.first(where: { $0.covers(claim: finding.claim, article: finding.article) })
            {
                finding.dismissedBy = rule
            }
            return finding
        }
    }

    /// What dismissing a finding did.
    public struct Dismissal: Sendable {
        public var finding: ComplianceFinding
        public var rule: ComplianceExemption
        public var written: Written
        /// Approvals to publish the report that were asked about its earlier content: denied.
        public var withdrawn: [Approval] = []
    }

    public enum DismissError: Error, Sendable, CustomStringConvertible {
        case noSuchFinding(String, run: Int64)
        case noReason

        public var description: String {
            switch self {
            case .noSuchFinding(let id, let run): "run \(run) has no finding \(id); 'hearth finding list \(run)' shows them"
            case .noReason: "say why the finding is wrong: the reason becomes the standing rule's reason"
            }
        }
    }

    /// Overrules the violation `id` ("7-3"): the reason becomes a standing rule of the profile
    /// (trusted: the user said it), and the report is written again with every rule applied.
    /// Publication steps still waiting for an answer were asked about the report as it was: they
    /// are denied with the reason (approving them would publish a version nobody approved).
    public func dismiss(_ id: String, reason: String, memory: MemoryEngine, workspace: URL, approvals: (any ApprovalBook)? = nil)
        async throws -> Dismissal
    {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard reason.count >= 3 else { throw DismissError.noReason }
        guard let finding = findings.first(where: { $0.id == id }) else { throw DismissError.noSuchFinding(id, run: runID) }
        let rule = ComplianceExemption.dismissing(claim: finding.claim, article: finding.article, reason: reason)
        _ = try await memory.learn([
            FactStatement(
                fact: Fact(
                    kind: .rule, subject: ComplianceExemption.subject, predicate: "rule", object: rule.sentence, provenance: .trusted))
        ])
        let written = try write(in: workspace, exemptions: try await Self.exemptions(in: memory))
        var withdrawn: [Approval] = []
        if let approvals {
            for approval in try await approvals.approvals(states: [.pending])
            where Self.publicationTools.contains(approval.tool) && approval.arguments["report"]?.stringValue == written.path {
                withdrawn.append(
                    try await approvals.decide(
                        approval.id, approve: false,
                        note:
                            "the report changed after this was asked (finding \(id) dismissed); 'hearth publish \(runID)' asks about this version",
                        now: Date()))
            }
        }
        return Dismissal(finding: finding, rule: rule, written: written, withdrawn: withdrawn)
    }

    /// The tools that send a report out.
    static let publicationTools: Set<String> = ["publish_portal", "post_summary"]

    /// What writing the report produced.
    public struct Written: Sendable {
        public var path: String
        public var sha256: String
        public var violations: Int
        public var dismissed: Int
    }

    /// Writes `Reports/compliance-RUN.md` in `workspace` (replacing an earlier version).
    public func write(in workspace: URL, exemptions: [ComplianceExemption]) throws -> Written {
        let findings = applying(exemptions)
        let guide = styleGuide.flatMap { try? WorkspaceFiles.read($0, in: workspace, limit: 1 << 20) }.map {
            String(decoding: $0, as: UTF8.self)
        }
        let markdown = ComplianceReport.markdown(
            title: "Compliance review of \(folder.isEmpty ? "the specs" : folder) (run \(runID))", regulation: regulation,
            findings: findings, failures: failures, specsRead: specsRead, styleGuide: guide.map { (styleGuide ?? "", $0) },
            repairs: repairs)
        let path = Self.reportPath(runID)
        let bytes = Data(markdown.utf8)
        try WorkspaceFiles.write(bytes, to: path, in: workspace, replace: true)
        let active = findings.filter { $0.verdict == .violation }
        return Written(
            path: path, sha256: SHA256.hex(bytes), violations: active.filter { $0.dismissedBy == nil }.count,
            dismissed: active.filter { $0.dismissedBy != nil }.count)
    }
}

extension ComplianceFinding {
    /// A finding read back from its JSON (`json`).
    public init?(json: JSONValue) {
        guard let spec = json["spec"]?.stringValue, let line = json["line"]?.intValue, let article = json["article"]?.intValue,
            let page = json["page"]?.intValue, let verdict = json["verdict"]?.stringValue.flatMap(Verdict.init(rawValue:))
        else { return nil }
        self.init(
            spec: spec, line: line, claim: json["claim"]?.stringValue ?? "", article: article, page: page,
            requirement: json["requirement"]?.stringValue ?? "", verdict: verdict, decidedBy: json["decidedBy"]?.stringValue ?? "code",
            confidence: json["confidence"]?.doubleValue ?? 1, reason: json["reason"]?.stringValue)
    }
}

extension SpecRepair.Record {
    /// A repair read back from its JSON (`json`).
    public init?(json: JSONValue) {
        guard let spec = json["spec"]?.stringValue, let problem = json["problem"]?.stringValue else { return nil }
        self.init(
            spec: spec, problem: problem, author: json["author"]?.stringValue ?? "", script: json["script"]?.stringValue ?? "",
            output: json["output"]?.stringValue ?? "", diff: json["diff"]?.stringValue ?? "",
            stillBroken: json["still_broken"]?.stringValue)
    }
}
