import Foundation
import HearthCore
import Logging
import PostgresNIO

/// The fleet's members, keys and mailboxes in the shared PostgreSQL: a revocation or rotation
/// made by any daemon holds for every other at its next check.
public struct PostgresFleetStore: FleetStore {
    let database: PostgresStore

    public init(database: PostgresStore) {
        self.database = database
    }

    public func register(name: String, role: String, publicKey: String, at date: Date) async throws {
        let now = date.millisecondsSince1970
        let logger = database.logger
        try await database.transaction { connection in
            // Two daemons registering one name at once: the second waits here and sees the first.
            try await connection.query("SELECT pg_advisory_xact_lock(7352002, hashtext(\(name)))", logger: logger)
            var revokedAt: Int64??
            for try await revoked in try await connection.query(
                "SELECT revokedAt FROM fleet_member WHERE name = \(name)", logger: logger
            ).decode(Int64?.self) {
                revokedAt = .some(revoked)
            }
            if let revokedAt {
                guard revokedAt == nil else { throw FleetError.revoked(name: name) }
                var active: String?
                for try await key in try await connection.query(
                    "SELECT publicKey FROM fleet_key WHERE agent = \(name) AND state = 'active'", logger: logger
                ).decode(String.self) {
                    active = key
                }
                guard active == publicKey else { throw FleetError.keyMismatch(name: name) }
                try await connection.query("UPDATE fleet_member SET lastSeen = \(now), role = \(role) WHERE name = \(name)", logger: logger)
                return
            }
            try await connection.query(
                "INSERT INTO fleet_member (name, role, joinedAt, lastSeen) VALUES (\(name), \(role), \(now), \(now))", logger: logger)
            try await connection.query(
                "INSERT INTO fleet_key (publicKey, agent, state, addedAt) VALUES (\(publicKey), \(name), 'active', \(now))", logger: logger)
        }
    }

    public func members() async throws -> [FleetMember] {
        var members: [FleetMember] = []
        let rows = try await database.client.query(
            """
            SELECT m.name, m.role, m.lastSeen, m.revokedAt,
                (SELECT k.publicKey FROM fleet_key k WHERE k.agent = m.name ORDER BY k.state = 'active' DESC, k.addedAt DESC LIMIT 1)
            FROM fleet_member m ORDER BY m.name
            """, logger: database.logger)
        for try await (name, role, lastSeen, revokedAt, key) in rows.decode((String, String, Int64?, Int64?, String?).self) {
            members.append(
                FleetMember(
                    name: name, role: role, key: key ?? "", lastSeen: lastSeen.map { Date(millisecondsSince1970: $0) },
                    state: revokedAt == nil ? "active" : "revoked"))
        }
        return members
    }

    public func keys() async throws -> [FleetKey] {
        let logger = database.logger
        return try await database.client.withConnection { connection in try await Self.keys(connection, logger: logger) }
    }

    static func keys(_ connection: PostgresConnection, logger: Logger) async throws -> [FleetKey] {
        var keys: [FleetKey] = []
        let rows = try await connection.query(
            "SELECT k.agent, m.role, k.publicKey, k.state, k.retiresAt FROM fleet_key k JOIN fleet_member m ON m.name = k.agent",
            logger: logger)
        for try await (agent, role, key, state, retiresAt) in rows.decode((String, String, String, String, Int64?).self) {
            keys.append(
                FleetKey(
                    agent: agent, role: role, publicKey: key, state: FleetKey.State(rawValue: state) ?? .revoked,
                    retiresAt: retiresAt.map { Date(millisecondsSince1970: $0) }))
        }
        return keys
    }

    public func rotate(name: String, newKey: String, overlapUntil: Date, at date: Date) async throws {
        let logger = database.logger
        let until = overlapUntil.millisecondsSince1970
        let now = date.millisecondsSince1970
        try await database.transaction { connection in
            var revokedAt: Int64??
            for try await revoked in try await connection.query(
                "SELECT revokedAt FROM fleet_member WHERE name = \(name) FOR UPDATE", logger: logger
            ).decode(Int64?.self) {
                revokedAt = .some(revoked)
            }
            guard let revokedAt else { throw FleetError.unknownMember(name: name) }
            guard revokedAt == nil else { throw FleetError.revoked(name: name) }
            try await connection.query(
                "UPDATE fleet_key SET state = 'retiring', retiresAt = \(until) WHERE agent = \(name) AND state = 'active'", logger: logger)
            try await connection.query(
                "INSERT INTO fleet_key (publicKey, agent, state, addedAt) VALUES (\(newKey), \(name), 'active', \(now))", logger: logger)
        }
    }

    public func revoke(name: String, at date: Date) async throws -> Bool {
        let logger = database.logger
        let now = date.millisecondsSince1970
        return try await database.transaction { connection in
            var revoked = false
            for try await _ in try await connection.query(
                "UPDATE fleet_member SET revokedAt = \(now) WHERE name = \(name) AND revokedAt IS NULL RETURNING name", logger: logger
            ).decode(String.self) {
                revoked = true
            }
            guard revoked else { return false }
            try await connection.query("UPDATE fleet_key SET state = 'revoked' WHERE agent = \(name)", logger: logger)
            return true
        }
    }

    public func send(_ message: AgentMessage, at date: Date) async throws {
        let payload = String(decoding: try JSONEncoder().encode(message), as: UTF8.self)
        let sent = date.millisecondsSince1970
        try await database.client.query(
            """
            INSERT INTO fleet_message (sender, recipient, nonce, payload, sentAt)
            VALUES (\(message.from), \(message.to), \(message.nonce), \(payload), \(sent))
            """, logger: database.logger)
    }

    public func receive(agent: String, at date: Date, signatureValid: @escaping @Sendable (String, String, String) -> Bool) async throws
        -> [ReceivedMessage]
    {
        let logger = database.logger
        let now = date.millisecondsSince1970
        return try await database.transaction { connection in
            // The recipient's waiting messages, locked: two daemons of one agent never check one twice.
            var waiting: [(Int64, String)] = []
            for try await row in try await connection.query(
                "SELECT id, payload FROM fleet_message WHERE recipient = \(agent) AND checkedAt IS NULL ORDER BY id FOR UPDATE",
                logger: logger
            ).decode((Int64, String).self) {
                waiting.append(row)
            }
            guard !waiting.isEmpty else { return [] }
            let keys = try await Self.keys(connection, logger: logger)
            var received: [ReceivedMessage] = []
            var acceptedNonces = Set<String>()
            for (id, payload) in waiting {
                let message = try? JSONDecoder().decode(AgentMessage.self, from: Data(payload.utf8))
                let verdict: AgentMessageCheck.Verdict
                if let message {
                    var seen = acceptedNonces.contains(message.nonce)
                    for try await _ in try await connection.query(
                        "SELECT 1 FROM fleet_message WHERE nonce = \(message.nonce) AND accepted AND id <> \(id)", logger: logger
                    ).decode(Int.self) {
                        seen = true
                    }
                    verdict = AgentMessageCheck.verdict(
                        message, to: agent, keys: keys, nonceSeen: seen, now: date, signatureValid: signatureValid)
                } else {
                    verdict = .refused("not a readable agent message")
                }
                let reason: String? = if case .refused(let why) = verdict { why } else { nil }
                if reason == nil, let message { acceptedNonces.insert(message.nonce) }
                let accepted = reason == nil
                try await connection.query(
                    "UPDATE fleet_message SET checkedAt = \(now), accepted = \(accepted), reason = \(reason) WHERE id = \(id)",
                    logger: logger)
                if let message { received.append(ReceivedMessage(id: id, message: message, accepted: accepted, reason: reason)) }
            }
            return received
        }
    }
}
