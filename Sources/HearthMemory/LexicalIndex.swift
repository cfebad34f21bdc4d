import Foundation
import HearthCore

/// BM25 over every record, held in memory: postings of each record's own words, from which the
/// three keyword lists of hybrid retrieval are scored without touching SQLite —
///
/// - `text`: the record's own words;
/// - `context`: the record with its two neighbours on each side in its session (term counts and
///   lengths summed over the window, as the store's `context` column holds the window's text);
/// - sessions: each session as one document.
///
/// FTS5 stays the durable full-text index (plain BM25, exact-phrase look-ups); this index is
/// rebuilt from the records at start and follows every insert and deletion. Words are lowercased,
/// split at anything but letters and digits, with diacritics folded (as FTS5's `unicode61`), then
/// (by default) folded to their stems, which FTS5 does not do: on LoCoMo stemming lifted turn
/// R@10 from 0.731 to 0.753. Without stemming the scores are exactly FTS5's `bm25()` as the
/// store's two-column table (`text`, `context`) computes them with one column weighted (a test
/// holds them to it): k1 = 1.2, b = 0.75, idf = ln((N − n + 0.5)/(n + 0.5)) (at least 1e-6),
/// and the row's length over both columns — which softens the length penalty of a short record
/// (measured on LoCoMo: per-column lengths lost 0.006 of R@10).
public struct LexicalIndex: Sendable {
    static let k1: Float = 1.2
    static let b: Float = 0.75

    /// Whether words are folded to their stems (`Stemmer`) before indexing and search.
    public let stemming: Bool
    /// Stems → term ids.
    private var termIDs: [String: Int32] = [:]
    /// Words as written → term ids, so each distinct word is stemmed once.
    private var wordTerms: [String: Int32] = [:]
    /// Per term: `slot << 8 | min(count, 255)`, in slot order.
    private var postings: [[UInt32]] = []
    /// Per term: live records holding it.
    private var documentFrequency: [Int32] = []
    /// Per term: live context windows holding it (kept as windows change, so a query knows a
    /// term's window idf before scanning it).
    private var contextFrequency: [Int32] = []

    private var ids: [Int64] = []
    private var alive: [Bool] = []
    private var slotOf: [Int64: Int] = [:]
    /// Per slot: its distinct terms (to keep document frequencies right on deletion).
    private var slotTerms: [[Int32]] = []
    private var lengths: [Float] = []
    private var totalLength: Double = 0
    private var columns = RecordColumns()

    // Sessions: live slots in order, each slot's session and place in it.
    private var sessionOf: [Int32] = []
    private var placeOf: [Int32] = []
    private var sessionSlots: [[Int32]] = []
    private var sessionKeys: [(source: String, sessionID: String)] = []
    private var sessionIndex: [String: Int32] = [:]
    private var sessionLengths: [Float] = []
    private var liveSessions = 0
    /// The most records any session has held (an upper bound: not lowered by deletions).
    private var longestSession = 1
    /// Live records outside any session.
    private var loose = 0
    /// Per slot: the length of its context window.
    private var contextLengths: [Float] = []
    /// Per slot, five entries: the slots of its window (itself included), −1 where there is none.
    private var windows: [Int32] = []
    private var totalContextLength: Double = 0

    /// - Parameter stemming: fold inflections ("activities" finds "activity"); off, the scores are
    ///   exactly FTS5's over the same text.
    public init(stemming: Bool = true) {
        self.stemming = stemming
    }

    /// Live records.
    public var count: Int { slotOf.count }
    public var tombstones: Int { ids.count - slotOf.count }
    public func contains(_ id: Int64) -> Bool { slotOf[id] != nil }

    /// Approximate bytes held.
    public var residentBytes: Int {
        postings.reduce(0) { $0 + $1.capacity * 4 + 32 } + slotTerms.reduce(0) { $0 + $1.capacity * 4 + 32 } + ids.capacity * 30
            + columns.residentBytes + slotOf.capacity * 24 + (termIDs.count + wordTerms.count) * 48
    }

    /// The words FTS5's `unicode61` would index: lowercased, diacritics folded, split at anything
    /// but letters and digits.
    public static func words(_ text: String) -> [String] {
        let folded = text.utf8.allSatisfy { $0 < 128 } ? text : text.folding(options: .diacriticInsensitive, locale: nil)
        return MemoryText.words(folded)
    }

    // MARK: Changes

    /// Adds a record at the end of its session (records arrive in id order, which is session order).
    public mutating func add(_ record: MemoryRecord) {
        guard slotOf[record.id] == nil else { return }
        let slot = ids.count
        precondition(slot < 1 << 24, "the lexical index holds at most 16,777,216 slots")
        var counts: [Int32: UInt32] = [:]
        for word in Self.words(record.spokenText) {
            counts[term(for: word), default: 0] += 1
        }
        let distinct = counts.keys.sorted()
        for term in distinct {
            postings[Int(term)].append(UInt32(slot) << 8 | min(counts[term]!, 255))
            documentFrequency[Int(term)] += 1
        }
        let length = Float(counts.values.reduce(0, +))
        ids.append(record.id)
        alive.append(true)
        slotOf[record.id] = slot
        slotTerms.append(distinct)
        lengths.append(length)
        totalLength += Double(length)
        columns.append(VectorMetadata(record: record))
        contextLengths.append(length)
        totalContextLength += Double(length)
        windows.append(contentsOf: [Int32(slot), -1, -1, -1, -1])
        for term in distinct { contextFrequency[Int(term)] += 1 }
        guard let sessionID = record.sessionID else {
            sessionOf.append(-1)
            placeOf.append(-1)
            loose += 1
            return
        }
        let key = Self.sessionKey(record.source, sessionID)
        let session: Int32
        if let known = sessionIndex[key] {
            session = known
        } else {
            session = Int32(sessionSlots.count)
            sessionIndex[key] = session
            sessionSlots.append([])
            sessionKeys.append((record.source, sessionID))
            sessionLengths.append(0)
        }
        if sessionSlots[Int(session)].isEmpty { liveSessions += 1 }
        sessionOf.append(session)
        placeOf.append(Int32(sessionSlots[Int(session)].count))
        sessionSlots[Int(session)].append(Int32(slot))
        longestSession = max(longestSession, sessionSlots[Int(session)].count)
        sessionLengths[Int(session)] += length
        refreshContexts(Int(session), from: sessionSlots[Int(session)].count - 3)
    }

    /// The term a word is indexed under (its stem, when stemming), created on first sight.
    private mutating func term(for word: String) -> Int32 {
        if let known = wordTerms[word] { return known }
        let key = stemming ? Stemmer.stem(word) : word
        let term: Int32
        if let known = termIDs[key] {
            term = known
        } else {
            term = Int32(postings.count)
            termIDs[key] = term
            postings.append([])
            documentFrequency.append(0)
            contextFrequency.append(0)
        }
        wordTerms[word] = term
        return term
    }

    /// Removes a record (its postings stay as a tombstone until `compactIfNeeded`).
    @discardableResult
    public mutating func remove(_ id: Int64) -> Bool {
        guard let slot = slotOf.removeValue(forKey: id) else { return false }
        alive[slot] = false
        for term in slotTerms[slot] { documentFrequency[Int(term)] -= 1 }
        for term in windowTerms(slot) { contextFrequency[Int(term)] -= 1 }
        totalLength -= Double(lengths[slot])
        totalContextLength -= Double(contextLengths[slot])
        contextLengths[slot] = 0
        let session = Int(sessionOf[slot])
        if session < 0 { loose -= 1 }
        if session >= 0 {
            let place = Int(placeOf[slot])
            sessionSlots[session].remove(at: place)
            for index in place..<sessionSlots[session].count { placeOf[Int(sessionSlots[session][index])] = Int32(index) }
            sessionLengths[session] -= lengths[slot]
            if sessionSlots[session].isEmpty { liveSessions -= 1 }
            // The neighbours' old windows still name this slot: its terms are needed until they are redrawn.
            refreshContexts(session, from: place - 2)
        }
        for index in (slot * 5)..<(slot * 5 + 5) { windows[index] = -1 }
        slotTerms[slot] = []
        return true
    }

    /// The distinct terms of the window of `slot`, ascending.
    private func windowTerms(_ slot: Int) -> [Int32] {
        var members: [Int32] = []
        for index in (slot * 5)..<(slot * 5 + 5) where windows[index] >= 0 { members.append(windows[index]) }
        return windowTerms(members: members)
    }

    private func windowTerms(members: [Int32]) -> [Int32] {
        guard members.count > 1 else { return members.first.map { slotTerms[Int($0)] } ?? [] }
        var terms: [Int32] = []
        for member in members { terms.append(contentsOf: slotTerms[Int(member)]) }
        terms.sort()
        terms.removeDuplicatesFromSorted()
        return terms
    }

    /// Moves window frequencies from one term set to another (both ascending).
    private mutating func shiftContextFrequency(from old: [Int32], to new: [Int32]) {
        var i = 0
        var j = 0
        while i < old.count || j < new.count {
            if j == new.count || (i < old.count && old[i] < new[j]) {
                contextFrequency[Int(old[i])] -= 1
                i += 1
            } else if i == old.count || new[j] < old[i] {
                contextFrequency[Int(new[j])] += 1
                j += 1
            } else {
                i += 1
                j += 1
            }
        }
    }

    /// Recomputes the windows of a session's slots from `start` on (a window reaches two places
    /// each way, so a change at place p affects p − 2 … p + 2), with their lengths and the window
    /// frequencies of their terms.
    private mutating func refreshContexts(_ session: Int, from start: Int) {
        let slots = sessionSlots[session]
        guard !slots.isEmpty else { return }
        for place in max(0, start)..<slots.count {
            let slot = Int(slots[place])
            let neighbours = Array(slots[max(0, place - 2)...min(slots.count - 1, place + 2)])
            var old: [Int32] = []
            for index in (slot * 5)..<(slot * 5 + 5) where windows[index] >= 0 { old.append(windows[index]) }
            if old != neighbours {
                shiftContextFrequency(from: windowTerms(members: old), to: windowTerms(members: neighbours))
                var window: Float = 0
                for (offset, member) in neighbours.enumerated() {
                    window += lengths[Int(member)]
                    windows[slot * 5 + offset] = member
                }
                for offset in neighbours.count..<5 { windows[slot * 5 + offset] = -1 }
                totalContextLength += Double(window - contextLengths[slot])
                contextLengths[slot] = window
            }
            if place >= start + 5 { break }
        }
    }

    /// Drops tombstones when they make up more than a quarter of the slots.
    public mutating func compactIfNeeded() {
        guard tombstones > 0, tombstones * 4 > ids.count else { return }
        var newSlot = [Int32](repeating: -1, count: ids.count)
        var next: Int32 = 0
        for slot in ids.indices where alive[slot] {
            newSlot[slot] = next
            next += 1
        }
        var fresh = LexicalIndex(stemming: stemming)
        fresh.termIDs = termIDs
        fresh.wordTerms = wordTerms
        fresh.documentFrequency = documentFrequency
        fresh.contextFrequency = contextFrequency
        fresh.postings = postings.map { list in
            list.compactMap { entry in
                let slot = newSlot[Int(entry >> 8)]
                return slot < 0 ? nil : UInt32(slot) << 8 | (entry & 255)
            }
        }
        fresh.columns = columns.emptyCopy()
        fresh.sessionKeys = sessionKeys
        fresh.sessionIndex = sessionIndex
        fresh.sessionLengths = sessionLengths
        fresh.liveSessions = liveSessions
        fresh.longestSession = longestSession
        fresh.loose = loose
        fresh.sessionSlots = sessionSlots.map { $0.map { newSlot[Int($0)] } }
        fresh.totalLength = totalLength
        fresh.totalContextLength = totalContextLength
        for slot in ids.indices where alive[slot] {
            fresh.slotOf[ids[slot]] = fresh.ids.count
            fresh.ids.append(ids[slot])
            fresh.alive.append(true)
            fresh.slotTerms.append(slotTerms[slot])
            fresh.lengths.append(lengths[slot])
            fresh.contextLengths.append(contextLengths[slot])
            fresh.windows.append(contentsOf: windows[(slot * 5)..<(slot * 5 + 5)].map { $0 < 0 ? -1 : newSlot[Int($0)] })
            fresh.sessionOf.append(sessionOf[slot])
            fresh.placeOf.append(placeOf[slot])
            fresh.columns.append(slot: slot, of: columns)
        }
        self = fresh
    }

    // MARK: Queries

    /// What the scorer needs to know about a record without reading it from the store.
    public struct Entry: Sendable, Hashable {
        public var source: String
        public var sessionID: String?
        public var speaker: String?
        public var importance: Double
        public var occurredAt: Date

        /// Its session, told apart from another source's session of the same id; nil outside one.
        public var sessionKey: String? { sessionID.map { LexicalIndex.sessionKey(source, $0) } }
    }

    /// One key per session: the same id under two sources is two sessions.
    public static func sessionKey(_ source: String, _ sessionID: String) -> String {
        source + "\u{1F}" + sessionID
    }

    public func entry(_ id: Int64) -> Entry? {
        guard let slot = slotOf[id] else { return nil }
        return Entry(
            source: columns.source(slot), sessionID: columns.session(slot), speaker: columns.speaker(slot),
            importance: Double(columns.importance[slot]), occurredAt: columns.occurred(slot))
    }

    /// The live records of `id`'s session, in session order (empty outside a session).
    public func sessionMembers(of id: Int64) -> [Int64] {
        guard let slot = slotOf[id], sessionOf[slot] >= 0 else { return [] }
        return sessionSlots[Int(sessionOf[slot])].compactMap { member in alive[Int(member)] ? ids[Int(member)] : nil }
    }

    /// The live records among `ids` that pass the filter, in the given order.
    public func admitted(_ ids: some Sequence<Int64>, _ filter: MemoryFilter) -> [Int64] {
        guard let admit = columns.admission(filter) else { return [] }
        return ids.filter { id in slotOf[id].map(admit) ?? false }
    }

    /// The indexed terms among a query's words (stemmed as the index stems), each once. A word the
    /// index has never seen that is two words it has run together ("homegrown", "bookshelf",
    /// "weeknight") is looked up as those two.
    private func queryTerms(_ words: [String]) -> Set<Int32> {
        Set(words.flatMap { Self.words($0) }.flatMap { word in indexedTerm(word).map { [$0] } ?? compoundTerms(word) })
    }

    private func indexedTerm(_ word: String) -> Int32? {
        wordTerms[word] ?? termIDs[stemming ? Stemmer.stem(word) : word]
    }

    /// The terms of an unknown compound: the split into two indexed words of at least three
    /// letters each whose shorter part is longest; none when no split is known.
    private func compoundTerms(_ word: String) -> [Int32] {
        let letters = Array(word.utf8)
        guard letters.count >= 7, letters.allSatisfy({ $0 >= 97 && $0 <= 122 }) else { return [] }
        var best: (shorter: Int, terms: [Int32])?
        for cut in 3...(letters.count - 3) {
            let shorter = min(cut, letters.count - cut)
            guard shorter > best?.shorter ?? 0,
                let head = indexedTerm(String(decoding: letters[..<cut], as: UTF8.self)),
                let tail = indexedTerm(String(decoding: letters[cut...], as: UTF8.self))
            else { continue }
            best = (shorter, [head, tail])
        }
        return best?.terms ?? []
    }

    /// One term's BM25 contribution to a document of `length` tokens (lengths averaging `average`).
    @inline(__always)
    static func weight(idf: Float, frequency: Float, length: Float, average: Float) -> Float {
        idf * frequency * (k1 + 1) / (frequency + k1 * (1 - b + b * length / average))
    }

    /// FTS5's idf for a term in at least half the documents (it never lets a match count nothing).
    static let minimumIDF: Float = 1e-6

    static func idf(documents: Int, holding: Int) -> Float {
        let value = log((Double(documents - holding) + 0.5) / (Double(holding) + 0.5))
        return value > 0 ? Float(value) : minimumIDF
    }

    /// The best `limit` records for `terms` (any of them) in `field`, best first.
    ///
    /// Terms are scored rarest first, each over its whole posting list, until the terms left
    /// could not lift a record that none of the earlier ones matched past the current `limit`-th
    /// score (MaxScore: a term adds less than `idf × (k1 + 1)`). The common terms left are then
    /// looked up only for the records still in reach, by binary search in their postings — so a
    /// word in most records costs a few hundred look-ups instead of a pass over all of them, and
    /// the result is the same.
    public func search(_ terms: [String], field: MemoryField, filter: MemoryFilter, limit: Int) -> [ScoredID] {
        let live = count
        guard limit > 0, live > 0, let admit = columns.admission(filter) else { return [] }
        let held = field == .text ? documentFrequency : contextFrequency
        var weighted: [(term: Int32, idf: Float)] = queryTerms(terms).map { term in
            (term, Self.idf(documents: live, holding: Int(held[Int(term)])))
        }
        weighted.sort { $0.idf > $1.idf || ($0.idf == $1.idf && $0.term < $1.term) }
        guard !weighted.isEmpty else { return [] }
        let average = Float((totalLength + totalContextLength) / Double(live))
        var scores = [Float](repeating: 0, count: ids.count)
        var touched: [Int32] = []
        var windowCounts = [Float](repeating: 0, count: field == .context ? ids.count : 0)
        var holders: [Int32] = []
        // Bounds carry a margin so float rounding never prunes a record that would tie.
        let bounds = weighted.map { $0.idf * (Self.k1 + 1) * 1.0001 }
        var next = 0
        var threshold: Float = 0
        var scanned: Float = 0
        var fillUp = false
        while next < weighted.count {
            let remaining = bounds[next...].reduce(0, +)
            // The threshold is at most the best score, which is at most what the scanned terms can give.
            if touched.count >= limit && remaining < scanned {
                var reached = touched.compactMap { admit(Int($0)) ? scores[Int($0)] : nil }
                threshold = reached.count >= limit ? Self.largest(limit, in: &reached) : 0
                if remaining < threshold { break }
            }
            // The terms left are in at least half the records, so BM25 weighs them next to nothing
            // (`minimumIDF`). If the rarer terms found fewer than `limit` records, the list is filled
            // with the most recent records holding one of them instead of ranking most of the index
            // by those near-zero weights.
            if weighted[next].idf <= Self.minimumIDF
                && (touched.count < limit || touched.lazy.filter({ admit(Int($0)) }).count < limit)
            {
                fillUp = true
                break
            }
            let (term, idf) = weighted[next]
            switch field {
            case .text:
                for entry in postings[Int(term)] {
                    let slot = Int(entry >> 8)
                    guard alive[slot] else { continue }
                    if scores[slot] == 0 { touched.append(Int32(slot)) }
                    scores[slot] += Self.weight(
                        idf: idf, frequency: Float(entry & 255), length: lengths[slot] + contextLengths[slot], average: average)
                }
            case .context:
                windowOccurrences(of: term, counts: &windowCounts, holders: &holders)
                windowCounts.withUnsafeMutableBufferPointer { counts in
                    scores.withUnsafeMutableBufferPointer { scores in
                        lengths.withUnsafeBufferPointer { lengths in
                            contextLengths.withUnsafeBufferPointer { contextLengths in
                                for holder in holders {
                                    let slot = Int(holder)
                                    let frequency = counts[slot]
                                    counts[slot] = 0
                                    if scores[slot] == 0 { touched.append(holder) }
                                    scores[slot] += Self.weight(
                                        idf: idf, frequency: frequency, length: lengths[slot] + contextLengths[slot],
                                        average: average)
                                }
                            }
                        }
                    }
                }
            }
            scanned += bounds[next]
            next += 1
        }
        var reached = touched.filter { admit(Int($0)) }
        if fillUp {
            reached += recentHolders(
                of: weighted[next...].map(\.term), field: field, wanted: limit - reached.count, admit: admit,
                skipping: Set(reached))
        }
        if next < weighted.count {
            var remaining = bounds[next...].reduce(0, +)
            reached = reached.filter { scores[Int($0)] + remaining >= threshold }
            reached.sort()
            for (offset, (term, idf)) in weighted[next...].enumerated() {
                switch field {
                case .text:
                    let counts = frequencies(of: term, at: reached)
                    for (holder, frequency) in zip(reached, counts) where frequency > 0 {
                        let slot = Int(holder)
                        scores[slot] += Self.weight(
                            idf: idf, frequency: frequency, length: lengths[slot] + contextLengths[slot], average: average)
                    }
                case .context where reached.count * 5 >= postings[Int(term)].count:
                    // Many windows still in reach: one pass over the term's postings costs less
                    // than looking up (and first sorting) every record of those windows.
                    windowOccurrences(of: term, counts: &windowCounts, holders: &holders)
                    for holder in reached {
                        let frequency = windowCounts[Int(holder)]
                        guard frequency > 0 else { continue }
                        let slot = Int(holder)
                        scores[slot] += Self.weight(
                            idf: idf, frequency: frequency, length: lengths[slot] + contextLengths[slot], average: average)
                    }
                    for holder in holders { windowCounts[Int(holder)] = 0 }
                case .context:
                    // The records in the windows still in reach, each looked up once.
                    var members: [Int32] = []
                    for holder in reached {
                        for index in (Int(holder) * 5)..<(Int(holder) * 5 + 5) where windows[index] >= 0 {
                            members.append(windows[index])
                        }
                    }
                    members.sort()
                    members.removeDuplicatesFromSorted()
                    for (member, frequency) in zip(members, frequencies(of: term, at: members)) {
                        windowCounts[Int(member)] = frequency
                    }
                    for holder in reached {
                        let slot = Int(holder)
                        var frequency: Float = 0
                        for index in (slot * 5)..<(slot * 5 + 5) where windows[index] >= 0 {
                            frequency += windowCounts[Int(windows[index])]
                        }
                        guard frequency > 0 else { continue }
                        scores[slot] += Self.weight(
                            idf: idf, frequency: frequency, length: lengths[slot] + contextLengths[slot], average: average)
                    }
                    for member in members { windowCounts[Int(member)] = 0 }
                }
                // With this term's share exact, the bound on the rest shrinks: drop what fell out of reach.
                remaining -= bounds[next + offset]
                reached.removeAll { scores[Int($0)] + max(remaining, 0) < threshold }
            }
        }
        return reached.best(limit) {
            scores[Int($0)] > scores[Int($1)] || (scores[Int($0)] == scores[Int($1)] && $0 < $1)
        }
        .map { ScoredID(id: ids[Int($0)], score: Double(scores[Int($0)])) }
    }

    /// Adds each occurrence of `term` to the window count of every record within two places of it,
    /// listing in `holders` (emptied first) the windows whose count was zero. Raw buffers: this
    /// runs once per window holding the term, hundreds of thousands of times for a common word in
    /// a million records.
    private func windowOccurrences(of term: Int32, counts: inout [Float], holders: inout [Int32]) {
        holders.removeAll(keepingCapacity: true)
        postings[Int(term)].withUnsafeBufferPointer { list in
            windows.withUnsafeBufferPointer { windows in
                alive.withUnsafeBufferPointer { alive in
                    counts.withUnsafeMutableBufferPointer { counts in
                        for entry in list {
                            let slot = Int(entry >> 8)
                            guard alive[slot] else { continue }
                            let frequency = Float(entry & 255)
                            for index in (slot * 5)..<(slot * 5 + 5) {
                                let other = windows[index]
                                if other < 0 { break }
                                if counts[Int(other)] == 0 { holders.append(other) }
                                counts[Int(other)] += frequency
                            }
                        }
                    }
                }
            }
        }
    }

    /// The `wanted` most recent live records (or, for `.context`, windows) holding any of `terms`
    /// that the filter admits, leaving out `skipping`.
    private func recentHolders(
        of terms: [Int32], field: MemoryField, wanted: Int, admit: (Int) -> Bool, skipping: Set<Int32>
    ) -> [Int32] {
        guard wanted > 0 else { return [] }
        var found = Set<Int32>()
        for term in terms {
            var added = 0
            for entry in postings[Int(term)].reversed() {
                let slot = Int(entry >> 8)
                guard alive[slot] else { continue }
                // A record's occurrence puts the term in its own window and in its neighbours'.
                let holders: ArraySlice<Int32> =
                    field == .text ? [Int32(slot)] : windows[(slot * 5)..<(slot * 5 + 5)].prefix { $0 >= 0 }
                for holder in holders where !skipping.contains(holder) && admit(Int(holder)) && found.insert(holder).inserted {
                    added += 1
                }
                if added >= wanted { break }
            }
        }
        return found.sorted(by: >).prefix(wanted).sorted()
    }

    /// How often `term` occurs in each of `slots` (ascending): one forward walk through its postings
    /// (which are in slot order), galloping over the stretches between wanted slots — a few steps per
    /// slot when they are few, never much more than the list's length.
    private func frequencies(of term: Int32, at slots: [Int32]) -> [Float] {
        postings[Int(term)].withUnsafeBufferPointer { list in
            var result = [Float](repeating: 0, count: slots.count)
            var position = 0
            for (index, wanted) in slots.enumerated() {
                let target = UInt32(wanted)
                // Gallop to a bound past the target, then binary search below it.
                var low = position
                var high = position
                var step = 1
                while high < list.count && list[high] >> 8 < target {
                    low = high + 1
                    high = position + step
                    step <<= 1
                }
                high = min(high, list.count)
                while low < high {
                    let middle = (low + high) / 2
                    if list[middle] >> 8 < target { low = middle + 1 } else { high = middle }
                }
                position = low
                if position < list.count && list[position] >> 8 == target { result[index] = Float(list[position] & 255) }
            }
            return result
        }
    }

    /// The `k`-th largest of `values` (1-based; `values` is reordered), by quickselect.
    static func largest(_ k: Int, in values: inout [Float]) -> Float {
        let target = k - 1
        var low = 0
        var high = values.count - 1
        while low < high {
            let pivot = values[(low + high) / 2]
            var i = low
            var j = high
            while i <= j {
                while values[i] > pivot { i += 1 }
                while values[j] < pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j {
                high = j
            } else if target >= i {
                low = i
            } else {
                return values[target]
            }
        }
        return values[target]
    }

    /// The best `limit` sessions for `terms`, each session scored as one document. The filter's
    /// sources and session ids apply (as they did for the store's session index).
    ///
    /// A word whose records are so many that it must be in at least half the sessions (its
    /// record count over the longest session) has the minimum idf; such words are not scanned.
    /// Their near-zero share is added exactly for the sessions that can still reach the list, and
    /// when the other words find fewer than `limit` sessions the list is filled with the most recent
    /// sessions holding one of them — as `search` does for records.
    public func sessionSearch(_ terms: [String], filter: MemoryFilter, limit: Int) -> [ScoredSession] {
        guard limit > 0, liveSessions > 0 else { return [] }
        let termList = queryTerms(terms).sorted()
        guard !termList.isEmpty else { return [] }
        let live = liveSessions
        let average = Float(sessionLengths.reduce(0, +) / Float(live))
        // At least this many sessions hold the term: its records in sessions, over the longest session.
        var ubiquitous = termList.filter { term in
            let inSessions = max(0, Int(documentFrequency[Int(term)]) - loose)
            return (inSessions + longestSession - 1) / longestSession * 2 >= live
        }
        var scores = [Float](repeating: 0, count: sessionSlots.count)
        var counts = [Float](repeating: 0, count: sessionSlots.count)
        var touched: [Int32] = []
        var holders: [Int32] = []
        for term in termList where !ubiquitous.contains(term) {
            holders.removeAll(keepingCapacity: true)
            for entry in postings[Int(term)] {
                let slot = Int(entry >> 8)
                guard alive[slot] else { continue }
                let session = Int(sessionOf[slot])
                guard session >= 0 else { continue }
                if counts[session] == 0 { holders.append(Int32(session)) }
                counts[session] += Float(entry & 255)
            }
            let idf = Self.idf(documents: live, holding: holders.count)
            if idf <= Self.minimumIDF {
                // In half the sessions after all (records spread wider than the bound assumed):
                // scored like the words known to be, only where the rarer words lead.
                for holder in holders { counts[Int(holder)] = 0 }
                ubiquitous.append(term)
                continue
            }
            for holder in holders {
                let session = Int(holder)
                let frequency = counts[session]
                counts[session] = 0
                if scores[session] == 0 { touched.append(holder) }
                scores[session] += Self.weight(idf: idf, frequency: frequency, length: sessionLengths[session], average: average)
            }
        }
        let sources = Set(filter.sources)
        let sessionIDs = Set(filter.sessionIDs)
        let admit = { (session: Int32) -> Bool in
            let key = sessionKeys[Int(session)]
            return (sources.isEmpty || sources.contains(key.source)) && (sessionIDs.isEmpty || sessionIDs.contains(key.sessionID))
        }
        var reached = touched.filter(admit)
        if !ubiquitous.isEmpty {
            let bound = Float(ubiquitous.count) * Self.minimumIDF * (Self.k1 + 1) * 1.0001
            if reached.count >= limit {
                var values = reached.map { scores[Int($0)] }
                let threshold = Self.largest(limit, in: &values)
                reached.removeAll { scores[Int($0)] + bound < threshold }
            } else {
                reached += recentSessions(holding: ubiquitous, wanted: limit - reached.count, admit: admit, skipping: Set(reached))
            }
            // The ubiquitous words' exact share, for the sessions still in the running.
            let members = reached.flatMap { sessionSlots[Int($0)] }.sorted()
            for term in ubiquitous {
                for (slot, frequency) in zip(members, frequencies(of: term, at: members)) where frequency > 0 {
                    counts[Int(sessionOf[Int(slot)])] += frequency
                }
                for session in reached where counts[Int(session)] > 0 {
                    scores[Int(session)] += Self.weight(
                        idf: Self.minimumIDF, frequency: counts[Int(session)], length: sessionLengths[Int(session)], average: average)
                    counts[Int(session)] = 0
                }
            }
        }
        return reached.best(limit) { scores[Int($0)] > scores[Int($1)] || (scores[Int($0)] == scores[Int($1)] && $0 < $1) }
            .map {
                ScoredSession(
                    source: sessionKeys[Int($0)].source, sessionID: sessionKeys[Int($0)].sessionID, score: Double(scores[Int($0)]))
            }
    }

    /// The `wanted` sessions holding any of `terms` whose latest such record is most recent.
    private func recentSessions(holding terms: [Int32], wanted: Int, admit: (Int32) -> Bool, skipping: Set<Int32>) -> [Int32] {
        guard wanted > 0 else { return [] }
        var found: [Int32: Int] = [:]
        for term in terms {
            var added = 0
            for entry in postings[Int(term)].reversed() {
                let slot = Int(entry >> 8)
                let session = sessionOf[slot]
                guard alive[slot], session >= 0, !skipping.contains(session), admit(session) else { continue }
                if found[session] == nil { added += 1 }
                found[session] = max(found[session] ?? 0, slot)
                if added >= wanted { break }
            }
        }
        return found.sorted { $0.value > $1.value }.prefix(wanted).map(\.key)
    }
}

extension Array where Element: Equatable {
    /// Keeps the first of each run of equal neighbours (on a sorted array: removes duplicates).
    mutating func removeDuplicatesFromSorted() {
        guard count > 1 else { return }
        var kept = 1
        for index in 1..<count where self[index] != self[kept - 1] {
            self[kept] = self[index]
            kept += 1
        }
        removeLast(count - kept)
    }
}
