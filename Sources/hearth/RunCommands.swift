import ArgumentParser
import Foundation
import HearthAgent
import HearthCore
import HearthDaemon
import HearthStore

struct EffectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "effect",
        abstract: "Queue a run of a built-in effect (for demos and tests of the ledger).",
        subcommands: [AppendLineCommand.self])
}

struct AppendLineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append-line",
        abstract: "Queue a run that appends one line to a workspace file.",
        discussion: """
            The line is tagged with the step's idempotency key, e.g. "hello [hearth:key:demo-1#0]". \
            With --key, queuing the same key again creates no second run. The daemon performs it \
            (now if it runs, else when it starts); 'hearth run ID' shows the outcome.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The file, relative to the workspace.", valueName: "path"))
    var file: String

    @Option(help: "The line to append (one line).")
    var text: String

    @Option(help: "Idempotency key for the run.")
    var key: String?

    @Flag(help: "Append without checking for an earlier copy: an interrupted step is then flagged for review, never repeated.")
    var notIdempotent = false

    @Flag(help: "Print the run as JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        let effects = EffectRegistry([AppendLineEffect()])
        let step = try effects.stepRequest(
            effect: "append_line", arguments: ["path": .string(file), "text": .string(text), "idempotent": .bool(!notIdempotent)])
        if let key, key.isEmpty { throw CLIError.usage("--key must not be empty") }
        guard let stores = try await context.openStores(creating: true) else { return }
        defer { stores.close() }
        let (run, created) = try await stores.ledger.createRun(
            RunRequest(title: "append a line to \(file)", origin: "cli", key: key, steps: [step]))
        let told = await context.nudgeDaemon(["runs"])
        if json {
            printJSON(["id": .number(Double(run.id)), "created": .bool(created), "state": .string(run.state.rawValue)])
            return
        }
        print(created ? "run \(run.id) queued" : "run \(run.id) already exists for key \(key ?? "") (\(run.state.rawValue))")
        if created && !told { print("no daemon is running here; the run starts when 'hearth daemon' does") }
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List runs, newest first.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Only runs in this state (pending, running, succeeded, failed, awaitingApproval, cancelled, needsReview).")
    var state: String?

    @Option(help: "At most this many runs.")
    var limit = 50

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        var states: Set<RunState>?
        if let state {
            guard let parsed = RunState(rawValue: state) else {
                throw CLIError.usage(
                    "--state: unknown state \"\(state)\"; use one of \(RunState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            states = [parsed]
        }
        let stores = try await context.openStores(creating: false)
        defer { stores?.close() }
        let runs = try await stores?.ledger.runs(limit: limit, states: states) ?? []
        if json {
            printJSON(.array(runs.map(Self.json)))
            return
        }
        if runs.isEmpty { print("no runs") }
        for run in runs {
            print("\(run.id)  \(run.state.rawValue)  \(Timestamp.format(run.updatedAt))  \(run.title)")
        }
    }

    static func json(_ run: Run) -> JSONValue {
        [
            "id": .number(Double(run.id)), "title": .string(run.title), "origin": .string(run.origin),
            "key": run.key.map(JSONValue.string) ?? .null, "state": .string(run.state.rawValue),
            "createdAt": .string(Timestamp.format(run.createdAt)), "updatedAt": .string(Timestamp.format(run.updatedAt)),
        ]
    }

    static func json(_ detail: RunDetail) -> JSONValue {
        var document = json(detail.run).objectValue!
        document["steps"] = .array(
            detail.steps.map { step in
                [
                    "id": .number(Double(step.id)), "position": .number(Double(step.position)), "effect": .string(step.effect),
                    "arguments": step.arguments, "idempotencyKey": .string(step.idempotencyKey),
                    "idempotent": .bool(step.idempotent), "state": .string(step.state.rawValue),
                    "attempts": .number(Double(step.attempts)), "result": step.result ?? .null,
                    "error": step.error.map(JSONValue.string) ?? .null,
                ]
            })
        return .object(document)
    }

    static func render(_ detail: RunDetail) -> String {
        var lines = ["run \(detail.run.id)  \(detail.run.state.rawValue)  \(detail.run.title)"]
        for step in detail.steps {
            var line = "  step \(step.position)  \(step.state.rawValue)  \(step.effect)  \(step.arguments.jsonText)"
            if step.attempts > 1 { line += "  (attempt \(step.attempts))" }
            if let error = step.error { line += "\n           \(error)" }
            lines.append(line)
        }
        switch detail.run.state {
        case .needsReview:
            lines.append("review it, then 'hearth resume \(detail.run.id)' to run it again or 'hearth cancel \(detail.run.id)'")
        case .failed:
            lines.append("'hearth resume \(detail.run.id)' retries the failed step")
        default: break
        }
        return lines.joined(separator: "\n")
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Show one run and its steps.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The run id.")
    var id: Int64

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: false) else { throw LedgerError.runNotFound(id) }
        defer { stores.close() }
        if let goal = try await stores.goalIfAny(id) {
            print(json ? GoalJSON.detail(goal).jsonText : GoalJSON.render(goal, workspace: goal.workspace(context)))
            return
        }
        let detail = try await stores.ledger.run(id)
        print(json ? RunsCommand.json(detail).jsonText : RunsCommand.render(detail))
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a run: steps not started never run; one in flight finishes first.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The run id.")
    var id: Int64

    func run() async throws {
        let (detail, _) = try await common.load().changeRun(id) { try await $0.cancelRun(id) }
        print(RunsCommand.render(detail))
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Run again the steps of a run that failed or needs review (you decided it is safe).")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The run id.")
    var id: Int64

    @Flag(help: "For a goal: print the finished run as JSON (progress goes to stderr).")
    var json = false

    @Option(help: "For a goal: tasks that run at the same time.")
    var concurrency = 2

    func run() async throws {
        let context = try common.load()
        let stores = try await context.openStores(creating: false)
        defer { stores?.close() }
        if let stores, let goal = try await stores.goalIfAny(id) {
            // A goal continues in this process, from its plan and journal.
            if [.needsReview, .failed].contains(goal.run.state) { _ = try await stores.goals.resumeGoal(id) }
            guard goal.run.state != .succeeded && goal.run.state != .cancelled else { throw GoalError.notResumable(id, goal.run.state) }
            let session = GoalSession(context: context, stores: stores, workspace: goal.workspace(context), json: json)
            if goal.run.state == .awaitingApproval, let outcome = await session.outcome(goal) {
                // Nothing can move until a person answers: say who must answer what, and stop.
                throw outcome
            }
            try await session.finish(try await session.run(id, concurrency: concurrency))
            return
        }
        let (detail, told) = try await context.changeRun(id) { try await $0.resumeRun(id) }
        print(RunsCommand.render(detail))
        if !told { print("no daemon is running here; the run continues when 'hearth daemon' starts") }
    }
}

extension HearthContext {
    /// Applies a ledger change to run `id` and tells a running daemon; returns the run and
    /// whether a daemon was told.
    func changeRun(_ id: Int64, _ change: (any WorkLedger) async throws -> RunDetail) async throws -> (RunDetail, Bool) {
        guard let stores = try await openStores(creating: false) else { throw LedgerError.runNotFound(id) }
        defer { stores.close() }
        let detail = try await change(stores.ledger)
        return (detail, stores.shared ? false : await nudgeDaemon(["runs"]))
    }
}
