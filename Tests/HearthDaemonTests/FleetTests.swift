import Foundation
import GRDB
import HearthCore
import HearthPostgres
import HearthTesting
import PostgresNIO
import Testing

/// Two agents sharing one store (two configs, one data dir): keys, signed messages, replay and
/// tampering refused, rotation and revocation, a key file others can read refused.
@Suite("hearth fleet: identities and signed messages", .timeLimit(.minutes(2)))
struct FleetTests {
    @Test("members list with their keys; a signed handover is accepted once; a replay, a tampered copy and a revoked sender are refused")
    func twoAgents() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        for name in ["alpha", "bravo"] {
            try Data("[fleet]\nname = \"\(name)\"\nrole = \"\(name == "alpha" ? "planner" : "worker")\"\n".utf8).write(
                to: sandbox.root.appending("\(name).toml"))
        }
        func as_(_ name: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await sandbox.hearth(["fleet"] + arguments + ["--config", sandbox.root.appending("\(name).toml").path])
        }
        let alpha = try JSONValue(parsing: try await as_("alpha", ["status", "--json"]).stdout)
        #expect(alpha["name"] == "alpha" && alpha["role"] == "planner")
        let listed = try JSONValue(parsing: try await as_("bravo", ["list", "--json"]).stdout).arrayValue ?? []
        #expect(listed.map { $0["name"]?.stringValue ?? "" } == ["alpha", "bravo"])
        #expect(listed.first?["key"] == alpha["key"] && listed.allSatisfy { $0["state"] == "active" && $0["lastSeen"]?.stringValue != nil })
        #expect(Set(listed.compactMap { $0["role"]?.stringValue }) == ["planner", "worker"])

        let sent = try await as_("alpha", ["send", "bravo", "--kind", "handover", "Review the Q3 specs"])
        #expect(sent.status == 0, "\(sent.stderr)")
        // Someone with the database copies the message (a replay) and changes a copy's text.
        let database = try DatabaseQueue(path: sandbox.data.appending(path: "hearth.sqlite").path)
        try await database.write { db in
            let payload = try String.fetchOne(db, sql: "SELECT payload FROM fleet_message ORDER BY id LIMIT 1") ?? ""
            for text in [payload, payload.replacingOccurrences(of: "Review the Q3 specs", with: "Delete the Q3 specs")] {
                try db.execute(
                    sql:
                        "INSERT INTO fleet_message (sender, recipient, nonce, payload, sentAt) SELECT sender, recipient, nonce, ?, sentAt FROM fleet_message ORDER BY id LIMIT 1",
                    arguments: [text])
            }
        }
        let inbox = try JSONValue(parsing: try await as_("bravo", ["inbox", "--json"]).stdout).arrayValue ?? []
        #expect(inbox.count == 3)
        #expect(
            inbox.first?["accepted"] == true && inbox.first?["body"]?["text"] == "Review the Q3 specs" && inbox.first?["kind"] == "handover"
        )
        #expect(inbox.dropFirst().first?["reason"]?.stringValue?.hasPrefix("a replay") == true, "\(inbox)")
        #expect(inbox.last?["reason"]?.stringValue?.contains("signature does not match") == true, "\(inbox)")
        #expect(try JSONValue(parsing: try await as_("bravo", ["inbox", "--json"]).stdout) == [], "each message is checked once")

        // Rotation: a new key, listed; messages signed with it are accepted.
        let rotated = try await as_("alpha", ["rotate", "--overlap-minutes", "5"])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        let newKey = try JSONValue(parsing: try await as_("alpha", ["status", "--json"]).stdout)["key"]
        #expect(newKey != alpha["key"])
        _ = try await as_("alpha", ["send", "bravo", "After the rotation"])
        // Revocation, effective at once: a message already waiting is refused, and the revoked
        // agent can send nothing more.
        _ = try await as_("alpha", ["send", "bravo", "Just before the revocation"])
        #expect(try await as_("bravo", ["revoke", "alpha"]).status == 0)
        let late = try JSONValue(parsing: try await as_("bravo", ["inbox", "--json"]).stdout).arrayValue ?? []
        #expect(late.map { $0["accepted"]?.boolValue ?? true } == [false, false], "\(late)")
        #expect(late.allSatisfy { $0["reason"] == "alpha's key was revoked" })
        let refused = try await as_("alpha", ["send", "bravo", "Still here?"])
        #expect(refused.status != 0 && refused.stderr.contains("alpha was revoked"), "\(refused.stderr)")
        let states = try JSONValue(parsing: try await as_("bravo", ["list", "--json"]).stdout).arrayValue ?? []
        #expect(states.first { $0["name"] == "alpha" }?["state"] == "revoked")

        // A key file others can read is refused, with the command that fixes it.
        let keyFile = sandbox.data.appending(path: "fleet/bravo.key")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile.path)
        let loose = try await as_("bravo", ["status"])
        #expect(loose.status != 0 && loose.stderr.contains("chmod 600 \(keyFile.path)"), "\(loose.stderr)")
    }

    @Test(
        "two agents on two data directories share one PostgreSQL: each lists the other, a signed message is accepted once, a revocation holds for the other at once"
    )
    func sharedPostgres() async throws {
        let url = ProcessInfo.processInfo.environment["HEARTH_TEST_POSTGRES_URL"]
        try #require(url != nil || Preconditions.requiredInCI, "no PostgreSQL for the tests: run them with scripts/test")
        let shared = try await PostgresStore.createDatabase(on: try PostgresLocation.parse(try #require(url)), prefix: "fleet")
        var agents: [String: Sandbox] = [:]
        for name in ["alpha", "bravo"] {
            let sandbox = try Sandbox()
            try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
            try Data("[fleet]\nname = \"\(name)\"\n[store]\nurl = \"\(shared.url)\"\n".utf8).write(
                to: sandbox.data.appending(path: "config.toml"))
            agents[name] = sandbox
        }
        func as_(_ name: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await agents[name]!.hearth(["fleet"] + arguments)
        }
        let alpha = try await as_("alpha", ["status", "--json"])
        #expect(alpha.status == 0, "\(alpha.stderr)")
        let listed = try JSONValue(parsing: try await as_("bravo", ["list", "--json"]).stdout).arrayValue ?? []
        #expect(listed.map { $0["name"]?.stringValue ?? "" } == ["alpha", "bravo"], "\(listed)")
        #expect(listed.first?["key"] == (try JSONValue(parsing: alpha.stdout))["key"])
        #expect(
            !FileManager.default.fileExists(atPath: agents["alpha"]!.data.appending(path: "hearth.sqlite").path), "nothing kept locally")

        #expect(try await as_("alpha", ["send", "bravo", "--kind", "handover", "Review the Q3 specs"]).status == 0)
        // A copy of it put in the store again is a replay.
        let database = try await PostgresStore.open(shared)
        defer { database.close() }
        try await database.client.query(
            "INSERT INTO fleet_message (sender, recipient, nonce, payload, sentAt) SELECT sender, recipient, nonce, payload, sentAt FROM fleet_message"
        )
        let inbox = try JSONValue(parsing: try await as_("bravo", ["inbox", "--json"]).stdout).arrayValue ?? []
        #expect(inbox.map { $0["accepted"]?.boolValue ?? false } == [true, false], "\(inbox)")
        #expect(inbox.last?["reason"]?.stringValue?.hasPrefix("a replay") == true, "\(inbox)")

        // bravo revokes alpha on its machine; alpha, on its own, can send nothing more.
        #expect(try await as_("bravo", ["revoke", "alpha"]).status == 0)
        let refused = try await as_("alpha", ["send", "bravo", "Still here?"])
        #expect(refused.status != 0 && refused.stderr.contains("alpha was revoked"), "\(refused.stderr)")
        // The daemon itself does not run on PostgreSQL yet, and says so.
        let daemon = try await agents["alpha"]!.hearth(["status"])
        #expect(daemon.status != 0 && daemon.stderr.contains("Remove [store] url"), "\(daemon.stderr)")
    }
}
