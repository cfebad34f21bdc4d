import CHearthKernels
import Foundation
import HearthCore
import HearthMemory
import Testing

@Suite("The sign-code scan kernel", .timeLimit(.minutes(10)))
struct HammingKernelTests {
    /// Runs the kernel and a plain Swift count over the same rows; both must agree exactly.
    private func compare(words: Int, rows: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let codes = (0..<(rows * words)).map { _ in random.next() }
        let query = (0..<words).map { _ in random.next() }
        let alive = (0..<rows).map { $0 % 7 != 3 }
        let refused = UInt16(words * 64 + 1)
        var distances = (0..<rows).map { $0 % 5 == 1 ? refused : 0 }
        var expected = distances
        var expectedHistogram = [Int](repeating: 0, count: Int(refused) + 1)
        for slot in 0..<rows {
            if alive[slot] && expected[slot] != refused {
                var distance = 0
                for word in 0..<words { distance += (codes[slot * words + word] ^ query[word]).nonzeroBitCount }
                expected[slot] = UInt16(distance)
            } else {
                expected[slot] = refused
            }
            expectedHistogram[Int(expected[slot])] += 1
        }
        var histogram = [Int](repeating: 0, count: Int(refused) + 1)
        hearth_hamming_scan(codes, rows, words, query, alive, refused, &distances, &histogram)
        #expect(distances == expected)
        #expect(histogram == expectedHistogram)
    }

    @Test("384-dimension codes (the unrolled path) match a plain count, with dead and refused rows")
    func sixWords() { compare(words: 6, rows: 2_000, seed: 11) }

    @Test("other code lengths match a plain count")
    func otherLengths() {
        compare(words: 1, rows: 500, seed: 12)
        compare(words: 2, rows: 500, seed: 13)
        compare(words: 12, rows: 300, seed: 14)
    }

    @Test("the kernel in use is the one this processor supports: popcnt where /proc/cpuinfo lists it")
    func named() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? []
        #if arch(x86_64)
            #expect(VectorIndex.hammingKernel == (flags.contains("popcnt") ? "popcnt" : "portable"), "flags: \(flags.count)")
        #else
            #expect(VectorIndex.hammingKernel == "portable")
        #endif
    }
}
