import Foundation
import GRDB
import HearthCore

/// Cron schedules and their next fire times.
public struct ScheduleStore: ScheduleBook {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func schedules() async throws -> [Schedule] {
        try await database.read { db in try Self.fetchAll(in: db) }
    }

    public func add(_ schedule: Schedule, replace: Bool) async throws {
        try await database.write { db in
            let exists =
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM schedule WHERE name = ?)", arguments: [schedule.name]) ?? false
            if exists && !replace { throw ScheduleError.exists(schedule.name) }
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO schedule (name, expression, timeZone, kind, payload, nextFireAt, lastFiredAt, createdAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    schedule.name, schedule.expression.source, schedule.timeZone, schedule.kind, schedule.payload.jsonText,
                    schedule.nextFireAt?.millisecondsSince1970, schedule.lastFiredAt?.millisecondsSince1970,
                    schedule.createdAt.millisecondsSince1970,
                ])
        }
    }

    public func remove(_ name: String) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM schedule WHERE name = ?", arguments: [name])
            if db.changesCount == 0 { throw ScheduleError.notFound(name) }
        }
    }

    public func recordFiring(of name: String, event: NewEvent, nextFireAt: Date?) async throws -> AppendOutcome {
        try event.validate()
        return try await database.write { db in
            let outcome = try JournalStore.insert([event], receivedAt: Date(), in: db)[0]
            try db.execute(
                sql: "UPDATE schedule SET nextFireAt = ?, lastFiredAt = ? WHERE name = ?",
                arguments: [nextFireAt?.millisecondsSince1970, event.occurredAt.millisecondsSince1970, name])
            return outcome
        }
    }

    public func setNextFire(of name: String, at date: Date?) async throws {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE schedule SET nextFireAt = ? WHERE name = ?", arguments: [date?.millisecondsSince1970, name])
        }
    }

    private static func fetchAll(in db: Database) throws -> [Schedule] {
        try Row.fetchAll(db, sql: "SELECT * FROM schedule ORDER BY name").compactMap { row in
            // A row whose expression no longer parses (edited by hand) is skipped, not fatal.
            guard let expression = try? CronExpression(row["expression"] as String) else { return nil }
            let payload: String = row["payload"]
            let next: Int64? = row["nextFireAt"]
            let last: Int64? = row["lastFiredAt"]
            return Schedule(
                name: row["name"], expression: expression, timeZone: row["timeZone"], kind: row["kind"],
                payload: (try? JSONValue(parsing: payload)) ?? .null,
                nextFireAt: next.map(Date.init(millisecondsSince1970:)),
                lastFiredAt: last.map(Date.init(millisecondsSince1970:)),
                createdAt: Date(millisecondsSince1970: row["createdAt"]))
        }
    }
}

/// The watcher's file index.
public struct FileIndexTable: FileIndexStore {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func loadFileIndex(scope: String) async throws -> [String: FileFingerprint] {
        try await database.read { db in
            var index: [String: FileFingerprint] = [:]
            let rows = try Row.fetchCursor(
                db, sql: "SELECT path, size, modifiedNs, inode FROM fileIndex WHERE scope = ?", arguments: [scope])
            while let row = try rows.next() {
                let inode: Int64 = row["inode"]
                index[row["path"]] = FileFingerprint(
                    size: row["size"], modifiedNanoseconds: row["modifiedNs"], inode: UInt64(bitPattern: inode))
            }
            return index
        }
    }

    public func record(_ events: [NewEvent], indexChanges: [FileIndexChange], scope: String) async throws -> [AppendOutcome] {
        for event in events { try event.validate() }
        return try await database.write { db in
            let outcomes = try JournalStore.insert(events, receivedAt: Date(), in: db)
            let upsert = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO fileIndex (scope, path, size, modifiedNs, inode) VALUES (?, ?, ?, ?, ?)")
            let delete = try db.cachedStatement(sql: "DELETE FROM fileIndex WHERE scope = ? AND path = ?")
            for change in indexChanges {
                switch change {
                case .upsert(let path, let fingerprint):
                    try upsert.execute(arguments: [
                        scope, path, fingerprint.size, fingerprint.modifiedNanoseconds, Int64(bitPattern: fingerprint.inode),
                    ])
                case .remove(let path):
                    try delete.execute(arguments: [scope, path])
                }
            }
            return outcomes
        }
    }
}
