import Foundation
import HearthCore
import Logging
import PostgresNIO

/// The fleet's shared work in PostgreSQL: claims with `FOR UPDATE SKIP LOCKED`, leases timed by
/// the server's clock, fences checked under the item's row lock.
public struct PostgresWorkQueue: WorkQueue {
    let database: PostgresStore

    public init(database: PostgresStore) {
        self.database = database
    }

    public func enqueue(_ work: [NewWork]) async throws -> [AppendOutcome] {
        for item in work { try item.validate() }
        guard !work.isEmpty else { return [] }
        let logger = database.logger
        return try await database.transaction { connection in
            var outcomes: [AppendOutcome] = []
            for item in work {
                let payload = item.payload.jsonText
                var inserted: Int64?
                for try await id in try await connection.query(
                    """
                    INSERT INTO work (kind, key, payload) VALUES (\(item.kind), \(item.key), \(payload))
                    ON CONFLICT (key) DO NOTHING RETURNING id
                    """, logger: logger
                ).decode(Int64.self) {
                    inserted = id
                }
                if let inserted {
                    outcomes.append(AppendOutcome(id: inserted, duplicate: false))
                    continue
                }
                var existing: Int64 = 0
                for try await id in try await connection.query("SELECT id FROM work WHERE key = \(item.key)", logger: logger).decode(
                    Int64.self)
                {
                    existing = id
                }
                outcomes.append(AppendOutcome(id: existing, duplicate: true))
            }
            return outcomes
        }
    }

    public func claim(kind: String, holder: String, lease: Duration, limit: Int) async throws -> [ClaimedWork] {
        guard limit > 0 else { return [] }
        let seconds = Double(lease.leaseMilliseconds) / 1000
        // One statement, so one round trip and its own transaction: rows another daemon holds
        // locked are skipped, not waited for; an expired lease is claimable, and the new claim's
        // fence is higher than the old holder's; the claim is logged; the steps done come along.
        let rows = try await database.client.query(
            """
            WITH picked AS (
                SELECT id FROM work
                WHERE kind = \(kind) AND (state = 'pending' OR (state = 'claimed' AND leaseUntil < clock_timestamp()))
                ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED),
            claimed AS (
                UPDATE work w SET state = 'claimed', holder = \(holder), fence = w.fence + 1,
                    leaseUntil = clock_timestamp() + make_interval(secs => \(seconds))
                FROM picked WHERE w.id = picked.id
                RETURNING w.id, w.key, w.payload, w.fence),
            logged AS (
                INSERT INTO work_claim (item, fence, holder, claimedAt) SELECT id, fence, \(holder), clock_timestamp() FROM claimed)
            SELECT c.id, c.key, c.payload, c.fence, s.number, s.result
            FROM claimed c LEFT JOIN work_step s ON s.item = c.id ORDER BY c.id
            """, logger: database.logger)
        var claimed: [ClaimedWork] = []
        for try await (id, key, payload, fence, number, result) in rows.decode((Int64, String, String, Int64, Int?, String?).self) {
            if claimed.last?.item.id != id {
                claimed.append(
                    ClaimedWork(
                        item: WorkItem(id: id, kind: kind, key: key, payload: JSONValue(storedText: payload), state: "claimed"),
                        lease: Lease(item: id, holder: holder, fence: fence)))
            }
            if let number, let result { claimed[claimed.count - 1].item.stepsDone[number] = JSONValue(storedText: result) }
        }
        return claimed
    }

    public func renew(_ lease: Lease, for duration: Duration) async throws {
        let seconds = Double(duration.leaseMilliseconds) / 1000
        var renewed = false
        for try await _ in try await database.client.query(
            """
            UPDATE work SET leaseUntil = clock_timestamp() + make_interval(secs => \(seconds))
            WHERE id = \(lease.item) AND fence = \(lease.fence) AND holder = \(lease.holder) AND state = 'claimed' RETURNING id
            """, logger: database.logger
        ).decode(Int64.self) {
            renewed = true
        }
        guard renewed else { throw WorkQueueError.leaseLost(lease) }
    }

    public func step(_ lease: Lease, number: Int, limit: Duration, _ effect: @escaping @Sendable () async throws -> JSONValue) async throws
        -> JSONValue
    {
        let logger = database.logger
        return try await database.transaction { connection in
            try await Self.bound(connection, by: limit, logger: logger)
            try await Self.lock(lease, connection, logger: logger)
            for try await result in try await connection.query(
                "SELECT result FROM work_step WHERE item = \(lease.item) AND number = \(number)", logger: logger
            ).decode(String.self) {
                return JSONValue(storedText: result)
            }
            let result = try await Self.bounded(effect, by: limit, on: connection)
            let text = result.jsonText
            try await connection.query(
                """
                INSERT INTO work_step (item, number, fence, holder, result, recordedAt)
                VALUES (\(lease.item), \(number), \(lease.fence), \(lease.holder), \(text), clock_timestamp())
                """, logger: logger)
            return result
        }
    }

    public func complete(_ lease: Lease, result: JSONValue) async throws {
        let text = result.jsonText
        var completed = false
        for try await _ in try await database.client.query(
            """
            UPDATE work SET state = 'done', result = \(text), doneAt = clock_timestamp(), doneFence = fence, leaseUntil = NULL
            WHERE id = \(lease.item) AND fence = \(lease.fence) AND holder = \(lease.holder) AND state = 'claimed' RETURNING id
            """, logger: database.logger
        ).decode(Int64.self) {
            completed = true
        }
        guard completed else { throw WorkQueueError.leaseLost(lease) }
    }

    public func item(_ id: Int64) async throws -> WorkItem? {
        var found: WorkItem?
        let rows = try await database.client.query(
            "SELECT kind, key, payload, state, result FROM work WHERE id = \(id)", logger: database.logger)
        for try await (kind, key, payload, state, result) in rows.decode((String, String, String, String, String?).self) {
            found = WorkItem(
                id: id, kind: kind, key: key, payload: JSONValue(storedText: payload), state: state,
                result: result.map(JSONValue.init(storedText:)))
        }
        guard var item = found else { return nil }
        let steps = try await database.client.query(
            "SELECT number, result FROM work_step WHERE item = \(id)", logger: database.logger)
        for try await (number, result) in steps.decode((Int, String).self) { item.stepsDone[number] = JSONValue(storedText: result) }
        return item
    }

    public func counts(kind: String) async throws -> WorkCounts {
        var counts = WorkCounts()
        let rows = try await database.client.query(
            "SELECT state, count(*) FROM work WHERE kind = \(kind) GROUP BY state", logger: database.logger)
        for try await (state, count) in rows.decode((String, Int).self) {
            switch state {
            case "pending": counts.pending = count
            case "claimed": counts.claimed = count
            default: counts.done = count
            }
        }
        return counts
    }

    public func fireSlot(
        schedule: String, slot: Int64, holder: String, limit: Duration, _ effect: @escaping @Sendable () async throws -> JSONValue
    ) async throws -> Bool {
        let logger = database.logger
        return try await database.transaction { connection in
            try await Self.bound(connection, by: limit, logger: logger)
            // A second firer waits on the key until the first commits (then finds it) or dies
            // (then fires it itself).
            var first = false
            for try await _ in try await connection.query(
                """
                INSERT INTO cron_slot (schedule, slot, holder, firedAt, result) VALUES (\(schedule), \(slot), \(holder), clock_timestamp(), '')
                ON CONFLICT DO NOTHING RETURNING slot
                """, logger: logger
            ).decode(Int64.self) {
                first = true
            }
            guard first else { return false }
            let result = try await Self.bounded(effect, by: limit, on: connection).jsonText
            try await connection.query(
                "UPDATE cron_slot SET result = \(result) WHERE schedule = \(schedule) AND slot = \(slot)", logger: logger)
            return true
        }
    }

    /// The item's row locked for this transaction, under `lease`'s fence, or `leaseLost`.
    static func lock(_ lease: Lease, _ connection: PostgresConnection, logger: Logger) async throws {
        var current = false
        for try await (fence, holder, state) in try await connection.query(
            "SELECT fence, holder, state FROM work WHERE id = \(lease.item) FOR UPDATE", logger: logger
        ).decode((Int64, String?, String).self) {
            current = fence == lease.fence && holder == lease.holder && state == "claimed"
        }
        guard current else { throw WorkQueueError.leaseLost(lease) }
    }

    /// A holder that stops mid-transaction (paused, partitioned) has it ended by the server after
    /// `limit`, its locks released and nothing recorded.
    static func bound(_ connection: PostgresConnection, by limit: Duration, logger: Logger) async throws {
        let milliseconds = "\(limit.leaseMilliseconds)"
        try await connection.query(
            "SELECT set_config('idle_in_transaction_session_timeout', \(milliseconds), true)", logger: logger)
    }

    /// Runs `effect` inside the transaction. One that took most of `limit` gives the transaction
    /// up rather than racing the server, which ends it at `limit`.
    static func bounded(_ effect: () async throws -> JSONValue, by limit: Duration, on connection: PostgresConnection) async throws
        -> JSONValue
    {
        let started = ContinuousClock.now
        let result = try await effect()
        guard ContinuousClock.now - started < limit * 0.8 else {
            // The transaction helper waits for the pool to see the close before giving it back.
            try? await connection.close()
            throw PostgresStoreError.failed(
                "a step's effect ran for longer than 80% of its \(limit.leaseMilliseconds) ms limit; its transaction was given up and nothing was recorded"
            )
        }
        try PostgresStore.requireOpen(connection)
        return result
    }

}
