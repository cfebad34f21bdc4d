import ArgumentParser
import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthDaemon
import HearthMemory
import HearthStore

struct FindingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finding",
        abstract: "Review a compliance review's findings: list them, overrule one the review judged too strictly.",
        discussion: """
            A compliance review ('hearth goal "Check the specs in Projects/NextGen against Regulation.pdf"') writes \
            Reports/compliance-RUN.md; each violation has an id like 7-3. Dismissing one with a reason stores the \
            reason as a standing rule in your profile ('hearth memory profile'), rewrites the report, and every later \
            review applies the rule.
            """,
        subcommands: [FindingListCommand.self, FindingDismissCommand.self])
}

struct FindingListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The violations a compliance review run found.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The review's run id.")
    var run: Int64

    @Flag(help: "Print JSON: [{id, spec, line, article, page, claim, requirement, decidedBy, confidence, reason, dismissed}].")
    var json = false

    func run() async throws {
        let context = try common.load()
        let (review, memory, _) = try await ComplianceAccess.open(context, run: run)
        let findings = review.applying(try await ComplianceRun.exemptions(in: memory)).filter { $0.verdict == .violation }
        if json {
            printJSON(.array(findings.map(\.json)))
            return
        }
        if findings.isEmpty { print("run \(run) found no violation") }
        for finding in findings {
            let state = finding.dismissedBy == nil ? "violation" : "dismissed"
            print("\(finding.id ?? "-")  \(state)  \(finding.spec):\(finding.line)  Article \(finding.article), page \(finding.page)")
            print("    says: \(finding.claim)")
            if let judgement = finding.judgement { print("    judged by \(judgement)") }
            if let rule = finding.dismissedBy { print("    rule: \(rule.sentence)") }
        }
        let undecided = review.findings.filter { $0.verdict == .undecided }
        if !undecided.isEmpty {
            print("\(undecided.count) line(s) are left for you to judge (no model decided them): see \(ComplianceRun.reportPath(run))")
        }
        if !review.failures.isEmpty { print("\(review.failures.count) spec(s) were not reviewed: see \(ComplianceRun.reportPath(run))") }
    }
}

struct FindingDismissCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dismiss",
        abstract: "Overrule a finding: the reason becomes a standing rule, the report is rewritten.",
        discussion: """
            The rule covers this line's text under this article; a term quoted in the reason that the line contains \
            (--reason "our internal \\`svc-\\` names are not personal data") makes it cover every line with that term, \
            whatever the article. The report changes, so an approval to publish the earlier version no longer covers it.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("The finding's id, as the report and 'hearth finding list RUN' show it (e.g. 7-3).", valueName: "id"))
    var id: String

    @Option(help: "Why the finding is wrong (required; kept with the rule).")
    var reason: String

    @Flag(help: "Print JSON: {finding, rule, report, sha256}.")
    var json = false

    func run() async throws {
        let context = try common.load()
        let parts = id.split(separator: "-")
        guard parts.count == 2, let run = Int64(parts[0]), Int(parts[1]) != nil else {
            throw ValidationError("a finding id is RUN-N, e.g. 7-3 ('hearth finding list RUN' shows them)")
        }
        let (review, memory, workspace) = try await ComplianceAccess.open(context, run: run)
        let approvals = try await context.openStores(creating: false)?.approvals
        let dismissal: ComplianceRun.Dismissal
        do {
            dismissal = try await review.dismiss(id, reason: reason, memory: memory, workspace: workspace, approvals: approvals)
        } catch let error as ComplianceRun.DismissError {
            throw CLIError(error.description)
        }
        let (finding, rule, written) = (dismissal.finding, dismissal.rule, dismissal.written)
        // A denied publication step ends its run: a running daemon takes that up now.
        if !dismissal.withdrawn.isEmpty { _ = await context.nudgeDaemon(["goals"]) }
        if json {
            printJSON([
                "finding": finding.json, "rule": .string(rule.sentence), "report": .string(written.path), "sha256": .string(written.sha256),
                "withdrawn": .array(dismissal.withdrawn.map { .number(Double($0.id)) }),
            ])
            return
        }
        print("Dismissed \(id) (\(finding.spec):\(finding.line)). Standing rule: \(rule.sentence)")
        print("Rewrote \(written.path): \(written.violations) violation(s), \(written.dismissed) dismissed.")
        for approval in dismissal.withdrawn {
            print(
                "Denied approval \(approval.id) (\(approval.tool)): it was asked about the report before this change; 'hearth publish \(run)' asks about this version."
            )
        }
    }
}

/// A review run's findings and the memory holding the standing rules.
enum ComplianceAccess {
    static func open(_ context: HearthContext, run: Int64) async throws -> (ComplianceRun, MemoryEngine, URL) {
        guard let stores = try await context.openStores(creating: false) else {
            throw CLIError("no runs yet: Hearth was never used with this data dir")
        }
        let detail: GoalDetail
        do {
            detail = try await stores.goals.goal(run)
        } catch {
            throw CLIError("no run \(run); 'hearth runs' lists them")
        }
        guard let review = ComplianceRun(detail) else {
            throw CLIError("run \(run) is not a compliance review (it checked no spec)")
        }
        let memory = MemoryEngine(store: stores.memory, embedder: nil)
        let workspace = detail.workspace.map { URL(fileURLWithPath: $0) } ?? context.paths.workspace
        return (review, memory, workspace)
    }
}

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a compliance review's report after your approval: the portal and the project channel.",
        discussion: """
            Starts a run with one gated step per place ([publish] portal: a commit on a branch of its own; [publish] \
            channel: the summary posted to the webhook through the vault broker). Each step waits for 'hearth approve ID' \
            and is bound to the report's SHA-256: a report edited after the approval is refused, and publishing it \
            again asks again. Dismiss findings first ('hearth finding dismiss').
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "The review's run id (its report is Reports/compliance-RUN.md).")
    var run: Int64

    @Flag(help: "Print the publication run as JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        let (_, _, workspace) = try await ComplianceAccess.open(context, run: run)
        let report = ComplianceRun.reportPath(run)
        guard let bytes = try? Data(contentsOf: workspace.appending(path: report)) else {
            throw CLIError("\(report) is missing in \(workspace.path); the review's report is written when run \(run) finishes")
        }
        let places = [
            context.paths.portal == nil ? nil : "the documentation portal",
            context.configuration.publish.channel == nil ? nil : "the project channel",
        ].compactMap { $0 }
        guard !places.isEmpty else {
            throw CLIError(
                "nowhere to publish: set [publish] portal (a git repository) and/or [publish] channel (a webhook URL) in \(context.paths.configFile.path)"
            )
        }
        let goal = "Publish \(report) (sha256 \(SHA256.hex(bytes))) to \(places.joined(separator: " and "))"
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        let publication = try await stores.goals.createGoal(goal, budget: GoalBudget(), workspace: workspace.path)
        if DaemonState.running(context.paths) != nil, await context.nudgeDaemon(["goals"]) {
            if json {
                printJSON(["id": .number(Double(publication.id)), "state": .string(publication.state.rawValue), "daemon": true])
            } else {
                print(
                    "run \(publication.id) publishes \(report) to \(places.joined(separator: " and ")); each step waits for your approval ('hearth approvals')"
                )
            }
            return
        }
        let session = GoalSession(context: context, stores: stores, workspace: workspace, json: json)
        try await session.finish(try await session.run(publication.id, concurrency: 1))
    }
}
