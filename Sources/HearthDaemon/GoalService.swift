import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthMCP
import HearthMemory
import HearthModels
import HearthPostgres
import HearthStore
import HearthTools
import HearthVault
import Logging
import ServiceLifecycle

/// Runs the goals that are waiting (handed over with `hearth goal --detach` or `POST /v1/goals`,
/// or interrupted by a stop), one at a time, each under the same per-run lock a foreground
/// `hearth goal` takes, so a run never has two workers.
///
/// On graceful shutdown the goal in progress is interrupted; it stays `running` with its
/// journal, and the next start picks it up where it stopped.
struct GoalService: Service {
    let store: any GoalStore
    /// The model for one goal's run (accounted to that run).
    let model: @Sendable (Int64) -> any AgentModel
    let memory: MemoryEngine
    let journal: any EventJournal
    let approvals: any ApprovalBook
    let configuration: Configuration
    let paths: HearthPaths
    let wake: WakeSignal
    let clock: any WallClock
    let logger: Logger
    /// The supervised model server, when the daemon runs one: no goal starts or resumes before
    /// it is ready (a run resumed too early would fail its first model call and stop for review).
    var modelServer: InferenceStatus? = nil
    /// Told once, after the first pass, which interrupted goals this start resumed.
    var reportResumed: (@Sendable ([Int64]) async -> Void)? = nil
    /// The tools of `[[mcp.servers]]`, listed when a goal first runs.
    var external: MCPToolSource? = nil
    /// The fleet's store, when goals are shared: a run is then leased in PostgreSQL (one worker
    /// fleet-wide, taken over when its lease runs out, its writes fenced), not locked by a file.
    var fleet: PostgresStore? = nil

    func run() async throws {
        await withGracefulShutdownHandler {
            var firstPass = true
            var leftToAnother = false
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                await waitForModelServer()
                guard !Task.isShuttingDownGracefully && !Task.isCancelled else { break }
                do {
                    if firstPass, let reportResumed {
                        // Goals a killed daemon left running: resumed below, now that the model answers.
                        var interrupted = try await store.activeGoals(states: [.running])
                        // On a fleet, only those no other daemon is working on are this start's to resume.
                        if let fleet { interrupted = try await fleet.runs(interrupted, notHeldByOthersThan: configuration.fleetName) }
                        await reportResumed(interrupted)
                        firstPass = false
                    }
                    // Unanswered requests past their deadline deny; their tasks go back to work.
                    for expired in try await approvals.expire(now: clock.now()) {
                        logger.notice("approval \(expired.id) (run \(expired.runID), \(expired.tool)) expired without an answer: denied")
                    }
                    if let fleet {
                        leftToAnother = try await workOnFleet(fleet)
                    } else {
                        for id in try await store.activeGoals() {
                            guard !Task.isShuttingDownGracefully else { break }
                            if try await !work(on: id) { leftToAnother = true }
                        }
                    }
                } catch {
                    logger.error("goals: \(error)")
                }
                // A run another daemon holds is looked at again once its lease could have run out.
                let pause = leftToAnother ? min(60, Double(configuration.fleet.leaseSeconds) + 1) : 60
                leftToAnother = false
                await wake.wait(until: clock.now().addingTimeInterval(pause), clock: clock)
            }
        } onGracefulShutdown: {
            wake.wake()
        }
    }

    /// Returns once the supervised model server is ready (at once without one), or on shutdown.
    private func waitForModelServer() async {
        guard let modelServer, modelServer.phase != .ready else { return }
        logger.info("goals wait for the model server to be ready")
        while modelServer.phase != .ready && !Task.isShuttingDownGracefully && !Task.isCancelled {
            await wake.wait(until: clock.now().addingTimeInterval(1), clock: clock)
        }
    }

    /// One pass over the fleet's goals: each run with work left that no other daemon holds is
    /// leased under this daemon's fleet name (the oldest first; runs others are taking are passed
    /// over, not waited for) and worked on with fenced writes: if the lease is lost (paused past
    /// it, the server unreachable), another daemon takes the run and nothing more is recorded here.
    /// Whether runs with work left were left to other daemons.
    private func workOnFleet(_ fleet: PostgresStore) async throws -> Bool {
        var tried: [Int64] = []
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let worked = try await fleet.whileLeasingNext(
                    holder: configuration.fleetName, lease: .seconds(configuration.fleet.leaseSeconds), skip: tried
                ) { lease in
                    try await run(lease.run, store: PostgresGoalStore(database: fleet).fenced(by: lease))
                }
                guard let worked else { break }
                tried.append(worked.run)
            } catch PostgresStoreError.leaseLost(let run) {
                logger.warning("goal run \(run): \(PostgresStoreError.leaseLost(run: run))")
                tried.append(run)
            }
        }
        let left = try await store.activeGoals().filter { !tried.contains($0) }
        if !left.isEmpty { logger.info("goal runs \(left.map(String.init).joined(separator: ", ")) are being worked on by other daemons") }
        return !left.isEmpty
    }

    /// Works on run `id` unless another process holds it (then `false`).
    private func work(on id: Int64) async throws -> Bool {
        guard let lock = try? GoalWorker.lock(id, paths: paths) else {
            logger.info("goal run \(id) is being worked on by another process; leaving it")
            return false
        }
        defer { withExtendedLifetime(lock) {} }
        try await run(id, store: store)
        return true
    }

    /// Works on run `id`, its lock or lease held; `store` records for it.
    private func run(_ id: Int64, store: any GoalStore) async throws {
        let (detail, interrupted) = try await GoalWorker.recover(id, store: store)
        if interrupted { logger.notice("goal run \(id): resuming after an interruption") }
        let workspace = detail.workspace.map { URL(fileURLWithPath: $0) } ?? paths.workspace
        let runModel = model(id)
        let runner = GoalRunner(
            store: store, model: runModel,
            tools: paths.goalTools(
                configuration: configuration, memory: memory, journal: journal, goals: store, external: await external?.tools() ?? [],
                model: runModel),
            workspace: workspace,
            options: await GoalWorker.options(configuration: configuration, paths: paths, memory: memory, goal: detail.goal),
            approvals: approvals, logger: logger
        ) { [logger] event in
            switch event {
            case .planned(let tasks, let source, _): logger.info("goal run \(id): planned \(tasks) task(s) (\(source))")
            case .finished(let task, let state, _): logger.info("goal run \(id): \(task) \(state.rawValue)")
            case .paused(let reason): logger.warning("goal run \(id) paused: \(reason)")
            case .reported(let path): logger.info("goal run \(id): report \(path)")
            case .waiting(let task, let approval, let reason):
                logger.notice(
                    "goal run \(id): \(task) waits for approval \(approval) (\(reason)); 'hearth approve \(approval)' or 'hearth deny \(approval)'"
                )
            case .started: break
            }
        }
        let task = Task { try await runner.run(id) }
        let result = await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await task.result
            } onGracefulShutdown: {
                task.cancel()
            }
        } onCancel: {
            task.cancel()
        }
        if case .success(let finished) = result {
            logger.info("goal run \(id) \(finished.run.state.rawValue)")
            // In the background: the next goal does not wait for the collector.
            Task { [store, configuration, logger] in
                await GoalTraces.export(finished, store: store, configuration: configuration, logger: logger)
            }
        } else if case .failure(let error) = result {
            if error is CancellationError {
                logger.notice("goal run \(id): stopped before its next step; it resumes from its journal")
            } else {
                logger.error("goal run \(id): \(error)")
            }
        }
    }
}

/// Goal runs as OpenTelemetry traces, when `[telemetry] otlp_endpoint` is set.
public enum GoalTraces {
    /// Exports a run that stopped (finished, paused or waiting for a human); a running one is not.
    public static func export(_ detail: GoalDetail, store: any GoalStore, configuration: Configuration, logger: Logger) async {
        guard let endpoint = configuration.telemetry.otlpEndpoint, detail.run.state != .running, detail.run.state != .pending else {
            return
        }
        guard let traces = try? await store.traces(detail.run.id) else { return }
        let body = OTLPTraces.request(
            for: detail, traces: traces, model: configuration.inference.chatModel, serviceVersion: HearthVersion.current)
        await OTLPExporter(endpoint: endpoint, logger: logger).export(body)
    }

    /// Exports a chat turn; callers run it once the answer is out (the answer never waits for
    /// the collector).
    public static func exportTurn(_ message: String, result: JSONValue, started: Date, configuration: Configuration, logger: Logger)
        async
    {
        guard let endpoint = configuration.telemetry.otlpEndpoint else { return }
        let body = OTLPTraces.request(
            forTurn: message, result: result, started: started, ended: Date(), model: configuration.inference.chatModel,
            serviceVersion: HearthVersion.current)
        await OTLPExporter(endpoint: endpoint, logger: logger).export(body)
    }
}
