import Foundation
import HearthCore

/// Turns a goal into a validated plan with one model call (two when the first plan needs repair).
public struct Planner: Sendable {
    let model: any AgentModel
    let tools: ToolBox
    let limits: PlanDraft.Limits

    public init(model: any AgentModel, tools: ToolBox, limits: PlanDraft.Limits = PlanDraft.Limits()) {
        self.model = model
        self.tools = tools
        self.limits = limits
    }

    public struct Planned: Sendable {
        public var draft: PlanDraft
        public var responses: [ChatResponse]
        /// What was wrong with the first plan, when a repair round was needed.
        public var repairedProblems: [String]
    }

    /// Asks the model for a plan and checks it against the tools and the workspace.
    ///
    /// - Parameter files: the workspace's files (relative paths), so fan-out globs are checked
    ///   against what exists.
    /// - Throws: `PlanError.invalid` when even the repaired plan is not valid, or the model's errors.
    public func plan(goal: String, files: [String], profile: [String] = []) async throws -> Planned {
        var messages = [ChatMessage.system(systemPrompt(profile: profile)), .user(userPrompt(goal: goal, files: files))]
        let schema = PlanDraft.schema(tools: tools.names, limits: limits)
        var responses: [ChatResponse] = []
        var firstProblems: [String] = []
        for round in 0..<2 {
            let answer = try await model.generateJSON(messages: messages, schema: schema, name: "plan", maxTokens: 1200)
            responses += answer.responses
            let (draft, problems) = check(answer.json, files: files)
            if let draft, problems.isEmpty {
                return Planned(draft: draft, responses: responses, repairedProblems: firstProblems)
            }
            if round == 1 { throw PlanError.invalid(problems) }
            firstProblems = problems
            messages.append(.assistant(answer.json.jsonText))
            messages.append(.user("That plan is not valid:\n- \(problems.joined(separator: "\n- "))\nWrite the whole plan again, fixed."))
        }
        preconditionFailure("the loop returns or throws")
    }

    func check(_ json: JSONValue, files: [String]) -> (PlanDraft?, [String]) {
        let draft: PlanDraft
        do {
            draft = try JSONDecoder().decode(PlanDraft.self, from: Data(json.jsonText.utf8))
        } catch {
            return (nil, ["the plan does not have the expected shape: \(error)"])
        }
        var problems = draft.problems(knownTools: Set(tools.names), limits: limits)
        for task in draft.tasks {
            if let glob = task.forEach, !files.contains(where: { WorkspaceGlob.matches($0, glob: glob) }) {
                problems.append("task \"\(task.id)\": forEach \"\(glob)\" matches no file in the workspace")
            }
        }
        return (draft, problems)
    }

    func systemPrompt(profile: [String]) -> String {
        var lines = [
            "You are the planner of Hearth, an agent that works in the user's workspace.",
            "Write a short plan as JSON: a list of tasks, each with an id (lowercase), a title, instructions, dependsOn (ids of earlier tasks), expectedOutput and the tools it may use.",
            "For work on every file of a folder, write ONE task with forEach set to a glob such as \"Folder/*\" and use {{item}} in its instructions for the file.",
            "End with a task that depends on the others and sums up the results.",
            "Tools:",
        ]
        lines += tools.all.map { "- \($0.name): \($0.spec.description)" }
        if !profile.isEmpty { lines += ["What the user prefers:"] + profile.map { "- \($0)" } }
        return lines.joined(separator: "\n")
    }

    func userPrompt(goal: String, files: [String]) -> String {
        let shown = files.prefix(80)
        var text = "Goal: \(goal)\n\nFiles in the workspace:\n" + shown.joined(separator: "\n")
        if files.count > shown.count { text += "\n… and \(files.count - shown.count) more" }
        return text
    }
}
