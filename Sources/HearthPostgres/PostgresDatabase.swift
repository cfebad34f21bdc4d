import Foundation
import HearthCore
import Logging
import PostgresNIO
import Synchronization

/// Why Hearth cannot use a PostgreSQL store, in words a user can act on.
public enum PostgresStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case badURL(String, reason: String)
    case unreachable(host: String, port: Int, database: String, detail: String)
    case newerSchema(found: Int, known: Int)
    case failed(String)
    /// This holder's lease on a goal run ran out and another took the run (or the server could
    /// not be reached to renew it for a whole lease).
    case leaseLost(run: Int64)

    public var description: String {
        switch self {
        case .badURL(let url, let reason):
            "[store] url \"\(url)\" is not usable: \(reason); write it as postgresql://USER@HOST:PORT/DATABASE"
        case .unreachable(let host, let port, let database, let detail):
            "PostgreSQL at \(host):\(port) (database \(database)) is unreachable: \(detail). Check that the server runs "
                + "('pg_ctl status' or 'systemctl status postgresql'), that it listens on \(host):\(port) (listen_addresses, port "
                + "in postgresql.conf) and that pg_hba.conf lets this user in"
        case .newerSchema(let found, let known):
            "the PostgreSQL store was written by a newer Hearth (schema \(found), this one knows up to \(known)); "
                + "upgrade Hearth — it never downgrades a schema"
        case .failed(let detail): "PostgreSQL: \(detail)"
        case .leaseLost(let run):
            "PostgreSQL: the lease on goal run \(run) was lost (it ran out and another daemon took the run, or the server could "
                + "not be reached to renew it), so nothing more is recorded for it here; the run resumes from its journal with its new holder"
        }
    }
}

/// Where a PostgreSQL store is, read from `[store] url` (`postgresql://USER@HOST:PORT/DATABASE`).
/// The password is never in the URL: it comes from a 0600 file or the vault.
public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var database: String

    public init(host: String, port: Int, user: String, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
    }

    public static func parse(_ text: String) throws(PostgresStoreError) -> PostgresLocation {
        guard let url = URLComponents(string: text), ["postgresql", "postgres"].contains(url.scheme ?? "") else {
            throw .badURL(text, reason: "it does not start with postgresql://")
        }
        guard url.password == nil else {
            throw .badURL(text, reason: "it carries a password; keep the password out of the config (a 0600 file or the vault)")
        }
        guard let host = url.host, !host.isEmpty else { throw .badURL(text, reason: "it names no host") }
        guard let user = url.user, !user.isEmpty else { throw .badURL(text, reason: "it names no user") }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw .badURL(text, reason: "it names no database") }
        return PostgresLocation(host: host, port: url.port ?? 5432, user: user, database: database)
    }
}

extension PostgresLocation {
    /// The password in `[store] password_file`: the file's first line, refused when others may
    /// read it (with the command that fixes it).
    public static func password(fromFile path: String) throws(PostgresStoreError) -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let attributes, let data = FileManager.default.contents(atPath: path) else {
            throw .failed("[store] password_file \(path) cannot be read")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        guard mode & 0o077 == 0 else {
            throw .failed(
                "[store] password_file \(path) can be read by others (mode \(String(mode, radix: 8))); run 'chmod 600 \(path)' and start again"
            )
        }
        let password = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !password.isEmpty else { throw .failed("[store] password_file \(path) is empty") }
        return password
    }

    /// The URL again (it never carries a password).
    public var url: String { "postgresql://\(user)@\(host):\(port)/\(database)" }
}

/// One PostgreSQL store: a connection pool, its schema brought up to date when opened.
/// Migrations only ever append; a schema newer than this Hearth knows is refused.
public final class PostgresStore: Sendable {
    public let client: PostgresClient
    public let location: PostgresLocation
    let logger: Logger
    private let runner: Task<Void, Never>
    /// Who waits for which pooled connection to close (one close callback per connection).
    private let watch = ConnectionWatch()

    private init(client: PostgresClient, location: PostgresLocation, logger: Logger) {
        self.client = client
        self.location = location
        self.logger = logger
        runner = Task { await client.run() }
    }

    /// Connects (checking that the server answers within `timeout`) and migrates.
    public static func open(
        _ location: PostgresLocation, password: String? = nil, logger: Logger = Logger(label: "hearth.postgres"),
        timeout: Duration = .seconds(10)
    ) async throws(PostgresStoreError) -> PostgresStore {
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: password, database: location.database,
            tls: .disable)
        configuration.options.connectTimeout = timeout
        let database = PostgresStore(
            client: PostgresClient(configuration: configuration, backgroundLogger: logger), location: location, logger: logger)
        do {
            try await database.reachable(within: timeout)
            try await database.migrate()
        } catch {
            database.close()
            throw error
        }
        return database
    }

    /// Stops the pool.
    public func close() { runner.cancel() }

    /// Pooled connections whose close is watched, and the queries waiting on them now.
    public var watchedConnections: (connections: Int, waiters: Int) { watch.counts }

    /// Makes a new, empty database named `prefix` and a random suffix on the server at `base`
    /// (whose user must be allowed to create databases) and returns where it is: benchmarks and
    /// tests get a store of their own.
    /// - Parameter template: a database to copy (already migrated: no migration runs then on the copy's first open).
    public static func createDatabase(
        on base: PostgresLocation, prefix: String, password: String? = nil, template: String? = nil, timeout: Duration = .seconds(10)
    ) async throws -> PostgresLocation {
        let admin = try await open(base, password: password, timeout: timeout)
        defer { admin.close() }
        let name = "\(prefix)_\(UInt64.random(in: 1...UInt64.max))"
        guard (name + (template ?? "")).allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw PostgresStoreError.failed("a database name is letters, digits and _; \"\(prefix)\" is not")
        }
        let copy = template.map { " TEMPLATE \($0)" } ?? ""
        try await admin.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)\(copy)"), logger: admin.logger)
        var location = base
        location.database = name
        return location
    }

    /// Drops a database `createDatabase` made, whoever is still connected to it.
    public static func dropDatabase(_ location: PostgresLocation, on base: PostgresLocation, password: String? = nil) async throws {
        let admin = try await open(base, password: password)
        defer { admin.close() }
        try await admin.client.query(
            PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(location.database) WITH (FORCE)"), logger: admin.logger)
    }

    /// Runs `body` in a transaction on a connection of the pool: committed when it returns,
    /// rolled back when it throws (its own error is what the caller sees). A connection the server
    /// closed meanwhile (a transaction ended for idling too long, a restart) is closed on our side
    /// too, never queried again: postgres-nio 1.33 waits forever for an answer on it.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            do {
                return try await self.untilClosed(connection) {
                    try await connection.query("BEGIN", logger: self.logger)
                    let value = try await body(connection)
                    try Self.requireOpen(connection)
                    try await connection.query("COMMIT", logger: self.logger)
                    return value
                }
            } catch {
                if connection.isClosed {
                    // Not given back before the pool has seen it close: `isClosed` turns true before
                    // the close callbacks run, and a pool that had not run its own would lend it out again.
                    try? await connection.closeFuture.get()
                } else {
                    _ = try? await connection.query("ROLLBACK", logger: self.logger)
                }
                throw Self.described(error)
            }
        }
    }

    /// Runs `body`'s one statement on a connection of the pool, committed on its own (one round
    /// trip where a transaction takes four), with the same guards as `read`.
    func statement<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await read(body)
    }

    /// Runs `body` on a connection of the pool, outside a transaction (a read). A connection the
    /// server closed meanwhile goes back to the pool only once the pool has seen it close.
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            do {
                return try await self.untilClosed(connection) { try await body(connection) }
            } catch {
                if connection.isClosed { try? await connection.closeFuture.get() }
                throw Self.described(error)
            }
        }
    }

    /// Runs `work` on `connection`, or gives up with an error as soon as the connection closes
    /// first. postgres-nio 1.33 can leave a query sent while the server goes away unanswered
    /// forever (seen when PostgreSQL restarts under a daemon's load): whatever waited for it — an
    /// HTTP request, a service's loop, the daemon's shutdown behind them — would wait forever too.
    /// The abandoned work stays suspended with its connection, which is gone; the server rolled
    /// its transaction back. Cancelling the caller cancels the work.
    func untilClosed<T: Sendable>(_ connection: PostgresConnection, _ work: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        let outcome = FirstOutcome<T>()
        let watch = watch
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                outcome.wait(continuation)
                let token = watch.add(connection) {
                    outcome.finish(
                        .failure(PostgresStoreError.failed("the server closed the connection before answering; nothing was recorded")))
                }
                outcome.start {
                    let result: Result<T, any Error>
                    do {
                        result = .success(try await work())
                    } catch {
                        result = .failure(error)
                    }
                    watch.remove(connection, token)
                    outcome.finish(result)
                }
            }
        } onCancel: {
            outcome.cancel()
        }
    }

    /// Refuses to go on with a connection the server closed.
    static func requireOpen(_ connection: PostgresConnection) throws(PostgresStoreError) {
        guard !connection.isClosed else {
            throw .failed("the server closed the connection in the middle of a transaction; nothing of it was committed")
        }
    }

    private func reachable(within timeout: Duration) async throws(PostgresStoreError) {
        let client = client
        let outcome = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    try await client.query("SELECT 1")
                    return nil
                } catch {
                    return Self.explain(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return "no answer within \(timeout.components.seconds) s"
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if let detail = outcome {
            throw .unreachable(host: location.host, port: location.port, database: location.database, detail: detail)
        }
    }

    /// The driver's errors describe themselves only as "Generic description to prevent accidental
    /// leakage": what the logs and the user see says what the server or the network said instead.
    static func described(_ error: any Error) -> any Error {
        guard error is PSQLError else { return error }
        return PostgresStoreError.failed(explain(error))
    }

    /// What went wrong, without the driver's type names when it said more.
    static func explain(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }

    private func migrate() async throws(PostgresStoreError) {
        do {
            try await transaction { connection in
                // One Hearth migrates at a time; the others wait here and then find nothing to do.
                try await connection.query("SELECT pg_advisory_xact_lock(7352001)", logger: self.logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS hearth_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, appliedAt BIGINT NOT NULL)",
                    logger: self.logger)
                var current = 0
                for try await version in try await connection.query(
                    "SELECT COALESCE(MAX(version), 0) FROM hearth_schema", logger: self.logger
                )
                .decode(Int.self) {
                    current = version
                }
                guard current <= PostgresSchema.migrations.count else {
                    throw PostgresStoreError.newerSchema(found: current, known: PostgresSchema.migrations.count)
                }
                for (index, migration) in PostgresSchema.migrations.enumerated() where index + 1 > current {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                    }
                    let version = index + 1
                    let name = migration.name
                    let now = Date().millisecondsSince1970
                    try await connection.query(
                        "INSERT INTO hearth_schema (version, name, appliedAt) VALUES (\(version), \(name), \(now))", logger: self.logger)
                }
            }
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw .failed("migrating the schema: \(Self.explain(error))")
        }
    }
}

/// The PostgreSQL schema, as append-only migrations (never edit one that shipped).
enum PostgresSchema {
    struct Migration {
        var name: String
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(
            name: "v1-journal",
            statements: [
                """
                CREATE TABLE event (
                    id BIGSERIAL PRIMARY KEY,
                    source TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    key TEXT UNIQUE,
                    payload TEXT NOT NULL,
                    occurredAt BIGINT NOT NULL,
                    receivedAt BIGINT NOT NULL,
                    provenance TEXT NOT NULL
                )
                """,
                "CREATE INDEX event_source ON event (source, id)",
                "CREATE INDEX event_kind ON event (kind, id)",
            ]),
        Migration(
            name: "v2-work",
            statements: [
                // Shared work claimed under leases; the fence rises with every claim.
                """
                CREATE TABLE work (
                    id BIGSERIAL PRIMARY KEY,
                    kind TEXT NOT NULL,
                    key TEXT NOT NULL UNIQUE,
                    payload TEXT NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending',
                    holder TEXT,
                    fence BIGINT NOT NULL DEFAULT 0,
                    leaseUntil TIMESTAMPTZ,
                    result TEXT,
                    createdAt TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                    doneAt TIMESTAMPTZ,
                    doneFence BIGINT
                )
                """,
                "CREATE INDEX work_open ON work (kind, id) WHERE state <> 'done'",
                // Every claim, for the audit: who held which fence from when.
                """
                CREATE TABLE work_claim (
                    item BIGINT NOT NULL REFERENCES work(id),
                    fence BIGINT NOT NULL,
                    holder TEXT NOT NULL,
                    claimedAt TIMESTAMPTZ NOT NULL,
                    PRIMARY KEY (item, fence)
                )
                """,
                """
                CREATE TABLE work_step (
                    item BIGINT NOT NULL REFERENCES work(id),
                    number INTEGER NOT NULL,
                    fence BIGINT NOT NULL,
                    holder TEXT NOT NULL,
                    result TEXT NOT NULL,
                    recordedAt TIMESTAMPTZ NOT NULL,
                    PRIMARY KEY (item, number)
                )
                """,
                """
                CREATE TABLE cron_slot (
                    schedule TEXT NOT NULL,
                    slot BIGINT NOT NULL,
                    holder TEXT NOT NULL,
                    firedAt TIMESTAMPTZ NOT NULL,
                    result TEXT NOT NULL,
                    PRIMARY KEY (schedule, slot)
                )
                """,
            ]),
        Migration(
            name: "v3-journal-cursor",
            statements: [
                // How far each follower of the journal has read and handled, kept across restarts.
                "CREATE TABLE journal_cursor (follower TEXT PRIMARY KEY, position BIGINT NOT NULL, updatedAt TIMESTAMPTZ NOT NULL)"
            ]),
        Migration(
            name: "v4-fleet",
            statements: [
                // Agent identities (keys by state) and the agents' signed messages with each verdict.
                """
                CREATE TABLE fleet_member (
                    name TEXT PRIMARY KEY,
                    role TEXT NOT NULL,
                    joinedAt BIGINT NOT NULL,
                    lastSeen BIGINT,
                    revokedAt BIGINT
                )
                """,
                """
                CREATE TABLE fleet_key (
                    publicKey TEXT PRIMARY KEY,
                    agent TEXT NOT NULL REFERENCES fleet_member(name),
                    state TEXT NOT NULL,
                    retiresAt BIGINT,
                    addedAt BIGINT NOT NULL
                )
                """,
                "CREATE INDEX fleet_key_agent ON fleet_key (agent)",
                """
                CREATE TABLE fleet_message (
                    id BIGSERIAL PRIMARY KEY,
                    sender TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    nonce TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    sentAt BIGINT NOT NULL,
                    checkedAt BIGINT,
                    accepted BOOLEAN,
                    reason TEXT
                )
                """,
                "CREATE INDEX fleet_message_waiting ON fleet_message (recipient, checkedAt)",
                // A nonce is accepted once, whichever daemon checks it.
                "CREATE UNIQUE INDEX fleet_message_accepted_nonce ON fleet_message (nonce) WHERE accepted",
            ]),
        Migration(
            name: "v5-goals",
            statements: [
                // The goal runtime, as in SQLite: a goal's run is a row of `run` (origin "goal").
                // Times are integer milliseconds since 1970, as there.
                """
                CREATE TABLE run (
                    id BIGSERIAL PRIMARY KEY,
                    title TEXT NOT NULL,
                    origin TEXT NOT NULL,
                    key TEXT UNIQUE,
                    state TEXT NOT NULL,
                    createdAt BIGINT NOT NULL,
                    updatedAt BIGINT NOT NULL
                )
                """,
                "CREATE INDEX run_state ON run (state)",
                """
                CREATE TABLE goal (
                    runId BIGINT PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
                    text TEXT NOT NULL,
                    plan TEXT,
                    budget TEXT NOT NULL,
                    usage TEXT NOT NULL,
                    pauseReason TEXT,
                    report TEXT,
                    summary TEXT,
                    workspace TEXT
                )
                """,
                """
                CREATE TABLE plan_task (
                    runId BIGINT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    taskId TEXT NOT NULL,
                    position BIGINT NOT NULL,
                    body TEXT NOT NULL,
                    state TEXT NOT NULL,
                    result TEXT,
                    error TEXT,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    updatedAt BIGINT NOT NULL,
                    PRIMARY KEY (runId, taskId)
                )
                """,
                // Each tool call of a task: the intent before it runs, the outcome after.
                """
                CREATE TABLE task_action (
                    runId BIGINT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    taskId TEXT NOT NULL,
                    position BIGINT NOT NULL,
                    tool TEXT NOT NULL,
                    arguments TEXT NOT NULL,
                    idempotencyKey TEXT NOT NULL UNIQUE,
                    state TEXT NOT NULL,
                    output TEXT,
                    error TEXT,
                    startedAt BIGINT NOT NULL,
                    finishedAt BIGINT,
                    PRIMARY KEY (runId, taskId, position)
                )
                """,
                """
                CREATE TABLE trace (
                    id BIGSERIAL PRIMARY KEY,
                    runId BIGINT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    taskId TEXT,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    promptTokens BIGINT,
                    completionTokens BIGINT,
                    milliseconds BIGINT,
                    at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX trace_run ON trace (runId, id)",
                """
                CREATE TABLE approval (
                    id BIGSERIAL PRIMARY KEY,
                    runId BIGINT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    taskId TEXT NOT NULL,
                    position BIGINT NOT NULL,
                    tool TEXT NOT NULL,
                    risk TEXT NOT NULL,
                    arguments TEXT NOT NULL,
                    origins TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    hash TEXT NOT NULL,
                    state TEXT NOT NULL,
                    createdAt BIGINT NOT NULL,
                    expiresAt BIGINT NOT NULL,
                    decidedAt BIGINT,
                    note TEXT,
                    UNIQUE (runId, taskId, position)
                )
                """,
                "CREATE INDEX approval_state ON approval (state)",
            ]),
        Migration(
            name: "v6-ledger",
            statements: [
                // The work ledger's steps, claimed under a lease by one daemon (holder, leaseUntil).
                """
                CREATE TABLE step (
                    id BIGSERIAL PRIMARY KEY,
                    runId BIGINT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    position BIGINT NOT NULL,
                    effect TEXT NOT NULL,
                    arguments TEXT NOT NULL,
                    idempotencyKey TEXT NOT NULL UNIQUE,
                    idempotent BOOLEAN NOT NULL,
                    state TEXT NOT NULL,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    result TEXT,
                    error TEXT,
                    updatedAt BIGINT NOT NULL,
                    holder TEXT,
                    leaseUntil BIGINT,
                    UNIQUE (runId, position)
                )
                """,
                "CREATE INDEX step_state ON step (state)",
                // Written before an effect starts, in the transaction that marks the step running.
                """
                CREATE TABLE intent (
                    idempotencyKey TEXT NOT NULL,
                    attempt BIGINT NOT NULL,
                    stepId BIGINT NOT NULL REFERENCES step(id) ON DELETE CASCADE,
                    recordedAt BIGINT NOT NULL,
                    PRIMARY KEY (idempotencyKey, attempt)
                )
                """,
                // Written after the effect returns, in the transaction that finishes the step.
                """
                CREATE TABLE result (
                    idempotencyKey TEXT NOT NULL,
                    attempt BIGINT NOT NULL,
                    stepId BIGINT NOT NULL REFERENCES step(id) ON DELETE CASCADE,
                    succeeded BOOLEAN NOT NULL,
                    output TEXT,
                    error TEXT,
                    recordedAt BIGINT NOT NULL,
                    PRIMARY KEY (idempotencyKey, attempt)
                )
                """,
            ]),
        Migration(
            name: "v7-memory",
            statements: [
                // Episodic memory. `position` orders records within (source, sessionId); `spoken`
                // is the text as said (with its speaker) and `context` the record with two
                // neighbours either side, both searchable as full text.
                """
                CREATE TABLE memory_record (
                    id BIGSERIAL PRIMARY KEY,
                    kind TEXT NOT NULL,
                    text TEXT NOT NULL,
                    source TEXT NOT NULL,
                    provenance TEXT NOT NULL,
                    occurredAt BIGINT NOT NULL,
                    recordedAt BIGINT NOT NULL,
                    sessionId TEXT,
                    position BIGINT,
                    runId BIGINT,
                    speaker TEXT,
                    importance DOUBLE PRECISION NOT NULL,
                    normalized TEXT NOT NULL,
                    spoken TEXT NOT NULL,
                    context TEXT NOT NULL,
                    spokenSearch TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', spoken)) STORED,
                    contextSearch TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', context)) STORED
                )
                """,
                "CREATE INDEX memory_record_session ON memory_record (source, sessionId, position)",
                "CREATE INDEX memory_record_occurred ON memory_record (occurredAt)",
                "CREATE INDEX memory_record_normalized ON memory_record (normalized)",
                "CREATE INDEX memory_record_spoken_search ON memory_record USING GIN (spokenSearch)",
                "CREATE INDEX memory_record_context_search ON memory_record USING GIN (contextSearch)",
                "CREATE TABLE memory_session (source TEXT NOT NULL, sessionId TEXT NOT NULL, PRIMARY KEY (source, sessionId))",
                // Embeddings, little-endian float32; each daemon's in-memory index is built from here.
                """
                CREATE TABLE memory_vector (
                    recordId BIGINT NOT NULL REFERENCES memory_record(id) ON DELETE CASCADE,
                    field TEXT NOT NULL,
                    model TEXT NOT NULL,
                    vector BYTEA NOT NULL,
                    PRIMARY KEY (recordId, field)
                )
                """,
                """
                CREATE TABLE memory_vector_pending (
                    recordId BIGINT NOT NULL REFERENCES memory_record(id) ON DELETE CASCADE,
                    field TEXT NOT NULL,
                    PRIMARY KEY (recordId, field)
                )
                """,
                // Bi-temporal facts: world validity and system time; contradiction invalidates, never deletes.
                """
                CREATE TABLE fact (
                    id BIGSERIAL PRIMARY KEY,
                    kind TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    predicate TEXT NOT NULL,
                    object TEXT NOT NULL,
                    slot TEXT NOT NULL,
                    validFrom BIGINT,
                    validTo BIGINT,
                    recordedAt BIGINT NOT NULL,
                    invalidatedAt BIGINT,
                    invalidatedBy BIGINT,
                    sourceRecordId BIGINT,
                    provenance TEXT NOT NULL,
                    confidence DOUBLE PRECISION NOT NULL,
                    status TEXT NOT NULL
                )
                """,
                "CREATE INDEX fact_slot ON fact (slot)",
                "CREATE INDEX fact_source ON fact (sourceRecordId) WHERE sourceRecordId IS NOT NULL",
                "CREATE TABLE memory_cursor (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
                "CREATE TABLE memory_report (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, at BIGINT NOT NULL, detail TEXT NOT NULL)",
            ]),
        Migration(
            name: "v8-usage",
            statements: [
                // One row per model call: what it cost, how fast it ran, whom it was for.
                """
                CREATE TABLE usage (
                    id BIGSERIAL PRIMARY KEY,
                    at BIGINT NOT NULL,
                    provider TEXT NOT NULL,
                    model TEXT NOT NULL,
                    purpose TEXT NOT NULL,
                    runId BIGINT,
                    goalId TEXT,
                    promptTokens BIGINT NOT NULL,
                    completionTokens BIGINT NOT NULL,
                    cachedPromptTokens BIGINT NOT NULL,
                    prefillTokensPerSecond DOUBLE PRECISION,
                    decodeTokensPerSecond DOUBLE PRECISION,
                    latencyMs BIGINT NOT NULL,
                    costMicrodollars BIGINT NOT NULL,
                    succeeded BOOLEAN NOT NULL,
                    error TEXT
                )
                """,
                "CREATE INDEX usage_at ON usage (at)",
                "CREATE INDEX usage_run ON usage (runId) WHERE runId IS NOT NULL",
                "CREATE INDEX usage_goal ON usage (goalId) WHERE goalId IS NOT NULL",
            ]),
        Migration(
            name: "v9-schedules",
            statements: [
                """
                CREATE TABLE schedule (
                    name TEXT PRIMARY KEY,
                    expression TEXT NOT NULL,
                    timeZone TEXT,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    nextFireAt BIGINT,
                    lastFiredAt BIGINT,
                    createdAt BIGINT NOT NULL
                )
                """
            ]),
        Migration(
            name: "v10-routines",
            statements: [
                "CREATE TABLE routine (name TEXT PRIMARY KEY, definition TEXT NOT NULL)",
                """
                CREATE TABLE routine_pending (
                    routine TEXT NOT NULL REFERENCES routine(name) ON DELETE CASCADE,
                    eventId BIGINT NOT NULL,
                    heldAt BIGINT NOT NULL,
                    PRIMARY KEY (routine, eventId)
                )
                """,
                """
                CREATE TABLE routine_firing (
                    id BIGSERIAL PRIMARY KEY,
                    routine TEXT NOT NULL,
                    runId BIGINT,
                    firedAt BIGINT NOT NULL,
                    events TEXT NOT NULL
                )
                """,
                "CREATE INDEX routine_firing_by_routine ON routine_firing (routine, firedAt)",
            ]),
        Migration(
            name: "v11-chat",
            statements: [
                // Chat sessions; their turns are memory records (source "chat", this session id).
                "CREATE TABLE chat_session (id TEXT PRIMARY KEY, title TEXT NOT NULL, createdAt BIGINT NOT NULL, updatedAt BIGINT NOT NULL)",
                // Goals started from a conversation, and the last state the session was told of.
                "CREATE TABLE chat_run (runId BIGINT PRIMARY KEY, sessionId TEXT NOT NULL, toldState TEXT)",
                "CREATE INDEX chat_run_session ON chat_run (sessionId)",
            ]),
        Migration(
            name: "v12-attention",
            statements: [
                // One row per ingested journal event: the scorer's decision, the memory record it
                // became, and whether the user acknowledged it (the inbox).
                """
                CREATE TABLE attention_item (
                    eventId BIGINT PRIMARY KEY,
                    source TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    occurredAt BIGINT NOT NULL,
                    decidedAt BIGINT NOT NULL,
                    level TEXT NOT NULL,
                    decision TEXT NOT NULL,
                    links TEXT NOT NULL,
                    memoryRecordId BIGINT,
                    acknowledgedAt BIGINT
                )
                """,
                "CREATE INDEX attention_item_decided ON attention_item (decidedAt)",
                "CREATE INDEX attention_item_inbox ON attention_item (level, acknowledgedAt)",
                """
                CREATE TABLE delivery (
                    eventId BIGINT NOT NULL,
                    channel TEXT NOT NULL,
                    state TEXT NOT NULL,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    lastError TEXT,
                    nextAttemptAt BIGINT NOT NULL,
                    deliveredAt BIGINT,
                    PRIMARY KEY (eventId, channel)
                )
                """,
                "CREATE INDEX delivery_due ON delivery (state, nextAttemptAt)",
                // Where position-keeping sources got to (a repository's branch tips, a metric file's rows).
                "CREATE TABLE source_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
                // What each file watcher has already reported, per watched tree (its scope names the machine).
                """
                CREATE TABLE file_index (
                    scope TEXT NOT NULL,
                    path TEXT NOT NULL,
                    size BIGINT NOT NULL,
                    modifiedNs BIGINT NOT NULL,
                    inode BIGINT NOT NULL,
                    PRIMARY KEY (scope, path)
                )
                """,
            ]),
        Migration(
            name: "v13-chat-summary",
            statements: [
                // A session's model-written summary of its older turns (up to and including `through`).
                """
                CREATE TABLE chat_summary (
                    sessionId TEXT PRIMARY KEY,
                    text TEXT NOT NULL,
                    through BIGINT NOT NULL,
                    turns BIGINT NOT NULL,
                    writtenAt BIGINT NOT NULL
                )
                """
            ]),
        Migration(
            name: "v14-vector-clock",
            statements: [
                // Saves of vectors are numbered as they commit (the clock's row is locked until
                // then), so every daemon's in-memory index follows the vectors others save.
                "ALTER TABLE memory_vector ADD COLUMN seq BIGINT NOT NULL DEFAULT 0",
                "CREATE INDEX memory_vector_seq ON memory_vector (seq)",
                "CREATE TABLE memory_clock (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
                "INSERT INTO memory_clock (name, value) VALUES ('vector', 0)",
                // Texts waiting for a vector are claimed for a while by the daemon embedding them,
                // so the fleet does not embed each text once per daemon.
                "ALTER TABLE memory_vector_pending ADD COLUMN claimedUntil BIGINT",
            ]),
        Migration(
            name: "v15-run-lease",
            statements: [
                // Who works on a goal run, until when (the server's clock), under which fence: a
                // takeover raises the fence, and the run's writes are checked against it.
                """
                CREATE TABLE run_lease (
                    runId BIGINT PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
                    holder TEXT,
                    fence BIGINT NOT NULL,
                    leaseUntil TIMESTAMPTZ,
                    claimedAt TIMESTAMPTZ NOT NULL
                )
                """,
                // Every claim, for the record (takeovers are the claims with a fence above 1).
                """
                CREATE TABLE run_claim (
                    runId BIGINT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    fence BIGINT NOT NULL,
                    holder TEXT NOT NULL,
                    claimedAt TIMESTAMPTZ NOT NULL,
                    PRIMARY KEY (runId, fence)
                )
                """,
                // The fence each tool call's intent and outcome were recorded under.
                "ALTER TABLE task_action ADD COLUMN fence BIGINT",
            ]),
    ]
}

extension PostgresConnection {
    /// Every row `query` returns, decoded as `columns`.
    func rows<each Column: PostgresDecodable>(_ query: PostgresQuery, as columns: (repeat each Column).Type, logger: Logger)
        async throws -> [(repeat each Column)]
    {
        var rows: [(repeat each Column)] = []
        for try await row in try await self.query(query, logger: logger) {
            do {
                rows.append(try row.decode(columns))
            } catch let error as PostgresDecodingError {
                // The driver's own text hides which column and types did not fit.
                throw PostgresStoreError.failed(
                    "a row of \"\(query.sql.prefix(120))\" does not fit column \(error.columnIndex) (\(error.columnName)): the store has "
                        + "\(error.postgresType), Hearth reads \(error.targetType)")
            }
        }
        return rows
    }
}

/// A statement put together in pieces, each value bound as a parameter (`$1`, `$2`, …): for
/// conditions and multi-row inserts whose shape depends on the input.
struct SQLBuilder {
    private(set) var sql = ""
    private(set) var binds = PostgresBindings()
    private var count = 0

    init(_ sql: String = "") {
        self.sql = sql
    }

    mutating func append(_ text: String) {
        sql += text
    }

    /// Binds `value` and returns its placeholder.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value?) -> String {
        binds.append(value)
        count += 1
        return "$\(count)"
    }

    /// Binds bytes (`bytea`) and returns their placeholder.
    mutating func bind(_ data: Data) throws -> String {
        try binds.append(data)
        count += 1
        return "$\(count)"
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}

/// The first of several outcomes resumes the waiter; the later ones are dropped.
private final class FirstOutcome<T: Sendable>: Sendable {
    private let state = Mutex<(waiter: CheckedContinuation<T, any Error>?, work: Task<Void, Never>?, cancelled: Bool)>(
        (nil, nil, false))

    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.waiter = continuation }
    }

    func start(_ operation: @escaping @Sendable () async -> Void) {
        let task = Task { await operation() }
        let cancelled = state.withLock { state in
            state.work = task
            return state.cancelled
        }
        if cancelled { task.cancel() }
    }

    func finish(_ result: Result<T, any Error>) {
        state.withLock { state in
            defer { state.waiter = nil }
            return state.waiter
        }?.resume(with: result)
    }

    func cancel() {
        state.withLock { state in
            state.cancelled = true
            return state.work
        }?.cancel()
    }
}

/// The close of each pooled connection, watched with one callback per connection however many
/// queries wait on it (a callback per query would pile up on a connection that lives for days).
final class ConnectionWatch: Sendable {
    private struct State {
        var next: UInt64 = 0
        var waiting: [ObjectIdentifier: [UInt64: @Sendable () -> Void]] = [:]
    }
    private let state = Mutex(State())

    /// Calls `onClose` when `connection` closes (at once if it has), unless removed first.
    func add(_ connection: PostgresConnection, onClose: @escaping @Sendable () -> Void) -> UInt64 {
        let id = ObjectIdentifier(connection)
        let (token, first) = state.withLock { state in
            state.next += 1
            let first = state.waiting[id] == nil
            state.waiting[id, default: [:]][state.next] = onClose
            return (state.next, first)
        }
        if first {
            connection.closeFuture.whenComplete { _ in
                let waiting = self.state.withLock { $0.waiting.removeValue(forKey: id) } ?? [:]
                for onClose in waiting.values { onClose() }
            }
        }
        return token
    }

    func remove(_ connection: PostgresConnection, _ token: UInt64) {
        state.withLock { _ = $0.waiting[ObjectIdentifier(connection)]?.removeValue(forKey: token) }
    }

    /// Connections watched, and waiters on them (for tests).
    var counts: (connections: Int, waiters: Int) {
        state.withLock { state in (state.waiting.count, state.waiting.values.reduce(0) { $0 + $1.count }) }
    }
}
