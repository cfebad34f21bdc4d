import ArgumentParser
import Foundation
import HearthConfig
import HearthCore
import HearthDaemon
import HearthServer
import HearthStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether the daemon runs, what is stored, and what the last start recovered.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        // The counts from the configured store; the daemon's start records from this machine's database.
        guard let stores = try await context.openStores(creating: false) else {
            if json {
                printJSON(["initialized": false, "dataDir": .string(context.paths.dataDirectory.path)])
            } else {
                print("Hearth is not set up in \(context.paths.dataDirectory.path); run 'hearth init'")
            }
            return
        }
        defer { stores.close() }
        var document = try StatusReport.build(
            paths: context.paths, records: try Self.localRecords(stores, context: context),
            counts: try await stores.telemetry.storeCounts())
        // The daemon knows more (trigger reports of this start); ask it when it runs.
        if let running = DaemonState.running(context.paths), let state = running.state,
            let token = try? DataDirectory.readToken(context.paths),
            let reply = try? await DaemonClient(port: state.port, token: token, timeout: .seconds(3)).get("/v1/status"),
            reply.status == 200
        {
            document = reply.body
        }
        if json {
            printJSON(document)
        } else {
            print(Self.render(document))
        }
    }

    /// This machine's daemon start records: in its SQLite store, or beside the fleet's (nil when no daemon ran here).
    static func localRecords(_ stores: SharedStores, context: HearthContext) throws -> DaemonRecordStore? {
        if let database = stores.sqlite { return DaemonRecordStore(database: database) }
        guard FileManager.default.fileExists(atPath: context.paths.database.path) else { return nil }
        return DaemonRecordStore(database: try HearthDatabase.open(at: context.paths.database))
    }

    static func render(_ status: JSONValue) -> String {
        var lines: [String] = []
        let daemon = status["daemon"] ?? [:]
        if daemon["running"] == true {
            var line = "daemon     running (pid \(daemon["pid"]?.intValue ?? 0)"
            if let port = daemon["port"]?.intValue { line += ", http://127.0.0.1:\(port)" }
            line += ")"
            if let uptime = daemon["uptimeSeconds"]?.doubleValue { line += ", up \(duration(uptime))" }
            if daemon["starting"] == true { line += ", starting" }
            lines.append(line)
        } else {
            lines.append("daemon     not running (start it with 'hearth daemon')")
        }
        let paths = status["paths"] ?? [:]
        lines.append("data dir   \(paths["dataDir"]?.stringValue ?? "?")")
        lines.append("workspace  \(paths["workspace"]?.stringValue ?? "?")")
        let counts = status["counts"] ?? [:]
        lines.append("events     \(counts["events"]?.intValue ?? 0) (last id \(counts["lastEventId"]?.intValue ?? 0))")
        let runs = (counts["runs"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value.intValue ?? 0) \($0.key)" }
        lines.append("runs       \(runs.isEmpty ? "none" : runs.joined(separator: ", "))")
        // What waits for a person, counted from the store (not from what the last start saw).
        let reviewRuns = counts["runsNeedingReview"]?.intValue ?? 0
        let reviewSteps = counts["stepsNeedingReview"]?.intValue ?? 0
        let approvals = counts["approvalsWaiting"]?.intValue ?? 0
        var waiting: [String] = []
        if reviewRuns > 0 || reviewSteps > 0 {
            waiting.append(
                "\(reviewRuns) run(s) need review\(reviewSteps > 0 ? " (\(reviewSteps) interrupted step(s))" : ""): hearth runs --state needsReview, then hearth resume RUN or hearth cancel RUN"
            )
        }
        if approvals > 0 { waiting.append("\(approvals) approval(s) waiting: hearth approvals") }
        if let inbox = counts["inboxWaiting"]?.intValue, inbox > 0 {
            waiting.append("\(inbox) interruption(s) not acknowledged: hearth inbox")
        }
        lines.append("waiting    " + (waiting.isEmpty ? "nothing needs you" : waiting.joined(separator: "; ")))
        lines.append("schedules  \(counts["schedules"]?.intValue ?? 0), files indexed \(counts["indexedFiles"]?.intValue ?? 0)")
        if let memory = status["live"]?["memory"]?["retrieval"]?.stringValue { lines.append("memory     \(memory)") }
        if let extraction = status["live"]?["memory"]?["extraction"]?.stringValue { lines.append("facts      extraction \(extraction)") }
        if let start = status["lastStart"] {
            var line = "last start \(start["startedAt"]?.stringValue ?? "?")"
            if let ready = start["readyMilliseconds"]?.intValue { line += ", ready in \(ready) ms" }
            if start["previousStopWasClean"] == false { line += ", after an unclean stop" }
            lines.append(line)
            let recovery = start["recovery"] ?? [:]
            var found: [String] = []
            if let ledger = recovery["ledger"] {
                let requeued = ledger["requeuedSteps"]?.arrayValue?.count ?? 0
                let review = ledger["needsReviewSteps"]?.arrayValue?.count ?? 0
                found.append("\(requeued) step(s) re-queued, \(review) flagged for review")
            }
            if let goals = recovery["goals"]?["resumed"]?.arrayValue, !goals.isEmpty {
                found.append("\(goals.count) interrupted goal(s) resumed once the model server was ready")
            }
            if let cron = recovery["cron"]?["catchUps"]?.intValue { found.append("\(cron) missed schedule(s) fired") }
            if let files = recovery["watcher"]?["changesWhileDown"]?.intValue { found.append("\(files) file change(s) while down") }
            if let mail = recovery["maildir"]?["messagesWhileDown"]?.intValue { found.append("\(mail) new message(s)") }
            if !found.isEmpty { lines.append("recovered  " + found.joined(separator: "; ")) }
        }
        return lines.joined(separator: "\n")
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m \(total % 60)s" }
        if total < 86_400 { return "\(total / 3600)h \(total % 3600 / 60)m" }
        return "\(total / 86_400)d \(total % 86_400 / 3600)h"
    }
}
