import Foundation
import GRDB
import HearthCore

/// One daemon start: when, which process, and what recovery found.
public struct DaemonStart: Sendable, Hashable, Codable {
    public var id: Int64
    public var pid: Int32
    public var version: String
    public var startedAt: Date
    public var readyAt: Date?
    public var stoppedAt: Date?
    /// Whatever the daemon recorded about recovery (ledger, missed schedules, offline file changes).
    public var recovery: JSONValue
}

/// Daemon start records (this machine's process, whichever store the daemon uses).
public struct DaemonRecordStore: Sendable {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    /// Records a start (a start with no recorded stop before it means the previous run crashed).
    public func recordStart(pid: Int32, version: String, at date: Date) async throws -> Int64 {
        try await database.write { db in
            try db.execute(
                sql: "INSERT INTO daemonStart (pid, version, startedAt) VALUES (?, ?, ?)",
                arguments: [pid, version, date.millisecondsSince1970])
            return db.lastInsertedRowID
        }
    }

    public func recordReady(_ id: Int64, at date: Date, recovery: JSONValue) async throws {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE daemonStart SET readyAt = ?, recovery = ? WHERE id = ?",
                arguments: [date.millisecondsSince1970, recovery.jsonText, id])
        }
    }

    /// Adds what one part found at start-up (`cron`, `watcher`, …) to the start's recovery record.
    public func mergeRecovery(_ id: Int64, key: String, value: JSONValue) async throws {
        try await database.write { db in
            let text = try String.fetchOne(db, sql: "SELECT recovery FROM daemonStart WHERE id = ?", arguments: [id]) ?? "{}"
            var recovery = (try? JSONValue(parsing: text))?.objectValue ?? [:]
            recovery[key] = value
            try db.execute(
                sql: "UPDATE daemonStart SET recovery = ? WHERE id = ?", arguments: [JSONValue.object(recovery).jsonText, id])
        }
    }

    public func recordStop(_ id: Int64, at date: Date) async throws {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE daemonStart SET stoppedAt = ? WHERE id = ?", arguments: [date.millisecondsSince1970, id])
        }
    }

    /// The most recent starts, newest first.
    public func recentStarts(limit: Int) throws -> [DaemonStart] {
        try database.readSync { db in
            try Row.fetchAll(db, sql: "SELECT * FROM daemonStart ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                let ready: Int64? = row["readyAt"]
                let stopped: Int64? = row["stoppedAt"]
                let recovery: String = row["recovery"]
                return DaemonStart(
                    id: row["id"], pid: row["pid"], version: row["version"],
                    startedAt: Date(millisecondsSince1970: row["startedAt"]),
                    readyAt: ready.map(Date.init(millisecondsSince1970:)),
                    stoppedAt: stopped.map(Date.init(millisecondsSince1970:)),
                    recovery: (try? JSONValue(parsing: recovery)) ?? .null)
            }
        }
    }

}
