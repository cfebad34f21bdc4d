import Foundation
import HearthCore

/// Hands work from a conversation to the goal runtime: a durable goal, planned, run with tools,
/// gated by the policy and approvals like any other, its report in `Reports/`.
public struct StartGoalTool: Tool {
    public let spec = ToolSpec(
        name: "start_goal",
        description:
            "Hand bigger work (several steps, files to read or write) to Hearth as a durable goal; it is planned, run, gated and reported. Answer simple questions yourself.",
        parameters: [
            "type": "object",
            "properties": ["goal": ["type": "string", "minLength": 8, "maxLength": 500, "description": "the work, in one sentence"]],
            "required": ["goal"], "additionalProperties": false,
        ])
    public let risk = ToolRisk.writeWorkspace
    public let idempotent = false
    let start: @Sendable (String) async throws -> Int64

    /// - Parameter start: creates the goal and returns its run's id.
    public init(start: @escaping @Sendable (String) async throws -> Int64) {
        self.start = start
    }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let goal = (arguments["goal"]?.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !goal.isEmpty else { throw ToolError.invalidArguments(tool: spec.name, problems: ["goal is empty"]) }
        let run = try await start(goal)
        return ToolOutput(
            text: "Started run \(run): \(goal) — 'hearth run \(run)' follows it; the report will be in Reports/run-\(run).md.",
            data: ["run": .number(Double(run)), "goal": .string(goal)])
    }
}
