import Foundation
import GRDB
import HearthCore

/// Work claimed under leases and fences in SQLite: the single-machine sibling of the fleet's
/// PostgreSQL queue. SQLite has one writer at a time, so a claim needs no row locks; a step's
/// effect, and a cron slot's, runs outside the write transaction (SQLite would hold every other
/// writer for its length): a step's record is refused if the fence moved meanwhile, and of two
/// tasks firing one slot at once both may run the effect (one records the firing) — one daemon
/// owns a data directory, and it fires a slot from one task.
public struct WorkSQLQueue: WorkQueue {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func enqueue(_ work: [NewWork]) async throws -> [AppendOutcome] {
        for item in work { try item.validate() }
        return try await database.write { db in
            try work.map { item in
                if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM work WHERE key = ?", arguments: [item.key]) {
                    return AppendOutcome(id: existing, duplicate: true)
                }
                try db.execute(
                    sql: "INSERT INTO work (kind, key, payload, createdAt) VALUES (?, ?, ?, ?)",
                    arguments: [item.kind, item.key, item.payload.jsonText, Date().millisecondsSince1970])
                return AppendOutcome(id: db.lastInsertedRowID, duplicate: false)
            }
        }
    }

    public func claim(kind: String, holder: String, lease: Duration, limit: Int) async throws -> [ClaimedWork] {
        guard limit > 0 else { return [] }
        return try await database.write { db in
            let now = Date().millisecondsSince1970
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, key, payload, fence FROM work
                    WHERE kind = ? AND state <> 'done' AND (state = 'pending' OR leaseUntil < ?) ORDER BY id LIMIT ?
                    """, arguments: [kind, now, limit])
            return try rows.map { row in
                let id: Int64 = row["id"]
                let fence = (row["fence"] as Int64) + 1
                try db.execute(
                    sql: "UPDATE work SET state = 'claimed', holder = ?, fence = ?, leaseUntil = ? WHERE id = ?",
                    arguments: [holder, fence, now + lease.leaseMilliseconds, id])
                try db.execute(
                    sql: "INSERT INTO work_claim (item, fence, holder, claimedAt) VALUES (?, ?, ?, ?)", arguments: [id, fence, holder, now])
                var item = WorkItem(id: id, kind: kind, key: row["key"], payload: JSONValue(storedText: row["payload"]), state: "claimed")
                item.stepsDone = try Self.steps(id, db)
                return ClaimedWork(item: item, lease: Lease(item: id, holder: holder, fence: fence))
            }
        }
    }

    public func renew(_ lease: Lease, for duration: Duration) async throws {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE work SET leaseUntil = ? WHERE id = ? AND fence = ? AND holder = ? AND state = 'claimed'",
                arguments: [Date().millisecondsSince1970 + duration.leaseMilliseconds, lease.item, lease.fence, lease.holder])
            guard db.changesCount > 0 else { throw WorkQueueError.leaseLost(lease) }
        }
    }

    public func step(_ lease: Lease, number: Int, limit: Duration, _ effect: @escaping @Sendable () async throws -> JSONValue) async throws
        -> JSONValue
    {
        // Looked up before the effect (not run again) and after it (not recorded twice).
        if let recorded = try await database.read({ db in try Self.recorded(lease, number, db) }) { return recorded }
        let result = try await effect()
        let text = result.jsonText
        return try await database.write { db in
            if let recorded = try Self.recorded(lease, number, db) { return recorded }
            try db.execute(
                sql: "INSERT INTO work_step (item, number, fence, holder, result, recordedAt) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [lease.item, number, lease.fence, lease.holder, text, Date().millisecondsSince1970])
            return result
        }
    }

    public func complete(_ lease: Lease, result: JSONValue) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    UPDATE work SET state = 'done', result = ?, doneAt = ?, doneFence = fence, leaseUntil = NULL
                    WHERE id = ? AND fence = ? AND holder = ? AND state = 'claimed'
                    """, arguments: [result.jsonText, Date().millisecondsSince1970, lease.item, lease.fence, lease.holder])
            guard db.changesCount > 0 else { throw WorkQueueError.leaseLost(lease) }
        }
    }

    public func item(_ id: Int64) async throws -> WorkItem? {
        try await database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM work WHERE id = ?", arguments: [id]) else { return nil }
            return WorkItem(
                id: id, kind: row["kind"], key: row["key"], payload: JSONValue(storedText: row["payload"]), state: row["state"],
                stepsDone: try Self.steps(id, db), result: (row["result"] as String?).map(JSONValue.init(storedText:)))
        }
    }

    public func counts(kind: String) async throws -> WorkCounts {
        try await database.read { db in
            var counts = WorkCounts()
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM work WHERE kind = ? GROUP BY state", arguments: [kind]) {
                switch row["state"] as String {
                case "pending": counts.pending = row["n"]
                case "claimed": counts.claimed = row["n"]
                default: counts.done = row["n"]
                }
            }
            return counts
        }
    }

    public func fireSlot(
        schedule: String, slot: Int64, holder: String, limit: Duration, _ effect: @escaping @Sendable () async throws -> JSONValue
    ) async throws -> Bool {
        let fired = try await database.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM cron_slot WHERE schedule = ? AND slot = ?", arguments: [schedule, slot]) ?? false
        }
        guard !fired else { return false }
        let result = try await effect().jsonText
        return try await database.write { db in
            try db.execute(
                sql: "INSERT INTO cron_slot (schedule, slot, holder, firedAt, result) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [schedule, slot, holder, Date().millisecondsSince1970, result])
            return db.changesCount > 0
        }
    }

    static func requireCurrent(_ lease: Lease, _ db: Database) throws {
        let row = try Row.fetchOne(db, sql: "SELECT fence, holder, state FROM work WHERE id = ?", arguments: [lease.item])
        guard let row, row["fence"] as Int64 == lease.fence, row["holder"] as String? == lease.holder, row["state"] as String == "claimed"
        else { throw WorkQueueError.leaseLost(lease) }
    }

    /// Step `number`'s recorded result, if any, once `lease` is checked to be current.
    static func recorded(_ lease: Lease, _ number: Int, _ db: Database) throws -> JSONValue? {
        try requireCurrent(lease, db)
        return try String.fetchOne(db, sql: "SELECT result FROM work_step WHERE item = ? AND number = ?", arguments: [lease.item, number])
            .map(JSONValue.init(storedText:))
    }

    static func steps(_ item: Int64, _ db: Database) throws -> [Int: JSONValue] {
        var steps: [Int: JSONValue] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT number, result FROM work_step WHERE item = ?", arguments: [item]) {
            steps[row["number"]] = JSONValue(storedText: row["result"])
        }
        return steps
    }

}
