import Foundation

/// Where a plan task is in its life.
public enum TaskState: String, Sendable, Hashable, Codable, CaseIterable {
    case pending
    case running
    case succeeded
    case failed
    /// Not run: a task it needed failed.
    case skipped
    case cancelled
    /// Frozen on a call that waits for a human's answer (`hearth approvals`); only this task waits.
    case awaitingApproval
    /// Failed, and replaced by a replanned route around it (its dependents now wait for that).
    case replaced

    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .skipped, .cancelled, .replaced: true
        case .pending, .running, .awaitingApproval: false
        }
    }
}

/// Which tasks of a plan can run now, decided without I/O.
///
/// A dependency on a fan-out group waits for every item and tolerates item failures (a broken
/// receipt must not stop the audit: the failure is isolated and reported). A dependency on a
/// single task needs it to succeed; otherwise the dependent is skipped with the reason.
public enum PlanSchedule {
    public struct Skip: Sendable, Hashable {
        public var id: String
        public var reason: String
    }

    public struct Decision: Sendable, Hashable {
        public var ready: [String] = []
        public var skip: [Skip] = []
    }

    public static func decide(tasks: [PlanTask], states: [String: TaskState]) -> Decision {
        var groups: [String: [PlanTask]] = [:]
        for task in tasks { groups[task.group, default: []].append(task) }
        var decision = Decision()
        for task in tasks where (states[task.id] ?? .pending) == .pending {
            var waiting = false
            var blockedBy: String?
            for dependency in task.dependsOn {
                let members = groups[dependency] ?? []
                let memberStates = members.map { states[$0.id] ?? .pending }
                if memberStates.contains(where: { !$0.isTerminal }) {
                    waiting = true
                    continue
                }
                let fanOut = members.allSatisfy { $0.item != nil }
                if !fanOut, let state = memberStates.first, state != .succeeded {
                    blockedBy = "depends on \"\(dependency)\", which \(state == .failed ? "failed" : "was \(state.rawValue)")"
                }
            }
            if let blockedBy {
                decision.skip.append(Skip(id: task.id, reason: blockedBy))
            } else if !waiting {
                decision.ready.append(task.id)
            }
        }
        return decision
    }

    /// How a run whose tasks all ended went: failed when a task outside a fan-out did not
    /// succeed, or when every item of a fan-out failed; isolated item failures leave it
    /// succeeded (the report lists them).
    public static func outcome(tasks: [PlanTask], states: [String: TaskState]) -> RunState? {
        let all = tasks.map { states[$0.id] ?? .pending }
        guard all.allSatisfy(\.isTerminal) else { return nil }
        if all.contains(.cancelled) { return .cancelled }
        let essentialFailed = tasks.contains { $0.item == nil && ![.succeeded, .replaced].contains(states[$0.id] ?? .pending) }
        let fanOuts = Dictionary(grouping: tasks.filter { $0.item != nil }, by: \.group)
        let wholeFanOutFailed = fanOuts.values.contains { members in members.allSatisfy { states[$0.id] != .succeeded } }
        return essentialFailed || wholeFanOutFailed ? .failed : .succeeded
    }
}
