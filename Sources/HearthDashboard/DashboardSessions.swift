import Foundation
import HearthCore

/// Who may see the dashboard: one-time login links (made by `hearth dashboard` through the
/// bearer-token API) become browser sessions, each with its own CSRF token. Held in memory: a
/// daemon restart signs everyone out, and a new link is one command away.
public actor DashboardSessions {
    public struct Session: Sendable, Hashable {
        public let id: String
        public let csrf: String
        public var lastSeen: Date
    }

    /// Why a login link was refused.
    public enum LinkProblem: Error, Sendable, Equatable {
        case unknown, used, expired
    }

    private var links: [String: (expires: Date, used: Bool)] = [:]
    private var sessions: [String: Session] = [:]
    private let linkLifetime: TimeInterval
    private let idleLifetime: TimeInterval
    private let clock: any WallClock

    public init(linkLifetime: TimeInterval = 600, idleLifetime: TimeInterval = 12 * 3600, clock: any WallClock = SystemWallClock()) {
        self.linkLifetime = linkLifetime
        self.idleLifetime = idleLifetime
        self.clock = clock
    }

    /// A fresh one-time login token.
    public func issueLink() -> String {
        let now = clock.now()
        links = links.filter { $0.value.expires > now.addingTimeInterval(-linkLifetime) }
        let token = Self.randomToken()
        links[token] = (now.addingTimeInterval(linkLifetime), false)
        return token
    }

    /// Turns a login token into a session, once.
    public func redeem(_ token: String) -> Result<Session, LinkProblem> {
        guard let link = links[token] else { return .failure(.unknown) }
        guard !link.used else { return .failure(.used) }
        let now = clock.now()
        guard link.expires > now else { return .failure(.expired) }
        links[token] = (link.expires, true)
        let session = Session(id: Self.randomToken(), csrf: Self.randomToken(), lastSeen: now)
        sessions[session.id] = session
        return .success(session)
    }

    /// The session a cookie names, if it is live (seeing it keeps it alive).
    public func session(_ id: String?) -> Session? {
        guard let id, var session = sessions[id] else { return nil }
        let now = clock.now()
        guard now.timeIntervalSince(session.lastSeen) < idleLifetime else {
            sessions[id] = nil
            return nil
        }
        session.lastSeen = now
        sessions[id] = session
        return session
    }

    public func end(_ id: String) { sessions[id] = nil }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(format: "%016llx", generator.next() as UInt64) }.joined()
    }

    /// Compares two secrets in time independent of where they differ.
    public static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
