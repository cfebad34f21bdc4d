import ArgumentParser
import Foundation
import HearthConfig
import HearthCore
import HearthFleet
import HearthPostgres
import HearthStore

struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Agent identities: this daemon's Ed25519 key, the members sharing its store, signed messages between them.",
        discussion: """
            Each agent has an Ed25519 key pair; the private key is <data dir>/fleet/NAME.key (0600: a key others can \
            read is refused). Its name is [fleet] name (default: the host's name), its role [fleet] role. Messages \
            between agents are signed and checked on arrival: a message from an unknown, revoked or rotated-out key, \
            outside a five-minute window, with a broken signature or replayed is refused and kept with the reason.
            """,
        subcommands: [
            FleetStatusCommand.self, FleetListCommand.self, FleetRotateCommand.self, FleetRevokeCommand.self, FleetSendCommand.self,
            FleetInboxCommand.self,
        ])
}

extension HearthContext {
    /// Where the fleet's records are: the shared PostgreSQL named by `[store] url`, else this data
    /// directory's SQLite. `close` lets go of it.
    func openFleetStore() async throws -> (store: any FleetStore, close: @Sendable () -> Void) {
        guard let url = configuration.store.url else {
            return (FleetSQLStore(database: try openForWriting()), {})
        }
        let password = try configuration.store.passwordFile.map { path throws in try PostgresLocation.password(fromFile: path) }
        let database = try await PostgresStore.open(try PostgresLocation.parse(url), password: password)
        return (PostgresFleetStore(database: database), { database.close() })
    }

    /// This daemon's identity, its key created on first use and registered in the store.
    func fleetIdentity(_ store: any FleetStore) async throws -> AgentIdentity {
        let key = try AgentKeyFile.loadOrCreate(paths.fleetKey(fleetName))
        let identity = AgentIdentity(name: fleetName, role: configuration.fleet.role, privateKey: key)
        try await store.register(
            name: identity.name, role: identity.role, publicKey: identity.publicKey, at: Date())
        return identity
    }

    var fleetName: String { configuration.fleetName }
}

extension HearthPaths {
    /// The private key of the agent `name`.
    func fleetKey(_ name: String) -> URL { dataDirectory.appending(path: "fleet/\(name).key") }
}

struct FleetStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "This agent's name, role and public key (the key is made and registered on first use).")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON: {name, role, key, members}.")
    var json = false

    func run() async throws {
        let context = try common.load()
        let (store, close) = try await context.openFleetStore()
        defer { close() }
        let identity = try await context.fleetIdentity(store)
        let members = try await store.members()
        if json {
            printJSON([
                "name": .string(identity.name), "role": .string(identity.role), "key": .string(identity.publicKey),
                "members": .number(Double(members.count)),
            ])
            return
        }
        print("\(identity.name) (\(identity.role)), key \(identity.publicKey)")
        print("\(members.count) member(s) in this store; 'hearth fleet list' shows them")
    }
}

struct FleetListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The fleet's members, their keys and when each was last seen.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON: [{name, key, role, lastSeen, state}].")
    var json = false

    func run() async throws {
        let context = try common.load()
        let (store, close) = try await context.openFleetStore()
        defer { close() }
        _ = try await context.fleetIdentity(store)
        let members = try await store.members()
        if json {
            printJSON(
                .array(
                    members.map {
                        [
                            "name": .string($0.name), "key": .string($0.key), "role": .string($0.role),
                            "lastSeen": $0.lastSeen.map { .string(Timestamp.format($0)) } ?? .null, "state": .string($0.state),
                        ]
                    }))
            return
        }
        for member in members {
            print(
                "\(member.name)  \(member.role)  \(member.state)  last seen \(member.lastSeen.map(Timestamp.format) ?? "never")  \(member.key)"
            )
        }
    }
}

struct FleetRotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Give this agent a new key; the old one still verifies during the overlap, then nothing.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Minutes the old key keeps verifying (messages already on their way).")
    var overlapMinutes = 60

    func run() async throws {
        let context = try common.load()
        guard (0...10_080).contains(overlapMinutes) else { throw CLIError.usage("--overlap-minutes must be 0 to 10080 (a week)") }
        let (store, close) = try await context.openFleetStore()
        defer { close() }
        let old = try await context.fleetIdentity(store)
        let until = Date().addingTimeInterval(Double(overlapMinutes) * 60)
        let key = try await AgentKeyFile.rotate(context.paths.fleetKey(old.name)) { publicKey in
            try await store.rotate(name: old.name, newKey: publicKey, overlapUntil: until, at: Date())
        }
        let new = AgentIdentity(name: old.name, role: old.role, privateKey: key)
        print("\(old.name): new key \(new.publicKey); the old key verifies until \(Timestamp.format(until))")
    }
}

struct FleetRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke a member: its keys verify nothing from now on, for every agent sharing the store.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The member's name (see 'hearth fleet list').")
    var name: String

    func run() async throws {
        let context = try common.load()
        let (store, close) = try await context.openFleetStore()
        defer { close() }
        guard try await store.revoke(name: name, at: Date()) else {
            throw CLIError("no active member named \(name); 'hearth fleet list' shows the members")
        }
        print("revoked \(name): messages signed by its keys are refused from now on")
    }
}

struct FleetSendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "send", abstract: "Send a signed message to another member.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The recipient's name.")
    var to: String

    @Option(help: "handover, question or finding.")
    var kind: String = "finding"

    @Argument(help: "The text.")
    var text: String

    func run() async throws {
        let context = try common.load()
        guard let kind = AgentMessage.Kind(rawValue: kind) else { throw CLIError.usage("--kind must be handover, question or finding") }
        let (store, close) = try await context.openFleetStore()
        defer { close() }
        let identity = try await context.fleetIdentity(store)
        guard try await store.members().contains(where: { $0.name == to && $0.state == "active" }) else {
            throw FleetError.unknownMember(name: to)
        }
        let message = try identity.sign(to: to, kind: kind, body: ["text": .string(text)])
        try await store.send(message, at: Date())
        print("sent to \(to), signed by \(identity.name)")
    }
}

struct FleetInboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox", abstract: "Check the messages waiting for this agent: each is accepted or refused with why.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON: [{id, from, kind, body, sentAt, accepted, reason}].")
    var json = false

    func run() async throws {
        let context = try common.load()
        let (store, close) = try await context.openFleetStore()
        defer { close() }
        let identity = try await context.fleetIdentity(store)
        let received = try await store.receive(
            agent: identity.name, at: Date(), signatureValid: AgentIdentity.verify)
        if json {
            printJSON(
                .array(
                    received.map {
                        [
                            "id": .number(Double($0.id)), "from": .string($0.message.from), "kind": .string($0.message.kind.rawValue),
                            "body": $0.message.body, "sentAt": .string(Timestamp.format($0.message.sentAt)), "accepted": .bool($0.accepted),
                            "reason": $0.reason.map(JSONValue.string) ?? .null,
                        ]
                    }))
            return
        }
        if received.isEmpty { print("no new messages") }
        for item in received {
            print(
                "\(item.accepted ? "accepted" : "REFUSED ")  from \(item.message.from) (\(item.message.kind.rawValue))  \(item.message.body.jsonText.prefix(160))"
                    + (item.reason.map { "  — \($0)" } ?? ""))
        }
    }
}
