/// A small, seedable random generator (SplitMix64): the same seed gives the same sequence on
/// every run and platform, so samples, synthetic data and failing runs can be reproduced.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Ranks drawn with probability proportional to 1/rank (Zipf, exponent 1) — how words spread in
/// text, used for synthetic corpora — by inverse CDF over precomputed cumulative weights.
public struct ZipfDistribution: Sendable {
    private var cumulative: [Double] = []
    private var total = 0.0

    /// Ranks 0..<count, rank 0 the most likely.
    public init(count: Int) {
        cumulative.reserveCapacity(count)
        for rank in 1...max(1, count) {
            total += 1 / Double(rank)
            cumulative.append(total)
        }
    }

    public func sample(using generator: inout SplitMix64) -> Int {
        let target = Double(generator.next() >> 11) / Double(1 << 53) * total
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] < target { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
