import Foundation

/// A gated call waiting for (or answered by) a human: the exact tool and arguments, where the
/// arguments came from, why it was gated, and a hash binding all of it.
public struct Approval: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case pending, approved, denied, expired
        /// Approved and executed: an approval is good for one execution.
        case used
    }

    public var id: Int64
    public var runID: Int64
    public var taskID: String
    /// The call's position in the task's journal.
    public var position: Int
    public var tool: String
    public var risk: ToolRisk
    public var arguments: JSONValue
    public var origins: [String: ArgumentOrigin]
    public var reason: String
    /// SHA-256 over the run, task, position, tool and canonical arguments.
    public var hash: String
    public var state: State
    public var createdAt: Date
    public var expiresAt: Date
    public var decidedAt: Date?
    public var note: String?

    public init(
        id: Int64 = 0, runID: Int64, taskID: String, position: Int, tool: String, risk: ToolRisk, arguments: JSONValue,
        origins: [String: ArgumentOrigin], reason: String, state: State = .pending, createdAt: Date = Date(), expiresAt: Date,
        decidedAt: Date? = nil, note: String? = nil
    ) {
        self.id = id
        self.runID = runID
        self.taskID = taskID
        self.position = position
        self.tool = tool
        self.risk = risk
        self.arguments = arguments
        self.origins = origins
        self.reason = reason
        self.hash = Self.binding(runID: runID, taskID: taskID, position: position, tool: tool, arguments: arguments)
        self.state = state
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.decidedAt = decidedAt
        self.note = note
    }

    /// The hash that binds an approval to one exact action; an edited action has another hash.
    public static func binding(runID: Int64, taskID: String, position: Int, tool: String, arguments: JSONValue) -> String {
        SHA256.hex(
            ([
                "run": .number(Double(runID)), "task": .string(taskID), "position": .number(Double(position)), "tool": .string(tool),
                "arguments": arguments,
            ] as JSONValue).jsonText)
    }

    /// Whether executing `tool` with `arguments` is exactly what was approved.
    public func permits(tool: String, arguments: JSONValue) -> Bool {
        state == .approved && hash == Self.binding(runID: runID, taskID: taskID, position: position, tool: tool, arguments: arguments)
    }
}

/// Why an approval could not be answered.
public enum ApprovalError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(Int64)
    case alreadyDecided(Int64, Approval.State)

    public var description: String {
        switch self {
        case .notFound(let id): "no approval with id \(id); list them with 'hearth approvals'"
        case .alreadyDecided(let id, let state): "approval \(id) is already \(state.rawValue); a new request needs a new approval"
        }
    }
}

/// The durable record of approvals.
public protocol ApprovalBook: Sendable {
    /// Records a request; one per (run, task, position): asking again returns the existing one.
    func request(_ approval: Approval) async throws -> Approval
    func approval(runID: Int64, taskID: String, position: Int) async throws -> Approval?
    func approvals(states: Set<Approval.State>?) async throws -> [Approval]
    /// Pending approvals not yet expired at `now`, oldest first: `limit` of them from `offset`,
    /// and how many there are in all (a page of a long list).
    func waiting(now: Date, limit: Int, offset: Int) async throws -> (total: Int, approvals: [Approval])
    /// Answers a pending approval; its task goes back to work.
    func decide(_ id: Int64, approve: Bool, note: String?, now: Date) async throws -> Approval
    func markUsed(_ id: Int64) async throws
    /// Pending approvals past their deadline become `expired` (a denial); returns them.
    func expire(now: Date) async throws -> [Approval]
}

extension ApprovalBook {
    public func waiting(now: Date, limit: Int, offset: Int) async throws -> (total: Int, approvals: [Approval]) {
        let all = try await approvals(states: [.pending]).filter { $0.expiresAt > now }
        return (all.count, Array(all.dropFirst(offset).prefix(limit)))
    }
}
