import Foundation
import GRDB
import HearthCore

/// Memory in SQLite: records, FTS5 (record, record in context, whole sessions), vectors, facts.
public struct MemorySQLStore: MemoryStore {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    // MARK: Records

    public func insert(_ records: [MemoryRecord]) async throws -> [MemoryRecord] {
        try await database.write { db in try Self.insert(records, in: db) }
    }

    static func insert(_ records: [MemoryRecord], in db: Database) throws -> [MemoryRecord] {
        var stored: [MemoryRecord] = []
        stored.reserveCapacity(records.count)
        // Per session: the new positions, so neighbours' context can be rebuilt once.
        var touched: [SessionKey: Set<Int64>] = [:]
        var nextPosition: [SessionKey: Int64] = [:]
        for var record in records {
            var position: Int64?
            if let sessionID = record.sessionID {
                let key = SessionKey(source: record.source, sessionID: sessionID)
                let next =
                    try nextPosition[key]
                    ?? (Int64.fetchOne(
                        db, sql: "SELECT MAX(position) FROM memory_record WHERE source = ? AND sessionId = ?",
                        arguments: [record.source, sessionID]) ?? -1) + 1
                position = next
                nextPosition[key] = next + 1
                touched[key, default: []].insert(next)
            }
            try db.execute(
                sql: """
                    INSERT INTO memory_record (kind, text, source, provenance, occurredAt, recordedAt, sessionId, position,
                        runId, speaker, importance, normalized)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.kind.rawValue, record.text, record.source, record.provenance.rawValue,
                    record.occurredAt.millisecondsSince1970, record.recordedAt.millisecondsSince1970, record.sessionID, position,
                    record.runID, record.speaker, min(1, max(0, record.importance)), MemoryText.normalise(record.text),
                ])
            record.id = db.lastInsertedRowID
            try db.execute(
                sql: "INSERT INTO memory_fts (rowid, text, context) VALUES (?, ?, ?)",
                arguments: [record.id, record.spokenText, record.spokenText])
            try db.execute(sql: "INSERT OR IGNORE INTO memory_vector_pending (recordId, field) VALUES (?, 'text')", arguments: [record.id])
            stored.append(record)
        }
        for (key, positions) in touched {
            try rebuildContext(of: key, changed: positions, in: db)
            try refreshSession(key, in: db)
        }
        return stored
    }

    /// A row's `text` as `MemoryRecord.spokenText` renders it.
    static func spoken(from row: Row) -> String {
        MemoryRecord.spoken(row["text"], by: row["speaker"])
    }

    /// A context vector embeds its record with this many records either side (by position);
    /// the full-text context reaches two either side.
    static let vectorContextReach: Int64 = 1

    struct SessionKey: Hashable {
        var source: String
        var sessionID: String
    }

    /// Brings a session's contexts up to date after records were added or removed at `changed`
    /// positions. A full-text context spans two records either side (by order), a context vector
    /// the records one position either side, so only the neighbours of a change are touched: the
    /// full-text rows whose window text differs are rewritten, and the context vectors of records
    /// next to a change are dropped and listed for embedding. Returns how many records' context
    /// changed.
    @discardableResult
    static func rebuildContext(of key: SessionKey, changed: Set<Int64>, in db: Database) throws -> Int {
        guard let first = changed.min(), let last = changed.max() else { return 0 }
        // Rows from two before the first change to two after the last, by order, plus two more
        // each side so every window can be drawn.
        let before = try Int64.fetchAll(
            db,
            sql: """
                SELECT position FROM memory_record WHERE source = ? AND sessionId = ? AND position < ?
                ORDER BY position DESC LIMIT 4
                """,
            arguments: [key.source, key.sessionID, first])
        let after = try Int64.fetchAll(
            db,
            sql: """
                SELECT position FROM memory_record WHERE source = ? AND sessionId = ? AND position > ?
                ORDER BY position LIMIT 4
                """,
            arguments: [key.source, key.sessionID, last])
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT r.id, r.position, r.text, r.speaker, f.context FROM memory_record r
                JOIN memory_fts f ON f.rowid = r.id
                WHERE r.source = ? AND r.sessionId = ? AND r.position BETWEEN ? AND ? ORDER BY r.position
                """,
            arguments: [key.source, key.sessionID, before.last ?? first, after.last ?? last])
        let spoken = rows.map { Self.spoken(from: $0) }
        // The two outermost rows each side only lend their text, unless the session ends there.
        let evaluated = (before.count == 4 ? 2 : 0)..<(rows.count - (after.count == 4 ? 2 : 0))
        var rebuilt = 0
        for (index, row) in rows.enumerated() where evaluated.contains(index) {
            let id: Int64 = row["id"]
            let position: Int64 = row["position"]
            var touched = false
            let window = spoken[max(0, index - 2)...min(spoken.count - 1, index + 2)].joined(separator: "\n")
            if window != (row["context"] as String? ?? "") {
                try db.execute(sql: "UPDATE memory_fts SET context = ? WHERE rowid = ?", arguments: [window, id])
                touched = true
            }
            if ((position - Self.vectorContextReach)...(position + Self.vectorContextReach)).contains(where: changed.contains) {
                try db.execute(sql: "DELETE FROM memory_vector WHERE recordId = ? AND field = 'context'", arguments: [id])
                try db.execute(
                    sql: "INSERT OR IGNORE INTO memory_vector_pending (recordId, field) VALUES (?, 'context')", arguments: [id])
                touched = true
            }
            if touched && !changed.contains(position) { rebuilt += 1 }
        }
        return rebuilt
    }

    /// Lists every text without a vector as pending work (at migration, and after a model change).
    static func listMissingVectors(in db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO memory_vector_pending (recordId, field)
                SELECT r.id, 'text' FROM memory_record r
                WHERE NOT EXISTS (SELECT 1 FROM memory_vector v WHERE v.recordId = r.id AND v.field = 'text');
                INSERT OR IGNORE INTO memory_vector_pending (recordId, field)
                SELECT r.id, 'context' FROM memory_record r
                WHERE r.sessionId IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM memory_vector v WHERE v.recordId = r.id AND v.field = 'context');
                """)
    }

    /// Keeps a session's row (what `counts` reports) while it has records.
    static func refreshSession(_ key: SessionKey, in db: Database) throws {
        let remaining =
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM memory_record WHERE source = ? AND sessionId = ?", arguments: [key.source, key.sessionID])
            ?? 0
        if remaining > 0 {
            try db.execute(
                sql: "INSERT OR IGNORE INTO memory_session (source, sessionId) VALUES (?, ?)", arguments: [key.source, key.sessionID])
        } else {
            try db.execute(sql: "DELETE FROM memory_session WHERE source = ? AND sessionId = ?", arguments: [key.source, key.sessionID])
        }
    }

    public func records(ids: [Int64]) async throws -> [MemoryRecord] {
        try await database.read { db in try Self.records(ids: ids, in: db) }
    }

    static func records(ids: [Int64], in db: Database) throws -> [MemoryRecord] {
        var byID: [Int64: MemoryRecord] = [:]
        for chunk in stride(from: 0, to: ids.count, by: 500) {
            let slice = Array(ids[chunk..<min(ids.count, chunk + 500)])
            let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
            for row in try Row.fetchAll(db, sql: "SELECT * FROM memory_record WHERE id IN (\(marks))", arguments: StatementArguments(slice))
            {
                let record = try record(from: row)
                byID[record.id] = record
            }
        }
        return ids.compactMap { byID[$0] }
    }

    static func record(from row: Row) throws -> MemoryRecord {
        let kindText: String = row["kind"]
        let provenanceText: String = row["provenance"]
        guard let kind = MemoryKind(rawValue: kindText), let provenance = Provenance(rawValue: provenanceText) else {
            throw StoreError.failed(path: "memory_record", detail: "unknown kind '\(kindText)' or provenance '\(provenanceText)'")
        }
        return MemoryRecord(
            id: row["id"], kind: kind, text: row["text"], source: row["source"], provenance: provenance,
            occurredAt: Date(millisecondsSince1970: row["occurredAt"]), recordedAt: Date(millisecondsSince1970: row["recordedAt"]),
            sessionID: row["sessionId"], runID: row["runId"], speaker: row["speaker"], importance: row["importance"])
    }

    /// `WHERE` conditions on `memory_record` aliased `r`.
    static func conditions(_ filter: MemoryFilter) -> SQLConditions {
        var conditions = SQLConditions()
        if !filter.kinds.isEmpty {
            let kinds = filter.kinds.map(\.rawValue).sorted()
            conditions.add("r.kind IN (\(marks(kinds.count)))", arguments: kinds)
        }
        if !filter.sources.isEmpty {
            let sources = filter.sources.sorted()
            conditions.add("r.source IN (\(marks(sources.count)))", arguments: sources)
        }
        if let provenance = filter.provenance { conditions.add("r.provenance = ?", provenance.rawValue) }
        if let from = filter.occurredFrom { conditions.add("r.occurredAt >= ?", from.millisecondsSince1970) }
        if let before = filter.occurredBefore { conditions.add("r.occurredAt < ?", before.millisecondsSince1970) }
        if !filter.sessionIDs.isEmpty {
            let sessions = filter.sessionIDs.sorted()
            conditions.add("r.sessionId IN (\(marks(sessions.count)))", arguments: sessions)
        }
        return conditions
    }

    static func marks(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ",") }

    /// An FTS5 query matching any of the terms, each quoted so no word is read as an operator.
    public static func matchExpression(_ terms: [String]) -> String {
        terms.map { "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\"" }.joined(separator: " OR ")
    }

    /// BM25 over the given terms. Column weights make `bm25()` score only the chosen column.
    public func fullTextSearch(terms: [String], field: MemoryField, filter: MemoryFilter, limit: Int) async throws -> [ScoredID] {
        guard !terms.isEmpty, limit > 0 else { return [] }
        return try await database.read { db in try Self.fullTextSearch(terms: terms, field: field, filter: filter, limit: limit, in: db) }
    }

    static func fullTextSearch(terms: [String], field: MemoryField, filter: MemoryFilter, limit: Int, in db: Database) throws
        -> [ScoredID]
    {
        let column = field == .text ? "text" : "context"
        let weights = field == .text ? "1.0, 0.0" : "0.0, 1.0"
        var conditions = conditions(filter)
        conditions.add("memory_fts MATCH ?", "{\(column)} : (\(matchExpression(terms)))")
        let join = filter == .any ? "" : "JOIN memory_record r ON r.id = memory_fts.rowid"
        let sql = """
            SELECT memory_fts.rowid AS id, bm25(memory_fts, \(weights)) AS score FROM memory_fts \(join)
            \(conditions.whereClause) ORDER BY score LIMIT \(limit)
            """
        return try Row.fetchAll(db, sql: sql, arguments: conditions.arguments).map { row in
            ScoredID(id: row["id"], score: -(row["score"] as Double))
        }
    }

    public func recordIDs(matchingText text: String, filter: MemoryFilter) async throws -> [Int64] {
        try await database.read { db in
            var conditions = Self.conditions(filter)
            conditions.add("r.normalized = ?", MemoryText.normalise(text))
            return try Int64.fetchAll(
                db, sql: "SELECT r.id FROM memory_record r \(conditions.whereClause) ORDER BY r.id", arguments: conditions.arguments)
        }
    }

    public func delete(ids: [Int64]) async throws -> MemoryRemoval {
        try await database.write { db in try Self.delete(ids: ids, in: db) }
    }

    static func delete(ids: [Int64], in db: Database) throws -> MemoryRemoval {
        var removal = MemoryRemoval()
        var sessions: [SessionKey: Set<Int64>] = [:]
        for record in try records(ids: ids, in: db) {
            removal.vectors +=
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memory_vector WHERE recordId = ?", arguments: [record.id]) ?? 0
            let facts = try Int64.fetchAll(db, sql: "SELECT id FROM fact WHERE sourceRecordId = ?", arguments: [record.id])
            removal.facts += facts
            try db.execute(sql: "DELETE FROM fact WHERE sourceRecordId = ?", arguments: [record.id])
            try db.execute(sql: "DELETE FROM memory_fts WHERE rowid = ?", arguments: [record.id])
            let position = try Int64.fetchOne(db, sql: "SELECT position FROM memory_record WHERE id = ?", arguments: [record.id])
            try db.execute(sql: "DELETE FROM memory_record WHERE id = ?", arguments: [record.id])
            removal.records.append(record.id)
            if let sessionID = record.sessionID, let position {
                let key = SessionKey(source: record.source, sessionID: sessionID)
                sessions[key, default: []].insert(position)
            }
        }
        for (key, positions) in sessions {
            removal.contextsRebuilt += try rebuildContext(of: key, changed: positions, in: db)
            try refreshSession(key, in: db)
        }
        return removal
    }

    // MARK: Vectors

    /// Texts waiting for a vector, oldest first, from the work list that inserts, context changes
    /// and model changes keep (`dropVectors(notFrom:)` lists everything another model embedded).
    public func pendingVectors(limit: Int) async throws -> [VectorWork] {
        try await database.read { db in
            var work: [VectorWork] = []
            let texts = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.id, r.text, r.speaker FROM memory_vector_pending p JOIN memory_record r ON r.id = p.recordId
                    WHERE p.field = 'text' ORDER BY p.recordId LIMIT ?
                    """,
                arguments: [limit])
            for row in texts {
                work.append(VectorWork(recordID: row["id"], field: .text, text: Self.spoken(from: row)))
            }
            let contexts = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.id, r.source, r.sessionId, r.position FROM memory_vector_pending p JOIN memory_record r ON r.id = p.recordId
                    WHERE p.field = 'context' AND r.sessionId IS NOT NULL ORDER BY p.recordId LIMIT ?
                    """,
                arguments: [max(0, limit - work.count)])
            for row in contexts {
                let position: Int64 = row["position"]
                let window = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, text, speaker, position FROM memory_record
                        WHERE source = ? AND sessionId = ? AND position BETWEEN ? AND ? ORDER BY position
                        """,
                    arguments: [
                        row["source"] as String, row["sessionId"] as String, position - Self.vectorContextReach,
                        position + Self.vectorContextReach,
                    ]
                )
                func spoken(_ wanted: (Int64) -> Bool) -> String? {
                    let rows = window.filter { wanted($0["position"]) }.map { Self.spoken(from: $0) }
                    return rows.isEmpty ? nil : rows.joined(separator: "\n")
                }
                work.append(
                    VectorWork(
                        recordID: row["id"], field: .context, text: spoken { $0 == position } ?? "", before: spoken { $0 < position },
                        after: spoken { $0 > position },
                        neighbours: window.map { $0["id"] as Int64 }.filter { $0 != row["id"] as Int64 }))
            }
            return work
        }
    }

    @discardableResult public func saveVectors(_ vectors: [(work: VectorWork, vector: [Float])], model: String) async throws -> Int64 {
        let rows = vectors.map { ($0.work.recordID, $0.work.field.rawValue, Self.blob($0.vector)) }
        return try await database.write { db in
            // Writes are serialised: the clock's order is the commit order.
            try db.execute(sql: "UPDATE memory_clock SET value = value + 1 WHERE name = 'vector'")
            let seq = try Int64.fetchOne(db, sql: "SELECT value FROM memory_clock WHERE name = 'vector'") ?? 0
            for (id, field, blob) in rows {
                // The record may have been forgotten while its vector was computed.
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO memory_vector (recordId, field, model, vector, seq)
                        SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM memory_record WHERE id = ?)
                        """,
                    arguments: [id, field, model, blob, seq, id])
                try db.execute(
                    sql: "DELETE FROM memory_vector_pending WHERE recordId = ? AND field = ?", arguments: [id, field])
            }
            return seq
        }
    }

    public func vectorPosition() async throws -> Int64 {
        try await database.read { db in try Int64.fetchOne(db, sql: "SELECT value FROM memory_clock WHERE name = 'vector'") ?? 0 }
    }

    public func vectors(after position: Int64, model: String, saves: Int) async throws -> SavedVectors {
        try await database.read { db in
            let empty = StoredVectors(ids: [], metadata: [], values: [], dimensions: 0)
            var saved = SavedVectors(text: empty, context: empty, through: position)
            guard
                let through = try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT MAX(seq) FROM (SELECT DISTINCT seq FROM memory_vector WHERE seq > ? ORDER BY seq LIMIT ?)
                        """, arguments: [position, max(1, saves)])
            else { return saved }
            let cursor = try Row.fetchCursor(
                db,
                sql: """
                    SELECT r.*, v.vector, v.field FROM memory_vector v JOIN memory_record r ON r.id = v.recordId
                    WHERE v.seq > ? AND v.seq <= ? AND v.model = ? ORDER BY v.seq, r.id
                    """, arguments: [position, through, model])
            while let row = try cursor.next() {
                let record = try Self.record(from: row)
                if row["field"] as String == MemoryField.context.rawValue {
                    saved.context.append(record, bytes: row["vector"])
                } else {
                    saved.text.append(record, bytes: row["vector"])
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
        try await database.read { db in
            var result = StoredVectors(ids: [], metadata: [], values: [], dimensions: 0)
            let cursor = try Row.fetchCursor(
                db,
                sql: """
                    SELECT r.*, v.vector FROM memory_vector v JOIN memory_record r ON r.id = v.recordId
                    WHERE v.field = ? AND v.model = ? ORDER BY r.id
                    """,
                arguments: [field.rawValue, model])
            while let row = try cursor.next() {
                result.append(try Self.record(from: row), bytes: row["vector"])
            }
            return result
        }
    }

    public func dropVectors(notFrom model: String) async throws -> Int {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM memory_vector WHERE model != ?", arguments: [model])
            let dropped = db.changesCount
            if dropped > 0 { try Self.listMissingVectors(in: db) }
            return dropped
        }
    }

    // MARK: Facts

    public func insertFacts(_ facts: [Fact]) async throws -> [Fact] {
        try await database.write { db in
            try facts.map { fact in
                var fact = fact
                try db.execute(
                    sql: """
                        INSERT INTO fact (kind, subject, predicate, object, slot, validFrom, validTo, recordedAt, invalidatedAt,
                            invalidatedBy, sourceRecordId, provenance, confidence, status)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        fact.kind.rawValue, fact.subject, fact.predicate, fact.object, fact.slot,
                        fact.validFrom?.millisecondsSince1970, fact.validTo?.millisecondsSince1970,
                        fact.recordedAt.millisecondsSince1970, fact.invalidatedAt?.millisecondsSince1970, fact.invalidatedBy,
                        fact.sourceRecordID, fact.provenance.rawValue, fact.confidence, fact.status.rawValue,
                    ])
                fact.id = db.lastInsertedRowID
                return fact
            }
        }
    }

    public func facts(_ query: FactQuery) async throws -> [Fact] {
        try await database.read { db in
            var conditions = SQLConditions()
            if !query.statuses.isEmpty {
                let statuses = query.statuses.map(\.rawValue).sorted()
                conditions.add("status IN (\(Self.marks(statuses.count)))", arguments: statuses)
            }
            if !query.kinds.isEmpty {
                let kinds = query.kinds.map(\.rawValue).sorted()
                conditions.add("kind IN (\(Self.marks(kinds.count)))", arguments: kinds)
            }
            if let mentioning = query.mentioning {
                // The words themselves: a % or _ in them is not a wildcard.
                let pattern = "%" + Self.escapeLike(mentioning.lowercased()) + "%"
                conditions.add("(lower(subject) LIKE ? ESCAPE '\\' OR lower(object) LIKE ? ESCAPE '\\')", pattern, pattern)
            }
            if !query.includeInvalidated { conditions.add("invalidatedAt IS NULL") }
            if let slot = query.slot { conditions.add("slot = ?", slot) }
            return try Row.fetchAll(db, sql: "SELECT * FROM fact \(conditions.whereClause) ORDER BY id", arguments: conditions.arguments)
                .map(Self.fact(from:))
        }
    }

    public func fact(id: Int64) async throws -> Fact? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM fact WHERE id = ?", arguments: [id]).map(Self.fact(from:))
        }
    }

    static func fact(from row: Row) throws -> Fact {
        let kindText: String = row["kind"]
        let statusText: String = row["status"]
        let provenanceText: String = row["provenance"]
        guard let kind = FactKind(rawValue: kindText), let status = FactStatus(rawValue: statusText),
            let provenance = Provenance(rawValue: provenanceText)
        else { throw StoreError.failed(path: "fact", detail: "unknown kind, status or provenance in fact \(row["id"] as Int64)") }
        let date: (String) -> Date? = { column in (row[column] as Int64?).map(Date.init(millisecondsSince1970:)) }
        return Fact(
            id: row["id"], kind: kind, subject: row["subject"], predicate: row["predicate"], object: row["object"],
            validFrom: date("validFrom"), validTo: date("validTo"), recordedAt: Date(millisecondsSince1970: row["recordedAt"]),
            invalidatedAt: date("invalidatedAt"), invalidatedBy: row["invalidatedBy"], sourceRecordID: row["sourceRecordId"],
            provenance: provenance, confidence: row["confidence"], status: status)
    }

    public func invalidate(factID: Int64, by newID: Int64?, at: Date, validTo: Date?) async throws {
        try await database.write { db in
            try db.execute(
                sql:
                    "UPDATE fact SET invalidatedAt = ?, invalidatedBy = ?, validTo = COALESCE(validTo, ?) WHERE id = ? AND invalidatedAt IS NULL",
                arguments: [at.millisecondsSince1970, newID, validTo?.millisecondsSince1970, factID])
        }
    }

    public func setStatus(_ status: FactStatus, factID: Int64) async throws {
        try await database.write { db in
            try db.execute(sql: "UPDATE fact SET status = ? WHERE id = ?", arguments: [status.rawValue, factID])
        }
    }

    public func deleteFacts(ids: [Int64]) async throws -> Int {
        try await database.write { db in
            var count = 0
            for id in ids {
                try db.execute(sql: "DELETE FROM fact WHERE id = ?", arguments: [id])
                count += db.changesCount
            }
            return count
        }
    }

    // MARK: Maintenance

    public func duplicateGroups(limit: Int) async throws -> [[Int64]] {
        try await database.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT group_concat(id) FROM (SELECT id, source, kind, normalized FROM memory_record ORDER BY id)
                    GROUP BY source, kind, normalized HAVING COUNT(*) > 1 LIMIT ?
                    """,
                arguments: [limit]
            ).map { $0.split(separator: ",").compactMap { Int64($0) }.sorted() }
        }
    }

    public func recordsBeyondCap(keep: Int, protectedKinds: Set<MemoryKind>) async throws -> [Int64] {
        try await database.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memory_record") ?? 0
            guard total > keep else { return [] }
            let kinds = protectedKinds.map(\.rawValue).sorted()
            let exclusion = kinds.isEmpty ? "" : "WHERE kind NOT IN (\(Self.marks(kinds.count)))"
            return try Int64.fetchAll(
                db, sql: "SELECT id FROM memory_record \(exclusion) ORDER BY occurredAt, importance, id LIMIT ?",
                arguments: StatementArguments(kinds) + [total - keep])
        }
    }

    public func sessionsToSummarise(before: Date, minimumRecords: Int, limit: Int) async throws -> [(source: String, sessionID: String)] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source, sessionId FROM memory_record WHERE sessionId IS NOT NULL AND kind != 'summary'
                    GROUP BY source, sessionId HAVING MAX(occurredAt) < ? AND COUNT(*) >= ?
                      AND NOT EXISTS (SELECT 1 FROM memory_record s WHERE s.kind = 'summary' AND s.source = memory_record.source
                                      AND s.sessionId = memory_record.sessionId)
                    ORDER BY MIN(occurredAt) LIMIT ?
                    """,
                arguments: [before.millisecondsSince1970, minimumRecords, limit]
            ).map { (source: $0["source"], sessionID: $0["sessionId"]) }
        }
    }

    /// `text` for a LIKE pattern with ESCAPE '\': its own \, % and _ match only themselves.
    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(
            of: "_", with: "\\_")
    }

    public func sessionRecords(source: String, sessionPrefix prefix: String) async throws -> [MemoryRecord] {
        let escaped = Self.escapeLike(prefix)
        return try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM memory_record WHERE source = ? AND sessionId LIKE ? ESCAPE '\\' ORDER BY id",
                arguments: [source, escaped + "%"]
            ).map(Self.record(from:))
        }
    }

    public func sessionRecords(source: String, sessionID: String) async throws -> [MemoryRecord] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM memory_record WHERE source = ? AND sessionId = ? ORDER BY position", arguments: [source, sessionID]
            ).map(Self.record(from:))
        }
    }

    public func cursor(_ name: String) async throws -> Int64 {
        try await database.read { db in try Self.cursor(name, in: db) }
    }

    public func setCursor(_ name: String, to value: Int64) async throws {
        try await database.write { db in try Self.setCursor(name, to: value, in: db) }
    }

    /// A consumer's position (0 before its first step), readable inside another store's transaction.
    static func cursor(_ name: String, in db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM memory_cursor WHERE name = ?", arguments: [name]) ?? 0
    }

    /// Moves a consumer's position; inside a transaction, it commits with the work it stands for.
    static func setCursor(_ name: String, to value: Int64, in db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO memory_cursor (name, value) VALUES (?, ?)", arguments: [name, value])
    }

    public func records(after: Int64, kinds: Set<MemoryKind>, limit: Int) async throws -> [MemoryRecord] {
        try await database.read { db in
            var conditions = Self.conditions(MemoryFilter(kinds: kinds))
            conditions.add("r.id > ?", after)
            return try Row.fetchAll(
                db, sql: "SELECT * FROM memory_record r \(conditions.whereClause) ORDER BY r.id LIMIT \(limit)",
                arguments: conditions.arguments
            ).map(Self.record(from:))
        }
    }

    public func saveReport(kind: String, at: Date, detail: String) async throws -> Int64 {
        try await database.write { db in
            try db.execute(
                sql: "INSERT INTO memory_report (kind, at, detail) VALUES (?, ?, ?)", arguments: [kind, at.millisecondsSince1970, detail])
            return db.lastInsertedRowID
        }
    }

    public func reports(limit: Int) async throws -> [(id: Int64, kind: String, at: Date, detail: String)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM memory_report ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                (id: row["id"], kind: row["kind"], at: Date(millisecondsSince1970: row["at"]), detail: row["detail"])
            }
        }
    }

    // MARK: Counts

    public func counts(model: String?) async throws -> MemoryCounts {
        let path = database.path
        return try await database.read { db in
            var counts = MemoryCounts()
            for row in try Row.fetchAll(db, sql: "SELECT kind, COUNT(*) AS n FROM memory_record GROUP BY kind") {
                counts.byKind[row["kind"]] = row["n"]
                counts.records += row["n"] as Int
            }
            counts.sessions = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memory_session") ?? 0
            if let model {
                counts.vectors = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memory_vector WHERE model = ?", arguments: [model]) ?? 0
                let sessionRecords = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memory_record WHERE sessionId IS NOT NULL") ?? 0
                counts.pendingVectors = max(0, counts.records + sessionRecords - counts.vectors)
            } else {
                counts.vectors = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memory_vector") ?? 0
            }
            counts.facts = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM fact WHERE status = 'active' AND invalidatedAt IS NULL") ?? 0
            counts.pendingFacts = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM fact WHERE status = 'pending'") ?? 0
            counts.invalidatedFacts = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM fact WHERE invalidatedAt IS NOT NULL") ?? 0
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            counts.databaseBytes = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
            return counts
        }
    }
}
