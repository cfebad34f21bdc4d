import Foundation

/// Limits on a goal's run, on by default. Exceeding one pauses the run with a report (its state
/// becomes `needsReview`); `hearth resume` grants the same allowance again.
public struct GoalBudget: Sendable, Hashable, Codable {
    /// Model calls plus tool calls within one task.
    public var maxStepsPerTask: Int
    /// Tool calls in the whole run.
    public var maxToolCalls: Int
    /// Prompt plus completion tokens in the whole run.
    public var maxTokens: Int
    /// Wall time of the run (per resume), in seconds.
    public var maxSeconds: Int
    /// The same tool call (name and arguments) this many times in one task stops the task.
    public var maxRepeats: Int
    /// This many tool calls in a row with no output the task had not seen stops the task.
    public var maxStepsWithoutNews: Int

    public init(
        maxStepsPerTask: Int = 8, maxToolCalls: Int = 400, maxTokens: Int = 400_000, maxSeconds: Int = 3600, maxRepeats: Int = 3,
        maxStepsWithoutNews: Int = 4
    ) {
        self.maxStepsPerTask = maxStepsPerTask
        self.maxToolCalls = maxToolCalls
        self.maxTokens = maxTokens
        self.maxSeconds = maxSeconds
        self.maxRepeats = maxRepeats
        self.maxStepsWithoutNews = maxStepsWithoutNews
    }
}

/// What a run has used so far.
/// How far a goal is: tasks done of all, and the tokens it used.
public struct GoalProgress: Sendable, Hashable {
    public var done: Int
    public var total: Int
    public var tokens: Int

    public init(done: Int, total: Int, tokens: Int) {
        self.done = done
        self.total = total
        self.tokens = tokens
    }
}

extension GoalStore {
    public func createGoal(_ text: String, budget: GoalBudget, workspace: String? = nil) async throws -> Run {
        try await createGoal(text, budget: budget, workspace: workspace, key: nil).run
    }

    /// One goal at a time; a store that can do better answers in one query.
    public func progress(_ runIDs: [Int64]) async throws -> [Int64: GoalProgress] {
        var progress: [Int64: GoalProgress] = [:]
        for id in runIDs {
            guard let detail = try? await goal(id) else { continue }
            progress[id] = GoalProgress(
                done: detail.tasks.filter { $0.state == .succeeded }.count, total: detail.tasks.count, tokens: detail.usage.tokens)
        }
        return progress
    }
}

public struct GoalUsage: Sendable, Hashable, Codable {
    public var modelCalls = 0
    public var toolCalls = 0
    public var promptTokens = 0
    public var completionTokens = 0
    public var milliseconds: Int64 = 0

    public init() {}

    public var tokens: Int { promptTokens + completionTokens }

    public static func + (lhs: GoalUsage, rhs: GoalUsage) -> GoalUsage {
        var sum = lhs
        sum.modelCalls += rhs.modelCalls
        sum.toolCalls += rhs.toolCalls
        sum.promptTokens += rhs.promptTokens
        sum.completionTokens += rhs.completionTokens
        sum.milliseconds += rhs.milliseconds
        return sum
    }
}

/// A plan task with where it stands.
public struct TaskRecord: Sendable, Hashable, Codable {
    public var task: PlanTask
    public var state: TaskState
    /// `{"answer": …, "tool": …, "data": …}` of a finished task.
    public var result: JSONValue?
    public var error: String?
    public var attempts: Int

    public init(task: PlanTask, state: TaskState, result: JSONValue? = nil, error: String? = nil, attempts: Int = 0) {
        self.task = task
        self.state = state
        self.result = result
        self.error = error
        self.attempts = attempts
    }
}

/// A goal's run: the request, the plan, where each task stands, and what it used.
public struct GoalDetail: Sendable, Hashable, Codable {
    public var run: Run
    public var goal: String
    public var plan: PlanDraft?
    public var budget: GoalBudget
    public var tasks: [TaskRecord]
    public var usage: GoalUsage
    /// Why the run stopped before finishing (a budget, a loop), for `needsReview` runs.
    public var pauseReason: String?
    /// The report's workspace path, once written.
    public var report: String?
    public var summary: String?
    /// The absolute path of the tree the goal works in; `nil`: the configured workspace.
    public var workspace: String?

    public init(
        run: Run, goal: String, plan: PlanDraft?, budget: GoalBudget, tasks: [TaskRecord], usage: GoalUsage, pauseReason: String?,
        report: String?, summary: String?, workspace: String? = nil
    ) {
        self.workspace = workspace
        self.run = run
        self.goal = goal
        self.plan = plan
        self.budget = budget
        self.tasks = tasks
        self.usage = usage
        self.pauseReason = pauseReason
        self.report = report
        self.summary = summary
    }
}

/// One tool call of a task, journaled before (intent) and after (outcome) it runs.
public struct TaskAction: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        case intent, succeeded, failed
    }

    public var position: Int
    public var tool: String
    public var arguments: JSONValue
    public var idempotencyKey: String
    public var state: State
    public var output: ToolOutput?
    public var error: String?

    public init(
        position: Int, tool: String, arguments: JSONValue, idempotencyKey: String, state: State, output: ToolOutput? = nil,
        error: String? = nil
    ) {
        self.position = position
        self.tool = tool
        self.arguments = arguments
        self.idempotencyKey = idempotencyKey
        self.state = state
        self.output = output
        self.error = error
    }
}

/// One traced happening of a run: a model call, a tool call, a policy decision, a transition.
public struct TraceEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case model, tool, policy, state, repair, budget
    }

    public var runID: Int64
    /// `nil` for run-level events (planning, the report).
    public var taskID: String?
    public var kind: Kind
    /// The model call's purpose, the tool's name, or the new state.
    public var name: String
    public var detail: JSONValue
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var milliseconds: Int?
    public var at: Date

    public init(
        runID: Int64, taskID: String?, kind: Kind, name: String, detail: JSONValue = [:], promptTokens: Int? = nil,
        completionTokens: Int? = nil, milliseconds: Int? = nil, at: Date = Date()
    ) {
        self.runID = runID
        self.taskID = taskID
        self.kind = kind
        self.name = name
        self.detail = detail
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.milliseconds = milliseconds
        self.at = at
    }
}

/// Why a goal operation was refused.
public enum GoalError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAGoal(Int64)
    case emptyGoal
    case notResumable(Int64, RunState)
    /// A goal's key already names a run that is not a goal.
    case keyTaken(String, Int64)

    public var description: String {
        switch self {
        case .keyTaken(let key, let id): "the key \"\(key)\" already names run \(id), which is not a goal; give the goal another key"
        case .notAGoal(let id): "run \(id) is not a goal's run; 'hearth run \(id)' shows it"
        case .emptyGoal: "the goal is empty; say what you want done, e.g. hearth goal \"summarise Notes/ into Reports/notes.md\""
        case .notResumable(let id, let state):
            "run \(id) is \(state.rawValue); only a paused (needsReview), failed or interrupted goal can be resumed"
        }
    }
}

/// The durable record of goals: runs, plans, task states, journaled tool calls, usage and traces.
public protocol GoalStore: Sendable {
    /// Creates a goal; with `key`, once: a second call with the key returns the goal the first
    /// created (`created` false), so a client may retry a request whose answer it lost.
    func createGoal(_ text: String, budget: GoalBudget, workspace: String?, key: String?) async throws -> (run: Run, created: Bool)
    func goal(_ runID: Int64) async throws -> GoalDetail
    /// The run's state alone (checked before every step, so it must not load the plan).
    func runState(_ runID: Int64) async throws -> RunState
    /// Stores the plan and its expanded tasks, once: a second call keeps the first plan.
    func savePlan(_ runID: Int64, draft: PlanDraft, tasks: [PlanTask]) async throws
    func setTaskState(_ runID: Int64, task: String, state: TaskState, result: JSONValue?, error: String?) async throws
    /// Replans around a failed task in one transaction: it becomes `replaced`, `tasks` join the
    /// plan, and whatever waited for the failed task's group waits for `successor` instead.
    func replaceTask(_ runID: Int64, failed: PlanTask, with tasks: [PlanTask], successor: String, reason: String) async throws
    func setRunState(_ runID: Int64, state: RunState, pauseReason: String?) async throws
    /// Records how the run ended (or paused: `pauseReason` says why), with its report and summary.
    func finish(_ runID: Int64, state: RunState, report: String?, summary: String?, pauseReason: String?) async throws
    func actions(_ runID: Int64, task: String) async throws -> [TaskAction]
    /// Journals a tool call before it runs.
    func recordIntent(_ runID: Int64, task: String, action: TaskAction) async throws
    /// Journals how it ended.
    func recordOutcome(_ runID: Int64, task: String, position: Int, output: ToolOutput?, error: String?) async throws
    func addUsage(_ runID: Int64, _ usage: GoalUsage) async throws
    func trace(_ event: TraceEvent) async throws
    func traces(_ runID: Int64) async throws -> [TraceEvent]
    /// Tasks done, tasks in all and tokens, for many goals at once (a list page).
    func progress(_ runIDs: [Int64]) async throws -> [Int64: GoalProgress]
    /// Cancels what has not started; a task in flight stops at its next step.
    func cancelGoal(_ runID: Int64) async throws -> GoalDetail
    /// Puts a paused or failed goal back to work: failed and skipped tasks become pending, and the
    /// run gets its budget allowance again.
    func resumeGoal(_ runID: Int64) async throws -> GoalDetail
    /// Goal runs in `states`, oldest first.
    func activeGoals(states: Set<RunState>) async throws -> [Int64]
    /// Goals with a report, newest first: the run, the goal's text and the report's workspace path.
    func reports(limit: Int) async throws -> [(run: Int64, goal: String, path: String)]
    /// After a crash: tasks left running go back to pending (their journaled actions are replayed);
    /// `only` limits it to one run (whose lock the caller holds).
    func recoverGoals(only runID: Int64?) async throws -> [Int64]
}

extension GoalStore {
    /// Goal runs with work left (pending or running), oldest first.
    public func activeGoals() async throws -> [Int64] {
        try await activeGoals(states: [.pending, .running])
    }
}
