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

    /// Where plans come from.
    public enum Mode: String, Sendable, CaseIterable {
        /// A recipe when one fits the goal, else the model.
        case auto
        /// Always the model (what `hearth bench goals` measures).
        case model
    }

    public struct Planned: Sendable {
        /// `nil` when no valid plan was found (then `problems` says why).
        public var draft: PlanDraft?
        public var responses: [ChatResponse]
        /// What was wrong with the model's first plan (a repair round followed), or with its last.
        public var problems: [String]
        /// `model` or `recipe:NAME`.
        public var source: String
    }

    /// Asks the model for a plan and checks it against the tools and the workspace.
    ///
    /// - Parameter files: the workspace's files (relative paths), so fan-out globs are checked
    ///   against what exists.
    /// - Returns: the plan, or (when even the repaired plan is not valid) the problems, with
    ///   every model response either way for accounting.
    /// - Throws: the model's errors (an unreachable server, a broken reply twice).
    public func plan(goal: String, files: [String], profile: [String] = [], mode: Mode = .auto) async throws -> Planned {
        if mode == .auto, let recipe = PlanRecipes.match(goal: goal, files: files, tools: Set(tools.names)) {
            let (draft, problems) = check(recipe.draft, files: files)
            if let draft, problems.isEmpty { return Planned(draft: draft, responses: [], problems: [], source: "recipe:\(recipe.name)") }
        }
        var messages = [ChatMessage.system(systemPrompt(profile: profile)), .user(userPrompt(goal: goal, files: files))]
        let schema = PlanDraft.schema(tools: tools.names, limits: limits)
        var responses: [ChatResponse] = []
        var firstProblems: [String] = []
        for round in 0..<2 {
            let answer = try await model.generateJSON(messages: messages, schema: schema, name: "plan", maxTokens: 1200)
            responses += answer.responses
            let (draft, problems) = check(answer.json, files: files)
            if let draft, problems.isEmpty {
                return Planned(draft: draft, responses: responses, problems: firstProblems, source: "model")
            }
            if round == 1 { return Planned(draft: nil, responses: responses, problems: problems, source: "model") }
            firstProblems = problems
            messages.append(.assistant(answer.json.jsonText))
            messages.append(.user("That plan is not valid:\n- \(problems.joined(separator: "\n- "))\nWrite the whole plan again, fixed."))
        }
        preconditionFailure("the loop returns or throws")
    }

    /// Asks the model for a route around a failed task: new tasks (ids not used yet, dependencies
    /// on the new tasks or on tasks that succeeded) whose last one stands in for the failed task.
    ///
    /// - Returns: the replacement tasks, or `nil` when the model gives no valid route.
    public func replan(
        goal: String, failed: PlanTask, error: String, done: [PlanTask], files: [String]
    ) async throws -> (draft: PlanDraft?, responses: [ChatResponse]) {
        let known = done.map(\.group)
        let prompt = """
            Goal: \(goal)

            The task "\(failed.id)" (\(failed.title): \(failed.instructions)) failed: \(error)
            Tasks already done: \(known.isEmpty ? "none" : known.joined(separator: ", ")).
            Write 1 to 3 new tasks that reach what "\(failed.id)" was for in another way. Use new ids; a task may depend on the new tasks or on the tasks already done. The last task takes the failed task's place.

            Files in the workspace:
            \(files.prefix(60).joined(separator: "\n"))
            """
        let messages = [ChatMessage.system(systemPrompt(profile: [])), .user(prompt)]
        let answer = try await model.generateJSON(
            messages: messages, schema: PlanDraft.schema(tools: tools.names, limits: PlanDraft.Limits(maxTasks: 3)), name: "plan",
            maxTokens: 800)
        guard let draft = try? JSONDecoder().decode(PlanDraft.self, from: Data(answer.json.jsonText.utf8)) else {
            return (nil, answer.responses)
        }
        // Valid on its own once the tasks already done count as known.
        let stub = PlanDraft(tasks: known.map { PlanDraft.Task(id: $0, title: $0, instructions: "done", tools: []) } + draft.tasks)
        let (_, problems) = check(stub, files: files)
        let reused = draft.tasks.filter { known.contains($0.id) || $0.id == failed.group }
        guard problems.isEmpty, reused.isEmpty, !draft.tasks.isEmpty else { return (nil, answer.responses) }
        return (draft, answer.responses)
    }

    func check(_ json: JSONValue, files: [String]) -> (PlanDraft?, [String]) {
        do {
            return check(try JSONDecoder().decode(PlanDraft.self, from: Data(json.jsonText.utf8)), files: files)
        } catch {
            return (nil, ["the plan does not have the expected shape: \(error)"])
        }
    }

    func check(_ draft: PlanDraft, files: [String]) -> (PlanDraft?, [String]) {
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
            "End with a task that depends on the others and sums up the results (it needs no tools).",
            "Example, for the goal \"Summarise each note in Notes/ and list the open questions\":",
            Self.example,
            "Tools:",
        ]
        // Other programs' tools are listed by their first sentence: the task that uses one gets its schema.
        lines += tools.all.map { "- \($0.name): \($0.deferred ? ToolIndex.short($0.spec.description) : $0.spec.description)" }
        if !profile.isEmpty { lines += ["What the user prefers:"] + profile.map { "- \($0)" } }
        return lines.joined(separator: "\n")
    }

    /// A worked example in the plan's own format; small models follow an example better than a schema.
    static let example =
        ([
            "tasks": [
                [
                    "id": "notes", "title": "Summarise a note", "instructions": "Read {{item}} and summarise it in two sentences.",
                    "dependsOn": [], "expectedOutput": "a summary", "tools": ["read_file"], "forEach": "Notes/*",
                ],
                [
                    "id": "questions", "title": "List the open questions", "instructions": "List the open questions the notes raise.",
                    "dependsOn": ["notes"], "expectedOutput": "a list of questions", "tools": [],
                ],
            ]
        ] as JSONValue).jsonText

    func userPrompt(goal: String, files: [String]) -> String {
        let shown = files.prefix(80)
        var text = "Goal: \(goal)\n\nFiles in the workspace:\n" + shown.joined(separator: "\n")
        if files.count > shown.count { text += "\n… and \(files.count - shown.count) more" }
        return text
    }
}
