import Foundation
import HearthCore
import HearthFleet
import HearthTesting
import Synchronization
import Testing

/// Agent identities: Ed25519 keys, signed agent-to-agent messages, and what a receiver refuses.
@Suite("Agent identities and signed messages", .timeLimit(.minutes(10)))
struct AgentIdentityTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func check(_ message: AgentMessage, keys: [FleetKey], seen: Bool = false, at date: Date? = nil) -> AgentMessageCheck.Verdict {
        AgentMessageCheck.verdict(
            message, to: "bravo", keys: keys, nonceSeen: seen, now: date ?? now, signatureValid: AgentIdentity.verify)
    }

    @Test("a signed message verifies; forged, tampered, replayed, stale, unknown, revoked and rotated-out keys are refused")
    func verdicts() throws {
        let directory = try TemporaryDirectory(prefix: "fleet")
        let alpha = AgentIdentity(
            name: "alpha", role: "worker", privateKey: try AgentKeyFile.loadOrCreate(directory.appending("alpha.key")))
        let keys = [FleetKey(agent: "alpha", role: "worker", publicKey: alpha.publicKey)]
        let message = try alpha.sign(to: "bravo", kind: .handover, body: ["goal": "Summarise Notes/"], at: now)
        #expect(check(message, keys: keys) == .accepted)

        var tampered = message
        tampered.body = ["goal": "Delete Notes/"]
        #expect(check(tampered, keys: keys) == .refused("the signature does not match the message (forged or changed on the way)"))
        let mallory = AgentIdentity(name: "alpha", role: "worker", privateKey: try AgentKeyFile.loadOrCreate(directory.appending("m.key")))
        var forged = try mallory.sign(to: "bravo", kind: .handover, body: ["goal": "x"], at: now)
        #expect(check(forged, keys: keys) == .refused("signed with a key alpha does not hold"))
        forged.key = alpha.publicKey
        #expect(check(forged, keys: keys) == .refused("the signature does not match the message (forged or changed on the way)"))
        #expect(check(message, keys: keys, seen: true) == .refused("a replay: nonce \(message.nonce) was already received"))
        if case .refused(let why) = check(message, keys: keys, at: now.addingTimeInterval(600)) {
            #expect(why.contains("outside the 5-minute window"))
        } else {
            Issue.record("a stale message was accepted")
        }
        #expect(check(message, keys: []) == .refused("alpha is not a member of the fleet"))
        #expect(
            check(message, keys: [FleetKey(agent: "alpha", role: "worker", publicKey: alpha.publicKey, state: .revoked)])
                == .refused("alpha's key was revoked"))

        // Rotation: the old key verifies during the overlap, not after.
        let retiring = [
            FleetKey(agent: "alpha", role: "worker", publicKey: alpha.publicKey, state: .retiring, retiresAt: now.addingTimeInterval(60))
        ]
        #expect(check(message, keys: retiring) == .accepted)
        let later = try alpha.sign(to: "bravo", kind: .finding, body: ["text": "done"], at: now.addingTimeInterval(120))
        if case .refused(let why) = check(later, keys: retiring, at: now.addingTimeInterval(120)) {
            #expect(why.contains("rotated and its overlap ended"))
        } else {
            Issue.record("a rotated-out key verified")
        }
        var elsewhere = try alpha.sign(to: "charlie", kind: .question, body: ["text": "?"], at: now)
        #expect(check(elsewhere, keys: keys) == .refused("addressed to charlie, not to bravo"))
        elsewhere.to = "bravo"
        #expect(check(elsewhere, keys: keys) == .refused("the signature does not match the message (forged or changed on the way)"))
    }

    @Test("a rotation replaces the key file only once the store has the new key; a store that fails leaves the old key in place")
    func rotation() async throws {
        let directory = try TemporaryDirectory(prefix: "fleet")
        let file = directory.appending("fleet/alpha.key")
        func publicKey() throws -> String {
            AgentIdentity(name: "alpha", role: "worker", privateKey: try AgentKeyFile.load(file)).publicKey
        }
        _ = try AgentKeyFile.loadOrCreate(file)
        let original = try publicKey()
        struct StoreDown: Error {}
        await #expect(throws: StoreDown.self) {
            _ = try await AgentKeyFile.rotate(file) { _ in throw StoreDown() }
        }
        #expect(try publicKey() == original, "the old key stays")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.appending("fleet").path) == ["alpha.key"],
            "nothing left beside it")
        let recorded = Keys()
        _ = try await AgentKeyFile.rotate(file) { recorded.add($0) }
        #expect(recorded.all == [try publicKey()], "the file holds the key the store was told about")
        #expect(try publicKey() != original)
    }

    @Test("the key file is created 0600, read back the same, and refused when others can read it or it is not a key")
    func keyFile() throws {
        let directory = try TemporaryDirectory(prefix: "fleet")
        let url = directory.appending("agent.key")
        let created = try AgentKeyFile.loadOrCreate(url)
        let mode = (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(
            AgentIdentity(name: "a", role: "r", privateKey: try AgentKeyFile.load(url)).publicKey
                == AgentIdentity(name: "a", role: "r", privateKey: created).publicKey)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
        #expect(throws: AgentKeyError.loosePermissions(path: url.path, mode: "644")) { try AgentKeyFile.load(url) }
        #expect("\(AgentKeyError.loosePermissions(path: url.path, mode: "644"))".contains("chmod 600 \(url.path)"))
        try Data("not a key".utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        #expect(throws: AgentKeyError.self) { try AgentKeyFile.load(url) }
    }
}

private final class Keys: Sendable {
    private let keys = Mutex<[String]>([])
    func add(_ key: String) { keys.withLock { $0.append(key) } }
    var all: [String] { keys.withLock { $0 } }
}
