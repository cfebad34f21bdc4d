import ArgumentParser
import Foundation
import HearthCore
import HearthDaemon
import HearthServer
import HearthStore

struct EventCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event", abstract: "Record events in the journal.", subcommands: [EventAddCommand.self])
}

struct EventAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Journal one event (works with or without a running daemon).",
        discussion: """
            The event is durable when this command exits 0. With --key, adding the same key again \
            stores nothing and reports the earlier event as a duplicate.

            Examples:
              hearth event add --kind note.added --payload '{"text": "call Ann"}'
              hearth event add --kind build.failed --key build-42 --payload @r.json
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "Where the event comes from (letters, digits, . _ - : /).")
    var source = "cli"

    @Option(help: "What happened, e.g. note.added.")
    var kind: String

    @Option(help: "Idempotency key: an event with a key already in the journal is not stored again.")
    var key: String?

    @Option(help: ArgumentHelp("JSON payload, or @file, or @- for stdin.", valueName: "json|@file"))
    var payload: String?

    @Option(help: ArgumentHelp("When it happened (RFC 3339). Default: now.", valueName: "time"))
    var occurredAt: String?

    @Flag(help: "Mark the content as untrusted (from outside; it may inform the agent but never instruct it).")
    var untrusted = false

    @Flag(help: "Print {\"id\", \"duplicate\"} as JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        var occurred = Date()
        if let occurredAt {
            guard let date = Timestamp.parse(occurredAt) else {
                throw CLIError.usage("--occurred-at: \"\(occurredAt)\" is not an RFC 3339 date-time like 2026-11-21T08:30:00Z")
            }
            occurred = date
        }
        let event = NewEvent(
            source: source, kind: kind, key: key,
            payload: try payload.map { try readJSONArgument($0, option: "--payload") } ?? .object([:]),
            occurredAt: occurred, provenance: untrusted ? .untrusted : .trusted)
        try event.validate()
        guard let stores = try await context.openStores(creating: true) else { return }
        defer { stores.close() }
        let outcome = try await stores.journal.append([event])[0]
        await context.nudgeDaemon(["events"])
        if json {
            printJSON(["id": .number(Double(outcome.id)), "duplicate": .bool(outcome.duplicate)])
        } else if outcome.duplicate {
            print("event \(outcome.id) already recorded with key \(key ?? ""); nothing new stored")
        } else {
            print("event \(outcome.id) recorded")
        }
    }
}

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "List journaled events, oldest first.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Only events with an id greater than this.")
    var after: Int64 = 0

    @Option(help: "At most this many events (a note on stderr says when more follow, and how to page).")
    var limit = 100

    @Option(help: "Only events from this source.")
    var source: String?

    @Option(help: "Only events of this kind.")
    var kind: String?

    @Flag(help: "Show the newest events (still printed oldest first).")
    var latest = false

    @Flag(help: "Print a JSON array of {id, source, kind, key, payload, occurredAt, receivedAt, provenance}.")
    var json = false

    func validate() throws {
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 100000") }
        guard after >= 0 else { throw ValidationError("--after must not be negative") }
    }

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: false) else {
            if json { print("[]") } else { print("no events (Hearth is not set up here; run 'hearth init')") }
            return
        }
        defer { stores.close() }
        // One more than asked tells whether the page is the last one.
        var events = try await stores.journal.events(
            EventQuery(afterID: after, limit: limit + 1, source: source, kind: kind, newestFirst: latest))
        let more = events.count > limit
        if more { events.removeLast() }
        if latest { events.reverse() }
        if more, let first = events.first, let last = events.last {
            // Never a silent cut: say that there is more, and how to get it (on stderr, so JSON stays clean).
            let note =
                latest
                ? "showing the newest \(limit) events (\(first.id)–\(last.id)); older ones: hearth events --after ID, or a larger --limit"
                : "showing \(limit) events (\(first.id)–\(last.id)); more follow: hearth events --after \(last.id)"
            FileHandle.standardError.write(Data((note + "\n").utf8))
        }
        if json {
            printJSON(.array(events.map(EventDecoding.json)))
            return
        }
        if events.isEmpty { print("no events") }
        for event in events {
            var payload = event.payload.jsonText
            if payload.count > 100 { payload = String(payload.prefix(97)) + "..." }
            let key = event.key.map { " key=\($0)" } ?? ""
            print("\(event.id)  \(Timestamp.format(event.occurredAt))  \(event.source)  \(event.kind)\(key)  \(payload)")
        }
    }
}
