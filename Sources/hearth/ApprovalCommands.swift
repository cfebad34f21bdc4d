import ArgumentParser
import Foundation
import HearthCore
import HearthDaemon
import HearthStore

struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals",
        abstract: "Actions waiting for your approval (and, with --all, the answered ones).",
        discussion: """
            A call the policy gates (sending, spending, deleting, the network, or anything your rules say) freezes \
            its task until you answer: 'hearth approve ID' or 'hearth deny ID --reason …'. What runs afterwards must \
            be exactly what you approved (a hash binds tool, arguments and place); an unanswered request expires \
            after [policy] approval_hours, which denies it.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(help: "Also list approved, denied, expired and used approvals.")
    var all = false

    @Flag(help: "Print JSON: [{id, run, task, tool, risk, arguments, origins, reason, hash, state, createdAt, expiresAt, ...}].")
    var json = false

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: false) else {
            if json { printJSON([]) } else { print("no approvals") }
            return
        }
        defer { stores.close() }
        _ = try await stores.approvals.expire(now: Date())
        let approvals = try await stores.approvals.approvals(states: all ? nil : [.pending])
        if json {
            printJSON(.array(approvals.map(Self.json)))
            return
        }
        if approvals.isEmpty { print(all ? "no approvals" : "nothing waits for your approval") }
        for approval in approvals {
            print(
                "\(approval.id)  \(approval.state.rawValue)  run \(approval.runID) \(approval.taskID)  \(approval.tool) (\(approval.risk.rawValue))  \(approval.arguments.jsonText.prefix(160))"
            )
            print("    why: \(approval.reason)")
            let untrusted = approval.origins.filter { $0.value == .untrusted }.map(\.key).sorted()
            if !untrusted.isEmpty { print("    from untrusted content: \(untrusted.joined(separator: ", "))") }
            if approval.state == .pending { print("    expires \(Timestamp.format(approval.expiresAt)); hash \(approval.hash.prefix(16))") }
            if let note = approval.note { print("    note: \(note)") }
        }
    }

    static func json(_ approval: Approval) -> JSONValue {
        [
            "id": .number(Double(approval.id)), "run": .number(Double(approval.runID)), "task": .string(approval.taskID),
            "position": .number(Double(approval.position)), "tool": .string(approval.tool), "risk": .string(approval.risk.rawValue),
            "arguments": approval.arguments, "origins": .object(approval.origins.mapValues { .string($0.rawValue) }),
            "reason": .string(approval.reason), "hash": .string(approval.hash), "state": .string(approval.state.rawValue),
            "createdAt": .string(Timestamp.format(approval.createdAt)), "expiresAt": .string(Timestamp.format(approval.expiresAt)),
            "decidedAt": approval.decidedAt.map { .string(Timestamp.format($0)) } ?? .null,
            "note": approval.note.map(JSONValue.string) ?? .null,
        ]
    }
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approve one waiting action: it runs once, exactly as shown by 'hearth approvals'.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The approval id.")
    var id: Int64

    @Option(help: "A note kept with the approval.")
    var note: String?

    func run() async throws {
        try await answer(common: common, id: id, approve: true, note: note)
    }
}

struct DenyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deny", abstract: "Deny one waiting action: the agent is told it was refused (and why) and goes on without it.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The approval id.")
    var id: Int64

    @Option(help: "Why; the agent sees it.")
    var reason: String?

    func run() async throws {
        try await answer(common: common, id: id, approve: false, note: reason)
    }
}

private func answer(common: CommonOptions, id: Int64, approve: Bool, note: String?) async throws {
    let context = try common.load()
    guard let stores = try await context.openStores(creating: false) else { throw ApprovalError.notFound(id) }
    defer { stores.close() }
    let approval = try await stores.approvals.decide(id, approve: approve, note: note, now: Date())
    print("approval \(approval.id) \(approval.state.rawValue): \(approval.tool) in run \(approval.runID)")
    if stores.shared {
        print("recorded in the shared store; the run continues where its goal is worked on")
    } else if await context.nudgeDaemon(["goals"]) {
        print("the daemon continues run \(approval.runID)")
    } else {
        print("no daemon is running here; continue the run with 'hearth resume \(approval.runID)'")
    }
}
