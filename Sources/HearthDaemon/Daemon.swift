import CHearthSystem
import Foundation
import Glibc
import HearthAgent
import HearthConfig
import HearthCore
import HearthDashboard
import HearthMCP
import HearthMemory
import HearthModels
import HearthServer
import HearthStore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Why the daemon could not start.
public enum DaemonError: Error, Sendable, CustomStringConvertible {
    case portInUse(Int)
    case workspaceUnwatchable(String)

    public var description: String {
        switch self {
        case .portInUse(let port):
            "port \(port) on 127.0.0.1 is in use; set [server] port in config.toml to a free port, or 0 to pick one"
        case .workspaceUnwatchable(let reason):
            "\(reason); or turn the watcher off with [watcher] enabled = false"
        }
    }
}

/// What start-up found, per part, for `hearth status` (`ledger`, `cron`, `watcher`, `maildir`).
final class StartupBoard: Sendable {
    private let entries = Mutex<[String: JSONValue]>([:])

    func set(_ key: String, _ value: JSONValue) { entries.withLock { $0[key] = value } }
    var count: Int { entries.withLock { $0.count } }
    var snapshot: JSONValue { .object(entries.withLock { $0 }) }
}

/// `hearth daemon`: every long-lived part as a `Service` in one `ServiceGroup`.
///
/// Start-up order: take the data dir's lock, check the database (`quick_check`; a corrupt file
/// is refused, never touched), record the start, reconcile the ledger, then run the services.
/// The daemon is *ready* once the HTTP API listens: it then writes `runtime/daemon.json` and
/// prints one line on stdout. SIGTERM or SIGINT shut the services down in reverse order — the
/// API stops taking work first, the executor last, after in-flight steps had their grace period.
public enum Daemon {
    public static func run(paths: HearthPaths, configuration: Configuration, logger: Logger) async throws {
        let startedAt = Date()
        // Few arenas: a daemon's threads mostly sleep, and each arena keeps its freed pages.
        _ = hearth_set_malloc_arena_max(2)
        // Metrics first: a metric made before the metrics system is bootstrapped would count nowhere.
        _ = DaemonMetrics.registry
        let token = try DataDirectory.prepare(paths)
        let lock = try DaemonLock.acquire(at: paths.lockFile, dataDirectory: paths.dataDirectory.path)
        defer { withExtendedLifetime(lock) {} }
        // Model servers that killed commands left behind (the daemon's own is reaped by its supervisor).
        InferenceAccess.sweepTransientDirectories(in: paths.runtimeDirectory, logger: logger)
        // This machine's database: the daemon's start records, and every store unless [store] url
        // names the fleet's PostgreSQL.
        let database = try HearthDatabase.open(at: paths.database, checkIntegrity: true)
        let records = DaemonRecordStore(database: database)
        guard let stores = try await DaemonStores.open(configuration, holder: configuration.fleetName, database: { database }) else {
            throw StoreError.failed(path: paths.database.path, detail: "cannot open the store")
        }
        defer { stores.close() }
        let startID = try await records.recordStart(pid: getpid(), version: HearthVersion.current, at: startedAt)
        let journal = stores.journal
        let ledger = stores.ledger
        let schedules = stores.schedules

        let recovery = try await ledger.recover()
        let board = StartupBoard()
        board.set("ledger", ledgerReport(recovery))
        if !recovery.needsReviewSteps.isEmpty {
            logger.warning(
                "\(recovery.needsReviewSteps.count) interrupted step(s) are not idempotent and need review: see 'hearth runs --state needsReview'"
            )
        }
        if !recovery.requeuedSteps.isEmpty { logger.notice("re-queued \(recovery.requeuedSteps.count) interrupted idempotent step(s)") }

        let clock = SystemWallClock()
        let executorWake = WakeSignal()
        let cronWake = WakeSignal()
        let effects = EffectRegistry([AppendLineEffect()])
        let expectedReports = 1 + (configuration.watcher.enabled ? 1 : 0) + (configuration.maildir.enabled ? 1 : 0)
        let reportStartup: StartupReporter = { trigger, report in
            board.set(trigger, report)
            do {
                try await records.mergeRecovery(startID, key: trigger, value: report)
            } catch {
                logger.warning("cannot record the \(trigger) start-up report: \(error)")
            }
            // Once every trigger has caught up, give back what the start-up scans allocated.
            if board.count == expectedReports + 1 {
                await database.releaseMemory()
                _ = hearth_malloc_trim()
            }
        }

        // Local inference first in the list, so it stops last: a step finishing during the
        // shutdown grace period may still need the model.
        var services: [any Service] = []
        let inference = InferenceStatus()
        let inferenceReport = Self.inferenceService(paths: paths, configuration: configuration, status: inference, logger: logger)
        if let supervisor = inferenceReport.service { services.append(supervisor) }
        // One client for memory and goals: the external server, or the supervised one once ready.
        let deferred = DeferredInference(configuration: configuration, status: inference)
        // Private data stays here when the model is elsewhere ([inference] redact).
        let models: any LanguageModel & Embedder =
            await RedactionSetup.redaction(
                configuration: configuration, paths: paths, endpoint: deferred.endpoint, memory: stores.memory
            ).map { RedactingModel(deferred, redaction: $0) } ?? deferred
        let usage = stores.usage
        services += [
            LedgerExecutor(
                ledger: ledger, effects: effects,
                options: .init(
                    concurrency: configuration.executor.concurrency,
                    shutdownGrace: .seconds(configuration.executor.shutdownGraceSeconds), workspace: paths.workspace),
                wake: executorWake, clock: clock, logger: logger),
            CronTriggerService(
                book: schedules,
                defaultTimeZone: configuration.cron.timeZone.flatMap(TimeZone.init(identifier:)) ?? .current,
                clock: clock, wake: cronWake, logger: logger, reportStartup: reportStartup),
        ]
        if configuration.watcher.enabled {
            services.append(
                FileWatcherService(
                    options: .init(
                        // On the fleet's store each machine's workspace has its own index rows.
                        root: paths.workspace, scope: stores.shared ? "workspace@\(configuration.fleetName)" : "workspace",
                        settle: .milliseconds(configuration.watcher.settleMilliseconds),
                        rules: IgnoreRules(patterns: configuration.watcher.ignore, excludedPaths: excludedPaths(paths))),
                    store: stores.files, logger: logger, reportStartup: reportStartup))
        }
        if configuration.maildir.enabled {
            services.append(
                MaildirWatcherService(
                    maildir: paths.maildir, maxBodyBytes: configuration.maildir.maxBodyBytes, journal: journal, logger: logger,
                    reportStartup: reportStartup))
        }
        // Memory upkeep: embeds new records with the supervised (or external) model server,
        // extracts facts when [memory] extract_facts is on, consolidates on the configured period.
        let memoryBoard = MemoryStatusBoard()
        let memorySettings = configuration.memory
        let serverReachable = inferenceReport.service != nil || (configuration.inference.enabled && configuration.inference.baseURL != nil)
        let memoryEngine = MemoryEngine(
            store: stores.memory,
            embedder: serverReachable && memorySettings.vectors ? models : nil,
            settings: RetrievalSettings(memorySettings))
        var extractor: FactExtractor?
        if memorySettings.extractFacts && serverReachable {
            // Extraction calls are accounted and capped like every other model call.
            extractor = FactExtractor(
                model: AccountedModel(
                    models, ledger: usage,
                    budgets: configuration.budgets, pricing: configuration.pricing, context: UsageContext(purpose: "extract")))
        }
        let extraction: JSONValue =
            extractor != nil
            ? .string("on (\(configuration.inference.chatModel))")
            : .string(
                memorySettings.extractFacts ? "off (no model server: see the inference line)" : "off ([memory] extract_facts = false)")
        var consolidation = ConsolidationPolicy()
        consolidation.maxRecords = memorySettings.maxRecords
        consolidation.summariseAfterDays = Double(memorySettings.summariseAfterDays)
        services.append(
            MemoryMaintenanceService(
                engine: memoryEngine, extractor: extractor, extractionBatch: memorySettings.extractionBatch, policy: consolidation,
                consolidationEvery: Double(memorySettings.consolidateEveryHours) * 3600, logger: logger, clock: clock,
                report: { state in
                    memoryBoard.set(memorySettings.vectors ? state.description : "full text only ([memory] vectors = false)")
                }))
        // The attention loop: every journaled event is remembered and scored (no model call), and
        // the morning brief and end-of-day digest are written on their schedules.
        let attentionWake = WakeSignal()
        let routineWake = WakeSignal()
        let inbox = InboxFeed()
        // Git repositories and metric files: their new commits and rows become events.
        let sourceState = stores.sources
        if !configuration.gitRepositories.isEmpty {
            let sources = configuration.gitRepositories.map { path in
                GitWatcherService.Source(
                    name: path.hasPrefix("/") ? URL(fileURLWithPath: path).lastPathComponent : path,
                    path: path.hasPrefix("/") ? URL(fileURLWithPath: path) : paths.workspace.appending(path: path))
            }
            services.append(
                GitWatcherService(
                    sources: sources, store: sourceState, logger: logger, reportStartup: reportStartup,
                    onJournaled: { _ in attentionWake.wake() }))
        }
        if !configuration.metricStreams.isEmpty {
            services.append(
                MetricStreamService(
                    workspace: paths.workspace, streams: configuration.metricStreams, store: sourceState, logger: logger,
                    onJournaled: { _ in attentionWake.wake() }))
        }
        let deliveryWake = WakeSignal()
        let channels = DeliveryService.channels(configuration)
        if configuration.attention.enabled {
            if !channels.isEmpty {
                services.append(
                    DeliveryService(
                        store: stores.deliveries, attention: stores.attention([]), channels: channels,
                        wake: deliveryWake, clock: clock, logger: logger))
            }
            services.append(
                AttentionService(
                    journal: journal, store: stores.attention(channels.map(\.name)),
                    ingestor: AttentionWiring.ingestor(configuration: configuration, workspace: paths.workspace),
                    profile: { try await AttentionWiring.profile(memory: stores.memory, configuration: configuration) },
                    wake: attentionWake,
                    clock: clock, logger: logger,
                    stored: { items in
                        // The keyword index learns the new records; interrupts reach whoever listens.
                        _ = try? await memoryEngine.remember([])
                        let interrupts = items.filter { $0.decision.level == .interrupt }
                        inbox.publish(interrupts)
                        if !interrupts.isEmpty { deliveryWake.wake() }
                        routineWake.wake()
                    }))
            if let morning = try? CronExpression(configuration.attention.morning),
                let evening = try? CronExpression(configuration.attention.evening)
            {
                services.append(
                    BriefService(
                        writer: BriefWriter(stores: stores, configuration: configuration, workspace: paths.workspace), morning: morning,
                        evening: evening, timeZone: configuration.timeZone, clock: clock, wake: WakeSignal(), logger: logger,
                        written: { _ in attentionWake.wake() }))
            }
        }
        // The credential broker, before the goals that may call it (so it stops after them).
        let vaultWake = WakeSignal()
        services.append(VaultBrokerService(paths: paths, logger: logger, wake: vaultWake, clock: clock))
        // The day's log in the workspace (Journal/YYYY-MM-DD.md), written from the store.
        services.append(
            JournalWriter(stores: stores, workspace: paths.workspace, wake: WakeSignal(), clock: clock, logger: logger))
        // PROFILE.md: the profile as a file, the user's edits flowing back as trusted facts.
        services.append(
            ProfileFileSync(
                memory: memoryEngine, stores: stores, workspace: paths.workspace, wake: WakeSignal(), clock: clock, logger: logger))
        // Goals handed over with 'hearth goal --detach' or POST /v1/goals, and goals interrupted
        // by a stop, run here (one at a time; a goal a CLI works on is left to it).
        let goalWake = WakeSignal()
        let goals = stores.goals
        // Other programs' tools (MCP servers), shared by goals and chat; their programs stop with the daemon.
        let external = paths.mcpToolSource(configuration, logger: logger)
        if configuration.inference.enabled {
            let goalMode = InferenceAccess.toolCallMode(configuration)
            services.append(
                GoalService(
                    store: goals,
                    model: { runID in
                        LanguageModelAgent(
                            model: AccountedModel(
                                models, ledger: usage, budgets: configuration.budgets, pricing: configuration.pricing,
                                context: UsageContext(purpose: "goal", runID: runID)),
                            mode: goalMode)
                    },
                    memory: memoryEngine, journal: journal, approvals: stores.approvals,
                    configuration: configuration, paths: paths, wake: goalWake, clock: clock, logger: logger,
                    modelServer: inferenceReport.service == nil ? nil : inference,
                    reportResumed: { ids in
                        let report: JSONValue = ["resumed": .array(ids.map { JSONValue.number(Double($0)) })]
                        try? await records.mergeRecovery(startID, key: "goals", value: report)
                    }, external: external, fleet: stores.postgres))
        }
        if configuration.attention.enabled {
            // Routines turn matching events (or a cron slot) into goals the goal service runs.
            var routineBudget = GoalBudget()
            routineBudget.maxTokens = configuration.budgets.goal.tokens ?? routineBudget.maxTokens
            services.append(
                RoutineService(
                    store: stores.routines, attention: stores.attention([]), journal: journal,
                    budget: routineBudget, timeZone: configuration.timeZone, wake: routineWake, clock: clock, logger: logger,
                    goalsCreated: { goalWake.wake() }))
        }
        var dependencies = APIDependencies(
            journal: journal, ledger: ledger, effects: effects,
            status: {
                let live: JSONValue = [
                    "startup": board.snapshot, "inference": inferenceReport.service == nil ? inferenceReport.note : inference.snapshot,
                    "memory": ["retrieval": .string(memoryBoard.value), "extraction": extraction],
                ]
                guard let counts = try? await stores.telemetry.storeCounts() else { return .null }
                return (try? StatusReport.build(paths: paths, records: records, counts: counts, live: live)) ?? .null
            },
            runsChanged: { executorWake.wake() }, schedulesChanged: { cronWake.wake() }, eventsAppended: { attentionWake.wake() },
            goals: goals,
            goalsChanged: { goalWake.wake() }, approvals: stores.approvals,
            vaultChanged: { vaultWake.wake() })
        if configuration.attention.enabled {
            dependencies.inbox = { all in try await InboxView.list(stores: stores, all: all) }
            dependencies.acknowledge = { id in try await stores.attention([]).acknowledge(eventID: id, at: Date()) }
            dependencies.latestBrief = { try await InboxView.latestBrief(stores: stores) }
            dependencies.inboxFeedback = { id, urgent in try await InboxView.feedback(stores: stores, eventID: id, urgent: urgent) }
            dependencies.routinesChanged = { routineWake.wake() }
        }
        do {
            // Chat: every turn is memory; facts answer what they can, the model the rest.
            var chatSettings = ChatEngine.Settings()
            chatSettings.profileTokens = configuration.memory.profileTokens
            chatSettings.contextTokens = configuration.inference.contextTokens
            chatSettings.minSimilarity = configuration.memory.minSimilarity
            chatSettings.summaries = configuration.chat.summariesEnabled(chatModel: configuration.inference.chatModel)
            let chatModel: (any LanguageModel)? =
                serverReachable
                ? AccountedModel(
                    models, ledger: usage, budgets: configuration.budgets, pricing: configuration.pricing,
                    context: UsageContext(purpose: "chat"))
                : nil
            var chatBudget = GoalBudget()
            chatBudget.maxTokens = configuration.budgets.goal.tokens ?? chatBudget.maxTokens
            let chat = ChatEngine(
                memory: memoryEngine, sessions: stores.chats, model: { chatModel }, settings: chatSettings,
                startGoal: ChatView.goalStarter(goals: goals, workspace: paths.workspace, budget: chatBudget) { goalWake.wake() },
                acting: ChatView.acting(
                    configuration: configuration, paths: paths, memory: memoryEngine, model: chatModel,
                    mode: InferenceAccess.toolCallMode(configuration), goals: goals, external: external
                ) { goalWake.wake() }, extractor: extractor)
            dependencies.chatTurn = { message, session, new, showContext, onText in
                let resolved = try await chat.resolveSession(session, new: new, firstMessage: message)
                let started = Date()
                let result = try await chat.turn(message, session: resolved, stream: onText)
                var context = result.context
                if showContext && context == nil { context = try await chat.assemble(message, previous: []) }
                let json = ChatView.json(
                    result, context: showContext ? context : nil,
                    approvals: await ChatView.waitingApprovals(stores.approvals))
                Task { await GoalTraces.exportTurn(message, result: json, started: started, configuration: configuration, logger: logger) }
                // With the answer out, the session's summary is rewritten when turns aged past it
                // (a failure leaves the last one; the next turn tries again).
                Task {
                    if let outcome = await chat.summarise(resolved), !outcome.hasPrefix("summary rewritten") {
                        logger.notice("chat session \(resolved.id): \(outcome)")
                    }
                }
                return json
            }
            dependencies.chatSessions = { .array(try await stores.chats.sessions(limit: 100).map(ChatView.json)) }
            dependencies.chatSession = { id in
                guard let session = try await stores.chats.session(id) else { return nil }
                return try await ChatView.detail(session, memory: stores.memory, chats: stores.chats)
            }
            dependencies.chatSessionStream = { id in
                try await ChatView.watch(session: id, chats: stores.chats, approvals: stores.approvals)
            }
            dependencies.inboxStream = {
                let items = inbox.subscribe()
                return AsyncStream { continuation in
                    let task = Task {
                        for await item in items { continuation.yield(InboxView.json(item)) }
                        continuation.finish()
                    }
                    continuation.onTermination = { _ in task.cancel() }
                }
            }
        }
        // The web dashboard, on the same port: pages over the same stores and hooks as the API.
        let dashboardSessions = DashboardSessions()
        var pagesData = DashboardData(ledger: ledger, workspace: paths.workspace, mounts: paths.mounts) { goalWake.wake() }
        pagesData.goals = goals
        pagesData.approvals = stores.approvals
        pagesData.inbox = dependencies.inbox
        pagesData.acknowledge = dependencies.acknowledge
        pagesData.inboxStream = dependencies.inboxStream
        pagesData.latestBrief = dependencies.latestBrief
        pagesData.feedback = dependencies.inboxFeedback
        pagesData.memory = memoryEngine
        pagesData.usage = usage
        pagesData.budgets = configuration.budgets
        if let turn = dependencies.chatTurn, let sessions = dependencies.chatSessions, let session = dependencies.chatSession {
            pagesData.chat = DashboardChat(
                turn: { message, id, onText in try await turn(message, id, id == nil, false, onText) }, sessions: sessions, session: session
            )
        }
        let status = dependencies.status
        pagesData.modelProblem = { HealthView.modelProblem(status: await status()) }
        pagesData.health = { await HealthView.sections(status: await status(), configuration: configuration, stores: stores) }
        let dashboard = Dashboard(sessions: dashboardSessions, data: pagesData, logger: logger)
        // MCP for the user's other tools: the same memory, goals and approvals, behind the API token.
        let mcpHooks = MCPWiring.hooks(stores: stores, memory: memoryEngine, workspace: paths.workspace) {
            goalWake.wake()
            return true
        }
        let metrics = DaemonMetrics(telemetry: stores.telemetry, budgets: configuration.budgets, status: dependencies.status)
        dependencies.pages = { router in
            dashboard.register(on: router)
            HearthMCPServer.register(on: router, hooks: mcpHooks, token: token, logger: logger)
            metrics.register(on: router, token: token, public: configuration.telemetry.metricsPublic)
        }
        dependencies.dashboardLink = { await dashboardSessions.issueLink() }
        let api = APIServer(
            port: configuration.server.port, token: token, maxBodyBytes: configuration.server.maxBodyBytes, dependencies: dependencies,
            logger: logger)
        services.append(
            api.service { port in
                let state = DaemonState(pid: getpid(), port: port, startedAt: startedAt, version: HearthVersion.current)
                do {
                    try state.write(to: paths.daemonStateFile)
                } catch {
                    logger.error("cannot write \(paths.daemonStateFile.path): \(error)")
                }
                let readyAt = Date()
                try? await records.recordReady(startID, at: readyAt, recovery: board.snapshot)
                let milliseconds = Int((readyAt.timeIntervalSince(startedAt) * 1000).rounded())
                logger.info("ready in \(milliseconds) ms on 127.0.0.1:\(port)")
                // One line on stdout for whoever started us (tests, supervisors, the README tour).
                let line = "hearth daemon ready: pid \(getpid()), http://127.0.0.1:\(port), data \(paths.dataDirectory.path)\n"
                FileHandle.standardOutput.write(Data(line.utf8))
                // Anything submitted between recovery and now was written straight to the database.
                executorWake.wake()
                goalWake.wake()
                // The MCP servers start and list their tools now, not in the first turn that needs them.
                if let external { Task { _ = await external.tools() } }
            })

        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.executor.shutdownGraceSeconds + 10)
        let group = ServiceGroup(configuration: groupConfiguration)
        defer { try? FileManager.default.removeItem(at: paths.daemonStateFile) }
        do {
            try await group.run()
        } catch {
            if isAddressInUse(error) { throw DaemonError.portInUse(configuration.server.port) }
            if let watchError = error as? WatchError { throw DaemonError.workspaceUnwatchable(watchError.description) }
            throw error
        }
        await external?.shutdown()
        try? await records.recordStop(startID, at: Date())
        logger.info("stopped cleanly")
    }

    /// The llama-server supervisor when local inference is configured and installed; otherwise
    /// a note for `hearth status` saying why there is none (the daemon runs either way).
    private static func inferenceService(
        paths: HearthPaths, configuration: Configuration, status: InferenceStatus, logger: Logger
    ) -> (service: (any Service)?, note: JSONValue) {
        let inference = configuration.inference
        guard inference.enabled else { return (nil, ["phase": "disabled"]) }
        if let url = inference.baseURL {
            return (nil, ["phase": "external", "provider": .string(inference.provider.rawValue), "baseURL": .string(url)])
        }
        do {
            let installation = try ModelInstallation.load(binary: paths.llamaServer, modelsDirectory: paths.modelsDirectory)
            _ = try installation.model(named: inference.chatModel, kind: .chat)
            _ = try installation.model(named: inference.embeddingModel, kind: .embedding)
            let supervisor = LlamaServerSupervisor(
                options: .init(
                    installation: installation, chatModel: inference.chatModel, embeddingModel: inference.embeddingModel,
                    runtimeDirectory: paths.runtimeDirectory, logFile: paths.llamaServerLog, threads: inference.threads,
                    contextTokens: inference.contextTokens),
                status: status, logger: logger)
            return (supervisor, ["phase": "starting"])
        } catch {
            logger.warning("local inference is not available: \(error)")
            return (nil, ["phase": "notInstalled", "reason": .string(String(describing: error))])
        }
    }

    private static func ledgerReport(_ recovery: LedgerRecovery) -> JSONValue {
        [
            "requeuedSteps": .array(recovery.requeuedSteps.map { .number(Double($0)) }),
            "needsReviewSteps": .array(recovery.needsReviewSteps.map { .number(Double($0)) }),
            "adoptedResults": .array(recovery.adoptedResults.map { .number(Double($0)) }),
            "activeRuns": .array(recovery.activeRuns.map { .number(Double($0)) }),
        ]
    }

    /// Hearth's own files must never feed the watcher, or every journal write would be an event.
    private static func excludedPaths(_ paths: HearthPaths) -> Set<String> {
        let root = paths.workspace.path + "/"
        return Set(
            [paths.dataDirectory.path, paths.maildir.path].compactMap { path in
                path.hasPrefix(root) ? String(path.dropFirst(root.count)) : nil
            })
    }

    private static func isAddressInUse(_ error: any Error) -> Bool {
        if let ioError = error as? IOError, ioError.errnoCode == EADDRINUSE { return true }
        return String(describing: error).contains("Address already in use")
    }
}

/// Logging for the daemon: stderr and a size-capped file in the data dir.
public enum DaemonLogging {
    public static func bootstrap(paths: HearthPaths, configuration: Configuration) throws {
        let file = try LogFile(url: paths.logFile, maxBytes: configuration.log.maxFileBytes)
        let level = Logger.Level(rawValue: configuration.log.level.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var stderr = StreamLogHandler.standardError(label: label)
            stderr.logLevel = level
            return MultiplexLogHandler([stderr, FileLogHandler(label: label, file: file, level: level)])
        }
    }
}
