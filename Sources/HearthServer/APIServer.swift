import Foundation
import HearthCore
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// What the HTTP API reads and writes, and whom it tells.
public struct APIDependencies: Sendable {
    public var journal: any EventJournal
    public var ledger: any WorkLedger
    public var effects: EffectRegistry
    /// The daemon's live status document (`GET /v1/status`).
    public var status: @Sendable () async -> JSONValue
    /// Called after a run is created or resumed, so the executor picks it up.
    public var runsChanged: @Sendable () -> Void
    /// Called after schedules changed outside the daemon (the CLI nudges through `POST /v1/wake`).
    public var schedulesChanged: @Sendable () -> Void
    /// Called after events were journaled (consumers such as attention wake on it).
    public var eventsAppended: @Sendable () -> Void
    /// Goals (`POST /v1/goals`); `nil` when the daemon runs no goals (inference is off).
    public var goals: (any GoalStore)?
    /// Called after a goal was handed over, so the goal service picks it up.
    public var goalsChanged: @Sendable () -> Void
    /// Approvals (`GET /v1/approvals`, `POST /v1/approvals/{id}/approve|deny`).
    public var approvals: (any ApprovalBook)?
    /// Called after the vault was created or changed (`hearth vault add`), so its broker starts now.
    public var vaultChanged: @Sendable () -> Void
    /// `GET /v1/inbox`: interrupt-level items not yet acknowledged (`?all=1`: with the acknowledged).
    public var inbox: (@Sendable (_ all: Bool) async throws -> JSONValue)?
    /// `POST /v1/inbox/{event}/ack`: false when there is no such item.
    public var acknowledge: (@Sendable (_ eventID: Int64) async throws -> Bool)?
    /// `POST /v1/inbox/{event}/feedback` (`{"urgent": true|false}`): what was noted, nil for no such item.
    public var inboxFeedback: (@Sendable (_ eventID: Int64, _ urgent: Bool) async throws -> String?)?
    /// `GET /v1/inbox/stream`: interrupts as they are decided, one JSON object per event.
    public var inboxStream: (@Sendable () -> AsyncStream<JSONValue>)?
    /// `POST /v1/chat`: one turn (`message`, `session`?, `new`?, `showContext`?); `onText` receives
    /// the model's text as it streams. Throws `ChatError` for bad input.
    public var chatTurn:
        (
            @Sendable (
                _ message: String, _ session: String?, _ new: Bool, _ showContext: Bool, _ onText: @escaping @Sendable (String) -> Void
            ) async throws ->
                JSONValue
        )?
    /// `GET /v1/chat/sessions` and `GET /v1/chat/sessions/{id}` (nil: no such session).
    public var chatSessions: (@Sendable () async throws -> JSONValue)?
    public var chatSession: (@Sendable (String) async throws -> JSONValue?)?
    /// `GET /v1/chat/sessions/{id}/stream`: the session's goals and the approvals waiting on them
    /// as they change, as server-sent events (nil: no such session).
    public var chatSessionStream: (@Sendable (String) async throws -> AsyncStream<StreamEvent>?)?
    /// Called after routines changed outside the daemon (`hearth routine add`).
    public var routinesChanged: @Sendable () -> Void = {}
    /// `GET /v1/briefs/latest`: the newest brief, nil when none was written.
    public var latestBrief: (@Sendable () async throws -> JSONValue?)?
    /// A one-time dashboard login token (`POST /v1/dashboard/link`, for `hearth dashboard`).
    public var dashboardLink: (@Sendable () async -> String)?
    /// Adds the web pages (the dashboard) beside the API.
    public var pages: (@Sendable (Router<BasicRequestContext>) -> Void)?

    public init(
        journal: any EventJournal, ledger: any WorkLedger, effects: EffectRegistry, status: @escaping @Sendable () async -> JSONValue,
        runsChanged: @escaping @Sendable () -> Void, schedulesChanged: @escaping @Sendable () -> Void,
        eventsAppended: @escaping @Sendable () -> Void, goals: (any GoalStore)? = nil, goalsChanged: @escaping @Sendable () -> Void = {},
        approvals: (any ApprovalBook)? = nil, vaultChanged: @escaping @Sendable () -> Void = {}
    ) {
        self.vaultChanged = vaultChanged
        self.approvals = approvals
        self.goals = goals
        self.goalsChanged = goalsChanged
        self.journal = journal
        self.ledger = ledger
        self.effects = effects
        self.status = status
        self.runsChanged = runsChanged
        self.schedulesChanged = schedulesChanged
        self.eventsAppended = eventsAppended
    }
}

/// The loopback HTTP API.
///
/// Every route but `GET /v1/health` needs `Authorization: Bearer <token>` (the token is in
/// `<data dir>/api-token`). Errors are JSON: `{"error": "what happened and what to do"}`.
///
/// | route | does |
/// |---|---|
/// | `GET /v1/health` | liveness, no auth |
/// | `POST /v1/events` | journal one event (object) or a batch (array); 201 created, 200 duplicate |
/// | `GET /v1/events?after=&limit=&source=&kind=` | read the journal |
/// | `POST /v1/runs` | create a run of effect steps (idempotent with `key`) |
/// | `GET /v1/runs`, `GET /v1/runs/{id}` | runs and their steps |
/// | `POST /v1/runs/{id}/cancel`, `POST /v1/runs/{id}/resume` | steer a run |
/// | `POST /v1/goals` | `{"goal": "…", "key"?}`: hand over a goal (201 with its run; 200 with the same run for a key seen before) |
/// | `GET /v1/goals/{id}`, `GET /v1/goals/{id}/trace` | a goal's plan, tasks and usage; its trace |
/// | `GET /v1/approvals?all=1`, `POST /v1/approvals/{id}/approve`, `POST /v1/approvals/{id}/deny` | answer gated actions (`{"note"}` / `{"reason"}`) |
/// | `POST /v1/wake` | `{"what": ["runs", "schedules", "goals", "vault"]}`: the CLI's nudge after it wrote the database or the vault |
/// | `GET /v1/status` | the daemon's status document |
/// | `GET /v1/inbox?all=1`, `GET /v1/inbox/stream`, `POST /v1/inbox/{id}/ack`, `POST /v1/inbox/{id}/feedback` | interruptions: list, live, done, urgent or not (`{"urgent": bool}`) |
/// | `POST /v1/chat`, `GET /v1/chat/sessions`, `GET /v1/chat/sessions/{id}`, `GET /v1/chat/sessions/{id}/stream` | conversation with memory; the stream: the session's goals (`run`) and approvals (`approval`, `approvalClosed`) as they change |
/// | `POST /v1/dashboard/link` | a one-time login token for the web dashboard (`hearth dashboard`) |
public struct APIServer: Sendable {
    public let port: Int
    let token: String
    let maxBodyBytes: Int
    let dependencies: APIDependencies
    let logger: Logger

    public init(port: Int, token: String, maxBodyBytes: Int, dependencies: APIDependencies, logger: Logger) {
        self.port = port
        self.token = token
        self.maxBodyBytes = maxBodyBytes
        self.dependencies = dependencies
        self.logger = logger
    }

    /// The server as a `Service`; `onListening` gets the bound port (useful with port 0).
    public func service(onListening: @escaping @Sendable (Int) async -> Void) -> some Service {
        Application(
            router: makeRouter(),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "hearth", reuseAddress: false),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.get("/v1/health") { _, _ in Self.json(["status": "ok"]) }
        dependencies.pages?(router)
        let api = router.group("/v1").add(middleware: BearerTokenMiddleware(token: token))
        api.post("/events") { request, _ in try await appendEvents(request) }
        api.get("/events") { request, _ in try await listEvents(request) }
        api.post("/runs") { request, _ in try await createRun(request) }
        api.get("/runs") { request, _ in try await listRuns(request) }
        api.get("/runs/:id") { _, context in
            Self.json(try Self.encode(try await dependencies.ledger.run(try Self.runID(context))))
        }
        api.post("/runs/:id/cancel") { _, context in
            Self.json(try Self.encode(try await dependencies.ledger.cancelRun(try Self.runID(context))))
        }
        api.post("/runs/:id/resume") { _, context in
            let detail = try await dependencies.ledger.resumeRun(try Self.runID(context))
            dependencies.runsChanged()
            return Self.json(try Self.encode(detail))
        }
        api.post("/goals") { request, _ in try await createGoal(request) }
        api.get("/goals/:id") { _, context in Self.json(try Self.encode(try await goalStore().goal(try Self.runID(context)))) }
        api.get("/goals/:id/trace") { _, context in
            let store = try goalStore()
            let id = try Self.runID(context)
            _ = try await store.goal(id)  // an unknown goal is a 404, not an empty trace
            return Self.json(try Self.encode(try await store.traces(id)))
        }
        api.get("/approvals") { request, _ in
            let book = try approvalBook()
            _ = try await book.expire(now: Date())
            let all = request.uri.queryParameters["all"].map { $0 == "1" || $0 == "true" } ?? false
            return Self.json(try Self.encode(try await book.approvals(states: all ? nil : [.pending])))
        }
        api.post("/dashboard/link") { _, _ in
            guard let link = dependencies.dashboardLink else {
                throw APIError(status: .serviceUnavailable, message: "this daemon serves no dashboard")
            }
            return Self.json(["token": .string(await link())])
        }
        api.post("/approvals/:id/approve") { request, context in try await answerApproval(request, context, approve: true) }
        api.post("/approvals/:id/deny") { request, context in try await answerApproval(request, context, approve: false) }
        api.post("/wake") { request, _ in try await wake(request) }
        api.get("/status") { _, _ in Self.json(await dependencies.status()) }
        api.get("/inbox") { request, _ in
            guard let inbox = dependencies.inbox else {
                throw APIError(status: .serviceUnavailable, message: "attention is off ([attention] enabled = false)")
            }
            return Self.json(try await inbox(request.uri.queryParameters.get("all") == "1"))
        }
        api.post("/chat") { request, _ in try await chat(request) }
        api.get("/chat/sessions") { _, _ in
            guard let sessions = dependencies.chatSessions else {
                throw APIError(status: .serviceUnavailable, message: "chat is not available")
            }
            return Self.json(try await sessions())
        }
        api.get("/chat/sessions/:id") { _, context in
            guard let session = dependencies.chatSession else {
                throw APIError(status: .serviceUnavailable, message: "chat is not available")
            }
            let id = context.parameters.get("id") ?? ""
            guard let detail = try await session(id) else { throw APIError(status: .notFound, message: "no chat session \"\(id)\"") }
            return Self.json(detail)
        }
        api.get("/chat/sessions/:id/stream") { _, context in
            guard let subscribe = dependencies.chatSessionStream else {
                throw APIError(status: .serviceUnavailable, message: "chat is not available")
            }
            let id = context.parameters.get("id") ?? ""
            guard let stream = try await subscribe(id) else { throw APIError(status: .notFound, message: "no chat session \"\(id)\"") }
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: .init { writer in
                    try await writer.write(ByteBuffer(string: ": subscribed\n\n"))
                    // Endless until the client goes; the daemon's shutdown ends it too (not its deadline).
                    for try await event in stream.cancelOnGracefulShutdown() { try await writer.write(ByteBuffer(string: event.text)) }
                    try await writer.finish(nil)
                })
        }
        api.get("/inbox/stream") { _, _ in
            guard let subscribe = dependencies.inboxStream else {
                throw APIError(status: .serviceUnavailable, message: "attention is off ([attention] enabled = false)")
            }
            let stream = subscribe()
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: .init { writer in
                    // A comment first, so a client knows it is subscribed before anything arrives.
                    try await writer.write(ByteBuffer(string: ": subscribed\n\n"))
                    for try await item in stream.cancelOnGracefulShutdown() {
                        try await writer.write(ByteBuffer(string: "event: interrupt\ndata: \(item.jsonText)\n\n"))
                    }
                    try await writer.finish(nil)
                })
        }
        api.post("/inbox/:id/feedback") { request, context in
            guard let feedback = dependencies.inboxFeedback else {
                throw APIError(status: .serviceUnavailable, message: "attention is off ([attention] enabled = false)")
            }
            let id = try Self.runID(context)
            guard let urgent = try await Self.readJSON(request, limit: maxBodyBytes)["urgent"]?.boolValue else {
                throw APIError(status: .badRequest, message: "send {\"urgent\": true} or {\"urgent\": false}")
            }
            guard let noted = try await feedback(id, urgent) else {
                throw APIError(status: .notFound, message: "no inbox item for event \(id)")
            }
            return Self.json(["noted": .string(noted)])
        }
        api.post("/inbox/:id/ack") { _, context in
            guard let acknowledge = dependencies.acknowledge else {
                throw APIError(status: .serviceUnavailable, message: "attention is off ([attention] enabled = false)")
            }
            let id = try Self.runID(context)
            guard try await acknowledge(id) else { throw APIError(status: .notFound, message: "no inbox item for event \(id)") }
            return Self.json(["acknowledged": .number(Double(id))])
        }
        api.get("/briefs/latest") { _, _ in
            guard let latest = dependencies.latestBrief, let brief = try await latest() else {
                throw APIError(
                    status: .notFound,
                    message: "no brief yet: 'hearth brief' writes one now; the daemon writes them on [attention] morning and evening")
            }
            return Self.json(brief)
        }
        return router
    }

    // MARK: Handlers

    private func appendEvents(_ request: Request) async throws -> Response {
        let body = try await Self.readJSON(request, limit: maxBodyBytes)
        let now = Date()
        let isBatch: Bool
        let events: [NewEvent]
        switch body {
        case .array(let items):
            guard !items.isEmpty else { throw APIError.badRequest("the batch is empty") }
            guard items.count <= 10_000 else { throw APIError.badRequest("a batch holds at most 10000 events; split it") }
            isBatch = true
            events = try items.enumerated().map { index, item in
                do {
                    return try EventDecoding.decode(item, receivedAt: now, defaultSource: "http")
                } catch let error as APIError {
                    throw APIError.badRequest("event \(index): \(error.message)")
                }
            }
        case .object:
            isBatch = false
            events = [try EventDecoding.decode(body, receivedAt: now, defaultSource: "http")]
        default:
            throw APIError.badRequest("the body must be an event object or an array of them")
        }
        let outcomes: [AppendOutcome]
        do {
            outcomes = try await dependencies.journal.append(events)
        } catch let error as EventValidationError {
            throw APIError.badRequest(error.description)
        }
        if outcomes.contains(where: { !$0.duplicate }) { dependencies.eventsAppended() }
        let results = outcomes.map { JSONValue.object(["id": .number(Double($0.id)), "duplicate": .bool($0.duplicate)]) }
        if isBatch { return Self.json(["results": .array(results)], status: .ok) }
        return Self.json(results[0], status: outcomes[0].duplicate ? .ok : .created)
    }

    private func listEvents(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        var eventQuery = EventQuery(limit: 100)
        if let after = query["after"] {
            guard let value = Int64(after), value >= 0 else { throw APIError.badRequest("after must be a non-negative event id") }
            eventQuery.afterID = value
        }
        if let limit = query["limit"] {
            guard let value = Int(limit), (1...10_000).contains(value) else { throw APIError.badRequest("limit must be 1 to 10000") }
            eventQuery.limit = value
        }
        eventQuery.source = query["source"].map(String.init)
        eventQuery.kind = query["kind"].map(String.init)
        let events = try await dependencies.journal.events(eventQuery)
        return Self.json(.array(events.map(EventDecoding.json)))
    }

    private func createRun(_ request: Request) async throws -> Response {
        let body = try await Self.readJSON(request, limit: maxBodyBytes)
        guard case .object(let members) = body else { throw APIError.badRequest("the body must be an object with \"steps\"") }
        for key in members.keys where !["title", "key", "steps"].contains(key) {
            throw APIError.badRequest("unknown field \"\(key)\"; a run has title, key and steps")
        }
        guard case .array(let stepItems)? = members["steps"], !stepItems.isEmpty else {
            throw APIError.badRequest("\"steps\" must be a non-empty array of {\"effect\": …, \"arguments\": {…}}")
        }
        let steps = try stepItems.enumerated().map { index, item in
            guard let effect = item["effect"]?.stringValue else { throw APIError.badRequest("step \(index): \"effect\" must be a string") }
            do {
                return try dependencies.effects.stepRequest(effect: effect, arguments: item["arguments"] ?? .object([:]))
            } catch {
                throw APIError.badRequest("step \(index): \(error)")
            }
        }
        let key = try Self.idempotencyKey(members)
        let title = members["title"]?.stringValue ?? steps.map(\.effect).joined(separator: ", ")
        let (run, created) = try await dependencies.ledger.createRun(
            RunRequest(title: title, origin: "http", key: key, steps: steps))
        if created { dependencies.runsChanged() }
        var document = try Self.encode(run)
        document = .object((document.objectValue ?? [:]).merging(["created": .bool(created)]) { _, new in new })
        return Self.json(document, status: created ? .created : .ok)
    }

    private func approvalBook() throws -> any ApprovalBook {
        guard let approvals = dependencies.approvals else {
            throw APIError(status: .serviceUnavailable, message: "this daemon runs no goals, so nothing waits for approval")
        }
        return approvals
    }

    private func answerApproval(_ request: Request, _ context: BasicRequestContext, approve: Bool) async throws -> Response {
        let body = try await Self.readJSON(request, limit: 64 * 1024, allowEmpty: true)
        let note = body["note"]?.stringValue ?? body["reason"]?.stringValue
        let approval = try await approvalBook().decide(try Self.runID(context), approve: approve, note: note, now: Date())
        dependencies.goalsChanged()
        return Self.json(try Self.encode(approval))
    }

    private func goalStore() throws -> any GoalStore {
        guard let goals = dependencies.goals else {
            throw APIError(
                status: .serviceUnavailable, message: "this daemon runs no goals: inference is off ([inference] enabled = false)")
        }
        return goals
    }

    /// A request's idempotency key (`"key"`): absent, or a non-empty string.
    static func idempotencyKey(_ members: [String: JSONValue]) throws -> String? {
        guard let key = members["key"] else { return nil }
        guard let text = key.stringValue, !text.isEmpty else { throw APIError.badRequest("\"key\" must be a non-empty string") }
        return text
    }

    private func createGoal(_ request: Request) async throws -> Response {
        let store = try goalStore()
        let body = try await Self.readJSON(request, limit: maxBodyBytes)
        guard case .object(let members) = body else { throw APIError.badRequest("the body must be an object like {\"goal\": \"…\"}") }
        for key in members.keys where !["goal", "maxTokens", "maxSeconds", "key"].contains(key) {
            throw APIError.badRequest("unknown field \"\(key)\"; a goal has goal, maxTokens, maxSeconds and key")
        }
        let key = try Self.idempotencyKey(members)
        guard let text = members["goal"]?.stringValue, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.badRequest("\"goal\" must be a non-empty string saying what you want done")
        }
        var budget = GoalBudget()
        for (key, value) in [("maxTokens", members["maxTokens"]), ("maxSeconds", members["maxSeconds"])] {
            guard let value else { continue }
            guard let number = value.intValue, number >= 1 else { throw APIError.badRequest("\"\(key)\" must be a positive integer") }
            if key == "maxTokens" { budget.maxTokens = number } else { budget.maxSeconds = number }
        }
        // With a key, a retry (its answer lost) finds the goal the first request created: 200, not 201.
        let (run, created) = try await store.createGoal(text, budget: budget, workspace: nil, key: key)
        if created { dependencies.goalsChanged() }
        return Self.json(try Self.encode(run), status: created ? .created : .ok)
    }

    private func listRuns(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        var states: Set<RunState>?
        if let state = query["state"] {
            guard let parsed = RunState(rawValue: String(state)) else {
                throw APIError.badRequest(
                    "unknown state \"\(state)\"; use one of \(RunState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            states = [parsed]
        }
        let limit = query["limit"].flatMap { Int($0) } ?? 100
        return Self.json(try Self.encode(try await dependencies.ledger.runs(limit: min(max(limit, 1), 10_000), states: states)))
    }

    private func chat(_ request: Request) async throws -> Response {
        guard let turn = dependencies.chatTurn else { throw APIError(status: .serviceUnavailable, message: "chat is not available") }
        let body = try await Self.readJSON(request, limit: maxBodyBytes)
        guard case .object(let members) = body else { throw APIError.badRequest("the body must be an object like {\"message\": \"…\"}") }
        for key in members.keys where !["message", "session", "new", "stream", "showContext"].contains(key) {
            throw APIError.badRequest("unknown field \"\(key)\"; a turn has message, session, new, stream and showContext")
        }
        guard let message = members["message"]?.stringValue else { throw APIError.badRequest("\"message\" must be a string") }
        let session = members["session"]?.stringValue
        let new = members["new"]?.boolValue ?? false
        let showContext = members["showContext"]?.boolValue ?? false
        func run(_ onText: @escaping @Sendable (String) -> Void) async throws -> JSONValue {
            do {
                return try await turn(message, session, new, showContext, onText)
            } catch let error as ChatError {
                switch error {
                case .unknownSession: throw APIError(status: .notFound, message: error.description)
                default: throw APIError.badRequest(error.description)
                }
            }
        }
        guard members["stream"]?.boolValue == true else { return Self.json(try await run { _ in }) }
        // Server-sent events: "text" pieces as the model writes, then the whole turn.
        let (pieces, continuation) = AsyncStream.makeStream(of: String.self)
        let result = Task { () async throws -> JSONValue in
            defer { continuation.finish() }
            return try await run { piece in continuation.yield(piece) }
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: .init { writer in
                for await piece in pieces {
                    try await writer.write(ByteBuffer(string: "event: text\ndata: \((["text": .string(piece)] as JSONValue).jsonText)\n\n"))
                }
                do {
                    let turn = try await result.value
                    try await writer.write(ByteBuffer(string: "event: turn\ndata: \(turn.jsonText)\n\n"))
                } catch let error as APIError {
                    try await writer.write(
                        ByteBuffer(string: "event: error\ndata: \((["error": .string(error.message)] as JSONValue).jsonText)\n\n"))
                }
                try await writer.finish(nil)
            })
    }

    private func wake(_ request: Request) async throws -> Response {
        let body = try await Self.readJSON(request, limit: 64 * 1024, allowEmpty: true)
        let what = body["what"]?.arrayValue?.compactMap(\.stringValue) ?? ["runs", "schedules"]
        for item in what {
            switch item {
            case "runs": dependencies.runsChanged()
            case "schedules": dependencies.schedulesChanged()
            case "events": dependencies.eventsAppended()
            case "goals": dependencies.goalsChanged()
            case "vault": dependencies.vaultChanged()
            case "routines": dependencies.routinesChanged()
            default: throw APIError.badRequest("cannot wake \"\(item)\"; use runs, schedules, events, goals, vault or routines")
            }
        }
        return Self.json(["woke": .array(what.map(JSONValue.string))])
    }

    // MARK: Helpers

    static func runID(_ context: BasicRequestContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text) else {
            throw APIError.badRequest("the run id must be a number")
        }
        return id
    }

    static func readJSON(_ request: Request, limit: Int, allowEmpty: Bool = false) async throws -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(status: .contentTooLarge, message: "the body is larger than \(limit) bytes")
        }
        if buffer.readableBytes == 0 {
            if allowEmpty { return .object([:]) }
            throw APIError.badRequest("the body is empty; send JSON")
        }
        do {
            return try JSONValue(parsing: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest(error.description)
        }
    }

    static func encode(_ value: some Encodable) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return try JSONValue(parsing: try encoder.encode(value))
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.jsonText + "\n")))
    }
}

/// An HTTP error with a message for the client.
struct APIError: Error {
    var status: HTTPResponse.Status
    var message: String

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, message: message) }
}

/// Turns every error into a JSON body with the right status; nothing leaks as a bare 500.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return APIServer.json(["error": .string(error.message)], status: error.status)
        } catch let error as LedgerError {
            let status: HTTPResponse.Status = if case .runNotFound = error { .notFound } else { .conflict }
            return APIServer.json(["error": .string(error.description)], status: status)
        } catch let error as ApprovalError {
            let status: HTTPResponse.Status = if case .notFound = error { .notFound } else { .conflict }
            return APIServer.json(["error": .string(error.description)], status: status)
        } catch let error as GoalError {
            let status: HTTPResponse.Status =
                switch error {
                case .notAGoal: .notFound
                case .emptyGoal: .badRequest
                case .notResumable, .keyTaken: .conflict
                }
            return APIServer.json(["error": .string(error.description)], status: status)
        } catch let error as HTTPError {
            return APIServer.json(["error": .string(error.body ?? "\(error.status.reasonPhrase)")], status: error.status)
        } catch {
            logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            return APIServer.json(["error": .string(String(describing: error))], status: .internalServerError)
        }
    }
}

/// Requires `Authorization: Bearer <token>`, compared in constant time.
struct BearerTokenMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let header = request.headers[.authorization] ?? ""
        let presented = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
        guard Self.constantTimeEqual(Array(presented.utf8), Array(token.utf8)) else {
            var response = APIServer.json(
                ["error": "missing or wrong bearer token; send 'Authorization: Bearer <token>' with the token from <data dir>/api-token"],
                status: .unauthorized)
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}

/// One server-sent event: a named event with JSON data, or a keep-alive comment (a write that
/// finds a client gone ends its stream).
public struct StreamEvent: Sendable, Hashable {
    public var name: String?
    public var data: JSONValue

    public init(_ name: String, _ data: JSONValue) {
        self.name = name
        self.data = data
    }

    public static let keepAlive = StreamEvent(name: nil)

    private init(name: String?) {
        self.name = name
        self.data = .null
    }

    /// As written on the wire.
    public var text: String {
        guard let name else { return ": keep-alive\n\n" }
        return "event: \(name)\ndata: \(data.jsonText)\n\n"
    }
}
