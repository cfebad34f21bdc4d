import ArgumentParser
import Foundation
import HearthConfig
import HearthCore
import HearthDaemon
import HearthStore

struct BriefCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "brief",
        abstract:
            "Write a brief now: what needs you, what was done for you, what arrived, commits, new documents, anomalies, what was held back.",
        discussion: """
            Built from the scored events (no model needed) since the last brief, or --since. Written to \
            <workspace>/Briefs/YYYY-MM-DD-brief.md, remembered, and journaled as a brief.created event. The daemon writes one \
            on [attention] morning and evening by itself. --json prints {"period": {"from", "to"}, "path", "sections": [...]}.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Start of the period (RFC 3339, e.g. 2026-12-01T18:00:00Z). Default: the end of the last brief, else 24 hours ago.")
    var since: String?

    @Flag(help: "Print the brief as JSON.")
    var json = false

    @Flag(help: "Build and print it without writing a file, a memory or an event.")
    var dryRun = false

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        let writer = BriefWriter(stores: stores, configuration: context.configuration, workspace: context.paths.workspace)
        let now = Date()
        var from: Date
        if let since {
            guard let date = Timestamp.parse(since) else {
                throw CLIError.usage("--since \"\(since)\" is not an RFC 3339 time such as 2026-12-01T18:00:00Z")
            }
            from = date
        } else {
            from = try await writer.lastBriefEnd() ?? now.addingTimeInterval(-24 * 3600)
        }
        if from > now { from = now }
        let brief: Brief
        do {
            brief =
                dryRun
                ? try await writer.build(kind: "brief", from: from, to: now) : try await writer.write(kind: "brief", from: from, to: now)
        } catch let error as BriefError {
            throw CLIError(error.reason)
        }
        if json {
            print(brief.json.jsonText)
            return
        }
        print(
            BriefBuilder(interruptAt: context.configuration.attention.interruptAt, timeZone: context.configuration.timeZone).markdown(
                brief), terminator: "")
        if let path = brief.path {
            FileHandle.standardError.write(Data("hearth: written to \(context.paths.workspace.appending(path: path).path)\n".utf8))
        }
    }
}

struct InboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox",
        abstract: "What interrupted you and is not yet acknowledged, with why.",
        discussion:
            "Items stay until 'hearth inbox ack ID'. 'hearth inbox feedback ID urgent|not-urgent' teaches the scorer about that sender.",
        subcommands: [InboxListCommand.self, InboxAckCommand.self, InboxFeedbackCommand.self],
        defaultSubcommand: InboxListCommand.self)
}

struct InboxListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the inbox (the default).")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Include acknowledged items.")
    var all = false

    @Flag(help: "Print JSON: [{id, text, level, source, kind, occurredAt, score, confidence, reasons, links, acknowledged}].")
    var json = false

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: false) else {
            print(json ? "[]" : "The inbox is empty (nothing has been stored yet).")
            return
        }
        if json {
            print(try await InboxView.list(stores: stores, all: all).jsonText)
            return
        }
        let items = try await InboxView.items(stores: stores, all: all)
        let deliveries = try await stores.deliveries.deliveries(eventIDs: items.map(\.eventID))
        guard !items.isEmpty else {
            print("The inbox is empty: nothing interrupted you\(all ? "" : " that is not acknowledged").")
            return
        }
        for item in items {
            let mark = item.acknowledgedAt == nil ? "•" : " "
            print("\(mark) \(item.eventID)  \(Timestamp.format(item.occurredAt).prefix(16))  \(item.decision.headline)")
            let why = item.decision.reasons.filter { $0.weight > 0 && !$0.signal.hasPrefix("base.") }.map(\.detail)
            if !why.isEmpty { print("      why: " + why.joined(separator: "; ")) }
            for delivery in deliveries[item.eventID] ?? [] {
                let state =
                    delivery.state == .delivered
                    ? "delivered \(delivery.deliveredAt.map { Timestamp.format($0).prefix(19) } ?? "")"
                    : "not yet delivered (\(delivery.attempts) attempt(s)\(delivery.lastError.map { "; last: \($0)" } ?? ""); next \(Timestamp.format(delivery.nextAttemptAt).prefix(19)))"
                print("      \(delivery.channel): \(state)")
            }
        }
        print("\nAcknowledge with 'hearth inbox ack ID'.")
    }
}

struct InboxAckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ack", abstract: "Mark inbox items seen.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "Item ids (the event ids 'hearth inbox' shows).")
    var ids: [Int64]

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        for id in ids {
            guard try await stores.attention([]).acknowledge(eventID: id, at: Date()) else {
                throw CLIError("no inbox item \(id); 'hearth inbox --all' lists them")
            }
        }
        print("acknowledged \(ids.map(String.init).joined(separator: ", "))")
    }
}

struct InboxFeedbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback",
        abstract: "Say whether an item was urgent; future items from that sender (or of that kind) score accordingly.")

    enum Verdict: String, ExpressibleByArgument, CaseIterable {
        case urgent
        case notUrgent = "not-urgent"
    }

    @OptionGroup var common: CommonOptions

    @Argument(help: "The item's id.")
    var id: Int64

    @Argument(help: "urgent or not-urgent.")
    var verdict: Verdict

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        guard let noted = try await InboxView.feedback(stores: stores, eventID: id, urgent: verdict == .urgent)
        else {
            throw CLIError("no item for event \(id); 'hearth events' lists events")
        }
        print("noted: \(noted); it weighs on scoring from the next event on")
    }
}
