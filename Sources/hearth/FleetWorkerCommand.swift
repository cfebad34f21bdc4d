import ArgumentParser
import Foundation
import Glibc
import HearthAgent
import HearthBench
import HearthCore
import HearthPostgres

/// One worker of the fleet crash harness (`hearth bench fleet --crash N` starts three and kills
/// them): claims goals from the shared queue and performs their effect steps under its lease,
/// appends a stream of events, and fires the current cron slot. It prints `ACK KEY` after an
/// event commits, `FENCED ITEM` when the store refused its work because it lost the lease, and
/// `RETRY ERROR` when it pauses (the store unreachable) before trying again.
struct FleetWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-worker",
        abstract: "A worker of the fleet crash harness (started by 'hearth bench fleet --crash N').",
        shouldDisplay: false)

    @Option(help: "The harness's PostgreSQL database: postgresql://USER@HOST:PORT/DATABASE.")
    var store: String

    @Option(help: "This worker's name (the lease holder is NAME#PID).")
    var name: String

    @Option(help: "The directory the effect steps append to.")
    var effects: String

    @Option(help: "A 0600 file holding the PostgreSQL password.")
    var passwordFile: String?

    @Option(help: "Lease length in milliseconds.")
    var leaseMilliseconds = 1_000

    @Option(help: "How long to work before each effect step, in milliseconds (a model's turn stands here).")
    var stepMilliseconds = 0

    @Option(help: "Cron slot length in milliseconds.")
    var slotMilliseconds = 200

    func run() async throws {
        let password = try passwordFile.map { path throws in try PostgresLocation.password(fromFile: path) }
        let location = try PostgresLocation.parse(store)
        var backoff = Backoff()
        var opened: PostgresStore?
        while opened == nil {
            do {
                opened = try await PostgresStore.open(location, password: password)
            } catch {
                // Unreachable at start: say why, wait, try again.
                Self.say("RETRY \(error)")
                try await Task.sleep(for: backoff.next())
            }
        }
        let database = opened!
        defer { database.close() }
        let queue = PostgresWorkQueue(database: database)
        let journal = PostgresJournal(database: database)
        let holder = "\(name)#\(getpid())"
        let lease = Duration.milliseconds(leaseMilliseconds)
        let limit = lease * 0.8
        let workspace = URL(fileURLWithPath: effects)
        let effect = AppendLineEffect()
        var sequence = 0
        var lastSlot: Int64 = -1
        Self.say("READY \(holder)")
        func work() async throws {
            sequence += 1
            let key = "\(holder)-\(sequence)"
            _ = try await journal.append([
                NewEvent(
                    source: "fleet", kind: "tick", key: key, payload: ["worker": .string(name)], occurredAt: Date(), provenance: .trusted)
            ])
            Self.say("ACK \(key)")

            let slot = Date().millisecondsSince1970 / Int64(slotMilliseconds)
            if slot != lastSlot {
                lastSlot = slot
                _ = try await queue.fireSlot(schedule: "harness", slot: slot, holder: holder, limit: limit) {
                    try await effect.perform(
                        ["path": "cron.txt", "text": .string("slot \(slot)")],
                        context: EffectContext(idempotencyKey: "cron-\(slot)", runID: 0, stepID: slot, attempt: 1, workspace: workspace))
                }
            }

            guard let work = try await queue.claim(kind: "goal", holder: holder, lease: lease, limit: 1).first else {
                try await Task.sleep(for: .milliseconds(20))
                return
            }
            do {
                let steps = work.item.payload["steps"]?.intValue ?? 1
                let goal = work.item.key
                for number in 0..<steps where work.item.stepsDone[number] == nil {
                    try await Task.sleep(for: .milliseconds(stepMilliseconds))
                    _ = try await queue.step(work.lease, number: number, limit: limit) {
                        try await effect.perform(
                            ["path": .string("goals/\(goal).txt"), "text": .string("\(goal) step \(number)")],
                            context: EffectContext(
                                idempotencyKey: "\(goal)-step-\(number)", runID: work.item.id, stepID: Int64(number), attempt: 1,
                                workspace: workspace))
                    }
                    try await queue.renew(work.lease, for: lease)
                }
                try await queue.complete(work.lease, result: ["by": .string(holder)])
            } catch WorkQueueError.leaseLost(let lost) {
                Self.say("FENCED \(lost.item)")
            } catch let error as PostgresStoreError {
                // A step given up (this worker was paused past its limit): the lease decides what next.
                Self.say("GAVE-UP \(work.item.id) \(error)")
            }
        }

        while true {
            do {
                try await work()
                backoff = Backoff()
            } catch {
                // The store lost while running: work pauses (nothing is acknowledged that did not
                // commit) and resumes when it answers again.
                Self.say("RETRY \(error)")
                try await Task.sleep(for: backoff.next())
            }
        }
    }

    /// One line on stdout, written at once (the harness reads it even if we are killed next).
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
