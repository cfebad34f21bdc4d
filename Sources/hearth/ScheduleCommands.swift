import ArgumentParser
import Foundation
import HearthConfig
import HearthCore
import HearthDaemon
import HearthStore

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Cron schedules that journal an event each time they fire.",
        subcommands: [ScheduleAddCommand.self, ScheduleListCommand.self, ScheduleRemoveCommand.self])
}

struct ScheduleAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a schedule.",
        discussion: """
            EXPRESSION is five cron fields (minute hour day-of-month month day-of-week) or @hourly, \
            @daily, @weekly, @monthly, @yearly. If the daemon is down when a schedule is due, it \
            fires once when the daemon starts again (not once per missed time).

            Examples:
              hearth schedule add morning-brief "30 7 * * mon-fri" --tz Europe/Paris
              hearth schedule add nightly @daily --kind digest.requested
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "A name for the schedule (letters, digits, . _ -).")
    var name: String

    @Argument(help: "The cron expression (quote it).")
    var expression: String

    @Option(name: .customLong("tz"), help: "IANA time zone, e.g. Europe/Paris. Default: [cron] timezone, else the system's.")
    var timeZone: String?

    @Option(help: "The kind of the events it journals.")
    var kind = "cron.fired"

    @Option(help: ArgumentHelp("JSON payload added to each event, or @file.", valueName: "json|@file"))
    var payload: String?

    @Flag(help: "Replace an existing schedule with the same name.")
    var replace = false

    func validate() throws {
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
            throw ValidationError("schedule name \"\(name)\" may contain only letters, digits and . _ - (at most 64)")
        }
    }

    func run() async throws {
        let context = try common.load()
        let cron = try CronExpression(expression)
        let zoneName = timeZone ?? context.configuration.cron.timeZone
        guard let zone = zoneName.map({ TimeZone(identifier: $0) }) ?? .some(.current) else {
            throw CLIError.usage("--tz: unknown time zone \"\(zoneName ?? "")\"; use an IANA name such as Europe/Paris")
        }
        let payloadValue = try payload.map { try readJSONArgument($0, option: "--payload") } ?? .object([:])
        try NewEvent(source: "cron", kind: kind, occurredAt: Date(), provenance: .trusted).validate()
        let now = Date()
        let next = cron.nextFire(after: now, in: zone)
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        try await stores.schedules.add(
            Schedule(
                name: name, expression: cron, timeZone: timeZone, kind: kind, payload: payloadValue, nextFireAt: next,
                createdAt: now),
            replace: replace)
        if !stores.shared { await context.nudgeDaemon(["schedules"]) }
        print("schedule \(name) (\(cron.source), \(zone.identifier)): next fire \(next.map(Timestamp.format) ?? "never")")
    }
}

struct ScheduleListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List schedules and when they fire next.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        let stores = try await context.openStores(creating: false)
        defer { stores?.close() }
        let schedules = try await stores?.schedules.schedules() ?? []
        if json {
            printJSON(
                .array(
                    schedules.map { schedule in
                        [
                            "name": .string(schedule.name), "expression": .string(schedule.expression.source),
                            "timeZone": schedule.timeZone.map(JSONValue.string) ?? .null, "kind": .string(schedule.kind),
                            "payload": schedule.payload,
                            "nextFireAt": schedule.nextFireAt.map { .string(Timestamp.format($0)) } ?? .null,
                            "lastFiredAt": schedule.lastFiredAt.map { .string(Timestamp.format($0)) } ?? .null,
                        ]
                    }))
            return
        }
        if schedules.isEmpty { print("no schedules (add one with 'hearth schedule add NAME \"EXPR\"')") }
        for schedule in schedules {
            let zone = schedule.timeZone ?? "default zone"
            let next = schedule.nextFireAt.map(Timestamp.format) ?? "not yet computed"
            let last = schedule.lastFiredAt.map { ", last \(Timestamp.format($0))" } ?? ""
            print("\(schedule.name)  \(schedule.expression.source)  (\(zone))  next \(next)\(last)  → \(schedule.kind)")
        }
    }
}

struct ScheduleRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a schedule.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The schedule's name.")
    var name: String

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: false) else { throw ScheduleError.notFound(name) }
        defer { stores.close() }
        try await stores.schedules.remove(name)
        if !stores.shared { await context.nudgeDaemon(["schedules"]) }
        print("schedule \(name) removed")
    }
}
