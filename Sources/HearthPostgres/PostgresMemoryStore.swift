import Foundation
import HearthCore
import Logging
import PostgresNIO

/// Memory in the shared PostgreSQL: records with their full text (`tsvector`, the 'simple'
/// configuration: lower-cased words, no stemming, like SQLite's unicode61), vectors and facts.
/// The same contract as `MemorySQLStore`; keyword ranking is PostgreSQL's `ts_rank`, not BM25.
public struct PostgresMemoryStore: MemoryStore {
    let database: PostgresStore
    /// How long texts handed out by `pendingVectors` stay another daemon's to embed; a daemon
    /// that dies with them leaves them to the others after that.
    public var claimSeconds: Int64 = 60

    public init(database: PostgresStore) {
        self.database = database
    }

    var logger: Logger { database.logger }

    /// A context vector embeds its record with this many records either side (by position);
    /// the full-text context reaches two either side (as in SQLite).
    static let vectorContextReach: Int64 = 1
    /// Records per insert statement (13 parameters each, under PostgreSQL's 65,535).
    static let insertBatch = 1_000

    static let recordColumns =
        "r.id, r.kind, r.text, r.source, r.provenance, r.occurredAt, r.recordedAt, r.sessionId, r.runId, r.speaker, r.importance"
    typealias RecordColumns = (Int64, String, String, String, String, Int64, Int64, String?, Int64?, String?, Double)

    struct SessionKey: Hashable {
        var source: String
        var sessionID: String
    }

    // MARK: Records

    public func insert(_ records: [MemoryRecord]) async throws -> [MemoryRecord] {
        guard !records.isEmpty else { return [] }
        let logger = logger
        return try await database.transaction { connection in try await Self.insert(records, connection, logger: logger) }
    }

    /// Stores records inside the caller's transaction (attention ingestion commits them with its decisions).
    static func insert(_ records: [MemoryRecord], _ connection: PostgresConnection, logger: Logger) async throws -> [MemoryRecord] {
        guard !records.isEmpty else { return [] }
        // One inserter at a time, fleet-wide: positions within a session are not given twice,
        // and ids commit in order, so a reader following the records by id (each daemon's
        // keyword index) never passes one that commits later.
        try await connection.query("SELECT pg_advisory_xact_lock(7352004)", logger: logger)
        let keys = Set(records.compactMap { record in record.sessionID.map { SessionKey(source: record.source, sessionID: $0) } })
        var nextPosition: [SessionKey: Int64] = [:]
        if !keys.isEmpty {
            let sources = keys.map(\.source)
            let sessions = keys.map(\.sessionID)
            for (source, session, last) in try await connection.rows(
                """
                SELECT m.source, m.sessionId, COALESCE(MAX(r.position), -1)
                FROM unnest(\(sources)::text[], \(sessions)::text[]) AS m(source, sessionId)
                LEFT JOIN memory_record r ON r.source = m.source AND r.sessionId = m.sessionId
                GROUP BY m.source, m.sessionId
                """, as: (String, String, Int64).self, logger: logger)
            {
                nextPosition[SessionKey(source: source, sessionID: session)] = last + 1
            }
        }
        // Ids drawn in one go, ascending, so a batch keeps its order.
        let drawn: [Int64] = try await connection.rows(
            "SELECT nextval('memory_record_id_seq') FROM generate_series(1, \(records.count))", as: (Int64).self, logger: logger)
        let ids = drawn.sorted()
        var stored: [MemoryRecord] = []
        var positions: [Int64?] = []
        var touched: [SessionKey: Set<Int64>] = [:]
        for (record, id) in zip(records, ids) {
            var record = record
            record.id = id
            var position: Int64?
            if let sessionID = record.sessionID {
                let key = SessionKey(source: record.source, sessionID: sessionID)
                let next = nextPosition[key] ?? 0
                position = next
                nextPosition[key] = next + 1
                touched[key, default: []].insert(next)
            }
            stored.append(record)
            positions.append(position)
        }
        for start in stride(from: 0, to: stored.count, by: Self.insertBatch) {
            let end = min(stored.count, start + Self.insertBatch)
            var insert = SQLBuilder(
                """
                INSERT INTO memory_record (id, kind, text, source, provenance, occurredAt, recordedAt, sessionId, position, runId,
                    speaker, importance, normalized, spoken, context) VALUES
                """)
            for index in start..<end {
                let record = stored[index]
                let spoken = record.spokenText
                let values = [
                    insert.bind(record.id), insert.bind(record.kind.rawValue), insert.bind(record.text), insert.bind(record.source),
                    insert.bind(record.provenance.rawValue), insert.bind(record.occurredAt.millisecondsSince1970),
                    insert.bind(record.recordedAt.millisecondsSince1970), insert.bind(record.sessionID), insert.bind(positions[index]),
                    insert.bind(record.runID), insert.bind(record.speaker), insert.bind(min(1, max(0, record.importance))),
                    insert.bind(MemoryText.normalise(record.text)), insert.bind(spoken),
                ]
                // The context starts as the record itself; `rebuildContext` widens it to its neighbours.
                insert.append("\(index == start ? "" : ",") (\(values.joined(separator: ", ")), \(values[13]))")
            }
            try await connection.query(insert.query, logger: logger)
        }
        try await connection.query(
            """
            INSERT INTO memory_vector_pending (recordId, field) SELECT id, 'text' FROM unnest(\(ids)::bigint[]) AS id
            ON CONFLICT DO NOTHING
            """, logger: logger)
        for (key, changed) in touched.sorted(by: { ($0.key.source, $0.key.sessionID) < ($1.key.source, $1.key.sessionID) }) {
            try await Self.rebuildContext(of: key, changed: changed, connection, logger: logger)
            try await Self.refreshSession(key, connection, logger: logger)
        }
        return stored
    }

    /// Brings a session's contexts up to date after records were added or removed at `changed`
    /// positions (see `MemorySQLStore.rebuildContext`): the full-text contexts whose window differs
    /// are rewritten, and the context vectors of records next to a change are dropped and listed
    /// for embedding. Returns how many records' context changed, besides the changed ones.
    @discardableResult
    static func rebuildContext(of key: SessionKey, changed: Set<Int64>, _ connection: PostgresConnection, logger: Logger) async throws
        -> Int
    {
        guard let first = changed.min(), let last = changed.max() else { return 0 }
        let before = try await connection.rows(
            """
            SELECT position FROM memory_record WHERE source = \(key.source) AND sessionId = \(key.sessionID) AND position < \(first)
            ORDER BY position DESC LIMIT 4
            """, as: (Int64).self, logger: logger)
        let after = try await connection.rows(
            """
            SELECT position FROM memory_record WHERE source = \(key.source) AND sessionId = \(key.sessionID) AND position > \(last)
            ORDER BY position LIMIT 4
            """, as: (Int64).self, logger: logger)
        let low = before.last ?? first
        let high = after.last ?? last
        let rows = try await connection.rows(
            """
            SELECT id, position, spoken, context FROM memory_record
            WHERE source = \(key.source) AND sessionId = \(key.sessionID) AND position BETWEEN \(low) AND \(high) ORDER BY position
            """, as: (Int64, Int64, String, String).self, logger: logger)
        let spoken = rows.map(\.2)
        // The two outermost rows each side only lend their text, unless the session ends there.
        let evaluated = (before.count == 4 ? 2 : 0)..<(rows.count - (after.count == 4 ? 2 : 0))
        var contexts: (ids: [Int64], texts: [String]) = ([], [])
        var stale: [Int64] = []
        var rebuilt = 0
        for (index, (id, position, _, context)) in rows.enumerated() where evaluated.contains(index) {
            var touched = false
            let window = spoken[max(0, index - 2)...min(spoken.count - 1, index + 2)].joined(separator: "\n")
            if window != context {
                contexts.ids.append(id)
                contexts.texts.append(window)
                touched = true
            }
            if ((position - vectorContextReach)...(position + vectorContextReach)).contains(where: changed.contains) {
                stale.append(id)
                touched = true
            }
            if touched && !changed.contains(position) { rebuilt += 1 }
        }
        if !contexts.ids.isEmpty {
            try await connection.query(
                """
                UPDATE memory_record SET context = c.text FROM unnest(\(contexts.ids)::bigint[], \(contexts.texts)::text[]) AS c(id, text)
                WHERE memory_record.id = c.id
                """, logger: logger)
        }
        if !stale.isEmpty {
            try await connection.query(
                "DELETE FROM memory_vector WHERE field = 'context' AND recordId = ANY(\(stale)::bigint[])", logger: logger)
            try await connection.query(
                """
                INSERT INTO memory_vector_pending (recordId, field) SELECT id, 'context' FROM unnest(\(stale)::bigint[]) AS id
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        return rebuilt
    }

    /// Keeps a session's row (what `counts` reports) while it has records.
    static func refreshSession(_ key: SessionKey, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            DELETE FROM memory_session WHERE source = \(key.source) AND sessionId = \(key.sessionID)
              AND NOT EXISTS (SELECT 1 FROM memory_record WHERE source = \(key.source) AND sessionId = \(key.sessionID))
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO memory_session (source, sessionId)
            SELECT \(key.source), \(key.sessionID)
            WHERE EXISTS (SELECT 1 FROM memory_record WHERE source = \(key.source) AND sessionId = \(key.sessionID))
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    public func records(ids: [Int64]) async throws -> [MemoryRecord] {
        guard !ids.isEmpty else { return [] }
        let logger = logger
        let found = try await database.read { connection in
            try await connection.rows(
                "SELECT \(unescaped: Self.recordColumns) FROM memory_record r WHERE r.id = ANY(\(ids)::bigint[])", as: RecordColumns.self,
                logger: logger)
        }
        var byID: [Int64: MemoryRecord] = [:]
        for row in found {
            let record = try Self.record(from: row)
            byID[record.id] = record
        }
        return ids.compactMap { byID[$0] }
    }

    static func record(from row: RecordColumns) throws -> MemoryRecord {
        let (id, kindText, text, source, provenanceText, occurred, recorded, session, run, speaker, importance) = row
        guard let kind = MemoryKind(rawValue: kindText), let provenance = Provenance(rawValue: provenanceText) else {
            throw PostgresStoreError.failed("memory record \(id) has an unknown kind '\(kindText)' or provenance '\(provenanceText)'")
        }
        return MemoryRecord(
            id: id, kind: kind, text: text, source: source, provenance: provenance, occurredAt: Date(millisecondsSince1970: occurred),
            recordedAt: Date(millisecondsSince1970: recorded), sessionID: session, runID: run, speaker: speaker, importance: importance)
    }

    /// `filter` as conditions on `memory_record` aliased `r`, each starting with " AND".
    static func conditions(_ filter: MemoryFilter, into query: inout SQLBuilder) {
        if !filter.kinds.isEmpty { query.append(" AND r.kind = ANY(\(query.bind(filter.kinds.map(\.rawValue).sorted())))") }
        if !filter.sources.isEmpty { query.append(" AND r.source = ANY(\(query.bind(filter.sources.sorted())))") }
        if let provenance = filter.provenance { query.append(" AND r.provenance = \(query.bind(provenance.rawValue))") }
        if let from = filter.occurredFrom { query.append(" AND r.occurredAt >= \(query.bind(from.millisecondsSince1970))") }
        if let before = filter.occurredBefore { query.append(" AND r.occurredAt < \(query.bind(before.millisecondsSince1970))") }
        if !filter.sessionIDs.isEmpty { query.append(" AND r.sessionId = ANY(\(query.bind(filter.sessionIDs.sorted())))") }
    }

    /// A `tsquery` matching any of the terms, each quoted so no word is read as an operator.
    static func matchExpression(_ terms: [String]) -> String {
        terms.map { "'" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'" }
            .joined(separator: " | ")
    }

    public func fullTextSearch(terms: [String], field: MemoryField, filter: MemoryFilter, limit: Int) async throws -> [ScoredID] {
        guard !terms.isEmpty, limit > 0 else { return [] }
        let column = field == .text ? "r.spokenSearch" : "r.contextSearch"
        var query = SQLBuilder()
        let match = query.bind(Self.matchExpression(terms))
        query.append(
            "SELECT r.id, ts_rank(\(column), q)::float8 FROM memory_record r, to_tsquery('simple', \(match)) AS q WHERE \(column) @@ q")
        Self.conditions(filter, into: &query)
        query.append(" ORDER BY 2 DESC, r.id LIMIT \(query.bind(limit))")
        let logger = logger
        let built = query.query
        return try await database.read { connection in
            try await connection.rows(built, as: (Int64, Double).self, logger: logger).map { ScoredID(id: $0.0, score: $0.1) }
        }
    }

    public func recordIDs(matchingText text: String, filter: MemoryFilter) async throws -> [Int64] {
        var query = SQLBuilder()
        query.append("SELECT r.id FROM memory_record r WHERE r.normalized = \(query.bind(MemoryText.normalise(text)))")
        Self.conditions(filter, into: &query)
        query.append(" ORDER BY r.id")
        let logger = logger
        let built = query.query
        return try await database.read { connection in try await connection.rows(built, as: (Int64).self, logger: logger) }
    }

    public func delete(ids: [Int64]) async throws -> MemoryRemoval {
        guard !ids.isEmpty else { return MemoryRemoval() }
        let logger = logger
        return try await database.transaction { connection in
            var removal = MemoryRemoval()
            let doomed = try await connection.rows(
                "SELECT id, source, sessionId, position FROM memory_record WHERE id = ANY(\(ids)::bigint[]) ORDER BY id FOR UPDATE",
                as: (Int64, String, String?, Int64?).self, logger: logger)
            let found = doomed.map(\.0)
            removal.vectors =
                try await connection.rows(
                    "SELECT COUNT(*) FROM memory_vector WHERE recordId = ANY(\(found)::bigint[])", as: (Int).self, logger: logger
                ).first ?? 0
            let facts: [Int64] = try await connection.rows(
                "DELETE FROM fact WHERE sourceRecordId = ANY(\(found)::bigint[]) RETURNING id", as: (Int64).self, logger: logger)
            removal.facts = facts.sorted()
            try await connection.query("DELETE FROM memory_record WHERE id = ANY(\(found)::bigint[])", logger: logger)
            removal.records = ids.filter(Set(found).contains)
            var sessions: [SessionKey: Set<Int64>] = [:]
            for (_, source, session, position) in doomed {
                guard let session, let position else { continue }
                sessions[SessionKey(source: source, sessionID: session), default: []].insert(position)
            }
            for (key, positions) in sessions.sorted(by: { ($0.key.source, $0.key.sessionID) < ($1.key.source, $1.key.sessionID) }) {
                removal.contextsRebuilt += try await Self.rebuildContext(of: key, changed: positions, connection, logger: logger)
                try await Self.refreshSession(key, connection, logger: logger)
            }
            return removal
        }
    }

    // MARK: Vectors

    /// Texts waiting for a vector, claimed for `claimSeconds` (skipping those another daemon
    /// holds): each is embedded by one daemon of the fleet, not by all.
    public func pendingVectors(limit: Int) async throws -> [VectorWork] {
        let logger = logger
        let now = Date().millisecondsSince1970
        let until = now + claimSeconds * 1000
        return try await database.transaction { connection in
            func claim(_ field: MemoryField, _ limit: Int) async throws -> [Int64] {
                guard limit > 0 else { return [] }
                return try await connection.rows(
                    """
                    WITH picked AS (
                        SELECT p.recordId FROM memory_vector_pending p JOIN memory_record r ON r.id = p.recordId
                        WHERE p.field = \(field.rawValue) AND (p.claimedUntil IS NULL OR p.claimedUntil <= \(now))
                          AND (\(field.rawValue) = 'text' OR r.sessionId IS NOT NULL)
                        ORDER BY p.recordId LIMIT \(limit) FOR UPDATE OF p SKIP LOCKED)
                    UPDATE memory_vector_pending p SET claimedUntil = \(until) FROM picked
                    WHERE p.recordId = picked.recordId AND p.field = \(field.rawValue) RETURNING p.recordId
                    """, as: (Int64).self, logger: logger)
            }
            let texts = try await claim(.text, limit)
            var work = try await connection.rows(
                "SELECT r.id, r.spoken FROM memory_record r WHERE r.id = ANY(\(texts)) ORDER BY r.id", as: (Int64, String).self,
                logger: logger
            ).map { VectorWork(recordID: $0.0, field: .text, text: $0.1) }
            let contexts = try await claim(.context, max(0, limit - work.count))
            let reach = Self.vectorContextReach
            work += try await connection.rows(
                """
                SELECT r.id, r.spoken,
                       (SELECT string_agg(n.spoken, E'\\n' ORDER BY n.position) FROM memory_record n
                        WHERE n.source = r.source AND n.sessionId = r.sessionId
                          AND n.position BETWEEN r.position - \(reach) AND r.position - 1),
                       (SELECT string_agg(n.spoken, E'\\n' ORDER BY n.position) FROM memory_record n
                        WHERE n.source = r.source AND n.sessionId = r.sessionId
                          AND n.position BETWEEN r.position + 1 AND r.position + \(reach)),
                       (SELECT COALESCE(array_agg(n.id ORDER BY n.position), '{}') FROM memory_record n
                        WHERE n.source = r.source AND n.sessionId = r.sessionId AND n.id <> r.id
                          AND n.position BETWEEN r.position - \(reach) AND r.position + \(reach))
                FROM memory_record r WHERE r.id = ANY(\(contexts)) ORDER BY r.id
                """, as: (Int64, String, String?, String?, [Int64]).self, logger: logger
            ).map { VectorWork(recordID: $0.0, field: .context, text: $0.1, before: $0.2, after: $0.3, neighbours: $0.4) }
            return work
        }
    }

    @discardableResult public func saveVectors(_ vectors: [(work: VectorWork, vector: [Float])], model: String) async throws -> Int64 {
        let logger = logger
        return try await database.transaction { connection in
            // The clock's row stays locked until this commits: the next save waits, so positions
            // are given in commit order and a reader past one has seen every earlier save.
            let seq: Int64 =
                try await connection.rows(
                    "UPDATE memory_clock SET value = value + 1 WHERE name = 'vector' RETURNING value", as: (Int64).self, logger: logger
                ).first ?? 0
            for start in stride(from: 0, to: vectors.count, by: 500) {
                let slice = vectors[start..<min(vectors.count, start + 500)]
                let ids = slice.map(\.work.recordID)
                let fields = slice.map(\.work.field.rawValue)
                // The record may have been forgotten while its vector was computed.
                var insert = SQLBuilder()
                let position = insert.bind(seq)
                insert.append(
                    "INSERT INTO memory_vector (recordId, field, model, vector, seq) SELECT v.id, v.field, v.model, v.vector, \(position)::bigint FROM (VALUES "
                )
                for (index, item) in slice.enumerated() {
                    let row = [
                        insert.bind(item.work.recordID) + "::bigint", insert.bind(item.work.field.rawValue), insert.bind(model),
                        try insert.bind(Self.blob(item.vector)),
                    ]
                    insert.append("\(index == 0 ? "" : ", ")(\(row.joined(separator: ", ")))")
                }
                insert.append(
                    """
                    ) AS v(id, field, model, vector) WHERE EXISTS (SELECT 1 FROM memory_record WHERE id = v.id)
                    ON CONFLICT (recordId, field) DO UPDATE SET model = excluded.model, vector = excluded.vector, seq = excluded.seq
                    """)
                try await connection.query(insert.query, logger: logger)
                try await connection.query(
                    """
                    DELETE FROM memory_vector_pending p USING unnest(\(ids)::bigint[], \(fields)::text[]) AS v(id, field)
                    WHERE p.recordId = v.id AND p.field = v.field
                    """, logger: logger)
            }
            return seq
        }
    }

    public func vectorPosition() async throws -> Int64 {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows("SELECT value FROM memory_clock WHERE name = 'vector'", as: (Int64).self, logger: logger).first ?? 0
        }
    }

    public func vectors(after position: Int64, model: String, saves: Int) async throws -> SavedVectors {
        let logger = logger
        return try await database.read { connection in
            let empty = StoredVectors(ids: [], metadata: [], values: [], dimensions: 0)
            var saved = SavedVectors(text: empty, context: empty, through: position)
            let limit = max(1, saves)
            guard
                let through = try await connection.rows(
                    "SELECT MAX(seq) FROM (SELECT DISTINCT seq FROM memory_vector WHERE seq > \(position) ORDER BY seq LIMIT \(limit)) t",
                    as: (Int64?).self, logger: logger
                ).first ?? nil
            else { return saved }
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.recordColumns), v.vector, v.field FROM memory_vector v JOIN memory_record r ON r.id = v.recordId
                WHERE v.seq > \(position) AND v.seq <= \(through) AND v.model = \(model) ORDER BY v.seq, r.id
                """, logger: logger)
            for try await row in rows {
                let (id, kind, text, source, provenance, occurred, recorded, session, run, speaker, importance, data, field) =
                    try row.decode(
                        (Int64, String, String, String, String, Int64, Int64, String?, Int64?, String?, Double, Data, String).self)
                let record = try Self.record(
                    from: (id, kind, text, source, provenance, occurred, recorded, session, run, speaker, importance))
                if field == MemoryField.context.rawValue {
                    saved.context.append(record, bytes: data)
                } else {
                    saved.text.append(record, bytes: data)
                }
            }
            saved.through = through
            return saved
        }
    }

    /// Float32, little-endian (the byte order of every platform Hearth runs on).
    static func blob(_ vector: [Float]) -> Data {
        vector.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    public func loadVectors(field: MemoryField, model: String) async throws -> StoredVectors {
        let logger = logger
        return try await database.read { connection in
            var result = StoredVectors(ids: [], metadata: [], values: [], dimensions: 0)
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.recordColumns), v.vector FROM memory_vector v JOIN memory_record r ON r.id = v.recordId
                WHERE v.field = \(field.rawValue) AND v.model = \(model) ORDER BY r.id
                """, logger: logger)
            for try await row in rows {
                let (id, kind, text, source, provenance, occurred, recorded, session, run, speaker, importance, data) = try row.decode(
                    (Int64, String, String, String, String, Int64, Int64, String?, Int64?, String?, Double, Data).self)
                let record = try Self.record(
                    from: (id, kind, text, source, provenance, occurred, recorded, session, run, speaker, importance))
                result.append(record, bytes: data)
            }
            return result
        }
    }

    public func dropVectors(notFrom model: String) async throws -> Int {
        let logger = logger
        return try await database.transaction { connection in
            let dropped = try await connection.rows(
                "DELETE FROM memory_vector WHERE model <> \(model) RETURNING recordId", as: (Int64).self, logger: logger
            ).count
            if dropped > 0 {
                try await connection.query(
                    """
                    INSERT INTO memory_vector_pending (recordId, field)
                    SELECT r.id, 'text' FROM memory_record r
                    WHERE NOT EXISTS (SELECT 1 FROM memory_vector v WHERE v.recordId = r.id AND v.field = 'text')
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
                try await connection.query(
                    """
                    INSERT INTO memory_vector_pending (recordId, field)
                    SELECT r.id, 'context' FROM memory_record r
                    WHERE r.sessionId IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM memory_vector v WHERE v.recordId = r.id AND v.field = 'context')
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            return dropped
        }
    }

    // MARK: Facts

    static let factColumns = """
        id, kind, subject, predicate, object, validFrom, validTo, recordedAt, invalidatedAt, invalidatedBy, sourceRecordId, provenance,
        confidence, status
        """
    typealias FactColumns = (Int64, String, String, String, String, Int64?, Int64?, Int64, Int64?, Int64?, Int64?, String, Double, String)

    public func insertFacts(_ facts: [Fact]) async throws -> [Fact] {
        let logger = logger
        return try await database.transaction { connection in
            var stored: [Fact] = []
            for var fact in facts {
                let (validFrom, validTo) = (fact.validFrom?.millisecondsSince1970, fact.validTo?.millisecondsSince1970)
                let (recorded, invalidated) = (fact.recordedAt.millisecondsSince1970, fact.invalidatedAt?.millisecondsSince1970)
                let ids = try await connection.rows(
                    """
                    INSERT INTO fact (kind, subject, predicate, object, slot, validFrom, validTo, recordedAt, invalidatedAt,
                        invalidatedBy, sourceRecordId, provenance, confidence, status)
                    VALUES (\(fact.kind.rawValue), \(fact.subject), \(fact.predicate), \(fact.object), \(fact.slot), \(validFrom),
                        \(validTo), \(recorded), \(invalidated), \(fact.invalidatedBy), \(fact.sourceRecordID),
                        \(fact.provenance.rawValue), \(fact.confidence), \(fact.status.rawValue))
                    RETURNING id
                    """, as: (Int64).self, logger: logger)
                fact.id = ids[0]
                stored.append(fact)
            }
            return stored
        }
    }

    public func facts(_ query: FactQuery) async throws -> [Fact] {
        var builder = SQLBuilder("SELECT \(Self.factColumns) FROM fact WHERE TRUE")
        if !query.statuses.isEmpty { builder.append(" AND status = ANY(\(builder.bind(query.statuses.map(\.rawValue).sorted())))") }
        if !query.kinds.isEmpty { builder.append(" AND kind = ANY(\(builder.bind(query.kinds.map(\.rawValue).sorted())))") }
        if let mentioning = query.mentioning {
            let pattern = builder.bind("%" + Self.escapeLike(mentioning.lowercased()) + "%")
            builder.append(" AND (lower(subject) LIKE \(pattern) OR lower(object) LIKE \(pattern))")
        }
        if !query.includeInvalidated { builder.append(" AND invalidatedAt IS NULL") }
        if let slot = query.slot { builder.append(" AND slot = \(builder.bind(slot))") }
        builder.append(" ORDER BY id")
        let logger = logger
        let built = builder.query
        return try await database.read { connection in
            try await connection.rows(built, as: FactColumns.self, logger: logger).map(Self.fact(from:))
        }
    }

    public func fact(id: Int64) async throws -> Fact? {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                "SELECT \(unescaped: Self.factColumns) FROM fact WHERE id = \(id)", as: FactColumns.self, logger: logger
            ).map(Self.fact(from:)).first
        }
    }

    static func fact(from row: FactColumns) throws -> Fact {
        let (
            id, kindText, subject, predicate, object, validFrom, validTo, recorded, invalidated, by, source, provenanceText, confidence,
            statusText
        ) = row
        guard let kind = FactKind(rawValue: kindText), let status = FactStatus(rawValue: statusText),
            let provenance = Provenance(rawValue: provenanceText)
        else { throw PostgresStoreError.failed("fact \(id) has an unknown kind, status or provenance") }
        let date = { (value: Int64?) in value.map(Date.init(millisecondsSince1970:)) }
        return Fact(
            id: id, kind: kind, subject: subject, predicate: predicate, object: object, validFrom: date(validFrom), validTo: date(validTo),
            recordedAt: Date(millisecondsSince1970: recorded), invalidatedAt: date(invalidated), invalidatedBy: by, sourceRecordID: source,
            provenance: provenance, confidence: confidence, status: status)
    }

    public func invalidate(factID: Int64, by newID: Int64?, at: Date, validTo: Date?) async throws {
        let (when, until) = (at.millisecondsSince1970, validTo?.millisecondsSince1970)
        try await database.client.query(
            """
            UPDATE fact SET invalidatedAt = \(when), invalidatedBy = \(newID), validTo = COALESCE(validTo, \(until))
            WHERE id = \(factID) AND invalidatedAt IS NULL
            """, logger: logger)
    }

    public func setStatus(_ status: FactStatus, factID: Int64) async throws {
        try await database.client.query("UPDATE fact SET status = \(status.rawValue) WHERE id = \(factID)", logger: logger)
    }

    public func deleteFacts(ids: [Int64]) async throws -> Int {
        let logger = logger
        return try await database.transaction { connection in
            try await connection.rows("DELETE FROM fact WHERE id = ANY(\(ids)::bigint[]) RETURNING id", as: (Int64).self, logger: logger)
                .count
        }
    }

    // MARK: Maintenance

    public func duplicateGroups(limit: Int) async throws -> [[Int64]] {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                """
                SELECT array_agg(id ORDER BY id) FROM memory_record
                GROUP BY source, kind, normalized HAVING COUNT(*) > 1 ORDER BY MIN(id) LIMIT \(limit)
                """, as: ([Int64]).self, logger: logger)
        }
    }

    public func recordsBeyondCap(keep: Int, protectedKinds: Set<MemoryKind>) async throws -> [Int64] {
        let kinds = protectedKinds.map(\.rawValue).sorted()
        let logger = logger
        return try await database.read { connection in
            let total = try await connection.rows("SELECT COUNT(*) FROM memory_record", as: (Int).self, logger: logger).first ?? 0
            guard total > keep else { return [] }
            return try await connection.rows(
                """
                SELECT id FROM memory_record WHERE NOT (kind = ANY(\(kinds)::text[]))
                ORDER BY occurredAt, importance, id LIMIT \(total - keep)
                """, as: (Int64).self, logger: logger)
        }
    }

    public func sessionsToSummarise(before: Date, minimumRecords: Int, limit: Int) async throws -> [(source: String, sessionID: String)] {
        let at = before.millisecondsSince1970
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                """
                SELECT m.source, m.sessionId FROM memory_record m WHERE m.sessionId IS NOT NULL AND m.kind <> 'summary'
                GROUP BY m.source, m.sessionId HAVING MAX(m.occurredAt) < \(at) AND COUNT(*) >= \(minimumRecords)
                  AND NOT EXISTS (SELECT 1 FROM memory_record s WHERE s.kind = 'summary' AND s.source = m.source
                                  AND s.sessionId = m.sessionId)
                ORDER BY MIN(m.occurredAt) LIMIT \(limit)
                """, as: (String, String).self, logger: logger
            ).map { (source: $0.0, sessionID: $0.1) }
        }
    }

    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(
            of: "_", with: "\\_")
    }

    public func sessionRecords(source: String, sessionPrefix prefix: String) async throws -> [MemoryRecord] {
        let pattern = Self.escapeLike(prefix) + "%"
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                "SELECT \(unescaped: Self.recordColumns) FROM memory_record r WHERE r.source = \(source) AND r.sessionId LIKE \(pattern) ORDER BY r.id",
                as: RecordColumns.self, logger: logger
            ).map(Self.record(from:))
        }
    }

    public func sessionRecords(source: String, sessionID: String) async throws -> [MemoryRecord] {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                "SELECT \(unescaped: Self.recordColumns) FROM memory_record r WHERE r.source = \(source) AND r.sessionId = \(sessionID) ORDER BY r.position",
                as: RecordColumns.self, logger: logger
            ).map(Self.record(from:))
        }
    }

    public func cursor(_ name: String) async throws -> Int64 {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows("SELECT value FROM memory_cursor WHERE name = \(name)", as: (Int64).self, logger: logger).first ?? 0
        }
    }

    public func setCursor(_ name: String, to value: Int64) async throws {
        try await database.client.query(
            "INSERT INTO memory_cursor (name, value) VALUES (\(name), \(value)) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            logger: logger)
    }

    public func records(after: Int64, kinds: Set<MemoryKind>, limit: Int) async throws -> [MemoryRecord] {
        var query = SQLBuilder()
        query.append("SELECT \(Self.recordColumns) FROM memory_record r WHERE r.id > \(query.bind(after))")
        Self.conditions(MemoryFilter(kinds: kinds), into: &query)
        query.append(" ORDER BY r.id LIMIT \(query.bind(limit))")
        let logger = logger
        let built = query.query
        return try await database.read { connection in
            try await connection.rows(built, as: RecordColumns.self, logger: logger).map(Self.record(from:))
        }
    }

    public func saveReport(kind: String, at: Date, detail: String) async throws -> Int64 {
        let when = at.millisecondsSince1970
        let logger = logger
        return try await database.transaction { connection in
            try await connection.rows(
                "INSERT INTO memory_report (kind, at, detail) VALUES (\(kind), \(when), \(detail)) RETURNING id", as: (Int64).self,
                logger: logger)[0]
        }
    }

    public func reports(limit: Int) async throws -> [(id: Int64, kind: String, at: Date, detail: String)] {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                "SELECT id, kind, at, detail FROM memory_report ORDER BY id DESC LIMIT \(limit)", as: (Int64, String, Int64, String).self,
                logger: logger
            ).map { (id: $0.0, kind: $0.1, at: Date(millisecondsSince1970: $0.2), detail: $0.3) }
        }
    }

    // MARK: Counts

    public func counts(model: String?) async throws -> MemoryCounts {
        let logger = logger
        return try await database.read { connection in
            var counts = MemoryCounts()
            for (kind, count) in try await connection.rows(
                "SELECT kind, COUNT(*) FROM memory_record GROUP BY kind", as: (String, Int).self, logger: logger)
            {
                counts.byKind[kind] = count
                counts.records += count
            }
            func count(_ query: PostgresQuery) async throws -> Int {
                try await connection.rows(query, as: (Int).self, logger: logger).first ?? 0
            }
            counts.sessions = try await count("SELECT COUNT(*) FROM memory_session")
            if let model {
                counts.vectors = try await count("SELECT COUNT(*) FROM memory_vector WHERE model = \(model)")
                let sessionRecords = try await count("SELECT COUNT(*) FROM memory_record WHERE sessionId IS NOT NULL")
                counts.pendingVectors = max(0, counts.records + sessionRecords - counts.vectors)
            } else {
                counts.vectors = try await count("SELECT COUNT(*) FROM memory_vector")
            }
            counts.facts = try await count("SELECT COUNT(*) FROM fact WHERE status = 'active' AND invalidatedAt IS NULL")
            counts.pendingFacts = try await count("SELECT COUNT(*) FROM fact WHERE status = 'pending'")
            counts.invalidatedFacts = try await count("SELECT COUNT(*) FROM fact WHERE invalidatedAt IS NOT NULL")
            counts.databaseBytes = Int64(try await count("SELECT pg_database_size(current_database())"))
            return counts
        }
    }
}
