import CoreMetrics
import Foundation
import HearthCore

/// How hybrid retrieval weighs its signals. The defaults were tuned on LoCoMo (see BENCHMARKS.md).
public struct RetrievalSettings: Sendable, Hashable {
    /// Reciprocal-rank fusion constant: each list adds `1 / (fusionK + rank)`.
    public var fusionK: Double = 20
    /// How deep each list is read.
    public var depth: Int = 200
    /// Weight of a record's session rank, `sessionWeight / (61 + rank)`.
    public var sessionWeight: Double = 2 * 61 / 21
    public var sessionDepth: Int = 20
    /// Weight of a record's session rank by meaning (sessions ordered by their best record in the
    /// vector list), `meaningSessionWeight / (61 + rank)`; counts only when vectors are in use.
    public var meaningSessionWeight: Double = 0
    /// Added to records said by a participant the query names (when it names exactly one).
    public var entityWeight: Double = 0.03 * 61 / 21
    /// Added to records linked to facts about an entity the query names.
    public var factWeight: Double = 0.03 * 61 / 21
    /// Added as `importanceWeight × (importance − 0.5)`.
    public var importanceWeight: Double = 0.02
    /// Added as `recencyWeight × 2^(−age / recencyHalfLife)`.
    public var recencyWeight: Double = 0.005
    public var recencyHalfLifeDays: Double = 30
    /// A question that names a time ("two weeks ago", "in March", "last Saturday") adds two lists
    /// to the fusion: its words and its meaning among the records of that time, at this weight.
    public var timeWeight: Double = 1
    /// How named times are read: weeks from Monday, in the user's time zone.
    public var calendar: Calendar = .localGregorian
    /// What each vector is computed from: texts cut to a word-piece budget, context vectors
    /// centred on their record.
    public var embedding = EmbeddingText()
    /// Context vectors blended from the text vectors of the record (half) and its neighbours
    /// (the other half), instead of embedded from their words: no model call for them.
    public var blendContext = false
    /// Without `blendContext`: the context vectors of records whose own words reach this many
    /// word pieces are blended too (a long record's centred context is mostly itself); shorter
    /// records, whose context is mostly their neighbours', are embedded. `Int.max`: none.
    public var blendFrom = Int.max

    /// Whether `work`'s vector is to be blended from text vectors rather than embedded.
    public func blends(_ work: VectorWork) -> Bool {
        work.field == .context
            && (blendContext || (blendFrom < Int.max && EmbeddingText.estimate(work.text) >= blendFrom))
    }

    /// Whether hybrid full-text queries keep stop words (plain BM25 always does).
    public var keepStopWords = false

    /// A query asking for advice (`MemoryText.asksForAdvice`: "can you suggest…", "any tips…",
    /// "what should I…") that recall centres on one conversation — at least `ownWordsQuorum` of
    /// the best `ownWordsRank` records are from it, more than from any other — brings in
    /// everything the user said there, ranked from `ownWordsRank` on: advice should fit what the
    /// user told, not only the lines that share the question's words ("my photography setup" is
    /// the flash, the lens and the bag the user asked about). 0: off.
    public var ownWordsRank = 10
    public var ownWordsQuorum = 3
    /// Added to every turn the user said when a query asks for advice: advice draws on the user's
    /// situation and taste more than on what the assistant answered before.
    public var adviceUserWeight = 0.04

    public init() {}

    /// The defaults, with texts cut to `embedTokens` word pieces before embedding and context
    /// vectors blended for every record (`blendContext`) or for records of at least `blendFrom`
    /// word pieces (`[memory] embed_tokens`, `blend_context`).
    public init(embedTokens: Int, blendContext: Bool, blendFrom: Int = .max) {
        embedding = EmbeddingText(tokens: embedTokens)
        self.blendContext = blendContext
        self.blendFrom = blendFrom
    }

    /// Sets a weight by name (for `hearth bench memory --set`); false for an unknown name.
    public mutating func set(_ name: String, to value: Double) -> Bool {
        switch name {
        case "ownWordsRank": ownWordsRank = Int(value)
        case "ownWordsQuorum": ownWordsQuorum = Int(value)
        case "adviceUserWeight": adviceUserWeight = value
        case "fusionK": fusionK = value
        case "depth": depth = Int(value)
        case "sessionWeight": sessionWeight = value
        case "sessionDepth": sessionDepth = Int(value)
        case "meaningSessionWeight": meaningSessionWeight = value
        case "entityWeight": entityWeight = value
        case "factWeight": factWeight = value
        case "importanceWeight": importanceWeight = value
        case "recencyWeight": recencyWeight = value
        case "timeWeight": timeWeight = value
        case "keepStopWords": keepStopWords = value != 0
        case "embedTokens": embedding = EmbeddingText(tokens: Int(value))
        case "blendContext": blendContext = value != 0
        case "blendFrom": blendFrom = value >= Double(Int.max) ? Int.max : Int(value)
        default: return false
        }
        return true
    }
}

/// Whether vectors take part in retrieval.
public enum EmbeddingState: Sendable, Hashable, CustomStringConvertible {
    /// No embedder is configured: full text only.
    case disabled
    case ready(model: String)
    /// The embedder failed; retrieval falls back to full text until it answers again.
    case unavailable(model: String, reason: String)

    public var description: String {
        switch self {
        case .disabled: "full text only (no embedding model available: see the inference line of hearth status)"
        case .ready(let model): "hybrid (vectors from \(model) + full text)"
        case .unavailable(let model, let reason): "full text only — \(model) is unreachable (\(reason)); vectors resume when it answers"
        }
    }

    public var usesVectors: Bool {
        if case .ready = self { return true }
        return false
    }
}

/// Memory as the agent sees it: remembers records, indexes them, retrieves by hybrid search,
/// forgets on request, and keeps the fact graph.
public actor MemoryEngine {
    public let store: any MemoryStore
    let embedder: (any Embedder)?
    public var settings: RetrievalSettings
    let clock: any WallClock
    private var textIndex = VectorIndex()
    private var contextIndex = VectorIndex()
    /// Keyword lists for hybrid retrieval, in memory; follows the store up to `lexicalThrough`.
    private var lexical = LexicalIndex()
    private var lexicalThrough: Int64 = 0
    /// The store's vector clock position the vector indexes hold every save up to.
    private var vectorsThrough: Int64 = 0
    public private(set) var embeddingState: EmbeddingState
    /// Texts the embedding model refused whole and took shortened (their vector covers the start only).
    public private(set) var shortenedForEmbedding = 0
    /// Normalised entity names (fact subjects and objects) → records the facts were learned from.
    private var entityRecords: [String: Set<Int64>] = [:]

    public init(
        store: any MemoryStore, embedder: (any Embedder)?, settings: RetrievalSettings = RetrievalSettings(),
        clock: any WallClock = SystemWallClock()
    ) {
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.clock = clock
        embeddingState = embedder.map { .ready(model: $0.endpoint.embeddingModel) } ?? .disabled
    }

    var model: String? { embedder.map { $0.endpoint.embeddingModel } }

    /// Loads the in-memory indexes from the store (and drops vectors of a previous embedding model).
    /// Returns how many vectors were loaded.
    @discardableResult
    public func open() async throws -> Int {
        try await reloadEntities()
        try await catchUp()
        guard let model else { return 0 }
        _ = try await store.dropVectors(notFrom: model)
        // The clock first: a save committed while loading is read again by `followVectors`.
        let position = try await store.vectorPosition()
        textIndex = VectorIndex(try await store.loadVectors(field: .text, model: model))
        contextIndex = VectorIndex(try await store.loadVectors(field: .context, model: model))
        vectorsThrough = position
        return textIndex.count + contextIndex.count
    }

    public var indexedVectors: Int { textIndex.count + contextIndex.count }
    /// Records in the in-memory keyword index.
    public var indexedRecords: Int { lexical.count }

    /// Stores records; vectors follow with `indexPending()`.
    public func remember(_ records: [MemoryRecord]) async throws -> [MemoryRecord] {
        // The store lists the new records' vectors and their neighbours' context vectors as work;
        // until `indexPending()` replaces it, a neighbour's old context vector stays searchable.
        let stored = try await store.insert(records)
        try await catchUp()
        return stored
    }

    /// Adds to the keyword index every record the store holds beyond it — this engine's own and
    /// those another process (the CLI beside the daemon) wrote. Records arrive in id order, which
    /// is the order within each session.
    func catchUp() async throws {
        while true {
            let batch = try await store.records(after: lexicalThrough, kinds: [], limit: 5_000)
            guard let last = batch.last else { return }
            for record in batch { lexical.add(record) }
            lexicalThrough = last.id
        }
    }

    /// Embeds records that have no vector yet, `batch` texts per call; returns how many were embedded.
    /// Embedding failures switch retrieval to full text and are reported, never thrown: the records
    /// are safe in the store and will be embedded on a later call.
    @discardableResult
    public func indexPending(batch: Int = 64, limit: Int = .max) async throws -> Int {
        guard let embedder, let model else { return 0 }
        var done = 0
        while done < limit {
            let work = try await store.pendingVectors(limit: min(batch, limit - done))
            if work.isEmpty { break }
            // Blended context vectors need the text vectors of their window: those go first.
            let blending = settings.blendContext || settings.blendFrom < Int.max
            let groups = blending ? [work.filter { $0.field == .text }, work.filter { $0.field == .context }] : [work]
            for group in groups where !group.isEmpty {
                guard try await embedAndIndex(group, with: embedder, model: model) else { return done }
                done += group.count
            }
        }
        return done
    }

    /// Computes, saves and indexes the vectors of `work`; false when the embedder failed (retrieval
    /// falls back to full text) or a vector did not fit the index.
    private func embedAndIndex(_ work: [VectorWork], with embedder: any Embedder, model: String) async throws -> Bool {
        // Context vectors that can be blended from text vectors already indexed need no call.
        let blended = work.map { settings.blends($0) ? blend($0) : nil }
        let texts = work.indices.filter { blended[$0] == nil }.map { settings.embedding.text(for: work[$0]) }
        var vectors: [[Float]]
        do {
            vectors = texts.isEmpty ? [] : try await embedder.embed(texts).vectors
            embeddingState = .ready(model: model)
        } catch {
            // One text the model refuses (over its token window: HTML, tables, some languages
            // pack more tokens into the same characters) must not cost the whole batch.
            guard let rescued = await Self.embedOneByOne(texts, with: embedder) else {
                embeddingState = .unavailable(model: model, reason: String(describing: error))
                return false
            }
            vectors = rescued.vectors
            shortenedForEmbedding += rescued.shortened
            embeddingState = .ready(model: model)
        }
        guard vectors.count == texts.count else {
            embeddingState = .unavailable(model: model, reason: "returned \(vectors.count) vectors for \(texts.count) texts")
            return false
        }
        var answers = vectors.makeIterator()
        vectors = blended.map { $0 ?? answers.next() ?? [] }
        let pairs = Array(zip(work, vectors)).map { (work: $0.0, vector: $0.1) }
        let position = try await store.saveVectors(pairs, model: model)
        // Nothing saved in between: the indexes are whole up to this save once it is added below.
        let contiguous = position == vectorsThrough + 1
        let records = Dictionary(
            uniqueKeysWithValues: try await store.records(ids: Array(Set(work.map(\.recordID)))).map { ($0.id, $0) })
        for (item, vector) in zip(work, vectors) {
            guard let record = records[item.recordID] else { continue }
            guard index(item.field, id: record.id, vector: vector, metadata: VectorMetadata(record: record), model: model) else {
                return false
            }
        }
        if contiguous { vectorsThrough = position }
        return true
    }

    /// A context vector from text vectors already indexed: the record's own (half the weight) and
    /// its neighbours' (the other half, shared); nil when one of them has no vector yet.
    private func blend(_ work: VectorWork) -> [Float]? {
        guard work.field == .context, let own = textIndex.vector(of: work.recordID) else { return nil }
        var neighbours: [[Float]] = []
        for id in work.neighbours {
            guard let vector = textIndex.vector(of: id) else { return nil }
            neighbours.append(vector)
        }
        guard !neighbours.isEmpty else { return own }
        let share = Float(0.5) / Float(neighbours.count)
        var blended = own.map { $0 * 0.5 }
        for vector in neighbours where vector.count == blended.count {
            for index in blended.indices { blended[index] += share * vector[index] }
        }
        return blended
    }

    /// Puts a vector into the index of its field; false (and retrieval falls back to full text)
    /// when it does not fit the index.
    private func index(_ field: MemoryField, id: Int64, vector: [Float], metadata: VectorMetadata, model: String) -> Bool {
        do {
            switch field {
            case .text: try textIndex.upsert(id: id, vector: vector, metadata: metadata)
            case .context: try contextIndex.upsert(id: id, vector: vector, metadata: metadata)
            }
            return true
        } catch {
            embeddingState = .unavailable(model: model, reason: error.description)
            return false
        }
    }

    /// Adds to the vector indexes what other processes saved since the last look (another
    /// daemon on the fleet's store, `hearth memory index` beside the daemon): saves are numbered
    /// as they commit, so none is missed, and a reconnect only delays them.
    public func followVectors() async throws {
        guard let model else { return }
        while true {
            let saved = try await store.vectors(after: vectorsThrough, model: model, saves: 100)
            guard saved.through > vectorsThrough else { return }
            for (stored, field) in [(saved.text, MemoryField.text), (saved.context, .context)] {
                for (row, id) in stored.ids.enumerated() {
                    let vector = SavedVectors.vector(stored, at: row)
                    guard index(field, id: id, vector: vector, metadata: stored.metadata[row], model: model) else { return }
                }
            }
            vectorsThrough = saved.through
        }
    }

    /// Texts embedded one at a time, each cut in half until the model takes it (down to 200
    /// characters, which fit any embedding model's window); nil when even that fails — the
    /// server is down, not the text too long.
    static func embedOneByOne(_ texts: [String], with embedder: any Embedder) async -> (vectors: [[Float]], shortened: Int)? {
        var vectors: [[Float]] = []
        var shortened = 0
        for text in texts {
            var candidate = text
            while true {
                if let vector = try? await embedder.embed([candidate]).vectors.first {
                    vectors.append(vector)
                    if candidate.count < text.count { shortened += 1 }
                    break
                }
                guard candidate.count > 200 else { return nil }
                candidate = String(candidate.prefix(max(200, candidate.count / 2)))
            }
        }
        return (vectors, shortened)
    }

    // MARK: Retrieval

    public enum Mode: String, Sendable, CaseIterable {
        /// Vectors + full text + sessions + entities, fused.
        case hybrid
        /// Plain BM25 over each record's own text, every query word: the baseline.
        case bm25
    }

    /// Embeds the query (when vectors are in use). Separate so benchmarks can time it apart.
    public func embedQuery(_ query: String) async -> [Float]? {
        guard embeddingState.usesVectors || (embedder != nil && textIndex.count > 0), let embedder, let model else { return nil }
        do {
            let vector = try await embedder.embed([settings.embedding.text(query)]).vectors.first
            embeddingState = .ready(model: model)
            return vector
        } catch {
            embeddingState = .unavailable(model: model, reason: String(describing: error))
            return nil
        }
    }

    /// Records for `query`, best first. `asOf` is when the question is asked (default: now): times
    /// it names ("last week") and recency are read against it.
    public func search(_ query: String, k: Int = 10, filter: MemoryFilter = .any, mode: Mode = .hybrid, asOf: Date? = nil) async throws
        -> [MemoryHit]
    {
        let vector = mode == .hybrid ? await embedQuery(query) : nil
        return try await search(query, queryVector: vector, k: k, filter: filter, mode: mode, asOf: asOf)
    }

    /// Retrieval time ('hearth_memory_query_seconds' on /metrics; the query's embedding is not in it).
    static let queryTimer = CoreMetrics.Timer(label: "hearth_memory_query_seconds")

    /// Retrieval with a query vector computed beforehand (nil: full text only).
    public func search(_ query: String, queryVector: [Float]?, k: Int, filter: MemoryFilter, mode: Mode, asOf: Date? = nil)
        async throws -> [MemoryHit]
    {
        let started = ContinuousClock.now
        defer {
            let elapsed = (ContinuousClock.now - started).components
            Self.queryTimer.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        }
        guard k > 0 else { return [] }
        if mode == .bm25 {
            let ranked = try await store.fullTextSearch(
                terms: MemoryText.queryTerms(query, keepStopWords: true), field: .text, filter: filter, limit: k)
            let records = try await store.records(ids: ranked.map(\.id))
            let terms = Set(MemoryText.words(query))
            return zip(records, ranked).enumerated().map { rank, pair in
                MemoryHit(record: pair.0, score: pair.1.score, reasons: [.keywords(rank: rank, terms: matchedTerms(pair.0, terms))])
            }
        }
        try await catchUp()
        if queryVector != nil { try await followVectors() }
        let terms = MemoryText.queryTerms(query, keepStopWords: settings.keepStopWords)
        let depth = max(settings.depth, k)
        // The four lists and the session ranking are independent: each is computed off the actor,
        // in parallel (two cores).
        let (keywordIndex, textVectors, contextVectors) = (lexical, textIndex, contextIndex)
        let vector = queryVector.flatMap { $0.count == textVectors.dimensions ? $0 : nil }
        async let keywordList = Self.keywords(keywordIndex, terms, .text, filter, depth)
        async let contextList = Self.keywords(keywordIndex, terms, .context, filter, depth)
        async let meaning = Self.nearest(textVectors, vector, filter, depth)
        async let contextMeaning = Self.nearest(contextVectors, vector, filter, depth)
        async let sessionList = Self.sessions(keywordIndex, terms, filter, settings.sessionDepth)
        var fused = Fusion(k: settings.fusionK)
        let keywordHits = await keywordList
        fused.add(keywordHits) { rank, _ in .keywords(rank: rank, terms: []) }
        fused.add(await contextList) { rank, _ in .contextKeywords(rank: rank) }
        let meaningHits = await meaning
        fused.add(meaningHits) { rank, hit in .meaning(rank: rank, similarity: hit.score) }
        fused.add(await contextMeaning) { rank, hit in .contextMeaning(rank: rank, similarity: hit.score) }
        let now = asOf ?? clock.now()
        for (mention, window) in timeWindows(query, now: now, filter: filter) {
            // The question's words and meaning again, among the records of the time it names.
            async let during = Self.keywords(keywordIndex, terms, .text, window, depth)
            async let duringMeaning = Self.nearest(textVectors, vector, window, depth)
            fused.add(await during, weight: settings.timeWeight) { _, _ in .during(mention.phrase) }
            fused.add(await duringMeaning, weight: settings.timeWeight) { _, _ in .during(mention.phrase) }
        }

        // Records linked to facts about entities the query names.
        let normalisedQuery = " " + MemoryText.normalise(query) + " "
        var factLinked: [Int64: String] = [:]
        for (entity, ids) in entityRecords where normalisedQuery.contains(" \(entity) ") {
            for id in ids { factLinked[id] = entity }
        }
        let candidates = fused.ids + lexical.admitted(factLinked.keys.filter { fused.score[$0] == nil }.sorted(), filter)
        let entries = candidates.compactMap { id in lexical.entry(id).map { (id, $0) } }

        // Session rank and named participants.
        var sessionRank: [String: Int] = [:]
        for (rank, session) in await sessionList.enumerated() {
            sessionRank[LexicalIndex.sessionKey(session.source, session.sessionID)] = rank
        }
        // Sessions ranked by meaning too: by their best record in the vector list.
        var meaningSessionRank: [String: Int] = [:]
        if settings.meaningSessionWeight != 0 {
            for hit in meaningHits {
                guard let key = lexical.entry(hit.id)?.sessionKey else { continue }
                if meaningSessionRank[key] == nil, meaningSessionRank.count < settings.sessionDepth {
                    meaningSessionRank[key] = meaningSessionRank.count
                }
            }
        }
        // A record outside any session (a note, a file) is a session of one: it ranks behind the
        // sessions whose best record ranks above it in full text, so a session's lift does not
        // bury a note that matches better than any of them.
        var singletonRank: [Int64: Int] = [:]
        var sessionsAbove: Set<String> = []
        for hit in keywordHits {
            guard let entry = lexical.entry(hit.id) else { continue }
            if let session = entry.sessionKey {
                sessionsAbove.insert(session)
            } else if sessionsAbove.count < settings.sessionDepth {
                singletonRank[hit.id] = sessionsAbove.count
            }
        }
        let speakers = Set(entries.compactMap(\.1.speaker))
        let named = speakers.filter { normalisedQuery.contains(" \(MemoryText.normalise($0)) ") }
        let advice = MemoryText.asksForAdvice(query)

        // Scored from the index's metadata; only the best few rows are read from the store.
        var scored: [(id: Int64, score: Double, reasons: [MatchReason])] = entries.map { id, entry in
            var score = fused.score[id] ?? 0
            var reasons = fused.reasons[id] ?? []
            if let rank = entry.sessionKey.map({ sessionRank[$0] }) ?? singletonRank[id] {
                score += settings.sessionWeight / (61 + Double(rank))
                reasons.append(.session(rank: rank))
            }
            if let rank = entry.sessionKey.flatMap({ meaningSessionRank[$0] }) {
                score += settings.meaningSessionWeight / (61 + Double(rank))
                if !reasons.contains(where: { if case .session = $0 { true } else { false } }) { reasons.append(.session(rank: rank)) }
            }
            // Its context is itself: its meaning counts for the context list it has no vector in.
            if entry.sessionID == nil, !reasons.contains(where: { if case .contextMeaning = $0 { true } else { false } }),
                let meaning = reasons.lazy.compactMap({ reason -> (Int, Double)? in
                    if case .meaning(let rank, let similarity) = reason { (rank, similarity) } else { nil }
                }).first
            {
                score += 1 / (settings.fusionK + Double(meaning.0) + 1)
                reasons.append(.contextMeaning(rank: meaning.0, similarity: meaning.1))
            }
            if named.count == 1, let speaker = entry.speaker, named.contains(speaker) {
                score += settings.entityWeight
                reasons.append(.entity(speaker))
            }
            if let entity = factLinked[id] {
                score += settings.factWeight
                reasons.append(.fact(entity))
            }
            if advice, settings.adviceUserWeight != 0, entry.speaker == MemoryRecord.userSpeaker {
                score += settings.adviceUserWeight
                reasons.append(.userForAdvice)
            }
            if settings.importanceWeight != 0 && entry.importance != 0.5 {
                score += settings.importanceWeight * (entry.importance - 0.5)
                reasons.append(.importance(entry.importance))
            }
            let ageDays = max(0, now.timeIntervalSince(entry.occurredAt) / 86_400)
            if settings.recencyWeight != 0 {
                let lift = settings.recencyWeight * pow(2, -ageDays / settings.recencyHalfLifeDays)
                score += lift
                if lift > settings.recencyWeight / 4 { reasons.append(.recency(days: ageDays)) }
            }
            return (id, score, reasons)
        }
        if advice { liftOwnWords(&scored, filter) }
        scored = scored.best(k + 8) { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
        let records = Dictionary(uniqueKeysWithValues: try await store.records(ids: scored.map(\.id)).map { ($0.id, $0) })
        var hits: [MemoryHit] = []
        for item in scored {
            guard let record = records[item.id] else {
                // Deleted by another process since this index read it.
                lexical.remove(item.id)
                textIndex.remove(item.id)
                contextIndex.remove(item.id)
                continue
            }
            if hits.count < k { hits.append(MemoryHit(record: record, score: item.score, reasons: item.reasons)) }
        }
        let queryWords = Set(MemoryText.words(query))
        for index in hits.indices {
            hits[index].reasons = hits[index].reasons.map { reason in
                if case .keywords(let rank, _) = reason {
                    return .keywords(rank: rank, terms: matchedTerms(hits[index].record, queryWords))
                }
                return reason
            }
        }
        return hits
    }

    /// When recall centres on one conversation (`ownWordsQuorum` of the best `ownWordsRank`
    /// records, more than any other holds), the user's turns of it rank at least just behind the
    /// `ownWordsRank`-th record.
    private func liftOwnWords(_ scored: inout [(id: Int64, score: Double, reasons: [MatchReason])], _ filter: MemoryFilter) {
        guard settings.ownWordsRank > 0 else { return }
        let best = scored.best(settings.ownWordsRank) { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
        var bySession: [String: (count: Int, member: Int64)] = [:]
        for item in best {
            guard let session = lexical.entry(item.id)?.sessionKey else { continue }
            bySession[session, default: (0, item.id)].count += 1
        }
        // One conversation holds the most of them: a tie names no centre.
        let counts = bySession.values.sorted { $0.count > $1.count }
        guard best.count == settings.ownWordsRank, let centre = counts.first, centre.count >= settings.ownWordsQuorum,
            counts.count == 1 || counts[1].count < centre.count
        else { return }
        let floor = best[best.count - 1].score.nextDown
        var position: [Int64: Int] = [:]
        for (index, item) in scored.enumerated() { position[item.id] = index }
        for member in lexical.admitted(lexical.sessionMembers(of: centre.member), filter)
        where lexical.entry(member)?.speaker == MemoryRecord.userSpeaker {
            if let index = position[member] {
                guard scored[index].score < floor else { continue }
                scored[index].score = floor
                scored[index].reasons.append(.ownWords)
            } else {
                scored.append((member, floor, [.ownWords]))
            }
        }
    }

    /// The times `query` names, each with `filter` narrowed to it (at most two: a question
    /// comparing two times).
    func timeWindows(_ query: String, now: Date, filter: MemoryFilter) -> [(TimeMention, MemoryFilter)] {
        guard settings.timeWeight > 0 else { return [] }
        return TimeMention.find(in: query, now: now, calendar: settings.calendar).prefix(2).compactMap { mention in
            var window = filter
            window.occurredFrom = max(filter.occurredFrom ?? .distantPast, mention.interval.start)
            window.occurredBefore = min(filter.occurredBefore ?? .distantFuture, mention.interval.end)
            guard let from = window.occurredFrom, let before = window.occurredBefore, from < before else { return nil }
            return (mention, window)
        }
    }

    @concurrent
    private nonisolated static func keywords(
        _ index: LexicalIndex, _ terms: [String], _ field: MemoryField, _ filter: MemoryFilter, _ depth: Int
    ) async -> [ScoredID] {
        index.search(terms, field: field, filter: filter, limit: depth)
    }

    @concurrent
    private nonisolated static func sessions(_ index: LexicalIndex, _ terms: [String], _ filter: MemoryFilter, _ depth: Int) async
        -> [ScoredSession]
    {
        index.sessionSearch(terms, filter: filter, limit: depth)
    }

    @concurrent
    private nonisolated static func nearest(_ index: VectorIndex, _ vector: [Float]?, _ filter: MemoryFilter, _ depth: Int) async
        -> [ScoredID]
    {
        guard let vector else { return [] }
        return index.search(vector, k: depth, filter: filter)
    }

    /// The record's words that match a query word (as written or by stem), each once.
    private func matchedTerms(_ record: MemoryRecord, _ terms: Set<String>) -> [String] {
        let stems = Set(terms.map(Stemmer.stem))
        var seen = Set<String>()
        return MemoryText.words(record.spokenText).filter {
            !MemoryText.stopWords.contains($0) && (terms.contains($0) || stems.contains(Stemmer.stem($0))) && seen.insert($0).inserted
        }
    }

    // MARK: Forgetting

    /// Deletes records for good: row, full text, vectors, derived facts; neighbours' context is rebuilt.
    public func forget(ids: [Int64]) async throws -> MemoryRemoval {
        let removal = try await store.delete(ids: ids)
        for id in removal.records {
            textIndex.remove(id)
            contextIndex.remove(id)
            lexical.remove(id)
        }
        textIndex.compactIfNeeded()
        contextIndex.compactIfNeeded()
        lexical.compactIfNeeded()
        if !removal.facts.isEmpty { try await reloadEntities() }
        return removal
    }

    /// Records matching every word of `query` (full text), for `forget --query`.
    public func recordsMatchingAll(_ query: String, filter: MemoryFilter = .any, limit: Int = 1_000) async throws -> [MemoryRecord] {
        let words = MemoryText.queryTerms(query)
        guard !words.isEmpty else { return [] }
        let ranked = try await store.fullTextSearch(terms: words, field: .text, filter: filter, limit: limit * 4)
        return try await store.records(ids: ranked.map(\.id)).filter { record in
            let recordWords = Set(MemoryText.words(record.spokenText))
            return words.allSatisfy { recordWords.contains($0) }
        }.prefix(limit).map { $0 }
    }

    // MARK: Facts

    func reloadEntities() async throws {
        var map: [String: Set<Int64>] = [:]
        for fact in try await store.facts(FactQuery()) {
            guard let source = fact.sourceRecordID else { continue }
            for name in [fact.subject, fact.object] {
                let key = MemoryText.normalise(name)
                guard key.count >= 3, key != "user" else { continue }
                map[key, default: []].insert(source)
            }
        }
        entityRecords = map
    }

    /// Called after facts change, so retrieval links the right records.
    public func factsChanged() async throws { try await reloadEntities() }

    public var vectorIndexBytes: Int { textIndex.residentBytes + contextIndex.residentBytes }
}

/// Reciprocal-rank fusion over ranked lists, remembering why each id scored.
struct Fusion {
    let k: Double
    private(set) var score: [Int64: Double] = [:]
    private(set) var reasons: [Int64: [MatchReason]] = [:]
    private(set) var ids: [Int64] = []

    init(k: Double) { self.k = k }

    mutating func add(_ list: [ScoredID], weight: Double = 1, reason: (Int, ScoredID) -> MatchReason) {
        for (rank, hit) in list.enumerated() {
            if score[hit.id] == nil { ids.append(hit.id) }
            score[hit.id, default: 0] += weight / (k + Double(rank) + 1)
            reasons[hit.id, default: []].append(reason(rank, hit))
        }
    }
}

extension MemoryEngine {
    /// How many of the exact top-k the index's search finds (1.0 below `exactLimit`, where it is exact).
    /// Mean time of one vector search at `depth` candidates (milliseconds), for the benchmark.
    public func vectorSearchMilliseconds(queries: [[Float]], k: Int, depth: Int) -> Double {
        guard !queries.isEmpty else { return 0 }
        let started = ContinuousClock.now
        for query in queries { _ = textIndex.search(query, k: k, depth: depth) }
        return (ContinuousClock.now - started).inSeconds * 1_000 / Double(queries.count)
    }

    public func vectorRecall(queries: [[Float]], k: Int, depth: Int? = nil) -> Double {
        guard !queries.isEmpty else { return 0 }
        var found = 0
        var wanted = 0
        for query in queries {
            let exact = Set(textIndex.search(query, k: k, forceExact: true).map(\.id))
            let fast = Set(textIndex.search(query, k: k, depth: depth).map(\.id))
            found += exact.intersection(fast).count
            wanted += exact.count
        }
        return wanted == 0 ? 0 : Double(found) / Double(wanted)
    }
}
