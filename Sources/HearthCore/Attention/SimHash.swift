/// A 64-bit SimHash of a text: near-identical texts (the same alert again, a reply quoting a
/// mail, a build notice with another number) differ in a few bits, unrelated texts in about 32.
///
/// Words are lower-cased and digits folded to `#`, so counters, ids and times do not make two
/// copies of one message look different; features are single words and word pairs.
public struct SimHash: Sendable, Hashable, Codable {
    public var value: UInt64

    public init(value: UInt64) { self.value = value }

    public init(_ text: some StringProtocol) {
        var weights = [Int32](repeating: 0, count: 64)
        var previous: UInt64?
        var any = false
        Self.forEachWord(text) { hash in
            Self.add(hash, to: &weights)
            if let previous { Self.add(Self.mix(previous &* 31 &+ hash), to: &weights) }
            previous = hash
            any = true
        }
        var value: UInt64 = 0
        if any { for bit in 0..<64 where weights[bit] > 0 { value |= 1 << UInt64(bit) } }
        self.value = value
    }

    /// Calls `body` with each word's hash: ASCII letters lower-cased, a run of digits folded to
    /// one `#`, any non-ASCII byte part of a word (so accented words stay whole).
    static func forEachWord(_ text: some StringProtocol, _ body: (UInt64) -> Void) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var length = 0
        var lastWasDigit = false
        func flush() {
            if length > 0 { body(mix(hash)) }
            hash = 0xcbf2_9ce4_8422_2325
            length = 0
            lastWasDigit = false
        }
        func feed(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
            length += 1
        }
        for byte in text.utf8 {
            switch byte {
            case 65...90:
                feed(byte + 32)
                lastWasDigit = false
            case 97...122, 128...255:
                feed(byte)
                lastWasDigit = false
            case 48...57:
                if !lastWasDigit { feed(35) }
                lastWasDigit = true
            default:
                flush()
            }
        }
        flush()
    }

    /// How many bits differ.
    public func distance(to other: SimHash) -> Int { (value ^ other.value).nonzeroBitCount }

    /// The four 16-bit bands: two hashes within 3 bits of each other agree on at least one.
    public var bands: [UInt64] { (0..<4).map { UInt64($0) << 16 | (value >> (UInt64($0) * 16)) & 0xFFFF } }

    /// SplitMix64's finaliser: spreads FNV's weak high bits.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static func add(_ hash: UInt64, to weights: inout [Int32]) {
        weights.withUnsafeMutableBufferPointer { weights in
            for bit in 0..<64 { weights[bit] += Int32(truncatingIfNeeded: ((hash >> UInt64(bit)) & 1) << 1) - 1 }
        }
    }
}

/// Median and median absolute deviation: a z-score that one wild value cannot drag along.
public enum RobustStatistics {
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// (value − median) / (1.4826 · MAD); nil with fewer than `minimum` values or no spread at all.
    public static func zScore(_ value: Double, in history: [Double], minimum: Int = 5) -> Double? {
        guard history.count >= minimum, let median = median(history) else { return nil }
        guard let mad = Self.median(history.map { abs($0 - median) }) else { return nil }
        let scale = 1.4826 * mad
        if scale == 0 {
            // Flat history: any change is infinitely unusual; report a large finite score instead.
            return value == median ? 0 : (value > median ? 10 : -10)
        }
        return (value - median) / scale
    }
}
