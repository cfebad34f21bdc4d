import Foundation
import HearthAgent
import HearthCore
import HearthSandbox
import Hummingbird
import Logging
import ServiceLifecycle

extension Dashboard {
    // MARK: Brief and inbox

    func home(_ session: DashboardSessions.Session, _ request: Request) async throws -> Response {
        let inbox = (try? await data.inbox?(false))?.arrayValue ?? []
        let brief = try? await data.latestBrief?()
        let items: [[String: Any]] = inbox.map { item in
            [
                "id": item["id"]?.intValue ?? 0, "text": item["text"]?.stringValue ?? "", "level": item["level"]?.stringValue ?? "",
                "at": String((item["occurredAt"]?.stringValue ?? "").prefix(16)).replacingOccurrences(of: "T", with: " "),
                "reasons": (item["reasons"]?.arrayValue ?? []).compactMap { $0["detail"]?.stringValue }.joined(separator: "; "),
            ]
        }
        let sections: [[String: Any]] = (brief?["sections"]?.arrayValue ?? []).map { section in
            [
                "title": section["title"]?.stringValue ?? "",
                "items": (section["items"]?.arrayValue ?? []).map { ["text": $0["text"]?.stringValue ?? ""] },
            ]
        }
        let briefTitle = brief?["title"]?.stringValue ?? "Latest brief"
        return render(
            "home", title: "Brief", session: session,
            [
                "inbox": items, "hasInbox": !items.isEmpty, "sections": sections, "briefTitle": briefTitle,
                "attention": data.inbox != nil,
                "noted": request.uri.queryParameters["noted"].map { ["text": "Noted: \($0). It weighs on scoring from the next event on."] }
                    as Any,
            ])
    }

    /// Urgent or not: teaches the scorer about the item's sender (or kind), then acknowledges it.
    func feedback(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await form(request) { _, fields in
            guard let feedback = data.feedback, let id = context.parameters.get("id").flatMap(Int64.init) else {
                throw DashboardError(title: "Inbox", text: "Attention is off ([attention] enabled = false).", status: .serviceUnavailable)
            }
            guard let verdict = fields["verdict"], verdict == "urgent" || verdict == "not-urgent" else {
                throw DashboardError(title: "Urgent or not?", text: "The form says neither 'urgent' nor 'not-urgent'.", status: .badRequest)
            }
            guard let noted = try await feedback(id, verdict == "urgent") else {
                throw DashboardError.notFound("There is no inbox item \(id).")
            }
            _ = try await data.acknowledge?(id)
            return Self.redirect("/", flash: "noted", noted)
        }
    }

    func inboxStream(_ request: Request) async throws -> Response {
        guard await currentSession(request) != nil else {
            return message("Sign in", "Run 'hearth dashboard' for a login link.", status: .unauthorized, session: nil)
        }
        guard let subscribe = data.inboxStream else {
            return message("Attention is off", "[attention] enabled = false in the config.", status: .serviceUnavailable, session: nil)
        }
        let stream = subscribe()
        var headers = Self.pageHeaders(type: "text/event-stream")
        headers[.cacheControl] = "no-cache"
        return Response(
            status: .ok, headers: headers,
            body: .init { writer in
                try await writer.write(ByteBuffer(string: ": subscribed\n\n"))
                // Endless until the browser goes; the daemon's shutdown ends it too (not its deadline).
                for try await item in stream.cancelOnGracefulShutdown() {
                    let event: JSONValue = [
                        "id": item["id"] ?? .null, "text": item["text"] ?? "", "level": item["level"] ?? "",
                        "at": item["occurredAt"] ?? "",
                    ]
                    try await writer.write(ByteBuffer(string: "event: interrupt\ndata: \(event.jsonText)\n\n"))
                }
                try await writer.finish(nil)
            })
    }

    // MARK: Approvals

    func approvalsPage(_ session: DashboardSessions.Session, _ request: Request) async throws -> Response {
        guard let book = data.approvals else {
            throw DashboardError(title: "Approvals", text: "This daemon runs no goals (inference is off).", status: .serviceUnavailable)
        }
        let now = Date()
        let asked = Self.askedPage(request)
        var waiting = try await book.waiting(now: now, limit: Self.approvalsPerPage, offset: (asked - 1) * Self.approvalsPerPage)
        let page = Self.page(request, count: waiting.total, size: Self.approvalsPerPage)
        if page.number != asked {
            // Past the end (answered meanwhile): the last page there is.
            waiting = try await book.waiting(now: now, limit: Self.approvalsPerPage, offset: page.range.lowerBound)
        }
        let cards: [[String: Any]] = waiting.approvals.map { approval in
            let members = approval.arguments.objectValue ?? [:]
            let arguments: [[String: Any]] = members.keys.sorted().map { name in
                let value = members[name].map { $0.stringValue ?? $0.jsonText } ?? ""
                return ["name": name, "value": value, "untrusted": approval.origins[name] == .untrusted]
            }
            return [
                "id": approval.id, "run": approval.runID, "task": approval.taskID, "tool": approval.tool, "risk": approval.risk.rawValue,
                "reason": approval.reason, "hash": approval.hash, "arguments": arguments,
                "hasUntrusted": approval.origins.values.contains(.untrusted),
                "expires": Self.duration(approval.expiresAt.timeIntervalSince(now)),
            ]
        }
        let done = request.uri.queryParameters["answered"].map(String.init)
        return render(
            "approvals", title: "Approvals", session: session,
            [
                "approvals": cards, "none": cards.isEmpty, "answered": done.map { ["text": "Approval \($0) answered."] } as Any,
                "paging": page.view(path: "/approvals", what: "approvals waiting"),
            ])
    }

    func answer(_ request: Request, _ context: BasicRequestContext, approve: Bool) async throws -> Response {
        try await form(request) { _, fields in
            guard let book = data.approvals, let id = context.parameters.get("id").flatMap(Int64.init) else {
                throw DashboardError.notFound("No such approval.")
            }
            let reason = fields["reason"]?.trimmingCharacters(in: .whitespacesAndNewlines)
            if !approve && (reason ?? "").isEmpty {
                throw DashboardError(
                    title: "A reason, please", text: "Denying needs a reason: the agent is told it.", status: .badRequest)
            }
            do {
                _ = try await book.decide(id, approve: approve, note: reason.flatMap { $0.isEmpty ? nil : $0 }, now: Date())
            } catch let error as ApprovalError {
                // The first answer wins, from any surface: say what really happened.
                switch error {
                case .notFound: throw DashboardError.notFound("There is no approval \(id).")
                case .alreadyDecided(_, let state):
                    throw DashboardError(
                        title: "Already answered", text: "Approval \(id) is already \(state.rawValue); nothing was changed.",
                        status: .conflict)
                }
            }
            data.goalsChanged()
            return Self.redirect("/approvals?answered=\(id)")
        }
    }

    // MARK: Goals

    func goalsPage(_ session: DashboardSessions.Session, _ request: Request) async throws -> Response {
        let wanted = Self.askedPage(request)
        // One more than the pages so far, to know whether there is an older page.
        let fetched = try await data.ledger.runs(limit: wanted * Self.goalsPerPage + 1, states: nil).filter { $0.origin == "goal" }
        let page = Self.page(request, count: fetched.count, size: Self.goalsPerPage)
        let now = Date()
        let shown = Array(fetched[page.range])
        let progress = (try? await data.goals?.progress(shown.map(\.id))) ?? [:]
        let rows: [[String: Any]] = shown.map { run in
            var row: [String: Any] = [
                "id": run.id, "title": run.title, "state": run.state.rawValue, "stateLabel": Self.label(run.state),
                "age": Self.duration(now.timeIntervalSince(run.createdAt)),
            ]
            if let done = progress[run.id] {
                row["done"] = done.done
                row["total"] = done.total
                row["tokens"] = done.tokens
            }
            return row
        }
        return render(
            "goals", title: "Goals", session: session,
            [
                "runs": rows, "none": rows.isEmpty, "canStart": data.goals != nil, "paging": page.olderOnly(path: "/goals"),
                "modelProblem": await data.modelProblem?().map { ["text": $0 + " New goals wait for it."] } as Any,
            ])
    }

    func startGoal(_ request: Request) async throws -> Response {
        try await form(request) { _, fields in
            guard let store = data.goals else {
                throw DashboardError(title: "Goals", text: "This daemon runs no goals (inference is off).", status: .serviceUnavailable)
            }
            let text = (fields["goal"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw DashboardError(title: "A goal, please", text: "Say what you want done.", status: .badRequest) }
            let run = try await store.createGoal(text, budget: GoalBudget(), workspace: nil)
            data.goalsChanged()
            return Self.redirect("/goals/\(run.id)")
        }
    }

    func goalPage(_ session: DashboardSessions.Session, _ request: Request, id: String) async throws -> Response {
        guard let store = data.goals, let runID = Int64(id), let detail = try? await store.goal(runID) else {
            throw DashboardError.notFound("There is no goal \"\(id)\". The Goals page lists them.")
        }
        var tasks: [[String: Any]] = []
        for record in detail.tasks {
            let actions = (try? await store.actions(runID, task: record.task.id)) ?? []
            tasks.append([
                "title": record.task.title, "state": record.state.rawValue, "error": record.error as Any,
                "summary": record.result?["summary"]?.stringValue as Any,
                "open": record.state == .failed || record.state == .awaitingApproval,
                "calls": actions.map { action -> [String: Any] in
                    ["tool": action.tool, "state": action.state.rawValue, "error": action.error as Any]
                },
            ])
        }
        let reportPath = "Reports/run-\(runID).md"
        let report = (try? WorkspaceFiles.read(reportPath, in: data.workspace, limit: 1 << 20)).map { String(decoding: $0, as: UTF8.self) }
        var review: [String: Any]?
        if let compliance = ComplianceRun(detail) {
            var exemptions: [ComplianceExemption] = []
            if let memory = data.memory { exemptions = (try? await ComplianceRun.exemptions(in: memory)) ?? [] }
            let violations = compliance.applying(exemptions).filter { $0.verdict == .violation }
            let undecided = compliance.findings.filter { $0.verdict == .undecided }.count
            review = [
                "reportPath": ComplianceRun.reportPath(runID), "count": violations.filter { $0.dismissedBy == nil }.count,
                "canDismiss": data.memory != nil, "undecided": (undecided > 0 ? undecided : nil) as Any,
                "findings": violations.map { finding -> [String: Any] in
                    [
                        "id": finding.id ?? "", "spec": finding.spec, "line": finding.line, "claim": finding.claim,
                        "article": finding.article, "page": finding.page, "dismissed": finding.dismissedBy != nil,
                        "rule": finding.dismissedBy?.sentence ?? "",
                        "judged": finding.judgement.map { "\($0): \(finding.reason ?? "")" } as Any,
                    ]
                },
            ]
        }
        return render(
            "goal", title: "Goal \(runID)", session: session,
            [
                "review": review as Any, "runID": runID,
                "flash": request.uri.queryParameters["done"].map { ["text": String($0)] } as Any,
                "id": runID, "goal": detail.goal, "state": detail.run.state.rawValue, "stateLabel": Self.label(detail.run.state),
                "pause": detail.pauseReason as Any, "tokens": detail.usage.tokens, "modelCalls": detail.usage.modelCalls,
                "toolCalls": detail.usage.toolCalls, "tasks": tasks,
                "canCancel": !detail.run.state.isFinished, "canResume": [.failed, .cancelled, .needsReview].contains(detail.run.state),
                "report": report.map { SafeMarkdown.html($0, base: "Reports") } as Any, "reportPath": reportPath,
            ])
    }

    /// Overrules a compliance finding: its reason becomes a standing rule, the report is rewritten.
    func dismissFinding(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await form(request) { _, fields in
            guard let store = data.goals, let runID = context.parameters.get("id").flatMap(Int64.init),
                let detail = try? await store.goal(runID), let review = ComplianceRun(detail), let memory = data.memory,
                let finding = context.parameters.get("finding")
            else {
                throw DashboardError.notFound("No such compliance review.")
            }
            let workspace = detail.workspace.map { URL(fileURLWithPath: $0) } ?? data.workspace
            do {
                let dismissal = try await review.dismiss(
                    finding, reason: fields["reason"] ?? "", memory: memory, workspace: workspace, approvals: data.approvals)
                if !dismissal.withdrawn.isEmpty { data.goalsChanged() }
                let withdrawn =
                    dismissal.withdrawn.isEmpty
                    ? ""
                    : " Publication approvals asked about the earlier version were denied (\(dismissal.withdrawn.map { "\($0.id)" }.joined(separator: ", "))); publish this version with 'hearth publish \(runID)'."
                return Self.redirect(
                    "/goals/\(runID)", flash: "done",
                    "Dismissed \(finding). Standing rule: \(dismissal.rule.sentence). \(dismissal.written.path) was rewritten." + withdrawn)
            } catch let error as ComplianceRun.DismissError {
                throw DashboardError(title: "Not dismissed", text: error.description, status: .badRequest)
            }
        }
    }

    func steer(_ request: Request, _ context: BasicRequestContext, cancel: Bool) async throws -> Response {
        try await form(request) { _, _ in
            guard let store = data.goals, let runID = context.parameters.get("id").flatMap(Int64.init) else {
                throw DashboardError.notFound("No such goal.")
            }
            do {
                _ = cancel ? try await store.cancelGoal(runID) : try await store.resumeGoal(runID)
            } catch {
                throw DashboardError(title: cancel ? "Not cancelled" : "Not resumed", text: "\(error)", status: .conflict)
            }
            data.goalsChanged()
            return Self.redirect("/goals/\(runID)")
        }
    }

    // MARK: Workspace files

    /// A workspace file, read through the confined layer: a path that leaves the workspace is
    /// refused (and logged). Text is shown as text; anything else is offered as a download.
    func file(_ path: String) throws -> Response {
        let decoded = path.removingPercentEncoding ?? path
        let bytes: Data
        do {
            bytes = try WorkspaceFiles.read(decoded, in: data.workspace, limit: 8 << 20)
        } catch {
            logger.warning("dashboard: refused the file \"\(decoded)\": \(error)")
            throw DashboardError(title: "Not available", text: "\(decoded) cannot be shown: \(error)", status: .notFound)
        }
        var headers = Self.pageHeaders(
            type: String(data: bytes, encoding: .utf8) != nil ? "text/plain; charset=utf-8" : "application/octet-stream")
        headers[.contentDisposition] = "inline"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    // MARK: Paging

    static let approvalsPerPage = 20
    static let goalsPerPage = 50

    /// Which slice of a long list a page shows (`?page=N`, from 1).
    struct Page {
        var number: Int
        var size: Int
        var count: Int

        var range: Range<Int> { min(count, (number - 1) * size)..<min(count, number * size) }

        /// "21–40 of 1000" with links to the pages around it.
        func view(path: String, what: String) -> [String: Any]? {
            guard count > size else { return nil }
            return links(path: path, text: "\(range.lowerBound + 1)–\(range.upperBound) of \(count) \(what)")
        }

        /// Links only (the total is not counted).
        func olderOnly(path: String) -> [String: Any]? {
            guard number > 1 || range.upperBound < count else { return nil }
            return links(path: path, text: "page \(number)")
        }

        private func links(path: String, text: String) -> [String: Any] {
            var view: [String: Any] = ["text": text]
            if number > 1 { view["newer"] = "\(path)?page=\(number - 1)" }
            if range.upperBound < count { view["older"] = "\(path)?page=\(number + 1)" }
            return view
        }
    }

    /// The page number a request asks for (`?page=N`, from 1).
    static func askedPage(_ request: Request) -> Int {
        max(1, request.uri.queryParameters["page"].flatMap { Int($0) } ?? 1)
    }

    static func page(_ request: Request, count: Int, size: Int) -> Page {
        Page(number: min(askedPage(request), max(1, (count + size - 1) / size)), size: size, count: count)
    }

    // MARK: Wording

    static func label(_ state: RunState) -> String {
        switch state {
        case .pending: "waiting to start"
        case .running: "running"
        case .succeeded: "done"
        case .failed: "failed"
        case .awaitingApproval: "waits for you"
        case .cancelled: "cancelled"
        case .needsReview: "needs review"
        }
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let value = max(0, Int(seconds))
        if value < 90 { return "\(value) s" }
        if value < 90 * 60 { return "\(value / 60) min" }
        if value < 36 * 3600 { return "\(value / 3600) h" }
        return "\(value / 86_400) d"
    }
}
