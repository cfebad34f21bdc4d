import Foundation
import HearthCore
import HearthMemory
import HearthSandbox
import Hummingbird
import Logging
import Mustache
import NIOCore

/// What the dashboard reads and changes: the same stores and hooks the JSON API uses.
public struct DashboardData: Sendable {
    public var ledger: any WorkLedger
    public var goals: (any GoalStore)?
    public var approvals: (any ApprovalBook)?
    public var inbox: (@Sendable (_ all: Bool) async throws -> JSONValue)?
    public var acknowledge: (@Sendable (_ eventID: Int64) async throws -> Bool)?
    public var inboxStream: (@Sendable () -> AsyncStream<JSONValue>)?
    public var latestBrief: (@Sendable () async throws -> JSONValue?)?
    /// The user's verdict on an inbox item (urgent or not); returns what was noted, nil for no such item.
    public var feedback: (@Sendable (_ eventID: Int64, _ urgent: Bool) async throws -> String?)?
    public var chat: DashboardChat?
    public var memory: MemoryEngine?
    public var usage: (any UsageHistory)?
    public var budgets = Budgets()
    /// Why the model cannot answer now (server down, starting, inference off); nil when it can.
    /// Pages that need the model say so; the others work as usual.
    public var modelProblem: (@Sendable () async -> String?)?
    /// The Health page's sections (daemon, model server, memory, triggers); the sandbox checks are added here.
    public var health: (@Sendable () async -> [HealthSection])?
    /// Wakes the goal worker after a change (a new goal, an answer, cancel, resume).
    public var goalsChanged: @Sendable () -> Void
    public var workspace: URL
    public var mounts: [WorkspaceMount]

    public init(ledger: any WorkLedger, workspace: URL, mounts: [WorkspaceMount] = [], goalsChanged: @escaping @Sendable () -> Void = {}) {
        self.ledger = ledger
        self.workspace = workspace
        self.mounts = mounts
        self.goalsChanged = goalsChanged
    }
}

/// The conversation hooks the Chat page uses: the same ones as `POST /v1/chat`.
public struct DashboardChat: Sendable {
    /// One turn: the message, the session (nil: a new one); `onText` receives streamed model text.
    public var turn:
        @Sendable (_ message: String, _ session: String?, _ onText: @escaping @Sendable (String) -> Void) async throws -> JSONValue
    public var sessions: @Sendable () async throws -> JSONValue
    /// A session with its turns; nil when there is no such session.
    public var session: @Sendable (String) async throws -> JSONValue?

    public init(
        turn: @escaping @Sendable (String, String?, @escaping @Sendable (String) -> Void) async throws -> JSONValue,
        sessions: @escaping @Sendable () async throws -> JSONValue, session: @escaping @Sendable (String) async throws -> JSONValue?
    ) {
        self.turn = turn
        self.sessions = sessions
        self.session = session
    }
}

/// One part of the Health page: named lines, each in a state said in colour and words.
public struct HealthSection: Sendable {
    public enum State: String, Sendable { case ok, warning, off }
    public struct Line: Sendable {
        public var name: String
        public var state: State
        public var detail: String

        public init(_ name: String, _ state: State, _ detail: String) {
            self.name = name
            self.state = state
            self.detail = detail
        }
    }
    public var title: String
    public var lines: [Line]

    public init(_ title: String, _ lines: [Line]) {
        self.title = title
        self.lines = lines
    }
}

/// The web dashboard on the daemon's loopback port: server-rendered pages for the brief and
/// inbox, goals and approvals, one stylesheet and one small script, all in the binary.
///
/// Security, enforced here and tested: a page needs a session cookie (HttpOnly, SameSite=Strict)
/// that only a one-time login link creates; every form carries the session's CSRF token; every
/// response forbids anything but its own origin (`Content-Security-Policy: default-src 'self'`);
/// every value is escaped by the templates, and markdown is rendered by `SafeMarkdown`.
public struct Dashboard: Sendable {
    public static let cookie = "hearth_session"
    /// The pages in the navigation bar, in order.
    static let sections = [
        ("/", "Brief"), ("/chat", "Chat"), ("/goals", "Goals"), ("/approvals", "Approvals"), ("/memory", "Memory"), ("/usage", "Usage"),
        ("/health", "Health"),
    ]
    let sessions: DashboardSessions
    let data: DashboardData
    let logger: Logger
    let pages: MustacheLibrary

    public init(sessions: DashboardSessions, data: DashboardData, logger: Logger) {
        self.sessions = sessions
        self.data = data
        self.logger = logger
        var library = MustacheLibrary()
        for (name, text) in DashboardTemplates.all {
            // The templates are constants of this module; a broken one is a programming error.
            try! library.register(text, named: name)
        }
        pages = library
    }

    /// Adds the dashboard's routes to `router` (the API's routes stay as they are).
    public func register(on router: Router<BasicRequestContext>) {
        router.get("/static/dashboard.css") { _, _ in Self.asset(DashboardAssets.stylesheet, type: "text/css; charset=utf-8") }
        router.get("/static/dashboard.js") { _, _ in Self.asset(DashboardAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/static/icon.svg") { _, _ in Self.asset(DashboardAssets.icon, type: "image/svg+xml") }
        router.get("/favicon.ico") { _, _ in Self.redirect("/static/icon.svg") }
        router.get("/login") { request, _ in await login(request) }
        router.post("/logout") { request, _ in
            try await form(request) { session, _ in
                await sessions.end(session.id)
                return Self.redirect("/login/signed-out", clearCookie: true)
            }
        }
        router.get("/login/signed-out") { _, _ in
            message("Signed out", "Run 'hearth dashboard' for a new login link.", status: .ok, session: nil)
        }
        router.get("/") { request, _ in try await page(request) { session in try await home(session, request) } }
        router.get("/approvals") { request, _ in try await page(request) { session in try await approvalsPage(session, request) } }
        router.post("/approvals/:id/approve") { request, context in try await answer(request, context, approve: true) }
        router.post("/approvals/:id/deny") { request, context in try await answer(request, context, approve: false) }
        router.get("/goals") { request, _ in try await page(request) { session in try await goalsPage(session, request) } }
        router.post("/goals") { request, _ in try await startGoal(request) }
        router.get("/goals/:id") { request, context in
            try await page(request) { session in try await goalPage(session, request, id: context.parameters.get("id") ?? "") }
        }
        router.post("/goals/:id/findings/:finding/dismiss") { request, context in try await dismissFinding(request, context) }
        router.post("/goals/:id/cancel") { request, context in try await steer(request, context, cancel: true) }
        router.post("/goals/:id/resume") { request, context in try await steer(request, context, cancel: false) }
        router.post("/inbox/:id/ack") { request, context in
            try await form(request) { _, _ in
                if let id = context.parameters.get("id").flatMap(Int64.init) { _ = try await data.acknowledge?(id) }
                return Self.redirect("/")
            }
        }
        router.post("/inbox/:id/feedback") { request, context in try await feedback(request, context) }
        router.get("/inbox/stream") { request, _ in try await inboxStream(request) }
        router.get("/goals/:id/trace") { request, context in
            try await page(request) { session in try await tracePage(session, id: context.parameters.get("id") ?? "") }
        }
        router.get("/chat") { request, _ in try await page(request) { session in try await chatPage(session, id: nil) } }
        router.get("/chat/:id") { request, context in
            try await page(request) { session in try await chatPage(session, id: context.parameters.get("id") ?? "") }
        }
        router.post("/chat") { request, _ in try await chatSend(request) }
        router.get("/memory") { request, _ in try await page(request) { session in try await memoryPage(session, request) } }
        router.post("/memory/facts/:id/confirm") { request, context in try await judgeFact(request, context, confirm: true) }
        router.post("/memory/facts/:id/reject") { request, context in try await judgeFact(request, context, confirm: false) }
        router.post("/memory/records/:id/forget") { request, context in try await forget(request, context) }
        router.get("/usage") { request, _ in try await page(request) { session in try await usagePage(session, request) } }
        router.get("/health") { request, _ in try await page(request) { session in await healthPage(session) } }
        router.get("/files/**") { request, context in
            try await page(request) { _ in
                try file(context.parameters.getCatchAll().joined(separator: "/"))
            }
        }
    }

    // MARK: Sessions, forms and responses

    func currentSession(_ request: Request) async -> DashboardSessions.Session? {
        await sessions.session(Self.cookieValue(request.headers[.cookie], name: Self.cookie))
    }

    /// A page for a signed-in browser; others get the page saying how to sign in.
    func page(_ request: Request, _ render: (DashboardSessions.Session) async throws -> Response) async throws -> Response {
        guard let session = await currentSession(request) else {
            return message(
                "Sign in", "This dashboard needs a login link: run 'hearth dashboard' on this machine and open the link it prints.",
                status: .unauthorized, session: nil)
        }
        do {
            return try await render(session)
        } catch let error as DashboardError {
            return message(error.title, error.text, status: error.status, session: session)
        }
    }

    /// A state-changing request: a session and its CSRF token, or 403 and nothing changes.
    func form(_ request: Request, _ handle: (DashboardSessions.Session, [String: String]) async throws -> Response) async throws -> Response
    {
        guard let session = await currentSession(request) else {
            return message(
                "Sign in", "Your session has ended: run 'hearth dashboard' for a new login link.", status: .forbidden, session: nil)
        }
        let fields: [String: String]
        do {
            fields = Self.formFields(try await request.body.collect(upTo: 64 * 1024))
        } catch {
            return message("Too large", "The form is larger than 64 KB.", status: .contentTooLarge, session: session)
        }
        guard let token = fields["csrf"], DashboardSessions.same(token, session.csrf) else {
            logger.warning("dashboard: a form without a valid CSRF token was refused (\(request.uri.path))")
            return message(
                "Refused", "The form's security token is missing or wrong, so nothing was changed. Reload the page and try again.",
                status: .forbidden, session: session)
        }
        do {
            return try await handle(session, fields)
        } catch let error as DashboardError {
            return message(error.title, error.text, status: error.status, session: session)
        }
    }

    func login(_ request: Request) async -> Response {
        let token = request.uri.queryParameters["token"].map(String.init) ?? ""
        switch await sessions.redeem(token) {
        case .success(let session):
            var response = Self.redirect("/")
            response.headers[.setCookie] = "\(Self.cookie)=\(session.id); HttpOnly; SameSite=Strict; Path=/"
            return response
        case .failure(let problem):
            let why =
                switch problem {
                case .used: "This login link was already used: each link signs in once."
                case .expired: "This login link has expired: links last ten minutes."
                case .unknown: "This login link is not one this daemon made (or the daemon restarted since)."
                }
            return message("Login link not valid", why + " Run 'hearth dashboard' for a new one.", status: .forbidden, session: nil)
        }
    }

    func render(
        _ template: String, title: String, session: DashboardSessions.Session?, _ values: [String: Any], status: HTTPResponse.Status = .ok
    )
        -> Response
    {
        var context = values
        context["csrf"] = session?.csrf ?? ""
        let content = pages.render(context, withTemplate: template) ?? ""
        let navigation: [[String: Any]] =
            session == nil
            ? []
            : Self.sections.map { href, label in
                ["href": href, "label": label, "current": title == label]
            }
        let html =
            pages.render(
                ["title": title, "content": content, "nav": navigation, "csrf": session?.csrf ?? "", "signedIn": session != nil],
                withTemplate: "layout") ?? ""
        return Response(
            status: status, headers: Self.pageHeaders(type: "text/html; charset=utf-8"), body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func message(_ title: String, _ text: String, status: HTTPResponse.Status, session: DashboardSessions.Session?) -> Response {
        render("message", title: title, session: session, ["text": text], status: status)
    }

    static func pageHeaders(type: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-store"
        headers[.init("Content-Security-Policy")!] =
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers[.init("Referrer-Policy")!] = "no-referrer"
        return headers
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: pageHeaders(type: type), body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String, clearCookie: Bool = false) -> Response {
        var headers = pageHeaders(type: "text/plain; charset=utf-8")
        headers[.location] = location
        if clearCookie { headers[.setCookie] = "\(cookie)=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0" }
        return Response(status: .seeOther, headers: headers)
    }

    /// A redirect to `path` carrying a message for its page in the query field `name`.
    static func redirect(_ path: String, flash name: String, _ text: String) -> Response {
        redirect("\(path)?\(name)=" + (text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
    }

    /// One cookie's value from a `Cookie` header.
    static func cookieValue(_ header: String?, name: String) -> String? {
        for pair in (header ?? "").split(separator: ";") {
            let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return String(parts[1]) }
        }
        return nil
    }

    /// `application/x-www-form-urlencoded` fields (the last of a repeated name wins).
    static func formFields(_ buffer: ByteBuffer) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            fields[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return fields
    }
}

/// A page-level failure: its title, what to do, and the status.
struct DashboardError: Error {
    var title: String
    var text: String
    var status: HTTPResponse.Status

    static func notFound(_ what: String) -> DashboardError { DashboardError(title: "Not found", text: what, status: .notFound) }
}
