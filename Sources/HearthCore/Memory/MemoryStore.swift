import Foundation

/// Which text a full-text or vector search looks at.
public enum MemoryField: String, Sendable, Hashable, Codable, CaseIterable {
    /// The record's own words (with its speaker).
    case text
    /// The record with its neighbours in the session (±2 records for full text, ±1 for vectors).
    case context
}

/// A record id with a score from one signal (BM25: higher is better; vectors: cosine).
public struct ScoredID: Sendable, Hashable {
    public var id: Int64
    public var score: Double

    public init(id: Int64, score: Double) {
        self.id = id
        self.score = score
    }
}

/// A text waiting for its vector.
public struct VectorWork: Sendable, Hashable {
    public var recordID: Int64
    public var field: MemoryField
    /// The record's own words (with its speaker).
    public var text: String
    /// For a context vector: the session's record just before and just after this one, when there
    /// are (`EmbeddingText` decides how much of each is read).
    public var before: String?
    public var after: String?
    /// For a context vector: the ids of those neighbours.
    public var neighbours: [Int64]

    public init(
        recordID: Int64, field: MemoryField, text: String, before: String? = nil, after: String? = nil, neighbours: [Int64] = []
    ) {
        self.recordID = recordID
        self.field = field
        self.text = text
        self.before = before
        self.after = after
        self.neighbours = neighbours
    }
}

/// What the in-memory index keeps per record, to filter without a database read.
public struct VectorMetadata: Sendable, Hashable {
    public var kind: MemoryKind
    public var source: String
    public var provenance: Provenance
    public var occurredAt: Date
    public var sessionID: String?
    public var speaker: String?
    public var importance: Double

    public init(record: MemoryRecord) {
        kind = record.kind
        source = record.source
        provenance = record.provenance
        occurredAt = record.occurredAt
        sessionID = record.sessionID
        speaker = record.speaker
        importance = record.importance
    }
}

/// Stored vectors of one field, in id order, for loading an index.
public struct StoredVectors: Sendable {
    public var ids: [Int64]
    public var metadata: [VectorMetadata]
    /// `ids.count × dimensions` floats, row after row.
    public var values: [Float]
    public var dimensions: Int

    public init(ids: [Int64], metadata: [VectorMetadata], values: [Float], dimensions: Int) {
        self.ids = ids
        self.metadata = metadata
        self.values = values
        self.dimensions = dimensions
    }

    /// Adds a record's vector as a store keeps it (little-endian float32); a vector of another
    /// length than the first one's is skipped. Returns whether it was added.
    @discardableResult
    public mutating func append(_ record: MemoryRecord, bytes: Data) -> Bool {
        let count = bytes.count / 4
        if dimensions == 0 { dimensions = count }
        guard count == dimensions else { return false }
        let start = values.count
        values.append(contentsOf: repeatElement(0, count: count))
        values.withUnsafeMutableBytes { destination in
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: destination[(start * 4)...]).copyMemory(from: source)
            }
        }
        ids.append(record.id)
        metadata.append(VectorMetadata(record: record))
        return true
    }
}

/// Vectors saved after a position of the store's vector clock (`MemoryStore.vectors(after:)`).
public struct SavedVectors: Sendable {
    public var text: StoredVectors
    public var context: StoredVectors
    /// The position they reach (the one asked for when there were none).
    public var through: Int64

    public init(text: StoredVectors, context: StoredVectors, through: Int64) {
        self.text = text
        self.context = context
        self.through = through
    }

    /// The `index`th vector of `stored`.
    public static func vector(_ stored: StoredVectors, at index: Int) -> [Float] {
        Array(stored.values[(index * stored.dimensions)..<((index + 1) * stored.dimensions)])
    }
}

/// A session matched by full text.
public struct ScoredSession: Sendable, Hashable {
    public var source: String
    public var sessionID: String
    public var score: Double

    public init(source: String, sessionID: String, score: Double) {
        self.source = source
        self.sessionID = sessionID
        self.score = score
    }
}

/// What was removed, for the report a deletion or consolidation prints.
public struct MemoryRemoval: Sendable, Hashable, Codable {
    public var records: [Int64]
    public var vectors: Int
    public var facts: [Int64]
    /// Neighbours whose context (full text and vector) was rebuilt without the removed text.
    public var contextsRebuilt: Int

    public init(records: [Int64] = [], vectors: Int = 0, facts: [Int64] = [], contextsRebuilt: Int = 0) {
        self.records = records
        self.vectors = vectors
        self.facts = facts
        self.contextsRebuilt = contextsRebuilt
    }
}

/// Counts for `hearth memory stats`.
public struct MemoryCounts: Sendable, Hashable, Codable {
    public var records: Int
    public var byKind: [String: Int]
    public var sessions: Int
    public var vectors: Int
    public var pendingVectors: Int
    public var facts: Int
    public var pendingFacts: Int
    public var invalidatedFacts: Int
    public var databaseBytes: Int64

    public init(
        records: Int = 0, byKind: [String: Int] = [:], sessions: Int = 0, vectors: Int = 0, pendingVectors: Int = 0,
        facts: Int = 0, pendingFacts: Int = 0, invalidatedFacts: Int = 0, databaseBytes: Int64 = 0
    ) {
        self.records = records
        self.byKind = byKind
        self.sessions = sessions
        self.vectors = vectors
        self.pendingVectors = pendingVectors
        self.facts = facts
        self.pendingFacts = pendingFacts
        self.invalidatedFacts = invalidatedFacts
        self.databaseBytes = databaseBytes
    }
}

/// Which facts to read.
public struct FactQuery: Sendable, Hashable {
    public var statuses: Set<FactStatus>
    public var kinds: Set<FactKind>
    /// Only facts whose subject or object contains this (case-insensitive).
    public var mentioning: String?
    /// Include facts a newer one invalidated.
    public var includeInvalidated: Bool

    /// Only facts of this slot (`Fact.slot`).
    public var slot: String?

    public init(
        statuses: Set<FactStatus> = [.active], kinds: Set<FactKind> = [], mentioning: String? = nil,
        includeInvalidated: Bool = false, slot: String? = nil
    ) {
        self.slot = slot
        self.statuses = statuses
        self.kinds = kinds
        self.mentioning = mentioning
        self.includeInvalidated = includeInvalidated
    }
}

/// Persistent memory: records, full text, vectors and facts. SQLite in production (HearthStore).
public protocol MemoryStore: Sendable {
    /// Stores records (ids assigned, in order), their full text and session context.
    /// Neighbours whose context changed lose their context vector, so it is recomputed.
    func insert(_ records: [MemoryRecord]) async throws -> [MemoryRecord]
    func records(ids: [Int64]) async throws -> [MemoryRecord]
    /// Records matching any of `terms` (FTS5 BM25 on one field), best first.
    func fullTextSearch(terms: [String], field: MemoryField, filter: MemoryFilter, limit: Int) async throws -> [ScoredID]
    /// Records with this exact normalised text (for "forget" and de-duplication).
    func recordIDs(matchingText text: String, filter: MemoryFilter) async throws -> [Int64]
    /// Deletes records with their full-text rows, vectors and derived facts; rebuilds neighbours' context.
    func delete(ids: [Int64]) async throws -> MemoryRemoval

    /// Texts that have no vector yet, oldest first. The store holds one model's vectors:
    /// `dropVectors(notFrom:)` (which `MemoryEngine.open` calls) drops another model's and lists
    /// their texts as waiting again.
    func pendingVectors(limit: Int) async throws -> [VectorWork]
    /// Saves vectors in one step of the store's vector clock and returns that position: saves
    /// are numbered in the order they commit, whichever process makes them.
    @discardableResult func saveVectors(_ vectors: [(work: VectorWork, vector: [Float])], model: String) async throws -> Int64
    /// Every stored vector of `field` from `model`, to build the in-memory index.
    func loadVectors(field: MemoryField, model: String) async throws -> StoredVectors
    /// The vector clock's position: read before `loadVectors`, then `vectors(after:)` from it,
    /// and no save is missed.
    func vectorPosition() async throws -> Int64
    /// Vectors from `model` saved after `position` (by any process), up to `saves` whole saves,
    /// with the position they reach — how each process's in-memory index follows the others.
    func vectors(after position: Int64, model: String, saves: Int) async throws -> SavedVectors
    /// Drops vectors computed by any other model (after the embedder changed).
    func dropVectors(notFrom model: String) async throws -> Int

    func insertFacts(_ facts: [Fact]) async throws -> [Fact]
    func facts(_ query: FactQuery) async throws -> [Fact]
    func fact(id: Int64) async throws -> Fact?
    /// Marks `old` as superseded by `new` at `at` (system time) and ends its world validity.
    func invalidate(factID: Int64, by newID: Int64?, at: Date, validTo: Date?) async throws
    func setStatus(_ status: FactStatus, factID: Int64) async throws

    func deleteFacts(ids: [Int64]) async throws -> Int

    func counts(model: String?) async throws -> MemoryCounts

    /// Groups of records (same source, kind and normalised text) with more than one member, ids ascending.
    func duplicateGroups(limit: Int) async throws -> [[Int64]]
    /// Ids of the oldest records beyond `keep` (least important first among equally old), skipping `protectedKinds`.
    func recordsBeyondCap(keep: Int, protectedKinds: Set<MemoryKind>) async throws -> [Int64]
    /// Sessions whose newest record is older than `before` and that have no summary yet.
    func sessionsToSummarise(before: Date, minimumRecords: Int, limit: Int) async throws -> [(source: String, sessionID: String)]
    func sessionRecords(source: String, sessionID: String) async throws -> [MemoryRecord]
    /// Records of `source` whose session starts with `prefix` (a document's sessions), in order.
    func sessionRecords(source: String, sessionPrefix prefix: String) async throws -> [MemoryRecord]

    /// A named progress marker (e.g. the last record fact extraction has read).
    func cursor(_ name: String) async throws -> Int64
    func setCursor(_ name: String, to value: Int64) async throws
    /// Records with ids above `after`, oldest first.
    func records(after: Int64, kinds: Set<MemoryKind>, limit: Int) async throws -> [MemoryRecord]

    /// Appends a maintenance report (consolidation, forget) and returns its id.
    func saveReport(kind: String, at: Date, detail: String) async throws -> Int64
    func reports(limit: Int) async throws -> [(id: Int64, kind: String, at: Date, detail: String)]
}
