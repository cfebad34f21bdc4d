import Foundation
import HearthCore
import Logging
import PostgresNIO

/// A daemon's (or a foreground `hearth goal`'s) claim on one goal run in the fleet's store: who
/// holds it and the fence it was taken with. Every takeover raises the fence, so a holder that
/// lost the run (paused past its lease, partitioned, its server gone) finds its writes refused.
public struct RunLease: Sendable, Equatable {
    public let run: Int64
    public let holder: String
    public let fence: Int64
}

extension PostgresStore {
    /// Runs `body` while `holder` holds the lease on goal run `run`; `nil` when another holds it.
    ///
    /// The lease lasts `lease` on the server's clock and is renewed every third of it while
    /// `body` runs. A lease that runs out is taken over by the next claimer with a higher fence;
    /// a goal store fenced by this lease (`PostgresGoalStore.fenced(by:)`) then refuses to record
    /// anything for the run. When renewal finds the lease taken, or cannot reach the server for a
    /// whole lease, `body` is cancelled and this throws `PostgresStoreError.leaseLost` once it has
    /// stopped: the run resumes from its journal with whoever holds it next.
    ///
    /// `holder` may take back a lease it still holds: a daemon restarted after a kill is the same
    /// holder (its fleet name; one daemon per data directory) and resumes its runs at once.
    public func whileLeasing<T: Sendable>(
        run: Int64, holder: String, lease: Duration, _ body: @escaping @Sendable (RunLease) async throws -> T
    ) async throws -> T? {
        guard let claimed = try await claimRun(run, holder: holder, lease: lease) else { return nil }
        return try await whileHolding(claimed, lease: lease, body)
    }

    /// Leases the oldest goal run with work left (pending or running) that no other holder has,
    /// except those in `skip`, and runs `body` under it as `whileLeasing(run:)` does: its run and
    /// `body`'s value, or `nil` when no run is free. Daemons walking the goals at once do not
    /// queue behind each other: a run another daemon is taking is passed over (`SKIP LOCKED`).
    public func whileLeasingNext<T: Sendable>(
        holder: String, lease: Duration, skip: [Int64] = [], _ body: @escaping @Sendable (RunLease) async throws -> T
    ) async throws -> (run: Int64, value: T)? {
        guard let claimed = try await claimNextRun(holder: holder, lease: lease, skip: skip) else { return nil }
        return (claimed.run, try await whileHolding(claimed, lease: lease, body))
    }

    /// Runs `body` under `claimed`, renewing it; see `whileLeasing(run:)`.
    private func whileHolding<T: Sendable>(_ claimed: RunLease, lease: Duration, _ body: @escaping @Sendable (RunLease) async throws -> T)
        async throws -> T
    {
        let run = claimed.run
        let renewal = lease / 3
        do {
            let value = try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body(claimed) }
                group.addTask {
                    // Returns (nil) once the lease is lost; cancelled when `body` ends.
                    var renewed = ContinuousClock.now
                    while true {
                        try await Task.sleep(for: renewal)
                        do {
                            try await self.renewRun(claimed, for: lease)
                            renewed = .now
                        } catch PostgresStoreError.leaseLost {
                            return nil
                        } catch is CancellationError {
                            throw CancellationError()
                        } catch {
                            // The server is unreachable: the lease may still be ours until it runs out.
                            self.logger.warning("goal run \(run): the lease could not be renewed (\(error)); trying again")
                            if ContinuousClock.now - renewed >= lease { return nil }
                        }
                    }
                }
                defer { group.cancelAll() }
                var lost = false
                while true {
                    let next: T??
                    do {
                        next = try await group.next()
                    } catch {
                        throw lost ? PostgresStoreError.leaseLost(run: run) : error
                    }
                    guard let finished = next else { throw PostgresStoreError.leaseLost(run: run) }
                    // `body` may end normally once cancelled (a run stops at its next step): still lost.
                    if let value = finished { if lost { throw PostgresStoreError.leaseLost(run: run) } else { return value } }
                    // The renewer also returns when cancelled with the caller: `body`, cancelled too, answers.
                    if Task.isCancelled { continue }
                    // The lease is gone: stop `body` and wait for it to stop.
                    lost = true
                    group.cancelAll()
                }
            }
            try? await releaseRun(claimed)
            return value
        } catch PostgresStoreError.leaseLost(let lostRun) where lostRun == run {
            throw PostgresStoreError.leaseLost(run: run)
        } catch {
            try? await releaseRun(claimed)
            throw error
        }
    }

    /// Takes the lease on `run` for `holder` when nobody holds it, its holder's lease ran out, or
    /// `holder` holds it already; the fence goes up with every claim. `nil` when another holds it.
    public func claimRun(_ run: Int64, holder: String, lease: Duration) async throws -> RunLease? {
        let seconds = Double(lease.leaseMilliseconds) / 1000
        let logger = logger
        // One statement: a concurrent claimer waits on the row, then finds it held; the claim is logged.
        let fences = try await statement { connection in
            try await connection.rows(
                """
                WITH leased AS (
                    INSERT INTO run_lease (runId, holder, fence, leaseUntil, claimedAt)
                    VALUES (\(run), \(holder), 1, clock_timestamp() + make_interval(secs => \(seconds)), clock_timestamp())
                    ON CONFLICT (runId) DO UPDATE SET holder = excluded.holder, fence = run_lease.fence + 1,
                        leaseUntil = excluded.leaseUntil, claimedAt = excluded.claimedAt
                    WHERE run_lease.holder IS NULL OR run_lease.holder = excluded.holder OR run_lease.leaseUntil < clock_timestamp()
                    RETURNING runId, fence),
                logged AS (
                    INSERT INTO run_claim (runId, fence, holder, claimedAt) SELECT runId, fence, \(holder), clock_timestamp() FROM leased)
                SELECT fence FROM leased
                """, as: (Int64).self, logger: logger)
        }
        return fences.first.map { RunLease(run: run, holder: holder, fence: $0) }
    }

    /// The oldest goal run with work left that nobody else holds (not in `skip`), leased to
    /// `holder` in one statement; `nil` when there is none.
    public func claimNextRun(holder: String, lease: Duration, skip: [Int64] = []) async throws -> RunLease? {
        let seconds = Double(lease.leaseMilliseconds) / 1000
        let logger = logger
        let claimed = try await statement { connection in
            try await connection.rows(
                """
                WITH picked AS (
                    SELECT r.id FROM run r
                    JOIN goal g ON g.runId = r.id
                    LEFT JOIN run_lease l ON l.runId = r.id
                    WHERE r.state IN ('pending', 'running') AND NOT (r.id = ANY(\(skip)::bigint[]))
                        AND (l.runId IS NULL OR l.holder IS NULL OR l.holder = \(holder) OR l.leaseUntil < clock_timestamp())
                    ORDER BY r.id LIMIT 1
                    FOR UPDATE OF r SKIP LOCKED),
                leased AS (
                    INSERT INTO run_lease (runId, holder, fence, leaseUntil, claimedAt)
                    SELECT id, \(holder), 1, clock_timestamp() + make_interval(secs => \(seconds)), clock_timestamp() FROM picked
                    ON CONFLICT (runId) DO UPDATE SET holder = excluded.holder, fence = run_lease.fence + 1,
                        leaseUntil = excluded.leaseUntil, claimedAt = excluded.claimedAt
                    WHERE run_lease.holder IS NULL OR run_lease.holder = excluded.holder OR run_lease.leaseUntil < clock_timestamp()
                    RETURNING runId, fence),
                logged AS (
                    INSERT INTO run_claim (runId, fence, holder, claimedAt) SELECT runId, fence, \(holder), clock_timestamp() FROM leased)
                SELECT runId, fence FROM leased
                """, as: (Int64, Int64).self, logger: logger
            ).first
        }
        return claimed.map { RunLease(run: $0.0, holder: holder, fence: $0.1) }
    }

    /// Of `runs`, those no other holder has a live lease on: what a daemon starting as `holder`
    /// may say it resumes (its own, and the unheld), not what another daemon is working on.
    public func runs(_ runs: [Int64], notHeldByOthersThan holder: String) async throws -> [Int64] {
        guard !runs.isEmpty else { return [] }
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT r FROM unnest(\(runs)::bigint[]) AS r
                WHERE NOT EXISTS (
                    SELECT 1 FROM run_lease l WHERE l.runId = r AND l.holder IS NOT NULL AND l.holder <> \(holder)
                        AND l.leaseUntil >= clock_timestamp())
                ORDER BY r
                """, as: (Int64).self, logger: logger)
        }
    }

    /// Extends `lease` by `duration` from now, or throws `leaseLost` when another took the run.
    public func renewRun(_ lease: RunLease, for duration: Duration) async throws {
        let seconds = Double(duration.leaseMilliseconds) / 1000
        let logger = logger
        let renewed = try await statement { connection in
            try await connection.rows(
                """
                UPDATE run_lease SET leaseUntil = clock_timestamp() + make_interval(secs => \(seconds))
                WHERE runId = \(lease.run) AND fence = \(lease.fence) AND holder = \(lease.holder) RETURNING fence
                """, as: (Int64).self, logger: logger)
        }
        guard !renewed.isEmpty else { throw PostgresStoreError.leaseLost(run: lease.run) }
    }

    /// Gives the run back (its fence stays, so the next claim's is higher).
    public func releaseRun(_ lease: RunLease) async throws {
        let logger = logger
        try await statement { connection in
            try await connection.query(
                """
                UPDATE run_lease SET holder = NULL, leaseUntil = NULL
                WHERE runId = \(lease.run) AND fence = \(lease.fence) AND holder = \(lease.holder)
                """, logger: logger)
        }
    }

    /// Inside a transaction: the lease row held shared to its end, so no claim can raise the fence
    /// before the caller's writes commit; `leaseLost` when it was raised already.
    static func checkFence(_ lease: RunLease, _ connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.rows(
            "SELECT fence, holder FROM run_lease WHERE runId = \(lease.run) FOR SHARE", as: (Int64, String?).self, logger: logger)
        guard let row = rows.first, row.0 == lease.fence, row.1 == lease.holder else {
            throw PostgresStoreError.leaseLost(run: lease.run)
        }
    }
}
