import Foundation
import HearthCore
import HearthMemory
import Hummingbird
import NIOCore

/// The Chat and Memory pages: talking to the agent, and what it remembers.
extension Dashboard {
    // MARK: Chat

    func chatHooks() throws -> DashboardChat {
        guard let chat = data.chat else {
            throw DashboardError(title: "Chat", text: "This daemon has no chat (memory is not open).", status: .serviceUnavailable)
        }
        return chat
    }

    func chatPage(_ session: DashboardSessions.Session, id: String?) async throws -> Response {
        let chat = try chatHooks()
        let sessions: [[String: Any]] = (try await chat.sessions().arrayValue ?? []).map { item in
            let itemID = item["id"]?.stringValue ?? ""
            return [
                "id": itemID, "title": item["title"]?.stringValue ?? itemID, "turns": item["turns"]?.intValue ?? 0,
                "updated": Self.shortTime(item["updatedAt"]?.stringValue), "current": itemID == id,
            ]
        }
        var turns: [[String: Any]] = []
        var conversation = "New conversation"
        if let id {
            guard let detail = try await chat.session(id) else {
                throw DashboardError.notFound("There is no conversation \"\(id)\". The Chat page lists them.")
            }
            conversation = detail["title"]?.stringValue ?? id
            turns = (detail["turns"]?.arrayValue ?? []).map { turn in
                let speaker = turn["speaker"]?.stringValue ?? "user"
                return [
                    "speaker": speaker == "user" ? "you" : speaker, "text": turn["text"]?.stringValue ?? "",
                    "at": Self.shortTime(turn["at"]?.stringValue), "role": speaker == "user" ? "user" : "agent",
                ]
            }
        }
        // Work the conversation started may be waiting for an answer: say so where the user is.
        let waiting = (try? await data.approvals?.waiting(now: Date(), limit: 0, offset: 0).total) ?? 0
        return render(
            "chat", title: "Chat", session: session,
            [
                "sessions": sessions, "noSessions": sessions.isEmpty, "turns": turns, "session": id ?? "", "conversation": conversation,
                "empty": turns.isEmpty, "modelProblem": await data.modelProblem?().map { ["text": $0] } as Any,
                "waiting":
                    (waiting == 0
                    ? nil : ["text": waiting == 1 ? "1 action waits for your approval" : "\(waiting) actions wait for your approval"])
                    as Any,
            ])
    }

    /// One turn from the page. A browser running the page's script asks for server-sent events
    /// and sees the answer stream in; without the script the form posts and the conversation
    /// reloads with the answer. Either way the turn is stored before anything is shown.
    func chatSend(_ request: Request) async throws -> Response {
        let streamed = (request.headers[.accept] ?? "").contains("text/event-stream")
        return try await form(request) { _, fields in
            let chat = try chatHooks()
            let message = (fields["message"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !message.isEmpty else {
                throw DashboardError(title: "A message, please", text: "The message was empty; nothing was sent.", status: .badRequest)
            }
            let sessionID = fields["session"].flatMap { $0.isEmpty ? nil : $0 }
            guard streamed else {
                let result = try await Self.chatTurn(chat, message, sessionID) { _ in }
                return Self.redirect("/chat/\(result["session"]?.stringValue ?? "")")
            }
            let (chunks, sink) = AsyncStream<String>.makeStream()
            let turn = Task { () -> Result<JSONValue, DashboardError> in
                defer { sink.finish() }
                do {
                    return .success(try await Self.chatTurn(chat, message, sessionID) { sink.yield($0) })
                } catch let error as DashboardError {
                    return .failure(error)
                } catch {
                    return .failure(DashboardError(title: "Chat", text: "\(error)", status: .internalServerError))
                }
            }
            var headers = Self.pageHeaders(type: "text/event-stream")
            headers[.cacheControl] = "no-cache"
            return Response(
                status: .ok, headers: headers,
                body: .init { writer in
                    // A browser that goes away does not cancel the turn: it finishes and is stored.
                    for await chunk in chunks {
                        try await writer.write(ByteBuffer(string: "event: text\ndata: \(JSONValue.string(chunk).jsonText)\n\n"))
                    }
                    let outcome: JSONValue
                    switch await turn.value {
                    case .success(let result):
                        outcome = [
                            "session": result["session"] ?? .null, "answer": result["answer"] ?? "", "stored": result["stored"] ?? [],
                            "note": result["note"] ?? .null, "error": result["error"] ?? .null,
                        ]
                    case .failure(let problem):
                        outcome = ["error": .string(problem.text)]
                    }
                    try await writer.write(ByteBuffer(string: "event: done\ndata: \(outcome.jsonText)\n\n"))
                    try await writer.finish(nil)
                })
        }
    }

    /// A chat turn whose bad input (empty, too large, unknown session) is a page-level error.
    static func chatTurn(
        _ chat: DashboardChat, _ message: String, _ session: String?, onText: @escaping @Sendable (String) -> Void
    ) async throws -> JSONValue {
        do {
            return try await chat.turn(message, session, onText)
        } catch {
            throw DashboardError(title: "Not answered", text: "\(error)", status: .badRequest)
        }
    }

    // MARK: Memory

    func memoryEngine() throws -> MemoryEngine {
        guard let memory = data.memory else {
            throw DashboardError(title: "Memory", text: "This daemon's memory is not open.", status: .serviceUnavailable)
        }
        return memory
    }

    func memoryPage(_ session: DashboardSessions.Session, _ request: Request) async throws -> Response {
        let memory = try memoryEngine()
        let query = (request.uri.queryParameters["q"].map(String.init) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var hits: [[String: Any]] = []
        if !query.isEmpty {
            let found = MemoryEngine.relevant(try await memory.search(query, k: 20), minSimilarity: MemoryEngine.defaultMinSimilarity)
            hits = found.map { hit in
                let text = hit.record.spokenText
                return [
                    "id": hit.record.id, "text": text.count > 600 ? String(text.prefix(600)) + "…" : text, "source": hit.record.source,
                    "at": Self.shortTime(Timestamp.format(hit.record.occurredAt)), "score": String(format: "%.3f", hit.score),
                    "reasons": hit.reasons.map(\.description).joined(separator: "; "), "untrusted": hit.record.provenance == .untrusted,
                ]
            }
        }
        let profile = try await memory.profile().map { fact -> [String: Any] in
            ["sentence": fact.sentence, "kind": fact.kind.rawValue, "since": Self.shortTime(Timestamp.format(fact.recordedAt))]
        }
        let history = try await memory.store.facts(FactQuery(statuses: [.active], includeInvalidated: true))
            .filter { $0.invalidatedAt != nil }
            .sorted { ($0.invalidatedAt ?? .distantPast) > ($1.invalidatedAt ?? .distantPast) }
            .prefix(50)
            .map { fact -> [String: Any] in
                [
                    "sentence": fact.sentence, "from": Self.shortTime(Timestamp.format(fact.recordedAt)),
                    "until": Self.shortTime(fact.invalidatedAt.map(Timestamp.format)),
                ]
            }
        let pending = try await memory.store.facts(FactQuery(statuses: [.pending])).map { fact -> [String: Any] in
            ["id": fact.id, "sentence": fact.sentence, "record": fact.sourceRecordID as Any]
        }
        return render(
            "memory", title: "Memory", session: session,
            [
                "query": query, "searched": !query.isEmpty, "hits": hits, "noHits": hits.isEmpty,
                "mode": "\(await memory.embeddingState)", "profile": profile, "noProfile": profile.isEmpty, "history": history,
                "hasHistory": !history.isEmpty, "pending": pending, "hasPending": !pending.isEmpty,
                "flash": request.uri.queryParameters["done"].map { ["text": String($0)] } as Any,
            ])
    }

    func judgeFact(_ request: Request, _ context: BasicRequestContext, confirm: Bool) async throws -> Response {
        try await form(request) { _, _ in
            let memory = try memoryEngine()
            guard let id = context.parameters.get("id").flatMap(Int64.init),
                let fact = try await memory.store.facts(FactQuery(statuses: [.pending])).first(where: { $0.id == id })
            else {
                throw DashboardError(
                    title: "Not pending", text: "There is no pending fact with that id (already confirmed or rejected?).", status: .conflict
                )
            }
            if confirm { _ = try await memory.confirm(factID: id) } else { try await memory.reject(factID: id) }
            let done = "\(confirm ? "Confirmed" : "Rejected"): \(fact.sentence)"
            return Self.redirect("/memory", flash: "done", done)
        }
    }

    func forget(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await form(request) { _, _ in
            let memory = try memoryEngine()
            guard let id = context.parameters.get("id").flatMap(Int64.init), !(try await memory.store.records(ids: [id]).isEmpty) else {
                throw DashboardError.notFound("There is no memory record with that id (already forgotten?).")
            }
            let removal = try await memory.forget(ids: [id])
            let detail =
                "removed records \(removal.records), \(removal.vectors) vectors, facts \(removal.facts); rebuilt \(removal.contextsRebuilt) neighbours' context"
            _ = try await memory.store.saveReport(kind: "forget", at: Date(), detail: detail)
            let done = "Forgot record \(id) (\(removal.vectors) vectors, \(removal.facts.count) facts learned from it)."
            return Self.redirect("/memory", flash: "done", done)
        }
    }

    /// "2026-12-02T09:14:03Z" → "2026-12-02 09:14".
    static func shortTime(_ stamp: String?) -> String {
        String((stamp ?? "").prefix(16)).replacingOccurrences(of: "T", with: " ")
    }
}
