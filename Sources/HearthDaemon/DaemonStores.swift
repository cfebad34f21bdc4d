import Foundation
import HearthConfig
import HearthCore
import HearthPostgres
import HearthStore

/// Every store the daemon and the commands use, on one backend: this machine's SQLite in the
/// data directory, or the fleet's PostgreSQL when `[store] url` is set. Only the daemon's own
/// start records stay in the data directory either way (they describe this machine's process).
public struct DaemonStores: Sendable {
    public var journal: any EventJournal
    public var ledger: any WorkLedger
    public var goals: any GoalStore
    public var approvals: any ApprovalBook
    public var memory: any MemoryStore
    public var usage: any UsageHistory
    public var schedules: any ScheduleBook
    public var routines: any RoutineStore
    public var chats: any ChatSessionStore
    /// The attention store, writing delivery rows for these channels.
    public var attention: @Sendable (_ channels: [String]) -> any AttentionStore
    public var deliveries: any DeliveryBook
    public var sources: any SourceStateStore
    public var files: any FileIndexStore
    public var telemetry: any TelemetryReader
    /// The shared PostgreSQL store, when these are the fleet's; `nil` for this machine's SQLite.
    public var postgres: PostgresStore?
    /// This machine's SQLite database, when these are its stores.
    public var sqlite: HearthDatabase?
    public var close: @Sendable () -> Void

    public var shared: Bool { postgres != nil }

    /// The stores of this machine's SQLite database.
    public static func sqlite(_ database: HearthDatabase) -> DaemonStores {
        DaemonStores(
            journal: JournalStore(database: database), ledger: LedgerStore(database: database), goals: GoalSQLStore(database: database),
            approvals: ApprovalSQLStore(database: database), memory: MemorySQLStore(database: database),
            usage: UsageStore(database: database), schedules: ScheduleStore(database: database),
            routines: RoutineSQLStore(database: database), chats: ChatSQLStore(database: database),
            attention: { AttentionSQLStore(database: database, channels: $0) }, deliveries: DeliverySQLStore(database: database),
            sources: SourceStateTable(database: database), files: FileIndexTable(database: database),
            telemetry: TelemetryQueries(database: database), postgres: nil, sqlite: database, close: {})
    }

    /// The fleet's stores on `database`; ledger steps are claimed as `holder` (the fleet name),
    /// and source positions (this machine's repositories and workspace files) kept under it.
    public static func postgres(_ database: PostgresStore, holder: String) -> DaemonStores {
        DaemonStores(
            journal: PostgresJournal(database: database), ledger: PostgresLedger(database: database, holder: holder),
            goals: PostgresGoalStore(database: database), approvals: PostgresApprovalBook(database: database),
            memory: PostgresMemoryStore(database: database), usage: PostgresUsageStore(database: database),
            schedules: PostgresScheduleBook(database: database), routines: PostgresRoutineStore(database: database),
            chats: PostgresChatStore(database: database), attention: { PostgresAttentionStore(database: database, channels: $0) },
            deliveries: PostgresDeliveryBook(database: database), sources: PostgresSourceState(database: database, scope: holder),
            files: PostgresFileIndex(database: database), telemetry: PostgresTelemetry(database: database), postgres: database,
            sqlite: nil, close: { database.close() })
    }

    /// The configured store: the fleet's PostgreSQL when `[store] url` is set (its password from
    /// `[store] password_file`), else `database()` — this machine's SQLite (nil: not set up).
    public static func open(
        _ configuration: Configuration, holder: String, database: () throws -> HearthDatabase?
    ) async throws -> DaemonStores? {
        if let url = configuration.store.url {
            let password = try configuration.store.passwordFile.map { path throws in try PostgresLocation.password(fromFile: path) }
            let store = try await PostgresStore.open(try PostgresLocation.parse(url), password: password)
            return .postgres(store, holder: holder)
        }
        return try database().map(DaemonStores.sqlite)
    }

    /// The goal of run `id`, or `nil` when the run is not a goal's.
    ///
    /// - Throws: `LedgerError.runNotFound` when there is no such run at all.
    public func goalIfAny(_ id: Int64) async throws -> GoalDetail? {
        do {
            return try await goals.goal(id)
        } catch GoalError.notAGoal {
            return nil
        }
    }
}
