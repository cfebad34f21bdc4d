import Foundation

/// What a conversation's live stream reports, decided without I/O: given the session's goals
/// and the approvals waiting on them each time they are looked at, the changes since the last
/// look — a goal's new state, an approval that started waiting (to be answered in the
/// conversation, bound to its action's hash), one that stopped waiting (answered or expired).
/// The first look reports everything as new, so a subscriber starts from the whole picture.
public struct ChatSessionWatch: Sendable {
    public enum Event: Sendable, Hashable {
        case run(ChatRunNews)
        case approval(Approval)
        case approvalClosed(id: Int64, runID: Int64)
    }

    private var states: [Int64: RunState] = [:]
    private var waiting: [Int64: Int64] = [:]

    public init() {}

    /// The changes since the last call, in the order they happened: approvals that stopped
    /// waiting, then goals' new states, then approvals that started waiting. `pending` may hold
    /// other sessions' approvals: only those of `runs` are reported.
    public mutating func update(runs: [ChatRunNews], pending: [Approval]) -> [Event] {
        var moved: [Event] = []
        for run in runs.sorted(by: { $0.runID < $1.runID }) where states[run.runID] != run.state {
            states[run.runID] = run.state
            moved.append(.run(run))
        }
        let mine = pending.filter { states[$0.runID] != nil }.sorted { $0.id < $1.id }
        let still = Set(mine.map(\.id))
        var closed: [Event] = []
        for (id, runID) in waiting.sorted(by: { $0.key < $1.key }) where !still.contains(id) {
            waiting[id] = nil
            closed.append(.approvalClosed(id: id, runID: runID))
        }
        var opened: [Event] = []
        for approval in mine where waiting[approval.id] == nil {
            waiting[approval.id] = approval.runID
            opened.append(.approval(approval))
        }
        return closed + moved + opened
    }
}
