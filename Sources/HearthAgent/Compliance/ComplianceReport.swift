import Foundation
import HearthCore

/// The compliance review's report: the matrix of every checked line, each violation beside the
/// regulation's words with links to the spec line and the PDF page, a remediation drafted to the
/// style guide, and what could not be reviewed and why.
public enum ComplianceReport {
    /// A spec that was not reviewed, and why.
    public struct Failure: Sendable, Hashable {
        public var spec: String
        public var reason: String
        public init(spec: String, reason: String) {
            self.spec = spec
            self.reason = reason
        }
    }

    /// The report as markdown. Paths are relative to the workspace root (where the report's
    /// links resolve from `Reports/`). `styleGuide` is the guide's path and what it says, nil when
    /// there is none. A violation a standing rule dismissed stays in the matrix, marked, and is
    /// not counted.
    public static func markdown(
        title: String, regulation: String, findings: [ComplianceFinding], failures: [Failure], specsRead: Int,
        styleGuide: (path: String, text: String)?, repairs: [SpecRepair.Record] = []
    ) -> String {
        let read = styleGuide.map { StyleGuide.read($0.text) }
        let guide = read.flatMap { $0.applied.isEmpty ? nil : $0 } ?? .defaults
        let violations = findings.filter { $0.verdict == .violation && $0.dismissedBy == nil }
        let dismissed = findings.filter { $0.verdict == .violation && $0.dismissedBy != nil }
        let undecided = findings.filter { $0.verdict == .undecided }
        var lines = [
            "# \(escape(title))", "",
            "\(specsRead) specs read against `\(regulation)`: \(findings.count) lines checked, **\(violations.count) violations**"
                + (dismissed.isEmpty ? "" : ", \(dismissed.count) dismissed by your standing rules")
                + (undecided.isEmpty ? "" : ", \(undecided.count) left for you to judge")
                + (failures.isEmpty ? "." : ", \(failures.count) specs not reviewed (below)."),
            "",
            guideNote(path: styleGuide?.path, read: read), "",
            "Overrule a finding before approving with 'hearth finding dismiss ID --reason …' (a quoted term in the reason, "
                + "like `svc-`, makes the rule cover every line with it); the reason becomes a standing rule the next review applies.",
            "", "## Matrix", "",
            "| ID | Spec | Line | Requirement | Article | Page | Verdict | Confidence | Decided by |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for finding in findings.sorted(by: order) {
            let verdict =
                switch finding.verdict {
                case .compliant: "compliant"
                case .undecided: "undecided — yours to judge"
                case .violation: finding.dismissedBy == nil ? "**violation**" : "dismissed (standing rule)"
                }
            let decidedBy =
                finding.byCode
                ? "code (amount against limit)"
                : finding.verdict == .undecided ? "nobody (below)" : escape(finding.decidedBy) + " (no amount to compare)"
            lines.append(
                "| \(escape(finding.id ?? "")) | \(link(finding.spec, line: finding.line)) | \(finding.line) | \(escape(clip(finding.requirement, 90))) | \(finding.article) | "
                    + "[\(finding.page)](\(pageLink(regulation, finding.page))) | \(verdict) | "
                    + "\(finding.verdict == .undecided ? "—" : String(format: "%.2f", finding.confidence)) | \(decidedBy) |")
        }
        if findings.isEmpty { lines.append("| — | — | — | no line speaks to a requirement | — | — | — | — | — |") }
        lines += ["", "## Violations", ""]
        if violations.isEmpty { lines.append("None.") }
        for finding in violations.sorted(by: order) {
            lines += [
                "### \(finding.id.map { "\(escape($0)): " } ?? "")\(escape(finding.spec)), line \(finding.line)", "",
                "| The spec says | The regulation says (Article \(finding.article), page \(finding.page)) |", "|---|---|",
                "| \(escape(finding.claim)) | \(escape(finding.requirement)) |", "",
                "[Spec line](\(specLink(finding.spec, line: finding.line))) · [Regulation, page \(finding.page)](\(pageLink(regulation, finding.page)))",
                "",
            ]
            if let judgement = finding.judgement {
                lines += ["Judged by \(escape(judgement)): " + escape(finding.reason ?? "no reason given"), ""]
            }
            lines += ["Remediation: \(remediation(for: finding, guide: guide))", ""]
        }
        if !undecided.isEmpty {
            lines += [
                "## Left for you to judge", "",
                "These lines speak to a requirement without an amount that no one decided; they count neither as violations nor as compliant.",
                "",
            ]
            for finding in undecided.sorted(by: order) {
                lines.append(
                    "- \(link(finding.spec, line: finding.line)) line \(finding.line): \"\(escape(clip(finding.claim, 160)))\" against Article "
                        + "\(finding.article) ([page \(finding.page)](\(pageLink(regulation, finding.page)))), \"\(escape(clip(finding.requirement, 160)))\" — "
                        + escape(finding.reason ?? "undecided"))
            }
            lines.append("")
        }
        if !dismissed.isEmpty {
            lines += ["## Dismissed by standing rules", ""]
            for finding in dismissed.sorted(by: order) {
                lines.append(
                    "- \(escape(finding.id ?? "")) \(link(finding.spec, line: finding.line)) line \(finding.line) (Article \(finding.article)): "
                        + escape(finding.dismissedBy?.sentence ?? ""))
            }
            lines.append("")
        }
        let repaired = repairs.filter { $0.stillBroken == nil }
        if !repaired.isEmpty {
            lines += ["## Repaired before review", ""]
            for repair in repaired.sorted(by: { $0.spec < $1.spec }) {
                lines += [
                    "### \(escape(repair.spec))", "",
                    "The reader refused it: \(escape(repair.problem)). A copy was normalised by the \(escape(repair.author)), run confined "
                        + "(the scratch copy only, no network), and the copy was reviewed; the original is unchanged.",
                    "", "What the script said:", "", "~~~~text", repair.output, "~~~~", "", "The change:", "", "~~~~diff", repair.diff,
                    "~~~~", "",
                ]
            }
        }
        lines += ["## Not reviewed", ""]
        if failures.isEmpty { lines.append("Every spec was read.") }
        for failure in failures.sorted(by: { $0.spec < $1.spec }) {
            lines.append("- `\(escape(failure.spec))`: \(escape(failure.reason))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What the report says of the style guide: the rules code applies, and those it does not
    /// (to check by hand); or that there is none.
    static func guideNote(path: String?, read: StyleGuide?) -> String {
        let defaults = "the imperative, the article cited, numerals with units, the owner named"
        guard let path, let read else { return "No style guide was found: remediation texts follow the default rules (\(defaults))." }
        guard !read.applied.isEmpty else {
            return "\(escape(path)) has no rule code can apply (a word limit, a citation form, an owner line, words to avoid): "
                + "remediation texts follow the default rules (\(defaults)); check them against it by hand."
        }
        var note = "Remediation texts follow the rules of \(escape(path)): \(read.summary.map(escape).joined(separator: "; "))."
        let unapplied = read.unapplied
        if !unapplied.isEmpty {
            note +=
                " Not applied by code — check by hand: " + unapplied.map { "\"\(escape(clip($0, 120)))\"" }.joined(separator: "; ") + "."
        }
        return note
    }

    /// The change a violation needs, drafted to `guide`: one imperative sentence naming the limit
    /// and citing the article (a shorter wording when the guide's word limit or words to avoid
    /// rule the longer one out); a finding without a readable limit points at the requirement.
    /// A text that still breaks a rule says which.
    public static func remediation(for finding: ComplianceFinding, guide: StyleGuide = .defaults) -> String {
        let changes: [String]
        if let limit = Limit.read(finding.requirement), let claimed = Quantity.all(in: finding.claim).first {
            let target = "\(limit.bound.rawValue) \(limit.quantity.text)"
            changes = ["Change \"\(claimed.text)\" to \(target)", "Change \(claimed.text) to \(target)", "Set it to \(target)"]
        } else {
            changes = ["Rewrite the line to meet \"\(finding.requirement)\"", "Rewrite the line to meet the requirement"]
        }
        let drafted = guide.draft(changes, article: finding.article)
        let text = escape(drafted.text)
        return drafted.problems.isEmpty ? text : text + " (breaks the style guide: \(escape(drafted.problems.joined(separator: "; "))))"
    }

    static func order(_ left: ComplianceFinding, _ right: ComplianceFinding) -> Bool {
        (left.spec, left.line) < (right.spec, right.line)
    }

    /// Markdown-safe text for a table cell or a heading: pipes, brackets, angle brackets and
    /// backticks cannot start markup or break the table.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text where !character.isNewline {
            switch character {
            case "|", "[", "]", "<", ">", "`", "*", "_", "\\": escaped += "\\\(character)"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static func clip(_ text: String, _ limit: Int) -> String { text.count <= limit ? text : String(text.prefix(limit - 1)) + "…" }

    /// Links resolve from `Reports/`: one level up to the workspace root.
    static func specLink(_ spec: String, line: Int) -> String { "../\(percentEncoded(spec))#L\(line)" }
    static func pageLink(_ pdf: String, _ page: Int) -> String { "../\(percentEncoded(pdf))#page=\(page)" }
    static func link(_ spec: String, line: Int) -> String {
        "[\(escape((spec as NSString).lastPathComponent))](\(specLink(spec, line: line)))"
    }

    static func percentEncoded(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "()")
        return path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
    }
}
