import ArgumentParser
import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthDaemon
import HearthMemory
import HearthModels
import HearthStore
import Logging

struct ChatCommand: AsyncParsableCommand {
    /// Exports a turn's trace once its answer is out (`[telemetry] otlp_endpoint`), as the daemon
    /// exports its turns.
    static func exportTrace(_ text: String, _ result: ChatEngine.Result, started: Date, configuration: Configuration) async {
        await GoalTraces.exportTurn(
            text, result: ChatView.json(result, context: nil), started: started, configuration: configuration,
            logger: Logger(label: "hearth.chat"))
    }

    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Talk to your agent: it remembers you across sessions, restarts and weeks.",
        discussion: """
            hearth chat                                  a conversation (type /help inside)
            hearth chat "My dog is called Biscuit."      one turn in the latest session (or a new one)
            hearth chat --new "What is my dog called?"   a new session; the answer comes from memory
            hearth chat --session ID "…"                 continue a session after any restart

            Every turn is stored in memory. Statements about you ("I prefer tea", "my manager is Ann Lee", "always answer \
            in English") become facts, preferences or rules, and the answer says what was noted. A question a stored fact \
            answers is answered from it, quoted, without the model; with [memory] extract_facts on, the model also reads \
            statements the patterns do not know. --json prints {"session", "answer", "stored", "usage", \
            "context"?}; --show-context adds exactly what the model would see, and what did not fit.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "One message (or - for stdin); without it, an interactive conversation.")
    var message: String?

    @Option(help: "Continue this session.")
    var session: String?

    @Flag(help: "Start a new session.")
    var new = false

    @Flag(help: "List the sessions.")
    var sessions = false

    @Flag(help: "Print the turn as JSON.")
    var json = false

    @Flag(help: "Include the assembled context (profile, memories, summary, recent turns, what was left out).")
    var showContext = false

    @Option(help: "Tokens of memory, profile and turns a turn may carry.")
    var budget = 2_048

    func validate() throws {
        if session != nil && new { throw ValidationError("--session and --new do not go together") }
        guard (256...32_768).contains(budget) else { throw ValidationError("--budget must be 256…32768 tokens") }
    }

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        let store = stores.chats
        if sessions {
            let list = try await store.sessions(limit: 50)
            if json {
                say(
                    JSONValue.array(
                        list.map {
                            [
                                "id": .string($0.id), "title": .string($0.title), "turns": .number(Double($0.turns)),
                                "updatedAt": .string(Timestamp.format($0.updatedAt)),
                            ]
                        }
                    ).jsonText)
            } else if list.isEmpty {
                say("No chat sessions yet: hearth chat \"Hello\" starts one.")
            } else {
                for item in list { say("\(item.id)  \(Timestamp.format(item.updatedAt).prefix(16))  \(item.turns) turns  \(item.title)") }
            }
            return
        }
        let memoryAccess = try await MemoryAccess.open(context, vectors: true, model: true, stores: stores)
        let model: (any LanguageModel)? = memoryAccess.access.map { access in
            AccountedModel(
                access.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds),
                ledger: stores.usage,
                budgets: context.configuration.budgets, pricing: context.configuration.pricing, context: UsageContext(purpose: "chat"))
        }
        // With [memory] extract_facts on, the model reads a statement the patterns do not know.
        let extractor: FactExtractor? =
            context.configuration.memory.extractFacts
            ? memoryAccess.access.map { access in
                FactExtractor(
                    model: AccountedModel(
                        access.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds), ledger: stores.usage,
                        budgets: context.configuration.budgets, pricing: context.configuration.pricing,
                        context: UsageContext(purpose: "extract")))
            } : nil
        var settings = ChatEngine.Settings()
        settings.memoryBudget = budget
        settings.profileTokens = context.configuration.memory.profileTokens
        settings.contextTokens = context.configuration.inference.contextTokens
        settings.minSimilarity = context.configuration.memory.minSimilarity
        settings.summaries = context.configuration.chat.summariesEnabled(chatModel: context.configuration.inference.chatModel)
        var goalBudget = GoalBudget()
        goalBudget.maxTokens = context.configuration.budgets.goal.tokens ?? goalBudget.maxTokens
        let engine = ChatEngine(
            memory: memoryAccess.engine, sessions: store, model: { model }, settings: settings,
            startGoal: ChatView.goalStarter(goals: stores.goals, workspace: context.paths.workspace, budget: goalBudget) {
                _ = await context.nudgeDaemon(["goals"])
            },
            acting: ChatView.acting(
                configuration: context.configuration, paths: context.paths, memory: memoryAccess.engine, model: model,
                mode: memoryAccess.access?.toolCallMode ?? InferenceAccess.toolCallMode(context.configuration), goals: stores.goals,
                external: context.paths.mcpToolSource(context.configuration)
            ) { _ = await context.nudgeDaemon(["goals"]) },
            extractor: extractor)
        guard let message else {
            try await interactive(engine, memory: memoryAccess.engine, stores: stores, context: context)
            await memoryAccess.close()
            return
        }
        let text = try AskCommand.readQuestion(message)
        let result: ChatEngine.Result
        let chat: ChatSession
        let started = Date()
        do {
            chat = try await engine.resolveSession(session, new: new, firstMessage: text)
            let streaming = !json
            result = try await engine.turn(text, session: chat) { piece in
                if streaming { FileHandle.standardOutput.write(Data(piece.utf8)) }
            }
        } catch let error as ChatError {
            await memoryAccess.close()
            switch error {
            case .unknownSession: throw CLIError(error.description)
            default: throw CLIError.usage(error.description)
            }
        }
        try await show(result, message: text, engine: engine, stores: stores, context: context)
        await ChatCommand.exportTrace(text, result, started: started, configuration: context.configuration)
        // With the answer out, the session's summary is rewritten when turns aged past it.
        if let outcome = await engine.summarise(chat), !outcome.hasPrefix("summary rewritten") {
            FileHandle.standardError.write(Data("hearth: \(outcome)\n".utf8))
        }
        await memoryAccess.close()
    }

    /// Prints a one-shot turn: its JSON, or the answer with what else happened (on stderr).
    func show(_ result: ChatEngine.Result, message text: String, engine: ChatEngine, stores: SharedStores, context: HearthContext)
        async throws
    {
        if json {
            var shown = result.context
            if showContext && shown == nil { shown = try await engine.assemble(text, previous: []) }
            say(
                ChatView.json(result, context: showContext ? shown : nil, approvals: await ChatView.waitingApprovals(stores.approvals))
                    .jsonText)
            return
        }
        if result.answeredBy == "model" {
            say("")
            for news in result.runNews { say(news.sentence) }
        } else {
            say(result.answer)
        }
        if showContext, let shown = result.context { FileHandle.standardError.write(Data((shown.json.jsonText + "\n").utf8)) }
        for line in Self.callLines(result) { FileHandle.standardError.write(Data("hearth: \(line)\n".utf8)) }
        if let note = result.note { FileHandle.standardError.write(Data("hearth: \(note)\n".utf8)) }
        if let run = result.startedRun, await !context.nudgeDaemon(["goals"]) {
            FileHandle.standardError.write(
                Data(
                    "hearth: no daemon is running to work on run \(run): start 'hearth daemon', or run it here with 'hearth resume \(run)'\n"
                        .utf8))
        }
        for approval in await ChatView.waitingApprovals(stores.approvals) {
            say(
                "(approval \(approval.id) waits: \(approval.tool) in run \(approval.runID) — \(approval.reason); 'hearth approve \(approval.id)' or /approve \(approval.id) in a conversation)"
            )
        }
        FileHandle.standardError.write(Data("(session \(result.session.id); continue with --session \(result.session.id))\n".utf8))
    }

    /// A conversation on the terminal: one line a turn, slash commands for the rest.
    /// The turn's tool calls, a line each.
    static func callLines(_ result: ChatEngine.Result) -> [String] {
        result.calls.map { call in
            let outcome = call["ok"] == true ? "ok" : (call["result"]?.stringValue ?? "failed")
            return "used \(call["tool"]?.stringValue ?? "?") \(call["arguments"]?.jsonText ?? "{}") — \(outcome)"
        }
    }

    func interactive(_ engine: ChatEngine, memory: MemoryEngine, stores: SharedStores, context: HearthContext) async throws {
        let store = stores.chats
        var chat = try await engine.resolveSession(session, new: new, firstMessage: "chat")
        say("Hearth chat, session \(chat.id). /help lists commands; /quit (or Ctrl-D) ends; ↑/↓ recall earlier lines.")
        let reader = TerminalLineReader(historyFile: context.paths.dataDirectory.appending(path: "chat-history"))
        while true {
            guard let line = reader.read(prompt: "> ") else { break }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text.hasPrefix("/") {
                let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
                switch parts[0] {
                case "/quit", "/exit": return
                case "/help":
                    say(
                        "/new  a new session · /sessions  list them · /session ID  switch · /profile  what I know about you · /forget WORDS  forget them · /approve ID, /deny ID  answer an approval · /quit"
                    )
                case "/new":
                    chat = try await store.createSession(title: "chat", at: Date())
                    say("new session \(chat.id)")
                case "/sessions":
                    for item in try await store.sessions(limit: 20) { say("\(item.id)  \(item.turns) turns  \(item.title)") }
                case "/session":
                    guard parts.count == 2, let found = try await store.session(parts[1]) else {
                        say("no such session; /sessions lists them")
                        continue
                    }
                    chat = found
                    say("session \(chat.id)")
                case "/profile":
                    let lines = try await memory.profileLines(for: "", budget: 4_096)
                    let facts = try await memory.store.facts(FactQuery(kinds: [.fact])).filter { $0.subject == "user" }
                    for line in lines + facts.map(ChatEngine.describe) { say("- \(line)") }
                    if lines.isEmpty && facts.isEmpty { say("Nothing yet: tell me about yourself.") }
                case "/forget":
                    guard parts.count == 2 else {
                        say("/forget WORDS")
                        continue
                    }
                    let result = try await engine.turn("forget \(parts[1])", session: chat)
                    say(result.answer)
                case "/approve", "/deny":
                    guard parts.count == 2, let id = Int64(parts[1]) else {
                        say("\(parts[0]) ID ('hearth approvals' lists them)")
                        continue
                    }
                    let approval = try await stores.approvals.decide(
                        id, approve: parts[0] == "/approve", note: "answered in chat", now: Date())
                    if !stores.shared { _ = await context.nudgeDaemon(["goals"]) }
                    say("\(parts[0] == "/approve" ? "approved" : "denied") \(approval.id): \(approval.tool)")
                default:
                    say("unknown command \(parts[0]); /help lists them")
                }
                continue
            }
            do {
                let started = Date()
                let result = try await engine.turn(text, session: chat) { piece in FileHandle.standardOutput.write(Data(piece.utf8)) }
                let configuration = context.configuration
                Task { await ChatCommand.exportTrace(text, result, started: started, configuration: configuration) }
                if result.answeredBy == "model" {
                    say("")
                    for news in result.runNews { say(news.sentence) }
                } else {
                    say(result.answer)
                }
                for line in Self.callLines(result) { say("(\(line))") }
                if let note = result.note { say("(\(note))") }
                if let outcome = await engine.summarise(chat), !outcome.hasPrefix("summary rewritten") { say("(\(outcome))") }
            } catch let error as ChatError {
                say("hearth: \(error)")
            }
        }
    }
}

/// Unbuffered output, so streamed pieces, answers and prompts keep their order on a pipe too.
private func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
