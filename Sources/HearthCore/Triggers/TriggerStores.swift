import Foundation

/// A named cron schedule and where it stands.
public struct Schedule: Sendable, Hashable {
    public var name: String
    public var expression: CronExpression
    /// IANA name; `nil` means the daemon's default zone.
    public var timeZone: String?
    /// The kind of the event each firing journals (`cron.fired` unless the user chose one).
    public var kind: String
    public var payload: JSONValue
    /// When it fires next; persisted so a restart knows what it missed.
    public var nextFireAt: Date?
    public var lastFiredAt: Date?
    public var createdAt: Date

    public init(
        name: String, expression: CronExpression, timeZone: String?, kind: String = "cron.fired",
        payload: JSONValue = .object([:]), nextFireAt: Date?, lastFiredAt: Date? = nil, createdAt: Date
    ) {
        self.name = name
        self.expression = expression
        self.timeZone = timeZone
        self.kind = kind
        self.payload = payload
        self.nextFireAt = nextFireAt
        self.lastFiredAt = lastFiredAt
        self.createdAt = createdAt
    }
}

/// Persistence the cron trigger needs.
public protocol ScheduleBook: Sendable {
    func schedules() async throws -> [Schedule]
    /// Adds a schedule; with `replace`, an existing one of the same name is replaced.
    ///
    /// - Throws: `ScheduleError.exists` when the name is taken and `replace` is false.
    func add(_ schedule: Schedule, replace: Bool) async throws
    /// - Throws: `ScheduleError.notFound` when there is none by that name.
    func remove(_ name: String) async throws
    /// Journals a firing and moves the schedule's next fire time, in one transaction.
    func recordFiring(of name: String, event: NewEvent, nextFireAt: Date?) async throws -> AppendOutcome
    /// Sets when a schedule fires next (a new schedule, or a time-zone change).
    func setNextFire(of name: String, at date: Date?) async throws
}

public enum ScheduleError: Error, Sendable, Equatable, CustomStringConvertible {
    case exists(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .exists(let name): "a schedule named \"\(name)\" exists; remove it first or pass --replace"
        case .notFound(let name): "no schedule named \"\(name)\"; see 'hearth schedule list'"
        }
    }
}

/// What the watcher remembers of a file, to tell a change from a restart.
public struct FileFingerprint: Sendable, Hashable, Codable {
    public var size: Int64
    /// Modification time in nanoseconds since 1970.
    public var modifiedNanoseconds: Int64
    public var inode: UInt64

    public init(size: Int64, modifiedNanoseconds: Int64, inode: UInt64) {
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
        self.inode = inode
    }
}

/// A change to the file index that goes with a journaled event.
public enum FileIndexChange: Sendable, Hashable {
    case upsert(path: String, FileFingerprint)
    case remove(path: String)
}

/// Persistence the file watcher needs: the index of what it has already reported.
public protocol FileIndexStore: Sendable {
    /// The index as of the last journaled change (relative paths).
    func loadFileIndex(scope: String) async throws -> [String: FileFingerprint]
    /// Journals events and applies the matching index changes in one transaction, so a crash
    /// can neither lose an event nor report one twice.
    func record(_ events: [NewEvent], indexChanges: [FileIndexChange], scope: String) async throws -> [AppendOutcome]
}

/// Persistence for sources that remember where they got to (a repository's branch tips, how
/// many rows of a metric file were read): the events and the new position commit together, so a
/// crash neither repeats nor skips an event.
public protocol SourceStateStore: Sendable {
    func sourceState(_ name: String) async throws -> String?
    func record(_ events: [NewEvent], state: [String: String]) async throws -> [AppendOutcome]
}
