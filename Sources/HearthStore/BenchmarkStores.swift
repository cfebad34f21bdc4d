import Foundation
import GRDB

/// Vectors remembered by model and text in a SQLite file of their own (benchmark runs embed
/// each text once, across runs and overlapping haystacks).
public final class EmbeddingCacheFile: Sendable {
    private let queue: DatabaseQueue

    public init(file: URL) throws {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        queue = try DatabaseQueue(path: file.path)
        try queue.write { db in
            try db.execute(
                sql:
                    "CREATE TABLE IF NOT EXISTS embedding (model TEXT NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text))"
            )
        }
    }

    /// The cached vector of each text, nil where there is none.
    public func vectors(model: String, texts: [String]) async throws -> [[Float]?] {
        try await queue.read { db in
            try texts.map { text -> [Float]? in
                guard
                    let data = try Data.fetchOne(
                        db, sql: "SELECT vector FROM embedding WHERE model = ? AND text = ?", arguments: [model, text])
                else { return nil }
                return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            }
        }
    }

    public func save(model: String, _ rows: [(text: String, vector: [Float])]) async throws {
        let blobs = rows.map { ($0.text, $0.vector.withUnsafeBufferPointer { Data(buffer: $0) }) }
        try await queue.write { db in
            for (text, blob) in blobs {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO embedding (model, text, vector) VALUES (?, ?, ?)", arguments: [model, text, blob])
            }
        }
    }
}

/// A read-only look at a Hearth database from outside the daemon (the crash harness audits what
/// survived its SIGKILLs; benchmarks time the integrity check).
public final class DatabaseAudit: Sendable {
    private let queue: DatabaseQueue

    public init(readOnly file: URL) throws {
        var configuration = Configuration()
        configuration.readonly = true
        queue = try DatabaseQueue(path: file.path, configuration: configuration)
    }

    public func close() throws { try queue.close() }

    /// Runs not yet finished (pending or running).
    public func unfinishedRunCount() async throws -> Int {
        try await queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM run WHERE state IN ('pending', 'running')") ?? 0 }
    }

    public struct Snapshot: Sendable {
        public var eventKeys: Set<String>
        /// How many events of a kind carry each value of a payload field.
        public var markerCounts: [String: Int]
        public var runs: [(key: String, state: String)]
        public var stepKeys: [String]
        public var integrity: String
    }

    /// Event keys, counts of `markerField` over events of `markerKind`, runs, step keys and the
    /// integrity check, in one read.
    public func snapshot(markerKind: String, markerField: String) async throws -> Snapshot {
        try await queue.read { db in
            let keys = Set(try String.fetchAll(db, sql: "SELECT key FROM event WHERE key IS NOT NULL"))
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT json_extract(payload, '$.' || ?) AS marker, COUNT(*) AS n FROM event WHERE kind = ? GROUP BY 1",
                arguments: [markerField, markerKind])
            {
                counts[row["marker"]] = row["n"]
            }
            let runs = try Row.fetchAll(db, sql: "SELECT key, state FROM run").map { ($0["key"] as String? ?? "", $0["state"] as String) }
            let steps = try String.fetchAll(db, sql: "SELECT idempotencyKey FROM step")
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
            return Snapshot(eventKeys: keys, markerCounts: counts, runs: runs, stepKeys: steps, integrity: integrity)
        }
    }

    /// `PRAGMA quick_check`'s verdict.
    public func quickCheck() async throws -> String {
        try await queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check").joined(separator: "; ") }
    }
}

/// The spine benchmark's baseline: the journal's table and pragmas written with plain
/// statements — no validation, no dedupe lookup — to show what Hearth's journal costs over it.
public final class RawEventTable: Sendable {
    private let pool: DatabasePool
    private let payload: String

    public init(file: URL, payload: String) async throws {
        pool = try DatabasePool(path: file.path)
        self.payload = payload
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(
                sql: """
                    CREATE TABLE event (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, kind TEXT NOT NULL,
                    key TEXT UNIQUE, payload TEXT NOT NULL, occurredAt INTEGER NOT NULL, receivedAt INTEGER NOT NULL,
                    provenance TEXT NOT NULL)
                    """)
        }
    }

    /// Inserts one event per key, in one transaction.
    public func insert(keys: [String]) async throws {
        let payload = self.payload
        try await pool.write { db in
            for key in keys {
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try db.cachedStatement(
                    sql: "INSERT INTO event (source, kind, key, payload, occurredAt, receivedAt, provenance) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ).execute(arguments: ["bench", "bench.event", key, payload, now, now, "trusted"])
            }
        }
    }

    public func close() throws { try pool.close() }
}
