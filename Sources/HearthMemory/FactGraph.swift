import Foundation
import HearthCore

/// What learning a fact does to the graph, decided without I/O.
public struct FactResolution: Sendable, Hashable {
    /// The fact to store (nil when it repeats an active fact).
    public var insert: Fact?
    /// Active facts the new one supersedes.
    public var invalidate: [Int64]
    /// The active fact it repeats.
    public var duplicateOf: Int64?
}

/// The fact graph's rules.
///
/// - A slot (subject + predicate) holds one value at a time unless its predicate is
///   many-valued ("likes", "has", "visited"…): a newer value invalidates the older one, which
///   stays queryable "as of" earlier times. Nothing is deleted by contradiction.
/// - A negated statement ("no longer likes tea") invalidates the matching fact and stores nothing.
/// - Content of untrusted provenance never becomes active on its own: its facts, preferences
///   and rules are stored `pending` and change nothing until the user confirms them.
public enum FactRules {
    public static let manyValuedPredicates: Set<String> = [
        "likes", "like", "loves", "enjoys", "dislikes", "hates", "has", "have", "owns", "knows", "visited", "plays",
        "speaks", "uses", "attended", "is interested in", "prefers", "avoids", "rule", "note",
    ]

    public static func isManyValued(_ predicate: String) -> Bool {
        manyValuedPredicates.contains(MemoryText.normalise(predicate))
    }

    /// Resolves `new` against the active facts of its slot.
    public static func resolve(_ new: Fact, negated: Bool = false, existing: [Fact]) -> FactResolution {
        let from = new.validFrom ?? new.recordedAt
        let active = existing.filter {
            $0.status == .active && $0.invalidatedAt == nil && $0.slot == new.slot && ($0.validTo.map { $0 > from } ?? true)
        }
        let sameObject = active.filter { MemoryText.normalise($0.object) == MemoryText.normalise(new.object) }
        if new.provenance == .untrusted || new.status == .pending {
            var pending = new
            pending.status = .pending
            return FactResolution(insert: negated ? nil : pending, invalidate: [], duplicateOf: nil)
        }
        if negated {
            return FactResolution(insert: nil, invalidate: sameObject.map(\.id), duplicateOf: nil)
        }
        if let duplicate = sameObject.first {
            return FactResolution(insert: nil, invalidate: [], duplicateOf: duplicate.id)
        }
        let superseded = isManyValued(new.predicate) ? [] : active.map(\.id)
        return FactResolution(insert: new, invalidate: superseded, duplicateOf: nil)
    }
}

/// A learned statement before it is resolved: the fact and whether it retracts rather than asserts.
public struct FactStatement: Sendable, Hashable {
    public var fact: Fact
    public var negated: Bool

    public init(fact: Fact, negated: Bool = false) {
        self.fact = fact
        self.negated = negated
    }
}

/// What learning a batch of statements did.
public struct LearnReport: Sendable, Hashable, Codable {
    public var added: [Int64] = []
    public var pending: [Int64] = []
    public var invalidated: [Int64] = []
    public var duplicates: Int = 0

    public init() {}
}

extension MemoryEngine {
    /// Applies the fact rules to each statement, in order, and stores the outcome.
    public func learn(_ statements: [FactStatement]) async throws -> LearnReport {
        var report = LearnReport()
        let now = clock.now()
        for statement in statements {
            let existing = try await store.facts(FactQuery(statuses: [.active], slot: statement.fact.slot))
            var fact = statement.fact
            fact.recordedAt = now
            let resolution = FactRules.resolve(fact, negated: statement.negated, existing: existing)
            var newID: Int64?
            if let insert = resolution.insert {
                let stored = try await store.insertFacts([insert])[0]
                newID = stored.id
                if stored.status == .pending { report.pending.append(stored.id) } else { report.added.append(stored.id) }
            }
            if resolution.duplicateOf != nil { report.duplicates += 1 }
            for id in resolution.invalidate {
                try await supersede(id, by: newID, endingAt: fact.validFrom ?? now, now: now)
                report.invalidated.append(id)
            }
        }
        try await reloadEntities()
        return report
    }

    /// Retires the current version of a fact (system time) and, when it held for a while in the
    /// world before `end`, records a new version whose validity closes at `end`: "as of" queries
    /// then see the old value for its period, and the version history shows when Hearth learned it ended.
    func supersede(_ id: Int64, by newID: Int64?, endingAt end: Date, now: Date) async throws {
        guard let old = try await store.fact(id: id) else { return }
        try await store.invalidate(factID: id, by: newID, at: now, validTo: nil)
        guard (old.validFrom ?? old.recordedAt) < end else { return }
        var closed = old
        closed.id = 0
        closed.validTo = end
        closed.recordedAt = now
        closed.invalidatedAt = nil
        closed.invalidatedBy = nil
        _ = try await store.insertFacts([closed])
    }

    /// Confirms a pending fact: it becomes active and supersedes what it contradicts.
    public func confirm(factID: Int64) async throws -> LearnReport {
        guard let fact = try await store.fact(id: factID) else { throw MemoryError.noSuchFact(factID) }
        guard fact.status == .pending else { throw MemoryError.notPending(factID, fact.status) }
        var report = LearnReport()
        let now = clock.now()
        let existing = try await store.facts(FactQuery(statuses: [.active], slot: fact.slot))
        var trusted = fact
        trusted.provenance = .trusted
        trusted.status = .active
        let resolution = FactRules.resolve(trusted, existing: existing)
        try await store.setStatus(.active, factID: factID)
        report.added.append(factID)
        for id in resolution.invalidate where id != factID {
            try await supersede(id, by: factID, endingAt: fact.validFrom ?? now, now: now)
            report.invalidated.append(id)
        }
        try await reloadEntities()
        return report
    }

    public func reject(factID: Int64) async throws {
        guard let fact = try await store.fact(id: factID) else { throw MemoryError.noSuchFact(factID) }
        guard fact.status == .pending else { throw MemoryError.notPending(factID, fact.status) }
        try await store.setStatus(.rejected, factID: factID)
    }

    /// Active preferences and rules: the profile every prompt carries.
    public func profile() async throws -> [Fact] {
        let now = clock.now()
        return try await store.facts(FactQuery(statuses: [.active], kinds: [.preference, .rule])).filter {
            $0.validTo.map { $0 > now } ?? true
        }
    }

    /// What Hearth believes holds now.
    public func currentFacts() async throws -> [Fact] {
        let now = clock.now()
        return try await facts(at: now, asKnownAt: now)
    }

    /// Facts as Hearth believed them at system time `known` about world time `world`.
    public func facts(at world: Date, asKnownAt known: Date) async throws -> [Fact] {
        try await store.facts(FactQuery(statuses: [.active], includeInvalidated: true)).filter { $0.holds(at: world, asKnownAt: known) }
    }
}

public enum MemoryError: Error, Equatable, CustomStringConvertible {
    case noSuchFact(Int64)
    case notPending(Int64, FactStatus)
    case noSuchRecord(Int64)

    public var description: String {
        switch self {
        case .noSuchFact(let id): "no fact with id \(id); `hearth memory pending` lists facts awaiting confirmation"
        case .notPending(let id, let status):
            "fact \(id) is \(status.rawValue), not pending; only pending facts can be confirmed or rejected"
        case .noSuchRecord(let id): "no memory record with id \(id); `hearth memory search` shows record ids"
        }
    }
}
