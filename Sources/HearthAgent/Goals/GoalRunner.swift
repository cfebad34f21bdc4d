import Foundation
import HearthCore
import HearthSandbox
import Logging

/// What a goal's run is doing, for a foreground command's progress lines.
public enum GoalProgress: Sendable {
    case planned(tasks: Int, source: String, repaired: Bool)
    case started(task: String)
    case finished(task: String, state: TaskState, note: String)
    case paused(reason: String)
    case reported(path: String)
    /// A task froze on a call that needs a human's approval; the rest of the plan goes on.
    case waiting(task: String, approval: Int64, reason: String)
}

/// Plans a goal (once), runs its ready tasks a few at a time, isolates failures, and writes the
/// report. Everything it decides is persisted first, so a restarted process continues from
/// the store: the plan is kept, finished tasks stay finished, and journaled tool calls replay.
public struct GoalRunner: Sendable {
    public struct Options: Sendable {
        public var concurrency: Int
        public var limits: PlanDraft.Limits
        /// Characters of earlier tasks' results given to a dependent task (the context budget).
        public var inputCharacters: Int
        /// The user's preferences and standing rules (from memory), in every prompt.
        public var profile: [String]
        /// Memories relevant to the goal, recalled once when the run starts, in every task's prompt (as data).
        public var memories: [String]
        public var planner: Planner.Mode
        public var policy: PolicyEngine
        /// How long an approval request waits before it expires (expiry denies).
        public var approvalLifetime: TimeInterval
        /// Extra directories the user declared (`@name/…` in tool paths).
        public var mounts: [WorkspaceMount] = []

        public init(
            concurrency: Int = 2, limits: PlanDraft.Limits = PlanDraft.Limits(), inputCharacters: Int = 6000, profile: [String] = [],
            memories: [String] = [], planner: Planner.Mode = .auto, policy: PolicyEngine = PolicyEngine(),
            approvalLifetime: TimeInterval = 24 * 3600
        ) {
            self.policy = policy
            self.approvalLifetime = approvalLifetime
            self.memories = memories
            self.planner = planner
            self.concurrency = concurrency
            self.limits = limits
            self.inputCharacters = inputCharacters
            self.profile = profile
        }
    }

    let store: any GoalStore
    let model: any AgentModel
    let tools: ToolBox
    let workspace: URL
    let options: Options
    let approvals: (any ApprovalBook)?
    let logger: Logger
    let progress: @Sendable (GoalProgress) -> Void

    /// - Parameter approvals: where gated calls wait for a human; `nil` refuses what the policy would ask about.
    public init(
        store: any GoalStore, model: any AgentModel, tools: ToolBox, workspace: URL, options: Options = Options(),
        approvals: (any ApprovalBook)? = nil, logger: Logger, progress: @escaping @Sendable (GoalProgress) -> Void = { _ in }
    ) {
        self.approvals = approvals
        self.store = store
        self.model = model
        self.tools = tools
        self.workspace = workspace
        self.options = options
        self.logger = logger
        self.progress = progress
    }

    /// Runs the goal until it finishes, pauses or is cancelled.
    @discardableResult
    public func run(_ runID: Int64) async throws -> GoalDetail {
        var detail = try await store.goal(runID)
        guard [.pending, .running].contains(detail.run.state) else { return detail }
        try await store.setRunState(runID, state: .running, pauseReason: nil)
        try await trace(runID, .state, "running")
        let meter = RunMeter(budget: detail.budget)

        if detail.plan == nil {
            do {
                if let problems = try await plan(detail, meter: meter) {
                    return try await end(runID, .failed, summary: "No valid plan: \(PlanError.invalid(problems).description)")
                }
            } catch let error as PlanError {
                return try await end(runID, .failed, summary: "No plan: \(error.description)")
            } catch let error as ModelError {
                return try await pause(runID, reason: "planning failed: \(error.description)")
            }
            detail = try await store.goal(runID)
        }

        var tasks = detail.tasks.map(\.task)
        var states = Dictionary(uniqueKeysWithValues: detail.tasks.map { ($0.task.id, $0.state) })
        var replans = 0
        // Recipes are reviewed plans: a failure there is reported, not replanned by the model.
        let planSource = try await store.traces(runID).first { $0.kind == .model && $0.name == "plan" }?.detail["source"]?.stringValue
        let canReplan = planSource?.hasPrefix("recipe:") != true
        var pauseReason: String?
        var inFlight: Set<String> = []
        try await withThrowingTaskGroup(of: (String, TaskOutcome).self) { group in
            while true {
                let cancelled = try await store.runState(runID) == .cancelled
                if pauseReason == nil && !cancelled {
                    let decision = PlanSchedule.decide(tasks: tasks, states: states)
                    for skip in decision.skip {
                        states[skip.id] = .skipped
                        try await store.setTaskState(runID, task: skip.id, state: .skipped, result: nil, error: skip.reason)
                        try await trace(runID, task: skip.id, .state, "skipped", ["reason": .string(skip.reason)])
                        progress(.finished(task: skip.id, state: .skipped, note: skip.reason))
                    }
                    for id in decision.ready where !inFlight.contains(id) && inFlight.count < options.concurrency {
                        let task = tasks.first { $0.id == id }!
                        inFlight.insert(id)
                        states[id] = .running
                        try await store.setTaskState(runID, task: id, state: .running, result: nil, error: nil)
                        try await trace(runID, task: id, .state, "running")
                        progress(.started(task: id))
                        if task.collect {
                            // Collected in code: no model call, nothing to wait for.
                            let result = Self.collected(for: task, in: try await store.goal(runID))
                            group.addTask { (id, .succeeded(result)) }
                            continue
                        }
                        let agent = try await makeAgent(detail, task: task, meter: meter)
                        group.addTask { (id, try await agent.perform()) }
                    }
                    if !decision.skip.isEmpty && inFlight.isEmpty { continue }
                }
                guard let (id, outcome) = try await group.next() else { break }
                inFlight.remove(id)
                switch outcome {
                case .succeeded(let result):
                    states[id] = .succeeded
                    try await store.setTaskState(runID, task: id, state: .succeeded, result: result, error: nil)
                    progress(.finished(task: id, state: .succeeded, note: result["summary"]?.stringValue ?? ""))
                case .failed(let error):
                    states[id] = .failed
                    try await store.setTaskState(runID, task: id, state: .failed, result: nil, error: error)
                    progress(.finished(task: id, state: .failed, note: error))
                    // A failed step others wait for: try once to route around it (model plans only;
                    // items of a fan-out are isolated instead).
                    let failed = tasks.first { $0.id == id }!
                    let waiting = tasks.contains { $0.dependsOn.contains(failed.group) }
                    if failed.item == nil && waiting && replans < 1 && canReplan {
                        replans += 1
                        if try await replan(detail, failed: failed, error: error, tasks: tasks, states: states, meter: meter) {
                            let refreshed = try await store.goal(runID)
                            tasks = refreshed.tasks.map(\.task)
                            states = Dictionary(uniqueKeysWithValues: refreshed.tasks.map { ($0.task.id, $0.state) })
                        }
                    }
                case .paused(let reason):
                    states[id] = .pending
                    try await store.setTaskState(runID, task: id, state: .pending, result: nil, error: nil)
                    pauseReason = pauseReason ?? reason
                case .cancelled:
                    states[id] = .cancelled
                    try await store.setTaskState(runID, task: id, state: .cancelled, result: nil, error: "the run was cancelled")
                case .awaitingApproval(let approval, let reason):
                    states[id] = .awaitingApproval
                    try await store.setTaskState(
                        runID, task: id, state: .awaitingApproval, result: nil, error: "waiting for approval \(approval): \(reason)")
                    progress(.waiting(task: id, approval: approval, reason: reason))
                }
                try await trace(runID, task: id, .state, (states[id] ?? .pending).rawValue)
            }
        }
        if try await store.runState(runID) == .cancelled {
            return try await end(runID, .cancelled, summary: "Cancelled by the user.")
        }
        if let pauseReason { return try await pause(runID, reason: pauseReason) }
        let waiting = tasks.filter { states[$0.id] == .awaitingApproval }.map(\.id)
        if !waiting.isEmpty {
            // Frozen only where a human must answer; everything that could run has run.
            let reason = "waiting for approval: \(waiting.joined(separator: ", ")) (see 'hearth approvals')"
            try await store.setRunState(runID, state: .awaitingApproval, pauseReason: reason)
            try await trace(runID, .state, "awaitingApproval", ["tasks": .array(waiting.map(JSONValue.string))])
            return try await store.goal(runID)
        }
        let final = try await store.goal(runID)
        let outcome = PlanSchedule.outcome(tasks: tasks, states: states) ?? .failed
        return try await end(runID, outcome, summary: Self.summary(final))
    }

    /// Plans the goal and saves the plan; returns the problems when no valid plan was found.
    private func plan(_ detail: GoalDetail, meter: RunMeter) async throws -> [String]? {
        let files = (try? WorkspaceFiles.list(under: nil, in: workspace)) ?? []
        let started = ContinuousClock.now
        let planned = try await Planner(model: model, tools: tools, limits: options.limits).plan(
            goal: detail.goal, files: files, profile: options.profile, mode: options.planner)
        let usage = try await meter.chargeModel(planned.responses, since: started, runID: detail.run.id, store: store)
        try await store.trace(
            TraceEvent(
                runID: detail.run.id, taskID: nil, kind: .model, name: "plan",
                detail: [
                    "source": .string(planned.source), "tasks": .number(Double(planned.draft?.tasks.count ?? 0)),
                    "problems": .array(planned.problems.map(JSONValue.string)), "valid": .bool(planned.draft != nil),
                ],
                promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, milliseconds: Int(usage.milliseconds)))
        guard let draft = planned.draft else { return planned.problems }
        let tasks = try draft.expand(knownTools: Set(tools.names), limits: options.limits) { glob in
            files.filter { WorkspaceGlob.matches($0, glob: glob) }
        }
        try await store.savePlan(detail.run.id, draft: draft, tasks: tasks)
        progress(.planned(tasks: tasks.count, source: planned.source, repaired: !planned.problems.isEmpty))
        return nil
    }

    /// Asks the planner for a route around `failed`; saves it when valid. Traced either way.
    private func replan(
        _ detail: GoalDetail, failed: PlanTask, error: String, tasks: [PlanTask], states: [String: TaskState], meter: RunMeter
    ) async throws -> Bool {
        let files = (try? WorkspaceFiles.list(under: nil, in: workspace)) ?? []
        let done = tasks.filter { states[$0.id] == .succeeded }
        let started = ContinuousClock.now
        let planner = Planner(model: model, tools: tools, limits: options.limits)
        let (draft, responses): (PlanDraft?, [ChatResponse])
        do {
            (draft, responses) = try await planner.replan(goal: detail.goal, failed: failed, error: error, done: done, files: files)
        } catch is ModelError {
            return false
        }
        let usage = try await meter.chargeModel(responses, since: started, runID: detail.run.id, store: store)
        guard let draft, let successor = draft.tasks.last?.id else {
            try await store.trace(
                TraceEvent(
                    runID: detail.run.id, taskID: failed.id, kind: .model, name: "replan", detail: ["valid": false],
                    promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, milliseconds: Int(usage.milliseconds)))
            return false
        }
        let known = Set(tools.names)
        let expanded = try PlanDraft(
            tasks: draft.tasks.map { task in
                var task = task
                task.dependsOn = task.dependsOn.filter { id in draft.tasks.contains { $0.id == id } }
                return task
            }
        ).expand(knownTools: known, limits: options.limits) { glob in files.filter { WorkspaceGlob.matches($0, glob: glob) } }
        // Restore the dependencies on tasks already done, which the stand-alone expansion left out.
        let withDone = expanded.map { task -> PlanTask in
            var task = task
            let original = draft.tasks.first { $0.id == task.group }?.dependsOn ?? []
            task.dependsOn = original
            return task
        }
        try await store.replaceTask(
            detail.run.id, failed: failed, with: withDone, successor: successor, reason: "replaced after it failed: \(error)")
        try await store.trace(
            TraceEvent(
                runID: detail.run.id, taskID: failed.id, kind: .model, name: "replan",
                detail: ["valid": true, "tasks": .array(withDone.map { .string($0.id) }), "successor": .string(successor)],
                promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, milliseconds: Int(usage.milliseconds)))
        progress(.finished(task: failed.id, state: .replaced, note: "replanned: \(withDone.map(\.id).joined(separator: ", "))"))
        return true
    }

    private func makeAgent(_ detail: GoalDetail, task: PlanTask, meter: RunMeter) async throws -> TaskAgent {
        let runID = detail.run.id
        let store = self.store
        var task = task
        // Values known only now: the run's id, a file's hash as the task finds it.
        let workspace = workspace
        task.bindings = PlanBindings.resolve(task.bindings, runID: runID) { path in
            (try? WorkspaceFiles.read(path, in: workspace, limit: 256 << 20)).map { SHA256.hex($0) }
        }
        // Earlier results matter only to a task that depends on something (not to a plan's 500 items).
        let inputs = task.dependsOn.isEmpty ? "" : Self.inputs(for: task, in: try await store.goal(runID), limit: options.inputCharacters)
        return TaskAgent(
            runID: runID, goal: detail.goal, task: task, inputs: inputs,
            profile: options.profile, memories: options.memories, model: model, tools: tools, store: store, workspace: workspace,
            meter: meter, policy: options.policy, approvals: approvals, approvalLifetime: options.approvalLifetime, mounts: options.mounts,
            shouldStop: { (try? await store.runState(runID)) == .cancelled })
    }

    /// Earlier results a task sees: one line per task it depends on, cut to the context budget.
    static func inputs(for task: PlanTask, in detail: GoalDetail, limit: Int) -> String {
        let lines = detail.tasks.filter { task.dependsOn.contains($0.task.group) }.map { record -> String in
            switch record.state {
            case .succeeded:
                "- \(record.task.id): \(record.result?["summary"]?.stringValue ?? record.result?["answer"]?.stringValue ?? "done")"
            case .failed: "- \(record.task.id): FAILED: \(record.error ?? "")"
            default: "- \(record.task.id): \(record.state.rawValue)"
            }
        }
        var text = ""
        for (index, line) in lines.enumerated() {
            if text.count + line.count > limit {
                text += "… \(lines.count - index) more results not shown\n"
                break
            }
            text += line + "\n"
        }
        return text.isEmpty ? "" : "<data>\n\(text)</data>"
    }

    /// The run in one paragraph, from the tasks' states and structured results (never from model
    /// prose alone), followed by the final task's answer when it reads like one.
    static func summary(_ detail: GoalDetail) -> String {
        let items = detail.tasks.filter { $0.task.item != nil }
        var sentences: [String] = []
        if !items.isEmpty {
            let flagged = items.filter { $0.result?["data"]?["flags"]?.arrayValue?.isEmpty == false }
            let failed = items.filter { $0.state != .succeeded }
            var sentence = "\(Set(items.compactMap(\.task.item)).count) file(s) processed"
            if items.contains(where: { $0.result?["data"]?["flags"] != nil }) { sentence += ", \(flagged.count) flagged" }
            if !failed.isEmpty {
                sentence += ", \(failed.count) could not be handled (\(failed.compactMap(\.task.item).joined(separator: ", ")))"
            }
            // What code found, counted: "4 open questions, 3 to-dos".
            if let counts = detail.tasks.first(where: { $0.task.collect })?.result?["counts"]?.objectValue, !counts.isEmpty {
                let found = counts.keys.sorted().map { key in
                    "\(counts[key]?.intValue ?? 0) \((Self.itemLabels[key] ?? key).lowercased())"
                }
                sentence += ": " + found.joined(separator: ", ")
            }
            sentences.append(sentence + ".")
        }
        let dependedOn = Set(detail.tasks.flatMap(\.task.dependsOn))
        let finals = detail.tasks.filter { !dependedOn.contains($0.task.group) && $0.task.item == nil }
        let loops = detail.tasks.filter { $0.result?["degenerate"] == true }
        for record in finals where !record.task.collect {
            guard let answer = record.result?["answer"]?.stringValue else { continue }
            let byModel = record.result?["by"] != "code"
            if record.result?["degenerate"] == true || (byModel && Repetition.isUnreadable(answer)) {
                sentences.append(
                    "(The model's own summary looped or was not readable text and is left out; 'hearth trace \(detail.run.id)' shows it.)")
            } else if !answer.isEmpty {
                sentences.append(answer)
            }
        }
        if !loops.isEmpty {
            sentences.append(
                "\(loops.count) model answer(s) looped or were not readable text and were replaced or left out: the model is too small for free text; "
                    + "point [inference] at a bigger model for better summaries ('hearth doctor' lists model servers found on this machine)."
            )
        }
        return sentences.joined(separator: "\n\n")
    }

    /// Headings for the kinds of items `extract_items` finds.
    static let itemLabels = [
        "questions": "Open questions", "todos": "To-dos", "dates": "Dates", "amounts": "Amounts", "links": "Links",
        "emails": "E-mail addresses",
    ]

    /// What a collecting task reports: its dependencies' results, file by file, in code.
    static func collected(for task: PlanTask, in detail: GoalDetail) -> JSONValue {
        var sections: [String] = []
        var counts: [String: JSONValue] = [:]
        for group in task.dependsOn {
            let members = detail.tasks.filter { $0.task.group == group }
            guard let first = members.first else { continue }
            let done = members.filter { $0.state == .succeeded }
            var lines: [String] = []
            if let kinds = first.task.bindings["kinds"] {
                for kind in kinds.split(separator: ",").map(String.init) {
                    var found: [String] = []
                    for record in done {
                        let path = record.task.item ?? ""
                        for item in record.result?["data"]?["items"]?[kind]?.arrayValue ?? [] {
                            let page = item["page"]?.intValue.map { "p\($0):" } ?? ""
                            found.append("- \(path):\(page)\(item["line"]?.intValue ?? 0): \(item["text"]?.stringValue ?? "")")
                        }
                    }
                    counts[kind] = .number(Double(found.count))
                    let files = Set(found.map { $0.dropFirst(2).prefix { $0 != ":" } }).count
                    let label = Self.itemLabels[kind] ?? kind.capitalized
                    lines.append("\(label): \(found.count) in \(files) file(s)" + (found.isEmpty ? "." : ":"))
                    lines += found.prefix(500)
                    if found.count > 500 { lines.append("- … \(found.count - 500) more in the per-file results") }
                }
            } else if first.task.item != nil {
                let title = first.task.title.components(separatedBy: ": ").first ?? group
                lines.append("\(title == "Summarise" ? "Summaries" : title):")
                for record in done {
                    let answer = record.result?["answer"]?.stringValue ?? ""
                    let marker = record.result?["by"] == "code" ? " (opening lines; the model's summary was unusable)" : ""
                    lines.append("- \(record.task.item ?? record.task.id)\(marker): \(answer.isEmpty ? "(no summary)" : answer)")
                }
            } else if let record = done.first {
                lines.append("\(record.task.title):")
                let data = record.result?["data"] ?? [:]
                if record.result?["by"] == "model", let answer = record.result?["answer"]?.stringValue, !answer.isEmpty {
                    lines.append(answer)
                }
                if let matches = data["matches"]?.arrayValue {
                    let files = Set(matches.compactMap { $0["path"]?.stringValue }).count
                    lines.append(
                        "\(matches.count) matching line(s) in \(files) file(s)\(matches.count >= 100 ? " (the first 100)" : "")"
                            + (matches.isEmpty ? "." : ":"))
                    lines += matches.map {
                        "- \($0["path"]?.stringValue ?? ""):\($0["line"]?.intValue ?? 0): \($0["text"]?.stringValue ?? "")"
                    }
                    counts["matches"] = .number(Double(matches.count))
                } else if let common = data["common"]?.intValue, let a = data["a"]?.stringValue, let b = data["b"]?.stringValue {
                    lines.append(
                        "\(common) line(s) in common, \(data["onlyInA"]?.intValue ?? 0) only in \(a), \(data["onlyInB"]?.intValue ?? 0) only in \(b)."
                    )
                    for (key, label, sign) in [("removed", "Only in \(a)", "-"), ("added", "Only in \(b)", "+")] {
                        let entries = data[key]?.arrayValue ?? []
                        guard !entries.isEmpty else { continue }
                        lines.append("\(label):")
                        lines += entries.map { "\(sign) \($0["line"]?.intValue ?? 0): \($0["text"]?.stringValue ?? "")" }
                    }
                } else {
                    lines.append(record.result?["summary"]?.stringValue ?? "")
                }
            }
            let failed = members.filter { $0.state != .succeeded }
            if !failed.isEmpty {
                lines.append("Could not be handled (\(failed.count)):")
                lines += failed.map { "- \($0.task.item ?? $0.task.id): \($0.error ?? $0.state.rawValue)" }
            }
            sections.append(lines.joined(separator: "\n"))
        }
        let text = sections.joined(separator: "\n\n")
        return [
            "answer": .string(text), "summary": .string(TaskAgent.preview(text, 400)), "by": "code", "calls": 0, "counts": .object(counts),
        ]
    }

    private func pause(_ runID: Int64, reason: String) async throws -> GoalDetail {
        // Interrupted (the daemon stops): the run stays running, and the next start resumes it.
        if Task.isCancelled { return try await store.goal(runID) }
        progress(.paused(reason: reason))
        try await trace(runID, .budget, "paused", ["reason": .string(reason)])
        try await store.setRunState(runID, state: .needsReview, pauseReason: reason)
        let report = try? await writeReport(try await store.goal(runID), state: .needsReview, summary: "Paused: \(reason)")
        try await store.finish(runID, state: .needsReview, report: report, summary: "Paused: \(reason)", pauseReason: reason)
        if let report { progress(.reported(path: report)) }
        return try await store.goal(runID)
    }

    private func end(_ runID: Int64, _ state: RunState, summary: String) async throws -> GoalDetail {
        let detail = try await store.goal(runID)
        var report: String?
        do {
            report = try await writeReport(detail, state: state, summary: summary)
        } catch {
            logger.error("run \(runID): the report could not be written: \(error)")
        }
        try await store.finish(runID, state: state, report: report, summary: summary, pauseReason: nil)
        try await trace(runID, .state, state.rawValue)
        if let report { progress(.reported(path: report)) }
        return try await store.goal(runID)
    }

    /// The report, built from the tasks' structured results (not from model prose): every
    /// fan-out item with its fields and flags, every failure with its error.
    func writeReport(_ detail: GoalDetail, state: RunState, summary: String) async throws -> String {
        let path = "Reports/run-\(detail.run.id).md"
        let report = GoalReport.arguments(detail, state: state, summary: summary, path: path)
        let context = ToolContext(workspace: workspace, idempotencyKey: "run:\(detail.run.id)/report", runID: detail.run.id)
        _ = try await tools.invoke("write_report", arguments: report, context: context)
        try await store.trace(
            TraceEvent(runID: detail.run.id, taskID: nil, kind: .tool, name: "write_report", detail: ["path": .string(path)]))
        return path
    }

    private func trace(_ runID: Int64, task: String? = nil, _ kind: TraceEvent.Kind, _ name: String, _ detail: JSONValue = [:]) async throws
    {
        try await store.trace(TraceEvent(runID: runID, taskID: task, kind: kind, name: name, detail: detail))
    }
}

extension GoalRunner.Options {
    /// The same options with these mounts.
    public func with(mounts: [WorkspaceMount]) -> GoalRunner.Options {
        var options = self
        options.mounts = mounts
        return options
    }
}

/// The arguments of `write_report` for a goal's run.
enum GoalReport {
    static func arguments(_ detail: GoalDetail, state: RunState, summary: String, path: String) -> JSONValue {
        let items = detail.tasks.filter { $0.task.item != nil }
        let fields = fieldNames(items)
        // Per-file text (a summary) when the model, or code standing in for it, wrote one.
        let written = items.contains { ["model", "code"].contains($0.result?["by"]?.stringValue) }
        // One row per file, whatever number of fan-outs worked on it (a summary and its questions).
        var files: [String] = []
        for record in items where !files.contains(record.task.item!) { files.append(record.task.item!) }
        var rows: [JSONValue] = []
        for file in files {
            let records = items.filter { $0.task.item == file }
            let state = records.first { $0.state != .succeeded }?.state ?? .succeeded
            var row = [MarkdownLink.relative(to: file, from: path), state.rawValue]
            if written {
                let summary = records.first { ["model", "code"].contains($0.result?["by"]?.stringValue) }
                row.append(summary.map { oneLine($0.result?["answer"]) } ?? "")
            }
            row += fields.map { field in records.lazy.compactMap { $0.result?["data"]?[field].map(display) }.first ?? "" }
            var notes: [String] = []
            for record in records {
                let flags = record.result?["data"]?["flags"]?.arrayValue?.compactMap(\.stringValue) ?? []
                if record.state == .succeeded { notes += flags } else { notes.append(record.error ?? record.state.rawValue) }
            }
            row.append(notes.joined(separator: "; "))
            rows.append(.array(row.map(JSONValue.string)))
        }
        let flagged = items.filter { ($0.result?["data"]?["flags"]?.arrayValue?.isEmpty == false) }
        let failed = detail.tasks.filter { $0.state == .failed || $0.state == .skipped }
        var sections: [JSONValue] = []
        let usage = detail.usage
        sections.append([
            "heading": "Outcome",
            "text": .string(
                "Run \(detail.run.id) \(state.rawValue). \(detail.tasks.count) task(s); \(files.count) file(s), \(flagged.count) flagged, "
                    + "\(failed.count) failed or skipped. \(usage.modelCalls) model call(s), \(usage.tokens) tokens, \(usage.toolCalls) tool call(s)."
            ),
        ])
        if !failed.isEmpty {
            sections.append([
                "heading": "What failed, and why",
                "text": .string(failed.map { "- \($0.task.item ?? $0.task.id): \($0.error ?? $0.state.rawValue)" }.joined(separator: "\n")),
            ])
        }
        let others = detail.tasks.filter { $0.task.item == nil && $0.state == .succeeded }
        for record in others {
            let answer = record.result?["answer"]?.stringValue ?? ""
            // Only what a model wrote is checked; what code collected repeats its patterns by design.
            let repetitive =
                record.result?["degenerate"] == true || (record.result?["by"] != "code" && Repetition.isUnreadable(answer))
            let text =
                repetitive ? "(the model's text looped or was not readable and is left out; see 'hearth trace \(detail.run.id)')" : answer
            sections.append(["heading": .string(record.task.title), "text": .string(text)])
        }
        var arguments: [String: JSONValue] = [
            "path": .string(path), "title": .string("Report: \(detail.goal)"),
            "summary": .string(summary.isEmpty ? "(no summary)" : summary), "sections": .array(sections),
        ]
        if !items.isEmpty {
            let columns = ["file", "state"] + (written ? ["summary"] : []) + fields + ["flags or error"]
            arguments["table"] = ["columns": .array(columns.map(JSONValue.string)), "rows": .array(rows)]
        }
        return .object(arguments)
    }

    /// Scalar fields the items' results share (vendor, date, total…), in first-seen order.
    static func fieldNames(_ items: [TaskRecord]) -> [String] {
        var names: [String] = []
        for record in items {
            guard let data = record.result?["data"]?.objectValue else { continue }
            for key in data.keys.sorted()
            where !["path", "flags", "id", "text", "source", "kind", "pages"].contains(key) && !names.contains(key) {
                if case .array = data[key]! { continue }
                if case .object = data[key]! { continue }
                names.append(key)
            }
        }
        return Array(names.prefix(6))
    }

    static func oneLine(_ value: JSONValue?) -> String {
        let text = (value?.stringValue ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    static func display(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let number): number.rounded() == number && abs(number) < 1e12 ? String(Int(number)) : String(format: "%.2f", number)
        case .null: ""
        default: value.jsonText
        }
    }
}
