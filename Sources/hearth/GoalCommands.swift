import ArgumentParser
import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthDaemon
import HearthDemo
import HearthMCP
import HearthMemory
import HearthModels
import HearthPostgres
import HearthStore
import HearthTools
import HearthVault
import Logging

/// Budget flags shared by the commands that run a goal.
struct BudgetOptions: ParsableArguments {
    @Option(help: "Stop (pause) the run after this many tokens. Default: [budgets] goal_tokens of the config.")
    var maxTokens: Int?

    @Option(help: "Stop (pause) the run after this many seconds.")
    var maxSeconds = GoalBudget().maxSeconds

    @Option(help: "Stop (pause) the run after this many tool calls.")
    var maxToolCalls = GoalBudget().maxToolCalls

    @Option(help: "Model and tool steps one task may take before it fails.")
    var maxStepsPerTask = GoalBudget().maxStepsPerTask

    @Option(help: "Tasks that run at the same time.")
    var concurrency = 2

    func budget(_ configuration: Configuration) throws -> GoalBudget {
        let maxTokens = maxTokens ?? configuration.budgets.goal.tokens ?? GoalBudget().maxTokens
        for (name, value) in [
            ("--max-tokens", maxTokens), ("--max-seconds", maxSeconds), ("--max-tool-calls", maxToolCalls),
            ("--max-steps-per-task", maxStepsPerTask), ("--concurrency", concurrency),
        ] where value < 1 {
            throw CLIError.usage("\(name) must be at least 1 (got \(value))")
        }
        var budget = GoalBudget()
        budget.maxTokens = maxTokens
        budget.maxSeconds = maxSeconds
        budget.maxToolCalls = maxToolCalls
        budget.maxStepsPerTask = maxStepsPerTask
        return budget
    }
}

struct GoalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "goal",
        abstract: "Hand the agent a goal: it plans, works through the plan with its tools, and writes a report.",
        discussion: """
            Example: hearth goal "Audit the receipts in Receipts/ against Policy.md and flag anything over 100". \
            The run is durable: 'hearth runs' lists it, 'hearth run ID' shows its plan, 'hearth trace ID' every \
            model and tool call. A run that hits a budget or loops pauses with a report; 'hearth resume ID' continues it.
            """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var limits: BudgetOptions

    @Argument(help: "What you want done, in words.")
    var text: String

    @Flag(help: "Print the finished run as JSON (progress goes to stderr).")
    var json = false

    @Flag(help: "Hand the goal to the running daemon and return at once ('hearth run ID' follows it).")
    var detach = false

    @Option(
        help: "Where the plan comes from: auto (a recipe when the goal has a known shape, else the model) or model (always the model).")
    var planner: Planner.Mode = .auto

    func validate() throws {
        if detach && planner != .auto {
            throw ValidationError("--planner works in the foreground only; the daemon plans with recipes first")
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ValidationError("the goal is empty; say what you want done, e.g. hearth goal \"Summarise each file in Notes/\"")
        }
    }

    func run() async throws {
        let context = try common.load()
        let budget = try limits.budget(context.configuration)
        if detach && DaemonState.running(context.paths) == nil {
            throw CLIError("--detach needs a running daemon ('hearth daemon'); without --detach the goal runs here")
        }
        guard let stores = try await context.openStores(creating: true) else { return }
        defer { stores.close() }
        let run = try await stores.goals.createGoal(text, budget: budget, workspace: context.paths.workspace.path)
        if detach {
            let told = await context.nudgeDaemon(["goals"])
            if json {
                printJSON(["id": .number(Double(run.id)), "state": .string(run.state.rawValue), "daemon": .bool(told)])
            } else {
                print("run \(run.id) handed to the daemon; follow it with 'hearth run \(run.id)' and 'hearth trace \(run.id)'")
            }
            return
        }
        let session = GoalSession(context: context, stores: stores, workspace: context.paths.workspace, json: json, planner: planner)
        let detail = try await session.run(run.id, concurrency: limits.concurrency)
        try await session.finish(detail)
    }
}

/// Runs a goal in this process against the configured model, printing progress; its records go
/// to the configured store (this machine's SQLite or the fleet's PostgreSQL).
struct GoalSession {
    let context: HearthContext
    let stores: SharedStores
    let workspace: URL
    let json: Bool
    var planner: Planner.Mode = .auto

    /// Prints the run (JSON or text) and, unless it succeeded, throws its outcome: the reason
    /// and what to do go to stderr, the exit status says failed (1) or waiting for you (2).
    func finish(_ detail: GoalDetail) async throws {
        let outcome = await self.outcome(detail)
        if json {
            var document = GoalJSON.detail(detail).objectValue ?? [:]
            document["problem"] = outcome?.json ?? .null
            printJSON(.object(document))
        } else {
            print(GoalJSON.render(detail, workspace: workspace))
        }
        if let outcome { throw outcome }
    }

    func outcome(_ detail: GoalDetail) async -> GoalOutcome? {
        let approvals = (try? await stores.approvals.approvals(states: [.pending])) ?? []
        return GoalOutcome.of(
            detail, approvals: approvals.filter { $0.runID == detail.run.id }.map { ($0.id, $0.tool) },
            model: context.configuration.inference.chatModel)
    }

    func run(_ runID: Int64, concurrency: Int) async throws -> GoalDetail {
        guard FileManager.default.fileExists(atPath: workspace.path) else {
            throw CLIError("the workspace \(workspace.path) does not exist; create it (or run 'hearth init'), or pass --workspace")
        }
        // One worker per run: a second 'hearth resume' while this one works is refused, and a
        // killed worker's lock vanishes with it, so its run can be resumed. On the fleet's store
        // the run is leased in PostgreSQL (one worker fleet-wide, its writes fenced); a killed
        // worker's lease runs out after [fleet] lease_seconds.
        func busy(_ pid: Int32?) -> CLIError {
            CLIError(
                "run \(runID) is being worked on by another process\(pid.map { " (pid \($0))" } ?? ""); wait for it, or 'hearth cancel \(runID)'"
            )
        }
        if let postgres = stores.postgres {
            let holder = "\(context.configuration.fleetName) (hearth goal, pid \(getpid()))"
            guard
                let detail = try await postgres.whileLeasing(
                    run: runID, holder: holder, lease: .seconds(context.configuration.fleet.leaseSeconds),
                    { lease in
                        try await work(runID, concurrency: concurrency, store: PostgresGoalStore(database: postgres).fenced(by: lease))
                    })
            else { throw busy(nil) }
            return detail
        }
        let lock: DaemonLock
        do {
            lock = try GoalWorker.lock(runID, paths: context.paths)
        } catch {
            if case .held(let pid, _) = error { throw busy(pid) }
            throw error
        }
        defer { withExtendedLifetime(lock) {} }
        return try await work(runID, concurrency: concurrency, store: stores.goals)
    }

    /// The run itself, its lock or lease held; `store` records for it.
    private func work(_ runID: Int64, concurrency: Int, store: any GoalStore) async throws -> GoalDetail {
        let logger = Logger(label: "hearth.goal")
        let say: @Sendable (String) -> Void = { [json] line in
            if json {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            } else {
                // Progress is for watching: each line goes out as it happens, even into a pipe.
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        }
        let (goal, interrupted) = try await GoalWorker.recover(runID, store: store)
        if interrupted {
            say("run \(runID): resuming after an interruption; journaled tool calls are replayed, not repeated")
        }
        say("run \(runID): starting the model server…")
        let access = try await InferenceAccess.open(paths: context.paths, configuration: context.configuration, logger: logger)
        // Accounted: every call lands in 'hearth usage' and counts against the day's and the run's caps.
        let client = access.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds)
        let accounted = AccountedModel(
            client, embedder: client, ledger: stores.usage, budgets: context.configuration.budgets,
            pricing: context.configuration.pricing, context: UsageContext(purpose: "goal", runID: runID))
        let model = LanguageModelAgent(model: accounted, mode: access.toolCallMode)
        // Memory: the profile and what is relevant to the goal go into every prompt; remember,
        // recall and notify are tools.
        let memory = MemoryEngine(
            store: stores.memory,
            embedder: context.configuration.memory.vectors ? accounted.with(UsageContext(purpose: "embed", runID: runID)) : nil,
            settings: RetrievalSettings(context.configuration.memory))
        try await memory.open()
        say("run \(runID): planning with \(access.endpoint.chatModel) (\(access.origin) server)")
        let external = context.paths.mcpToolSource(context.configuration, logger: logger)
        let runner = GoalRunner(
            store: store, model: model,
            tools: context.paths.goalTools(
                configuration: context.configuration, memory: memory, journal: stores.journal, goals: store,
                external: await external?.tools() ?? [], model: model),
            workspace: workspace,
            options: await GoalWorker.options(
                configuration: context.configuration, paths: context.paths, memory: memory, goal: goal.goal, concurrency: concurrency
            ).with(planner: planner),
            approvals: stores.approvals, logger: logger
        ) { event in
            switch event {
            case .planned(let tasks, let source, let repaired):
                say(
                    "planned \(tasks) task(s) (\(source == "model" ? "written by the model" : source))"
                        + (repaired ? " after one repair round" : ""))
            case .started(let task): say("  start  \(task)")
            case .finished(let task, let state, let note):
                say("  \(state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(task)  \(note.prefix(160))")
            case .paused(let reason): say("paused: \(reason)")
            case .reported(let path): say("report: \(workspace.appending(path: path).path)")
            case .waiting(let task, let approval, let reason):
                say("  waiting   \(task)  approval \(approval): \(reason) — 'hearth approve \(approval)' or 'hearth deny \(approval)'")
            }
        }
        do {
            let detail = try await runner.run(runID)
            await external?.shutdown()
            await access.close()
            await GoalTraces.export(detail, store: store, configuration: context.configuration, logger: logger)
            return detail
        } catch {
            await external?.shutdown()
            await access.close()
            throw error
        }
    }
}

extension Planner.Mode: ExpressibleByArgument {}

extension GoalRunner.Options {
    /// The same options with plans from `planner`.
    func with(planner: Planner.Mode) -> GoalRunner.Options {
        var options = self
        options.planner = planner
        return options
    }
}

extension GoalDetail {
    /// The tree this goal works in.
    func workspace(_ context: HearthContext) -> URL {
        workspace.map { URL(fileURLWithPath: $0) } ?? context.paths.workspace
    }
}

/// JSON and text renderings of a goal's run.
enum GoalJSON {
    static func detail(_ detail: GoalDetail) -> JSONValue {
        var document = RunsCommand.json(detail.run).objectValue!
        document["goal"] = .string(detail.goal)
        document["report"] = detail.report.map(JSONValue.string) ?? .null
        document["summary"] = detail.summary.map(JSONValue.string) ?? .null
        document["pauseReason"] = detail.pauseReason.map(JSONValue.string) ?? .null
        document["usage"] = [
            "modelCalls": .number(Double(detail.usage.modelCalls)), "toolCalls": .number(Double(detail.usage.toolCalls)),
            "promptTokens": .number(Double(detail.usage.promptTokens)), "completionTokens": .number(Double(detail.usage.completionTokens)),
        ]
        document["tasks"] = .array(
            detail.tasks.map { record in
                [
                    "id": .string(record.task.id), "group": .string(record.task.group),
                    "item": record.task.item.map(JSONValue.string) ?? .null,
                    "title": .string(record.task.title), "dependsOn": .array(record.task.dependsOn.map(JSONValue.string)),
                    "tools": .array(record.task.tools.map(JSONValue.string)), "state": .string(record.state.rawValue),
                    "attempts": .number(Double(record.attempts)), "result": record.result ?? .null,
                    "error": record.error.map(JSONValue.string) ?? .null,
                ]
            })
        return .object(document)
    }

    static func render(_ detail: GoalDetail, workspace: URL?) -> String {
        var lines = ["run \(detail.run.id)  \(detail.run.state.rawValue)  goal: \(detail.goal)"]
        var groups: [String] = []
        for record in detail.tasks where !groups.contains(record.task.group) { groups.append(record.task.group) }
        for group in groups {
            let members = detail.tasks.filter { $0.task.group == group }
            let first = members[0].task
            let after = first.dependsOn.isEmpty ? "" : "  (after \(first.dependsOn.joined(separator: ", ")))"
            if members.count == 1 && first.item == nil {
                lines.append(
                    "  \(members[0].state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(first.id): \(first.title)\(after)")
                if let error = members[0].error { lines.append("            \(error)") }
                continue
            }
            let counts = Dictionary(grouping: members, by: \.state).map { "\($0.value.count) \($0.key.rawValue)" }.sorted()
            lines.append(
                "  fan-out   \(group): \(first.title.components(separatedBy: ": ").first ?? group) × \(members.count)  [\(counts.joined(separator: ", "))]\(after)"
            )
            for record in members {
                var line =
                    "    \(record.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(record.task.item ?? record.task.id)"
                if let summary = record.result?["summary"]?.stringValue { line += "  \(summary.prefix(140))" }
                if let error = record.error { line += "  \(error.prefix(200))" }
                lines.append(line)
            }
        }
        if detail.tasks.isEmpty {
            lines.append(
                detail.run.state == .failed
                    ? "  no plan: \(GoalOutcome.planProblem(detail))" : "  (not planned yet)")
        }
        let usage = detail.usage
        lines.append(
            "usage: \(usage.modelCalls) model call(s), \(usage.promptTokens) prompt + \(usage.completionTokens) completion tokens, \(usage.toolCalls) tool call(s)"
        )
        if let reason = detail.pauseReason {
            lines.append(
                detail.run.state == .awaitingApproval
                    ? "\(reason); answer with 'hearth approve ID' or 'hearth deny ID', then 'hearth resume \(detail.run.id)' (a running daemon continues it by itself)"
                    : "paused: \(reason); 'hearth resume \(detail.run.id)' continues it")
        }
        if let report = detail.report { lines.append("report: \(workspace.map { $0.appending(path: report).path } ?? report)") }
        return lines.joined(separator: "\n")
    }
}

struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace", abstract: "Show every model call, tool call and decision of a goal's run, with timings and tokens.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The run id.")
    var id: Int64

    @Flag(help: "Print JSON: [{task, kind, name, detail, promptTokens, completionTokens, ms, at}].")
    var json = false

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: false) else { throw LedgerError.runNotFound(id) }
        defer { stores.close() }
        let detail = try await stores.goals.goal(id)
        let events = try await stores.goals.traces(id)
        if json {
            printJSON(
                .array(
                    events.map { event in
                        [
                            "task": event.taskID.map(JSONValue.string) ?? .null, "kind": .string(event.kind.rawValue),
                            "name": .string(event.name), "detail": event.detail,
                            "promptTokens": event.promptTokens.map { .number(Double($0)) } ?? .null,
                            "completionTokens": event.completionTokens.map { .number(Double($0)) } ?? .null,
                            "ms": event.milliseconds.map { .number(Double($0)) } ?? .null, "at": .string(Timestamp.format(event.at)),
                        ]
                    }))
            return
        }
        print("run \(id)  \(detail.run.state.rawValue)  \(detail.goal)")
        var order: [String?] = [nil]
        for event in events where !order.contains(event.taskID) { order.append(event.taskID) }
        for task in order {
            let mine = events.filter { $0.taskID == task }
            guard !mine.isEmpty else { continue }
            let tokens = mine.reduce(0) { $0 + ($1.promptTokens ?? 0) + ($1.completionTokens ?? 0) }
            let ms = mine.reduce(0) { $0 + ($1.milliseconds ?? 0) }
            print(task.map { "├─ task \($0)  (\(ms) ms, \(tokens) tokens)" } ?? "├─ run")
            for event in mine {
                var line = "│   \(event.kind.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \(event.name)"
                if let ms = event.milliseconds { line += "  \(ms) ms" }
                if let prompt = event.promptTokens { line += "  \(prompt)+\(event.completionTokens ?? 0) tok" }
                if event.kind == .tool, let arguments = event.detail["arguments"] { line += "  \(arguments.jsonText.prefix(100))" }
                if let result = event.detail["result"]?.stringValue { line += "  → \(result.prefix(100))" }
                if let reason = event.detail["reason"]?.stringValue { line += "  \(reason)" }
                print(line)
            }
        }
    }
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Audit sample expense receipts against a policy, on the local model, and print where the report is.",
        discussion: """
            Creates <workspace>/demo with 20 SROIE receipts (text, three scans read by OCR, one broken PDF) and \
            Policy.md, then hands the agent the goal "\(SampleWorkspace.goal)". \
            Needs the model server 'scripts/setup' installs (or an [inference] base_url).
            """,
        subcommands: [ComplianceDemoCommand.self])

    @OptionGroup var common: CommonOptions
    @OptionGroup var limits: BudgetOptions

    @Flag(help: "Print {run, report, receipts, flagged, failed, tokens, seconds} as JSON (progress goes to stderr).")
    var json = false

    @Flag(help: "Show the result of the last demo instead of running it again (with --json: its JSON).")
    var last = false

    func run() async throws {
        let context = try common.load()
        let workspace = context.paths.workspace.appending(path: "demo")
        let previous = try await Self.lastRun(context, workspace: workspace)
        if last {
            guard let previous else { throw CLIError("no demo has run here yet; 'hearth demo' runs it") }
            try report(previous, receipts: SampleWorkspace.receiptNames, workspace: workspace, seconds: nil, context: context)
            return
        }
        if let previous {
            let note =
                "running the demo again (run \(previous.run.id) was the last one; 'hearth demo --last\(json ? " --json" : "")' shows its result without re-running)"
            FileHandle.standardError.write(Data((note + "\n").utf8))
        }
        let started = Date()
        let receipts = try SampleWorkspace.create(at: workspace)
        // This machine's SQLite, or the fleet's PostgreSQL when [store] url is set.
        guard let stores = try await context.openStores(creating: true) else { return }
        defer { stores.close() }
        let run = try await stores.goals.createGoal(
            SampleWorkspace.goal, budget: try limits.budget(context.configuration), workspace: workspace.path)
        let detail = try await GoalSession(context: context, stores: stores, workspace: workspace, json: json)
            .run(run.id, concurrency: limits.concurrency)
        try report(detail, receipts: receipts, workspace: workspace, seconds: Date().timeIntervalSince(started), context: context)
    }

    /// Prints the demo's result; a run that did not succeed also says why on stderr.
    func report(_ detail: GoalDetail, receipts: [String], workspace: URL, seconds: Double?, context: HearthContext) throws {
        let outcome = GoalOutcome.of(detail, model: context.configuration.inference.chatModel)
        if json {
            var document = Self.summary(detail, receipts: receipts, workspace: workspace, seconds: seconds ?? 0).objectValue ?? [:]
            if seconds == nil { document["seconds"] = .null }
            document["problem"] = outcome?.json ?? .null
            printJSON(.object(document))
        } else {
            print(GoalJSON.render(detail, workspace: workspace))
            if let seconds { print(String(format: "took %.0f s", seconds)) }
        }
        if let outcome { throw outcome }
    }

    /// The newest demo run for this workspace in the configured store, if any.
    static func lastRun(_ context: HearthContext, workspace: URL) async throws -> GoalDetail? {
        guard let stores = try await context.openStores(creating: false) else { return nil }
        defer { stores.close() }
        for run in try await stores.ledger.runs(limit: 500, states: nil) where run.origin == "goal" {
            let detail = try await stores.goals.goal(run.id)
            if detail.goal == SampleWorkspace.goal, detail.workspace == workspace.path { return detail }
        }
        return nil
    }

    /// The demo's answer: flagged receipts come from the tools' structured results, never from prose.
    static func summary(_ detail: GoalDetail, receipts: [String], workspace: URL, seconds: Double) -> JSONValue {
        let id = CheckReceiptTool.receiptID
        var flagged: [JSONValue] = []
        var failed: [JSONValue] = []
        for record in detail.tasks {
            guard let item = record.task.item, receipts.contains(item) else { continue }
            if record.state == .succeeded, let flags = record.result?["data"]?["flags"]?.arrayValue, !flags.isEmpty {
                flagged.append(["id": .string(id(item)), "reasons": .array(flags)])
            } else if record.state != .succeeded {
                failed.append(["id": .string(id(item)), "error": .string(record.error ?? record.state.rawValue)])
            }
        }
        // Receipts the plan never reached are failures too: nothing is silently dropped.
        let reached = Set(detail.tasks.compactMap(\.task.item))
        for receipt in receipts where !reached.contains(receipt) {
            failed.append(["id": .string(id(receipt)), "error": "the plan did not cover this receipt"])
        }
        return [
            "run": .number(Double(detail.run.id)), "state": .string(detail.run.state.rawValue),
            "report": detail.report.map { .string(workspace.appending(path: $0).path) } ?? .null,
            "receipts": .array(receipts.map { .string(id($0)) }), "flagged": .array(flagged), "failed": .array(failed),
            "tokens": .number(Double(detail.usage.tokens)), "seconds": .number((seconds * 10).rounded() / 10),
        ]
    }
}

struct ComplianceDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compliance",
        abstract: "Write the compliance review's fixture: a 300-page regulation PDF, 50 feature specs, a style guide and the truth.",
        discussion: """
            Writes <workspace>/compliance (or --into DIR): Regulation.pdf (rendered by groff), Projects/NextGen/*.md (50 specs \
            with compliant lines and planted violations; two of them broken markdown), StyleGuide.md, and truth.json — every \
            planted violation as {spec, line, article, page}. The same seed writes the same fixture on any machine. \
            'hearth bench compliance --fixture DIR' reads any directory in this layout.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Write here instead of <workspace>/compliance.", valueName: "dir"))
    var into: String?

    @Option(help: "The generator's seed: another seed, other numbers, scopes and pages.")
    var seed: UInt64 = 2_026

    @Option(help: "How many specs.")
    var specs = 50

    func validate() throws {
        guard (3...1_000).contains(specs) else { throw ValidationError("--specs must be 3…1000") }
    }

    func run() async throws {
        let context = try common.load()
        let directory = into.map { URL(fileURLWithPath: $0) } ?? context.paths.workspace.appending(path: "compliance")
        let summary = try await ComplianceFixture.write(to: directory, seed: seed, specs: specs)
        print(
            "wrote \(directory.path): Regulation.pdf (\(summary.pages) pages, \(summary.articles) articles), \(summary.specs) specs in Projects/NextGen, StyleGuide.md, truth.json (\(summary.violations) planted violations)"
        )
    }
}
