import Foundation

/// A message from one Hearth agent to another (hand a task over, ask a question, share a
/// finding), signed with the sender's Ed25519 key. What is signed is `signedText`: every field
/// but the signature, in a fixed order, so a changed field breaks the signature.
public struct AgentMessage: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case handover, question, finding
    }

    public var from: String
    public var to: String
    public var kind: Kind
    public var body: JSONValue
    /// The sender's public key (base64), naming which of its keys signed.
    public var key: String
    /// Random, never reused: a second message with the same nonce is a replay.
    public var nonce: String
    public var sentAt: Date
    /// Base64 Ed25519 signature of `signedText`.
    public var signature: String

    public init(from: String, to: String, kind: Kind, body: JSONValue, key: String, nonce: String, sentAt: Date, signature: String = "") {
        self.from = from
        self.to = to
        self.kind = kind
        self.body = body
        self.key = key
        self.nonce = nonce
        self.sentAt = sentAt
        self.signature = signature
    }

    /// The bytes the signature covers.
    public var signedText: String {
        ["hearth-agent-message/1", from, to, kind.rawValue, key, nonce, Timestamp.format(sentAt), body.jsonText].joined(separator: "\n")
    }
}

/// One key of a fleet member as the shared store holds it.
public struct FleetKey: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Codable {
        /// The member's current key.
        case active
        /// Replaced by a rotation; still verifies until `retiresAt` (the overlap window).
        case retiring
        /// Verifies nothing, at once, wherever the message arrives.
        case revoked
    }

    public var agent: String
    public var role: String
    public var publicKey: String
    public var state: State
    public var retiresAt: Date?

    public init(agent: String, role: String, publicKey: String, state: State = .active, retiresAt: Date? = nil) {
        self.agent = agent
        self.role = role
        self.publicKey = publicKey
        self.state = state
        self.retiresAt = retiresAt
    }
}

/// Whether an arriving message is taken: a pure decision over the fleet's keys, the nonces
/// already seen and the clock; the signature check is passed in (the crypto lives elsewhere).
public enum AgentMessageCheck {
    public enum Verdict: Sendable, Equatable {
        case accepted
        case refused(String)
    }

    /// How far a message's time may be from the receiver's clock, either way.
    public static let window: TimeInterval = 300

    public static func verdict(
        _ message: AgentMessage, to receiver: String, keys: [FleetKey], nonceSeen: Bool, now: Date,
        signatureValid: (_ publicKey: String, _ text: String, _ signature: String) -> Bool
    ) -> Verdict {
        guard message.to == receiver else { return .refused("addressed to \(message.to), not to \(receiver)") }
        guard let key = keys.first(where: { $0.agent == message.from && $0.publicKey == message.key }) else {
            return keys.contains { $0.agent == message.from }
                ? .refused("signed with a key \(message.from) does not hold") : .refused("\(message.from) is not a member of the fleet")
        }
        switch key.state {
        case .revoked: return .refused("\(message.from)'s key was revoked")
        case .retiring:
            if let retiresAt = key.retiresAt, now > retiresAt {
                return .refused("\(message.from)'s key was rotated and its overlap ended at \(Timestamp.format(retiresAt))")
            }
        case .active: break
        }
        guard abs(message.sentAt.timeIntervalSince(now)) <= window else {
            return .refused("sent at \(Timestamp.format(message.sentAt)), outside the \(Int(window / 60))-minute window")
        }
        guard signatureValid(message.key, message.signedText, message.signature) else {
            return .refused("the signature does not match the message (forged or changed on the way)")
        }
        guard !nonceSeen else { return .refused("a replay: nonce \(message.nonce) was already received") }
        return .accepted
    }
}

/// A member of the fleet as `hearth fleet list` shows it.
public struct FleetMember: Sendable, Hashable {
    public var name: String
    public var role: String
    /// The member's active key (base64), or its last one when revoked.
    public var key: String
    public var lastSeen: Date?
    /// `active` or `revoked`.
    public var state: String

    public init(name: String, role: String, key: String, lastSeen: Date?, state: String) {
        self.name = name
        self.role = role
        self.key = key
        self.lastSeen = lastSeen
        self.state = state
    }
}

/// A message as a receiver recorded it: accepted, or refused with why.
public struct ReceivedMessage: Sendable, Hashable {
    public var id: Int64
    public var message: AgentMessage
    public var accepted: Bool
    public var reason: String?

    public init(id: Int64, message: AgentMessage, accepted: Bool, reason: String?) {
        self.id = id
        self.message = message
        self.accepted = accepted
        self.reason = reason
    }
}

/// The fleet's shared records: members and their keys, and the agents' mailboxes. On one
/// machine it is the SQLite store; a fleet shares one PostgreSQL.
public protocol FleetStore: Sendable {
    /// Registers `name` with `publicKey` as its active key, or notes that it was seen. A name
    /// whose active key differs is refused (`rotate` changes a key), as is a revoked one.
    func register(name: String, role: String, publicKey: String, at: Date) async throws
    func members() async throws -> [FleetMember]
    func keys() async throws -> [FleetKey]
    /// The active key becomes `retiring` until `overlapUntil`; `newKey` becomes active.
    func rotate(name: String, newKey: String, overlapUntil: Date, at: Date) async throws
    /// Every key of `name` is revoked at once.
    func revoke(name: String, at: Date) async throws -> Bool
    /// Puts a signed message in its recipient's mailbox.
    func send(_ message: AgentMessage, at: Date) async throws
    /// Checks every message waiting for `agent` (keys, window, signature, replay) and records
    /// each verdict; returns what was checked now.
    func receive(agent: String, at: Date, signatureValid: @escaping @Sendable (String, String, String) -> Bool) async throws
        -> [ReceivedMessage]
}

/// Why the fleet store refused a change.
public enum FleetError: Error, Sendable, Equatable, CustomStringConvertible {
    case keyMismatch(name: String)
    case revoked(name: String)
    case unknownMember(name: String)

    public var description: String {
        switch self {
        case .keyMismatch(let name):
            "\(name) is registered with another key; 'hearth fleet rotate' changes a member's key (or choose another [fleet] name)"
        case .revoked(let name): "\(name) was revoked; a revoked name cannot rejoin (choose another [fleet] name)"
        case .unknownMember(let name): "\(name) is not a member of the fleet ('hearth fleet list' shows the members)"
        }
    }
}
