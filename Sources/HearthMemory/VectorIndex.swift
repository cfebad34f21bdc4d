import CHearthKernels
import Dispatch
import Foundation
import HearthCore

/// An in-memory cosine index over unit vectors, with compact per-record metadata for filtering.
///
/// Small sets are scanned exactly. Above `exactLimit` vectors, a scan over one-bit sign codes
/// (48 bytes for 384 dimensions) picks `prefilterDepth` candidates by Hamming distance; those are
/// ranked again by the float query against their sign codes (a table lookup per code byte, no
/// float vector read), and the best `rescoreDepth` are rescored with the full float vectors, so
/// results carry exact cosines. Deletions leave a
/// tombstone; `compact()` reclaims them. The index holds nothing the store does not: it is rebuilt
/// from SQLite at start, and vectors are added only after they are committed there.
public struct VectorIndex: Sendable {
    public private(set) var dimensions: Int
    /// Unit-length rows.
    private var values: [Float] = []
    /// Sign bits, `words` per row.
    private var codes: [UInt64] = []
    private var words: Int
    private var ids: [Int64] = []
    private var alive: [Bool] = []
    private var slotOf: [Int64: Int] = [:]
    private var columns = RecordColumns()

    /// Up to this many live vectors, search scans floats exactly.
    public var exactLimit = 20_000
    /// How many Hamming candidates are ranked by the query against their sign codes.
    public var prefilterDepth = 8_000
    /// How many of those are rescored exactly.
    public var rescoreDepth = 1_000

    public init(dimensions: Int = 0) {
        self.dimensions = dimensions
        self.words = (dimensions + 63) / 64
    }

    public var count: Int { slotOf.count }
    public var tombstones: Int { ids.count - slotOf.count }

    /// Approximate bytes held: vectors, codes and metadata.
    public var residentBytes: Int {
        values.capacity * 4 + codes.capacity * 8 + ids.capacity * 9 + columns.residentBytes + slotOf.capacity * 24
    }

    public func contains(_ id: Int64) -> Bool { slotOf[id] != nil }

    /// The vector stored for `id`, scaled to unit length.
    public func vector(of id: Int64) -> [Float]? {
        guard let slot = slotOf[id] else { return nil }
        return Array(values[(slot * dimensions)..<((slot + 1) * dimensions)])
    }

    /// Which sign-code scan this processor runs: "popcnt" or "portable" (benchmarks report it).
    public static var hammingKernel: String { String(cString: hearth_hamming_kernel()) }

    public enum IndexError: Error, Equatable, CustomStringConvertible {
        case dimensionMismatch(expected: Int, got: Int)

        public var description: String {
            switch self {
            case .dimensionMismatch(let expected, let got):
                "the vector has \(got) dimensions but the index holds \(expected)-dimensional vectors; "
                    + "the embedding model changed — run `hearth memory reindex`"
            }
        }
    }

    /// Loads stored vectors in one go.
    public init(_ stored: StoredVectors) {
        self.init(dimensions: stored.dimensions)
        guard stored.dimensions > 0 else { return }
        reserve(stored.ids.count)
        for (row, id) in stored.ids.enumerated() {
            let start = row * stored.dimensions
            stored.values.withUnsafeBufferPointer { buffer in
                append(
                    id: id, vector: UnsafeBufferPointer(rebasing: buffer[start..<(start + stored.dimensions)]),
                    metadata: stored.metadata[row])
            }
        }
    }

    public mutating func reserve(_ capacity: Int) {
        values.reserveCapacity(capacity * dimensions)
        codes.reserveCapacity(capacity * words)
        ids.reserveCapacity(capacity)
        alive.reserveCapacity(capacity)
        columns.reserve(capacity)
        slotOf.reserveCapacity(capacity)
    }

    /// Adds or replaces the vector of `id`.
    public mutating func upsert(id: Int64, vector: [Float], metadata: VectorMetadata) throws(IndexError) {
        if dimensions == 0 {
            dimensions = vector.count
            words = (dimensions + 63) / 64
        }
        guard vector.count == dimensions else { throw .dimensionMismatch(expected: dimensions, got: vector.count) }
        remove(id)
        vector.withUnsafeBufferPointer { append(id: id, vector: $0, metadata: metadata) }
    }

    private mutating func append(id: Int64, vector: UnsafeBufferPointer<Float>, metadata: VectorMetadata) {
        var norm: Float = 0
        for value in vector { norm += value * value }
        let scale = norm > 0 ? 1 / norm.squareRoot() : 0
        let slot = ids.count
        var code = [UInt64](repeating: 0, count: words)
        for (index, value) in vector.enumerated() {
            values.append(value * scale)
            if value > 0 { code[index >> 6] |= 1 << UInt64(index & 63) }
        }
        codes.append(contentsOf: code)
        ids.append(id)
        alive.append(true)
        slotOf[id] = slot
        columns.append(metadata)
    }

    @discardableResult
    public mutating func remove(_ id: Int64) -> Bool {
        guard let slot = slotOf.removeValue(forKey: id) else { return false }
        alive[slot] = false
        return true
    }

    /// Drops tombstones when they make up more than a fifth of the rows.
    public mutating func compactIfNeeded() {
        guard tombstones > 0, tombstones * 5 > ids.count else { return }
        var fresh = VectorIndex(dimensions: dimensions)
        fresh.exactLimit = exactLimit
        fresh.rescoreDepth = rescoreDepth
        fresh.prefilterDepth = prefilterDepth
        fresh.columns = columns.emptyCopy()
        fresh.reserve(count)
        for slot in ids.indices where alive[slot] {
            fresh.values.append(contentsOf: values[(slot * dimensions)..<((slot + 1) * dimensions)])
            fresh.codes.append(contentsOf: codes[(slot * words)..<((slot + 1) * words)])
            fresh.slotOf[ids[slot]] = fresh.ids.count
            fresh.ids.append(ids[slot])
            fresh.alive.append(true)
            fresh.columns.append(slot: slot, of: columns)
        }
        self = fresh
    }

    /// The speaker of a record, if it is indexed and has one.
    public func speaker(of id: Int64) -> String? {
        slotOf[id].flatMap { columns.speaker($0) }
    }

    // MARK: Search

    /// The `k` most similar records the filter admits, best first, with their cosine.
    /// `depth`: Hamming candidates to consider (default `prefilterDepth`).
    public func search(_ query: [Float], k: Int, filter: MemoryFilter = .any, forceExact: Bool = false, depth: Int? = nil) -> [ScoredID] {
        guard k > 0, query.count == dimensions, count > 0, let admit = columns.admission(filter) else { return [] }
        var norm: Float = 0
        for value in query { norm += value * value }
        guard norm > 0 else { return [] }
        let unit = query.map { $0 / norm.squareRoot() }
        let candidates: [Int]
        if forceExact || count <= exactLimit {
            candidates = ids.indices.filter { alive[$0] && admit($0) }
        } else {
            let near = hammingCandidates(unit, depth: max(depth ?? prefilterDepth, k), admitsAll: filter == .any, admit: admit)
            candidates = near.count > max(rescoreDepth, k) ? codeRanked(unit, near, keep: max(rescoreDepth, k)) : near
        }
        return candidates.map { slot in (slot, dot(unit, slot)) }.best(k) { $0.1 > $1.1 }
            .map { ScoredID(id: ids[$0.0], score: Double($0.1)) }
    }

    private func dot(_ unit: [Float], _ slot: Int) -> Float {
        values.withUnsafeBufferPointer { rows in
            unit.withUnsafeBufferPointer { query in
                VectorMath.dot(query.baseAddress!, rows.baseAddress! + slot * dimensions, count: dimensions)
            }
        }
    }

    /// The `keep` slots of `slots` whose sign codes best match the float query: Σ qᵢ over the set
    /// bits, which ranks like q · sign(v). One table of 256 partial sums per code byte makes it a
    /// lookup per byte; only the 48-byte codes are read, not the 1.5 KB float rows.
    private func codeRanked(_ unit: [Float], _ slots: [Int], keep: Int) -> [Int] {
        let bytesPerCode = words * 8
        var table = [Float](repeating: 0, count: bytesPerCode * 256)
        for position in 0..<bytesPerCode {
            let base = position * 256
            for value in 1..<256 {
                let low = value & -value
                let dimension = position * 8 + low.trailingZeroBitCount
                table[base + value] = table[base + (value & (value - 1))] + (dimension < dimensions ? unit[dimension] : 0)
            }
        }
        var scored = [(score: Float, slot: Int)](repeating: (0, 0), count: slots.count)
        table.withUnsafeBufferPointer { table in
            codes.withUnsafeBytes { codeBytes in
                let bytes = codeBytes.bindMemory(to: UInt8.self)
                for (index, slot) in slots.enumerated() {
                    let start = slot * bytesPerCode
                    var sum: Float = 0
                    for position in 0..<bytesPerCode { sum += table[position &* 256 &+ Int(bytes[start &+ position])] }
                    scored[index] = (sum, slot)
                }
            }
        }
        Self.partition(&scored, keep: keep)
        return scored.prefix(keep).map(\.slot)
    }

    /// Moves the `keep` highest scores to the front, in no particular order (quickselect).
    public static func partition(_ items: inout [(score: Float, slot: Int)], keep: Int) {
        guard keep > 0, keep < items.count else { return }
        var low = 0
        var high = items.count - 1
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        while low < high {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let pivot = items[low + Int((state >> 33) % UInt64(high - low + 1))].score
            var left = low
            var right = high
            while left <= right {
                while items[left].score > pivot { left += 1 }
                while items[right].score < pivot { right -= 1 }
                if left <= right {
                    items.swapAt(left, right)
                    left += 1
                    right -= 1
                }
            }
            // [low, right] ≥ pivot ≥ [left, high]; keep narrowing to the side holding the boundary.
            if keep - 1 <= right { high = right } else if keep - 1 >= left { low = left } else { return }
        }
    }

    /// Slots whose sign codes are nearest the query's, at least `depth` of them (ties included).
    private func hammingCandidates(_ unit: [Float], depth: Int, admitsAll: Bool, admit: (Int) -> Bool) -> [Int] {
        var queryCode = [UInt64](repeating: 0, count: words)
        for (index, value) in unit.enumerated() where value > 0 { queryCode[index >> 6] |= 1 << UInt64(index & 63) }
        let rows = ids.count
        let words = self.words
        // Rows the filter refuses (or deleted ones) get a distance past every real one; a histogram
        // of distances, counted in the same pass, gives the cut-off without sorting a million
        // entries. One thread: the engine already runs its lists side by side on the two cores.
        let refused = UInt16(words * 64 + 1)
        var distances = [UInt16](repeating: 0, count: rows)
        if !admitsAll {
            for slot in 0..<rows where !admit(slot) { distances[slot] = refused }
        }
        var histogram = [Int](repeating: 0, count: words * 64 + 2)
        codes.withUnsafeBufferPointer { codes in
            queryCode.withUnsafeBufferPointer { query in
                alive.withUnsafeBufferPointer { alive in
                    distances.withUnsafeMutableBufferPointer { out in
                        histogram.withUnsafeMutableBufferPointer { histogram in
                            hearth_hamming_scan(
                                codes.baseAddress, rows, words, query.baseAddress, alive.baseAddress, refused,
                                out.baseAddress, histogram.baseAddress)
                        }
                    }
                }
            }
        }
        var cutoff = 0
        var total = 0
        while cutoff < Int(refused) && total + histogram[cutoff] < depth {
            total += histogram[cutoff]
            cutoff += 1
        }
        cutoff = min(cutoff, Int(refused) - 1)
        var candidates: [Int] = []
        candidates.reserveCapacity(total + histogram[cutoff])
        for slot in 0..<rows where Int(distances[slot]) <= cutoff { candidates.append(slot) }
        return candidates
    }
}

/// Dot products over raw pointers, vectorised 16 floats at a time.
enum VectorMath {
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var sum = SIMD16<Float>()
        var index = 0
        let rawA = UnsafeRawPointer(a)
        let rawB = UnsafeRawPointer(b)
        while index + 16 <= count {
            let x = rawA.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
            let y = rawB.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
            // Multiply, then add: `addingProduct` becomes 16 calls to libm's fmaf on the x86-64
            // baseline this is built for (no FMA instructions), ten times slower than SSE.
            sum += x * y
            index += 16
        }
        var total = sum.sum()
        while index < count {
            total += a[index] * b[index]
            index += 1
        }
        return total
    }
}

/// Interns strings to small integers.
struct StringTable: Sendable {
    private var codes: [String: Int32] = [:]
    private var strings: [String] = []

    mutating func code(_ string: String) -> Int32 {
        if let code = codes[string] { return code }
        let code = Int32(strings.count)
        codes[string] = code
        strings.append(string)
        return code
    }

    func existingCode(_ string: String) -> Int32? { codes[string] }
    func string(_ code: Int32) -> String { strings[Int(code)] }
}

extension Array {
    /// The `k` best elements (by `better`), best first, in one pass with a bounded sorted buffer.
    func best(_ k: Int, by better: (Element, Element) -> Bool) -> [Element] {
        guard k < count else { return sorted(by: better) }
        guard k > 0 else { return [] }
        var best = Array(self[0..<k]).sorted(by: better)
        for element in self[k...] where better(element, best[k - 1]) {
            var low = 0
            var high = k - 1
            while low < high {
                let middle = (low + high) / 2
                if better(element, best[middle]) { high = middle } else { low = middle + 1 }
            }
            best.insert(element, at: low)
            best.removeLast()
        }
        return best
    }
}
