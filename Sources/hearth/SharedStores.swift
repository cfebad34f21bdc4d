import Foundation
import HearthConfig
import HearthCore
import HearthPostgres
import HearthStore

/// The stores a command reads and changes: SQLite in the data directory, or the shared
/// PostgreSQL when `[store] url` is set (the same commands, the same output, either way).
struct SharedStores: Sendable {
    var journal: any EventJournal
    var ledger: any WorkLedger
    var goals: any GoalStore
    var approvals: any ApprovalBook
    var memory: any MemoryStore
    var usage: any UsageHistory
    var schedules: any ScheduleBook
    var routines: any RoutineStore
    var chats: any ChatSessionStore
    /// The shared PostgreSQL store, when these are the fleet's (a daemon on this machine does not
    /// run on them yet); `nil` for this machine's SQLite.
    var postgres: PostgresStore?
    var close: @Sendable () -> Void

    var shared: Bool { postgres != nil }

    /// The stores of this machine's SQLite database.
    static func sqlite(_ database: HearthDatabase) -> SharedStores {
        SharedStores(
            journal: JournalStore(database: database), ledger: LedgerStore(database: database), goals: GoalSQLStore(database: database),
            approvals: ApprovalSQLStore(database: database), memory: MemorySQLStore(database: database),
            usage: UsageStore(database: database), schedules: ScheduleStore(database: database),
            routines: RoutineSQLStore(database: database), chats: ChatSQLStore(database: database), postgres: nil, close: {})
    }

    /// The goal of run `id`, or `nil` when the run is not a goal's.
    ///
    /// - Throws: `LedgerError.runNotFound` when there is no such run at all.
    func goalIfAny(_ id: Int64) async throws -> GoalDetail? {
        do {
            return try await goals.goal(id)
        } catch GoalError.notAGoal {
            return nil
        }
    }
}

extension HearthContext {
    /// Opens the configured store; `creating` makes a missing SQLite database (and data dir),
    /// otherwise a data dir never set up gives `nil`.
    func openStores(creating: Bool) async throws -> SharedStores? {
        if let url = configuration.store.url {
            let password = try configuration.store.passwordFile.map { path throws in try PostgresLocation.password(fromFile: path) }
            let database = try await PostgresStore.open(try PostgresLocation.parse(url), password: password)
            return SharedStores(
                journal: PostgresJournal(database: database), ledger: PostgresLedger(database: database, holder: fleetName),
                goals: PostgresGoalStore(database: database), approvals: PostgresApprovalBook(database: database),
                memory: PostgresMemoryStore(database: database), usage: PostgresUsageStore(database: database),
                schedules: PostgresScheduleBook(database: database), routines: PostgresRoutineStore(database: database),
                chats: PostgresChatStore(database: database), postgres: database,
                close: { database.close() })
        }
        guard let database = creating ? try openForWriting() : try openForReading() else { return nil }
        return .sqlite(database)
    }
}
