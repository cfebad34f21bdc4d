import ArgumentParser
import Foundation
import HearthConfig
import HearthCore
import HearthDaemon
import HearthStore

struct RoutineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routine",
        abstract: "Durable event → goal rules: when matching events arrive (or on a schedule), start a goal.",
        discussion: """
            hearth routine add receipts --on 'source=watcher kind=file.created path=Receipts/*.pdf' \\
                --goal 'Audit the receipts in {{folder}} against Policy.md' --batch 10m
            hearth routine add weekly --cron '0 9 * * mon' --goal 'Summarise each note in Notes/'

            Filter fields: source, kind, path (workspace glob), sender (glob), subject (words), level (log, digest, interrupt; \
            or level>=digest); commas mean "or". Placeholders: {{count}}, {{paths}}, {{folder}}, {{path}}, {{subject}}, {{sender}}, \
            {{kind}}, {{source}}; event text is quoted, and the events follow the goal in a block marked untrusted. Goals run \
            through the planner, the policy gate and approvals like any other.
            """,
        subcommands: [
            RoutineAddCommand.self, RoutineListCommand.self, RoutineRemoveCommand.self, RoutinePauseCommand.self, RoutineResumeCommand.self,
            RoutineTestCommand.self,
        ])
}

struct RoutineAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add (or replace) a routine.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "Its name (letters, digits, - and _).")
    var name: String

    @Option(help: "Which events: 'source=maildir subject=invoice level>=digest'.")
    var on: String?

    @Option(help: "A cron expression instead of events: '0 9 * * mon'.")
    var cron: String?

    @Option(help: "The goal to start; {{placeholders}} are filled from the events.")
    var goal: String

    @Option(help: "Gather matching events for this long (90s, 10m, 2h) and start one goal for all of them.")
    var batch: String?

    @Option(help: "Pause the routine when it fires more often than this within an hour.")
    var maxPerHour = 6

    func run() async throws {
        let context = try common.load()
        var batchSeconds: Int?
        if let batch {
            guard let seconds = DurationText.seconds(batch) else {
                throw CLIError.usage("--batch \"\(batch)\": use a duration like 90s, 10m or 2h")
            }
            batchSeconds = seconds
        }
        guard maxPerHour >= 1 else { throw CLIError.usage("--max-per-hour must be at least 1") }
        let routine = Routine(
            name: name, on: on, cron: cron, goal: goal, batchSeconds: batchSeconds, maxPerHour: maxPerHour, createdAt: Date())
        do {
            try routine.validate()
        } catch {
            throw CLIError.usage("routine \(name): \(error)")
        }
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        let replaced = try await stores.routines.routines().contains { $0.name == name }
        try await stores.routines.save(routine)
        if !stores.shared { _ = await context.nudgeDaemon(["routines"]) }
        let when = try on.map { "on \(try RoutineFilter.parse($0))" } ?? "cron \(cron!)"
        print("\(replaced ? "replaced" : "added") routine \(name): \(when) → \(goal)")
    }
}

struct RoutineListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The routines, their state and recent firings.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: false) else {
            print(json ? "[]" : "No routines yet: 'hearth routine add --help' shows how.")
            return
        }
        defer { stores.close() }
        let store = stores.routines
        let routines = try await store.routines()
        let day = Date().addingTimeInterval(-86_400)
        if json {
            var list: [JSONValue] = []
            for routine in routines {
                let firings = try await store.firings(routine: routine.name, since: day)
                list.append([
                    "name": .string(routine.name), "on": routine.on.map(JSONValue.string) ?? .null,
                    "cron": routine.cron.map(JSONValue.string) ?? .null,
                    "goal": .string(routine.goal), "batchSeconds": routine.batchSeconds.map { .number(Double($0)) } ?? .null,
                    "paused": .bool(routine.paused), "pausedReason": routine.pausedReason.map(JSONValue.string) ?? .null,
                    "firedToday": .number(Double(firings.count)), "lastRun": firings.last?.runID.map { .number(Double($0)) } ?? .null,
                ])
            }
            print(JSONValue.array(list).jsonText)
            return
        }
        guard !routines.isEmpty else {
            print("No routines yet: 'hearth routine add --help' shows how.")
            return
        }
        for routine in routines {
            let firings = try await store.firings(routine: routine.name, since: day)
            let state = routine.paused ? "paused: \(routine.pausedReason ?? "by you")" : "active"
            print("\(routine.name)  [\(state)]")
            print(
                "  when  \(routine.on.map { "on \($0)" } ?? "cron \(routine.cron ?? "")")\(routine.batchSeconds.map { ", batched over \($0) s" } ?? "")"
            )
            print("  goal  \(routine.goal)")
            print("  fired \(firings.count) time(s) in the last day\(firings.last?.runID.map { "; last run \($0)" } ?? "")")
        }
    }
}

struct RoutineRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a routine (its past runs stay).")
    @OptionGroup var common: CommonOptions
    @Argument var name: String

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        guard try await stores.routines.remove(name) else {
            throw CLIError("no routine \"\(name)\"; 'hearth routine list' shows them")
        }
        if !stores.shared { _ = await context.nudgeDaemon(["routines"]) }
        print("removed routine \(name)")
    }
}

/// Pauses or resumes a routine by name.
private func setPaused(_ name: String, paused: Bool, context: HearthContext) async throws {
    guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
    defer { stores.close() }
    guard var routine = try await stores.routines.routines().first(where: { $0.name == name }) else {
        throw CLIError("no routine \"\(name)\"; 'hearth routine list' shows them")
    }
    routine.paused = paused
    routine.pausedReason = paused ? "paused by you" : nil
    try await stores.routines.save(routine)
    if !stores.shared { _ = await context.nudgeDaemon(["routines"]) }
    print("\(paused ? "paused" : "resumed") routine \(name)")
}

struct RoutinePauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop a routine from firing until resumed.")
    @OptionGroup var common: CommonOptions
    @Argument var name: String
    func run() async throws { try await setPaused(name, paused: true, context: try common.load()) }
}

struct RoutineResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Let a paused routine fire again.")
    @OptionGroup var common: CommonOptions
    @Argument var name: String
    func run() async throws { try await setPaused(name, paused: false, context: try common.load()) }
}

struct RoutineTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "What a routine would match among recent events, and the goal it would start — starting nothing.")

    @OptionGroup var common: CommonOptions
    @Argument var name: String

    @Option(help: "Test against this event only.")
    var event: Int64?

    @Option(help: "How many recent events to look through.")
    var last = 200

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: false),
            let routine = try await stores.routines.routines().first(where: { $0.name == name })
        else { throw CLIError("no routine \"\(name)\"; 'hearth routine list' shows them") }
        defer { stores.close() }
        guard let on = routine.on else {
            print("\(name) fires on cron \(routine.cron ?? ""); it would start: \(GoalTemplate.render(routine.goal, subjects: []))")
            return
        }
        let filter = try RoutineFilter.parse(on)
        let journal = stores.journal
        let events =
            if let event { try await journal.events(EventQuery(afterID: event - 1, limit: 1)).filter { $0.id == event } } else {
                Array(try await journal.events(EventQuery(limit: last, newestFirst: true)).reversed())
            }
        if let event, events.isEmpty { throw CLIError("no event \(event); 'hearth events' lists them") }
        let attention = stores.attention([])
        var matched: [AttentionSubject] = []
        for event in events {
            let subject = AttentionSubject.from(event)
            let level =
                try await attention.items(AttentionQuery(limit: 1, afterEventID: event.id - 1)).first { $0.eventID == event.id }?.decision
                .level ?? .digest
            let own = RoutineEngine.isOwn(subject)
            let matches = !own && filter.matches(subject, level: level)
            if matches { matched.append(subject) }
            if self.event != nil || matches {
                print(
                    "\(matches ? "match   " : (own ? "own     " : "no match")) #\(event.id) \(event.kind) \(subject.path ?? subject.title)")
            }
        }
        print("\(matched.count) of \(events.count) event(s) match \(filter)")
        guard !matched.isEmpty else { return }
        let groups = routine.batchSeconds == nil ? matched.map { [$0] } : [matched]
        print("it would start \(groups.count) goal(s)\(routine.batchSeconds == nil ? "" : " (one batch)"); the first:\n")
        print(GoalTemplate.render(routine.goal, subjects: groups[0]))
    }
}
