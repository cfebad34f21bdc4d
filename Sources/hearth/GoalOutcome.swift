import Foundation
import HearthAgent
import HearthConfig
import HearthCore

/// A goal's run that did not succeed, said the way every failure is: what happened and what to
/// do, one line on stderr (the `--json` document carries the same under `problem`).
struct GoalOutcome: Error, CustomStringConvertible {
    enum Kind: String {
        /// The run failed (no valid plan, or tasks failed).
        case failed
        /// The run waits for a person: an approval, or a review after a pause.
        case waiting
        case cancelled
    }

    var kind: Kind
    var reason: String
    var next: String
    var runID: Int64

    var description: String { "run \(runID) \(reason); \(next)" }

    /// 1 for a failure, 2 when the run waits for a person (answer, then resume).
    var exitCode: Int32 { kind == .waiting ? 2 : 1 }

    var json: JSONValue { ["kind": .string(kind.rawValue), "reason": .string(reason), "next": .string(next)] }

    /// The outcome of a run that did not succeed; nil for a success.
    ///
    /// - Parameters:
    ///   - approvals: the run's pending approvals (id, tool), to name them.
    ///   - model: the configured chat model, for advice when it is too small for what was asked.
    static func of(_ detail: GoalDetail, approvals: [(id: Int64, tool: String)] = [], model: String? = nil) -> GoalOutcome? {
        let id = detail.run.id
        switch detail.run.state {
        case .succeeded, .pending, .running:
            return nil
        case .cancelled:
            return GoalOutcome(
                kind: .cancelled, reason: "was cancelled", next: "start it again with 'hearth goal' if you still want it", runID: id)
        case .awaitingApproval:
            let named = approvals.map { "\($0.id) (\($0.tool))" }
            let reason =
                named.isEmpty
                ? "is waiting for your approval (\(detail.pauseReason ?? "a gated action"))"
                : "is waiting for your approval of \(named.count == 1 ? "action" : "actions") \(named.joined(separator: ", "))"
            let first = approvals.first.map { String($0.id) } ?? "ID"
            return GoalOutcome(
                kind: .waiting, reason: reason,
                next:
                    "'hearth approvals' shows the exact call and why it asks; 'hearth approve \(first)' or 'hearth deny \(first) --reason …', then 'hearth resume \(id)' (a running daemon continues it by itself)",
                runID: id)
        case .needsReview:
            let reason = detail.pauseReason ?? detail.summary ?? "stopped before finishing"
            var next = "'hearth resume \(id)' continues it from where it stopped"
            if reason.contains("budget spent") {
                next += " (raise the budget with --max-tokens, --max-seconds or --max-tool-calls, or in [budgets])"
            }
            return GoalOutcome(kind: .waiting, reason: "paused: \(reason)", next: next, runID: id)
        case .failed:
            if detail.tasks.isEmpty {
                return GoalOutcome(kind: .failed, reason: "failed: \(planProblem(detail))", next: planAdvice(model: model), runID: id)
            }
            let failed = detail.tasks.filter { $0.state == .failed || $0.state == .skipped }
            let first = failed.first.map { " (first: \($0.task.item ?? $0.task.id): \(flat($0.error ?? $0.state.rawValue)))" } ?? ""
            var next = "'hearth resume \(id)' retries what failed once you fixed the cause"
            if let report = detail.report { next = "the report lists each failure (\(report)); " + next }
            return GoalOutcome(
                kind: .failed, reason: "failed: \(failed.count) of \(detail.tasks.count) task(s) did not succeed\(first)", next: next,
                runID: id)
        }
    }

    /// Why no plan was made, on one line: "no valid plan: task id "x" is used twice; …".
    static func planProblem(_ detail: GoalDetail) -> String {
        let text = detail.summary ?? "no plan was made"
        for prefix in ["No valid plan: the plan is not valid:", "No valid plan:", "No plan:"] where text.hasPrefix(prefix) {
            return "no valid plan: " + flat(String(text.dropFirst(prefix.count)))
        }
        return flat(text)
    }

    /// What to do when planning failed: the shapes planned without a model, and a bigger model
    /// when the configured one is small.
    static func planAdvice(model: String?) -> String {
        let shapes = GoalShape.examples.map { "\"\($0)\"" }.joined(separator: ", ")
        let scale = model.flatMap { ModelScale(name: $0) }
        var advice = "reword the goal in a shape Hearth plans without a model (\(shapes))"
        if let model, let scale, scale.isSmall {
            advice =
                "\(model) (\(scale)) is too small to write plans of its own; " + advice
                + ", or point [inference] at a bigger model ('hearth doctor' lists model servers running on this machine)"
        } else {
            advice += ", or say more precisely which files and what to do with them"
        }
        return advice
    }

    static func flat(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }.joined(separator: "; ")
    }
}
