import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthMCP
import HearthModels
import HearthSandbox
import HearthServer
import HearthStore
import HearthTools

/// How chat turns and sessions read as JSON, for `hearth chat --json` and the API.
public enum ChatView {
    public static func json(_ result: ChatEngine.Result, context: ChatContext?, approvals: [Approval] = []) -> JSONValue {
        var object: [String: JSONValue] = [
            "startedRun": result.startedRun.map { .number(Double($0)) } ?? .null,
            "approvals": .array(
                approvals.map {
                    [
                        "id": .number(Double($0.id)), "run": .number(Double($0.runID)), "tool": .string($0.tool),
                        "reason": .string($0.reason),
                    ]
                }),
            "session": .string(result.session.id), "answer": .string(result.answer), "stored": .array(result.stored.map(JSONValue.string)),
            "answeredBy": .string(result.answeredBy), "note": result.note.map(JSONValue.string) ?? .null,
            "usage": (result.usage.flatMap { try? JSONValue(parsing: JSONEncoder().encode($0)) }) ?? .null,
            "calls": .array(result.calls),
            "runs": .array(
                result.runNews.map {
                    ["run": .number(Double($0.runID)), "state": .string($0.state.rawValue), "text": .string($0.sentence)]
                }),
            "error": result.error.map { .string($0.description) } ?? .null,
            "extraction": result.extraction.map(JSONValue.string) ?? .null,
        ]
        if let context { object["context"] = context.json }
        return .object(object)
    }

    public static func json(_ session: ChatSession) -> JSONValue {
        [
            "id": .string(session.id), "title": .string(session.title), "turns": .number(Double(session.turns)),
            "createdAt": .string(Timestamp.format(session.createdAt)), "updatedAt": .string(Timestamp.format(session.updatedAt)),
        ]
    }

    /// A session with its turns, oldest first, and its model-written summary of older turns.
    public static func detail(_ session: ChatSession, memory: any MemoryStore, chats: any ChatSessionStore) async throws -> JSONValue {
        let turns = try await memory.sessionRecords(source: "chat", sessionID: session.id)
        var object = json(session).objectValue ?? [:]
        object["summary"] =
            try await chats.summary(session: session.id).map {
                [
                    "text": .string($0.text), "through": .number(Double($0.through)), "turns": .number(Double($0.turns)),
                    "writtenAt": .string(Timestamp.format($0.writtenAt)),
                ]
            } ?? .null
        object["turns"] = .array(
            turns.map {
                ["speaker": .string($0.speaker ?? "user"), "text": .string($0.text), "at": .string(Timestamp.format($0.occurredAt))]
            })
        return .object(object)
    }
}

extension ChatView {
    /// Starts a durable goal for a chat message when it is work of a shape Hearth plans without a
    /// model ("Summarise each note in Notes/"); nil otherwise, and the turn stays a conversation.
    public static func goalStarter(
        goals: any GoalStore, workspace: URL, budget: GoalBudget, started: @escaping @Sendable () async -> Void
    )
        -> ChatEngine.GoalStarter
    {
        { text, _ in
            guard GoalShape.parse(text, files: (try? WorkspaceFiles.list(under: nil, in: workspace)) ?? []) != nil else { return nil }
            let run = try await goals.createGoal(text, budget: budget, workspace: nil)
            await started()
            return run.id
        }
    }

    /// What the chat model may do, when `[chat] tools` is on: the read-only tools (other
    /// programs' too), `recall` and `remember`, and `start_goal` (a durable goal under the ordinary policy and approvals).
    public static func acting(
        configuration: Configuration, paths: HearthPaths, memory: any AgentMemory, model: (any LanguageModel)?, mode: ToolCallMode,
        goals: any GoalStore, external: MCPToolSource? = nil, started: @escaping @Sendable () async -> Void
    ) -> ChatEngine.Acting? {
        guard configuration.chat.toolsEnabled(chatModel: configuration.inference.chatModel) else { return nil }
        var goalBudget = GoalBudget()
        goalBudget.maxTokens = configuration.budgets.goal.tokens ?? goalBudget.maxTokens
        let budget = goalBudget
        let startGoal = StartGoalTool { goal in
            let run = try await goals.createGoal(goal, budget: budget, workspace: nil)
            await started()
            return run.id
        }
        let tools = BuiltinTools.all(memory: memory, extra: [startGoal]).all.filter {
            $0.risk == .read || ["remember", "start_goal"].contains($0.name)
        }
        let agent: (any AgentModel)? = model.map { LanguageModelAgent(model: $0, mode: mode) }
        var acting = ChatEngine.Acting(
            agent: { agent }, tools: ToolBox(tools), workspace: paths.workspace, mounts: paths.mounts,
            policy: PolicyEngine(autonomy: configuration.policy.autonomy, rules: configuration.policy.rules))
        // Other programs' tools the user declared read-only; the rest belong to goals, where they can wait for approval.
        if let external { acting.more = { await external.tools().filter { $0.risk == .read } } }
        return acting
    }

    /// A session's goals and the approvals waiting on them as they change, looked at every
    /// `every` (a keep-alive comment each 15 s finds a client gone); nil for no such session.
    public static func watch(session id: String, chats: any ChatSessionStore, approvals: any ApprovalBook, every: Duration = .seconds(1))
        async throws -> AsyncStream<StreamEvent>?
    {
        guard try await chats.session(id) != nil else { return nil }
        return AsyncStream { continuation in
            let task = Task {
                var watch = ChatSessionWatch()
                var quiet = Duration.zero
                while !Task.isCancelled {
                    // A store that fails a look is looked at again; the stream stays open.
                    if let runs = try? await chats.runs(session: id), let pending = try? await approvals.approvals(states: [.pending]) {
                        let events = watch.update(runs: runs, pending: pending)
                        for event in events { continuation.yield(Self.streamEvent(event)) }
                        if !events.isEmpty { quiet = .zero }
                    }
                    if quiet >= .seconds(15) {
                        continuation.yield(.keepAlive)
                        quiet = .zero
                    }
                    try? await Task.sleep(for: every)
                    quiet += every
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// A watch event as the stream sends it.
    static func streamEvent(_ event: ChatSessionWatch.Event) -> StreamEvent {
        switch event {
        case .run(let news):
            StreamEvent(
                "run", ["run": .number(Double(news.runID)), "state": .string(news.state.rawValue), "text": .string(news.sentence)])
        case .approval(let approval):
            StreamEvent(
                "approval",
                [
                    "id": .number(Double(approval.id)), "run": .number(Double(approval.runID)), "tool": .string(approval.tool),
                    "arguments": approval.arguments, "reason": .string(approval.reason), "hash": .string(approval.hash),
                    "expiresAt": .string(Timestamp.format(approval.expiresAt)),
                ])
        case .approvalClosed(let id, let runID):
            StreamEvent("approvalClosed", ["id": .number(Double(id)), "run": .number(Double(runID))])
        }
    }

    /// Approvals waiting for the user, shown in the conversation.
    public static func waitingApprovals(_ approvals: any ApprovalBook) async -> [Approval] {
        (try? await approvals.approvals(states: [.pending])) ?? []
    }
}
