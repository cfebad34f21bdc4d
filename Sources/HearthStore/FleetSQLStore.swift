import Foundation
import GRDB
import HearthCore

/// The fleet's members, keys and mailboxes in SQLite (one machine; a fleet shares PostgreSQL).
public struct FleetSQLStore: FleetStore {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func register(name: String, role: String, publicKey: String, at date: Date) async throws {
        try await database.write { db in
            if let member = try Row.fetchOne(db, sql: "SELECT * FROM fleet_member WHERE name = ?", arguments: [name]) {
                guard member["revokedAt"] as Int64? == nil else { throw FleetError.revoked(name: name) }
                let active = try String.fetchOne(
                    db, sql: "SELECT publicKey FROM fleet_key WHERE agent = ? AND state = 'active'", arguments: [name])
                guard active == publicKey else { throw FleetError.keyMismatch(name: name) }
                try db.execute(
                    sql: "UPDATE fleet_member SET lastSeen = ?, role = ? WHERE name = ?",
                    arguments: [date.millisecondsSince1970, role, name])
                return
            }
            try db.execute(
                sql: "INSERT INTO fleet_member (name, role, joinedAt, lastSeen) VALUES (?, ?, ?, ?)",
                arguments: [name, role, date.millisecondsSince1970, date.millisecondsSince1970])
            try db.execute(
                sql: "INSERT INTO fleet_key (publicKey, agent, state, addedAt) VALUES (?, ?, 'active', ?)",
                arguments: [publicKey, name, date.millisecondsSince1970])
        }
    }

    public func members() async throws -> [FleetMember] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT m.*, (SELECT k.publicKey FROM fleet_key k WHERE k.agent = m.name ORDER BY k.state = 'active' DESC, k.addedAt DESC LIMIT 1) AS key
                    FROM fleet_member m ORDER BY m.name
                    """
            ).map { row in
                FleetMember(
                    name: row["name"], role: row["role"], key: row["key"] ?? "",
                    lastSeen: (row["lastSeen"] as Int64?).map { Date(millisecondsSince1970: $0) },
                    state: row["revokedAt"] as Int64? == nil ? "active" : "revoked")
            }
        }
    }

    public func keys() async throws -> [FleetKey] {
        try await database.read { db in try Self.keys(db) }
    }

    static func keys(_ db: Database) throws -> [FleetKey] {
        try Row.fetchAll(db, sql: "SELECT k.*, m.role FROM fleet_key k JOIN fleet_member m ON m.name = k.agent").map { row in
            FleetKey(
                agent: row["agent"], role: row["role"], publicKey: row["publicKey"],
                state: FleetKey.State(rawValue: row["state"]) ?? .revoked,
                retiresAt: (row["retiresAt"] as Int64?).map { Date(millisecondsSince1970: $0) })
        }
    }

    public func rotate(name: String, newKey: String, overlapUntil: Date, at date: Date) async throws {
        try await database.write { db in
            guard let member = try Row.fetchOne(db, sql: "SELECT * FROM fleet_member WHERE name = ?", arguments: [name]) else {
                throw FleetError.unknownMember(name: name)
            }
            guard member["revokedAt"] as Int64? == nil else { throw FleetError.revoked(name: name) }
            try db.execute(
                sql: "UPDATE fleet_key SET state = 'retiring', retiresAt = ? WHERE agent = ? AND state = 'active'",
                arguments: [overlapUntil.millisecondsSince1970, name])
            try db.execute(
                sql: "INSERT INTO fleet_key (publicKey, agent, state, addedAt) VALUES (?, ?, 'active', ?)",
                arguments: [newKey, name, date.millisecondsSince1970])
        }
    }

    public func revoke(name: String, at date: Date) async throws -> Bool {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE fleet_member SET revokedAt = ? WHERE name = ? AND revokedAt IS NULL",
                arguments: [date.millisecondsSince1970, name])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "UPDATE fleet_key SET state = 'revoked' WHERE agent = ?", arguments: [name])
            return true
        }
    }

    public func send(_ message: AgentMessage, at date: Date) async throws {
        let payload = String(decoding: try JSONEncoder().encode(message), as: UTF8.self)
        try await database.write { db in
            try db.execute(
                sql: "INSERT INTO fleet_message (sender, recipient, nonce, payload, sentAt) VALUES (?, ?, ?, ?, ?)",
                arguments: [message.from, message.to, message.nonce, payload, date.millisecondsSince1970])
        }
    }

    public func receive(agent: String, at date: Date, signatureValid: @escaping @Sendable (String, String, String) -> Bool) async throws
        -> [ReceivedMessage]
    {
        try await database.write { db in
            let keys = try Self.keys(db)
            var received: [ReceivedMessage] = []
            let waiting = try Row.fetchAll(
                db, sql: "SELECT id, payload FROM fleet_message WHERE recipient = ? AND checkedAt IS NULL ORDER BY id", arguments: [agent])
            for row in waiting {
                let id: Int64 = row["id"]
                let payload: String = row["payload"]
                let verdict: AgentMessageCheck.Verdict
                let message = try? JSONDecoder().decode(AgentMessage.self, from: Data(payload.utf8))
                if let message {
                    let seen =
                        try Bool.fetchOne(
                            db, sql: "SELECT EXISTS (SELECT 1 FROM fleet_message WHERE nonce = ? AND accepted = 1 AND id != ?)",
                            arguments: [message.nonce, id]) ?? false
                    verdict = AgentMessageCheck.verdict(
                        message, to: agent, keys: keys, nonceSeen: seen, now: date, signatureValid: signatureValid)
                } else {
                    verdict = .refused("not a readable agent message")
                }
                let reason: String? = if case .refused(let why) = verdict { why } else { nil }
                try db.execute(
                    sql: "UPDATE fleet_message SET checkedAt = ?, accepted = ?, reason = ? WHERE id = ?",
                    arguments: [date.millisecondsSince1970, reason == nil, reason, id])
                if let message { received.append(ReceivedMessage(id: id, message: message, accepted: reason == nil, reason: reason)) }
            }
            return received
        }
    }
}
