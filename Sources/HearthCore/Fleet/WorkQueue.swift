import Foundation

/// Work that any daemon of a fleet may do: a goal, a routine's firing, a ledger run.
public struct WorkItem: Sendable, Hashable {
    public var id: Int64
    public var kind: String
    /// Unique across the queue: enqueueing a key twice stores the work once.
    public var key: String
    public var payload: JSONValue
    /// `pending`, `claimed` or `done`.
    public var state: String
    /// The steps already recorded (by this holder or an earlier one), by number.
    public var stepsDone: [Int: JSONValue]
    public var result: JSONValue?

    public init(
        id: Int64, kind: String, key: String, payload: JSONValue, state: String, stepsDone: [Int: JSONValue] = [:], result: JSONValue? = nil
    ) {
        self.id = id
        self.kind = kind
        self.key = key
        self.payload = payload
        self.state = state
        self.stepsDone = stepsDone
        self.result = result
    }
}

/// The right to work on one item, for a while.
///
/// The fence rises with every claim of the item. The store records a step or a result only under
/// the item's latest fence, so a holder that lost its lease (paused, partitioned, too slow) and
/// carries on anyway records nothing: it learns it lost with `WorkQueueError.leaseLost`.
public struct Lease: Sendable, Hashable {
    public var item: Int64
    public var holder: String
    public var fence: Int64

    public init(item: Int64, holder: String, fence: Int64) {
        self.item = item
        self.holder = holder
        self.fence = fence
    }
}

/// An item claimed under a lease.
public struct ClaimedWork: Sendable, Hashable {
    public var item: WorkItem
    public var lease: Lease

    public init(item: WorkItem, lease: Lease) {
        self.item = item
        self.lease = lease
    }
}

/// Work to enqueue.
public struct NewWork: Sendable, Hashable {
    public var kind: String
    public var key: String
    public var payload: JSONValue

    public init(kind: String, key: String, payload: JSONValue) {
        self.kind = kind
        self.key = key
        self.payload = payload
    }
}

/// How many items of a kind are in each state.
public struct WorkCounts: Sendable, Hashable, Codable {
    public var pending = 0
    public var claimed = 0
    public var done = 0

    public init(pending: Int = 0, claimed: Int = 0, done: Int = 0) {
        self.pending = pending
        self.claimed = claimed
        self.done = done
    }
}

/// Why the queue refused.
public enum WorkQueueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another holder claimed the item since (its fence is higher), or the item is done.
    case leaseLost(Lease)
    case invalid(String)

    public var description: String {
        switch self {
        case .leaseLost(let lease):
            "\(lease.holder) lost its lease on work item \(lease.item) (fence \(lease.fence)): another daemon took it over; nothing was recorded"
        case .invalid(let why): "work queue: \(why)"
        }
    }
}

/// The fleet's shared work, claimed with leases and fenced, and its cron slots.
///
/// On PostgreSQL several daemons share it: a claim skips items another holder has locked, an
/// expired lease is taken over with a higher fence, a step's effect runs while the item is locked
/// under the holder's fence and is recorded in the same transaction, so a holder that lost its
/// lease neither runs nor records a step. Lease times are the store's clock, not the daemons'.
/// On SQLite (one machine, one daemon per data directory) the same calls work; `WorkSQLQueue`
/// says where its guarantees are narrower (effects run outside the write transaction).
public protocol WorkQueue: Sendable {
    /// Stores new work; a key already queued is a duplicate (nothing new is stored).
    func enqueue(_ work: [NewWork]) async throws -> [AppendOutcome]
    /// Claims up to `limit` items of `kind` that are pending or whose lease expired, oldest first.
    func claim(kind: String, holder: String, lease: Duration, limit: Int) async throws -> [ClaimedWork]
    /// Extends a lease that is still the item's latest.
    ///
    /// - Throws: `WorkQueueError.leaseLost` when another holder claimed the item since.
    func renew(_ lease: Lease, for duration: Duration) async throws
    /// Runs step `number`'s effect under the lease and records its result; a step already recorded
    /// is not run again (its recorded result is returned). The effect must finish within `limit`
    /// (on PostgreSQL a transaction idle for longer is ended by the server and the step is not
    /// recorded); an effect that may be repeated after a crash must be idempotent by its key.
    ///
    /// - Throws: `WorkQueueError.leaseLost`, or the effect's error (nothing recorded).
    func step(_ lease: Lease, number: Int, limit: Duration, _ effect: @escaping @Sendable () async throws -> JSONValue) async throws
        -> JSONValue
    /// Marks the item done with its result.
    ///
    /// - Throws: `WorkQueueError.leaseLost` when another holder claimed the item since.
    func complete(_ lease: Lease, result: JSONValue) async throws
    func item(_ id: Int64) async throws -> WorkItem?
    func counts(kind: String) async throws -> WorkCounts
    /// Fires `slot` of `schedule` once across the fleet: the first caller runs `effect` and records
    /// the firing in one transaction (`true`); every later caller gets `false` and runs nothing. A
    /// firer that dies before committing leaves the slot to the next caller, so the effect must be
    /// idempotent by its key.
    func fireSlot(
        schedule: String, slot: Int64, holder: String, limit: Duration, _ effect: @escaping @Sendable () async throws -> JSONValue
    )
        async throws -> Bool
}

extension NewWork {
    /// Checks what a queue would refuse.
    public func validate() throws(WorkQueueError) {
        guard !kind.isEmpty, kind.utf8.count <= 64 else { throw .invalid("a work kind is 1 to 64 bytes") }
        guard !key.isEmpty, key.utf8.count <= 512 else { throw .invalid("a work key is 1 to 512 bytes") }
    }
}

extension Duration {
    /// At least one millisecond, as a whole number of milliseconds (lease lengths, limits).
    public var leaseMilliseconds: Int64 { max(1, Int64(inMilliseconds.rounded(.up))) }
}
