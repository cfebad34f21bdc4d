import Foundation
import HearthCore

/// Per-record metadata in compact columns (one entry per slot of an in-memory index), interned so
/// a filter costs a few integer compares per row.
struct RecordColumns: Sendable {
    private(set) var kinds: [UInt8] = []
    private(set) var provenance: [UInt8] = []
    private(set) var occurredAt: [Int64] = []
    private(set) var sources: [Int32] = []
    private(set) var sessions: [Int32] = []
    private(set) var speakers: [Int32] = []
    private(set) var importance: [Float] = []
    private(set) var strings = StringTable()

    var residentBytes: Int { kinds.capacity * 2 + occurredAt.capacity * 8 + sources.capacity * 12 + importance.capacity * 4 }

    mutating func reserve(_ capacity: Int) {
        kinds.reserveCapacity(capacity)
        provenance.reserveCapacity(capacity)
        occurredAt.reserveCapacity(capacity)
        sources.reserveCapacity(capacity)
        sessions.reserveCapacity(capacity)
        speakers.reserveCapacity(capacity)
        importance.reserveCapacity(capacity)
    }

    mutating func append(_ metadata: VectorMetadata) {
        kinds.append(UInt8(MemoryKind.allCases.firstIndex(of: metadata.kind) ?? 0))
        provenance.append(metadata.provenance == .trusted ? 0 : 1)
        occurredAt.append(metadata.occurredAt.millisecondsSince1970)
        sources.append(strings.code(metadata.source))
        sessions.append(metadata.sessionID.map { strings.code($0) } ?? -1)
        speakers.append(metadata.speaker.map { strings.code($0) } ?? -1)
        importance.append(Float(metadata.importance))
    }

    /// Columns with the same string table and no rows (for compaction).
    func emptyCopy() -> RecordColumns {
        var copy = RecordColumns()
        copy.strings = strings
        return copy
    }

    /// Appends `other`'s row `slot` (whose strings share this table).
    mutating func append(slot: Int, of other: RecordColumns) {
        kinds.append(other.kinds[slot])
        provenance.append(other.provenance[slot])
        occurredAt.append(other.occurredAt[slot])
        sources.append(other.sources[slot])
        sessions.append(other.sessions[slot])
        speakers.append(other.speakers[slot])
        importance.append(other.importance[slot])
    }

    func speaker(_ slot: Int) -> String? { speakers[slot] >= 0 ? strings.string(speakers[slot]) : nil }
    func source(_ slot: Int) -> String { strings.string(sources[slot]) }
    func session(_ slot: Int) -> String? { sessions[slot] >= 0 ? strings.string(sessions[slot]) : nil }
    func occurred(_ slot: Int) -> Date { Date(millisecondsSince1970: occurredAt[slot]) }

    /// A predicate over slots, or nil when the filter can match nothing here.
    func admission(_ filter: MemoryFilter) -> ((Int) -> Bool)? {
        if filter == .any { return { _ in true } }
        var sourceCodes = Set<Int32>()
        for source in filter.sources {
            guard let code = strings.existingCode(source) else { continue }
            sourceCodes.insert(code)
        }
        if !filter.sources.isEmpty && sourceCodes.isEmpty { return nil }
        var sessionCodes = Set<Int32>()
        for session in filter.sessionIDs {
            guard let code = strings.existingCode(session) else { continue }
            sessionCodes.insert(code)
        }
        if !filter.sessionIDs.isEmpty && sessionCodes.isEmpty { return nil }
        let kindCodes = Set(filter.kinds.compactMap { MemoryKind.allCases.firstIndex(of: $0).map(UInt8.init) })
        let provenanceCode: UInt8? = filter.provenance.map { $0 == .trusted ? 0 : 1 }
        let from = filter.occurredFrom?.millisecondsSince1970
        let before = filter.occurredBefore?.millisecondsSince1970
        let singleSource = sourceCodes.count == 1 ? sourceCodes.first : nil
        return { [kinds, provenance, occurredAt, sources, sessions] slot in
            if let singleSource {
                if sources[slot] != singleSource { return false }
            } else if !sourceCodes.isEmpty && !sourceCodes.contains(sources[slot]) {
                return false
            }
            if !kindCodes.isEmpty && !kindCodes.contains(kinds[slot]) { return false }
            if let provenanceCode, provenance[slot] != provenanceCode { return false }
            if let from, occurredAt[slot] < from { return false }
            if let before, occurredAt[slot] >= before { return false }
            if !sessionCodes.isEmpty && !sessionCodes.contains(sessions[slot]) { return false }
            return true
        }
    }
}
