#include "hearth_kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

// The loop, written once. `__builtin_popcountll` becomes the POPCNT instruction inside a function
// compiled for it and a shift-and-mask sequence elsewhere; the sequence costs several times more
// per word than the instruction.
static inline __attribute__((always_inline)) void
scan(const uint64_t *codes, size_t rows, size_t words, const uint64_t *query, const bool *alive, uint16_t refused,
     uint16_t *distances, size_t *histogram) {
    if (words == 6) { // 384 dimensions (MiniLM): a fixed count lets the compiler unroll the row
        const uint64_t q0 = query[0], q1 = query[1], q2 = query[2], q3 = query[3], q4 = query[4], q5 = query[5];
        for (size_t slot = 0; slot < rows; slot++) {
            uint16_t distance = refused;
            if (alive[slot] && distances[slot] != refused) {
                const uint64_t *row = codes + slot * 6;
                distance = (uint16_t)(__builtin_popcountll(row[0] ^ q0) + __builtin_popcountll(row[1] ^ q1)
                                      + __builtin_popcountll(row[2] ^ q2) + __builtin_popcountll(row[3] ^ q3)
                                      + __builtin_popcountll(row[4] ^ q4) + __builtin_popcountll(row[5] ^ q5));
            }
            distances[slot] = distance;
            histogram[distance] += 1;
        }
        return;
    }
    for (size_t slot = 0; slot < rows; slot++) {
        uint16_t distance = refused;
        if (alive[slot] && distances[slot] != refused) {
            const uint64_t *row = codes + slot * words;
            unsigned total = 0;
            for (size_t word = 0; word < words; word++) total += (unsigned)__builtin_popcountll(row[word] ^ query[word]);
            distance = (uint16_t)total;
        }
        distances[slot] = distance;
        histogram[distance] += 1;
    }
}

static void scan_portable(const uint64_t *codes, size_t rows, size_t words, const uint64_t *query, const bool *alive,
                          uint16_t refused, uint16_t *distances, size_t *histogram) {
    scan(codes, rows, words, query, alive, refused, distances, histogram);
}

#if defined(__x86_64__)
__attribute__((target("popcnt"))) static void scan_popcnt(const uint64_t *codes, size_t rows, size_t words,
                                                          const uint64_t *query, const bool *alive, uint16_t refused,
                                                          uint16_t *distances, size_t *histogram) {
    scan(codes, rows, words, query, alive, refused, distances, histogram);
}

static bool has_popcnt(void) {
    unsigned eax, ebx, ecx, edx;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_POPCNT) != 0;
}
#endif

typedef void (*scan_function)(const uint64_t *, size_t, size_t, const uint64_t *, const bool *, uint16_t, uint16_t *,
                              size_t *);

static scan_function chosen_scan(void) {
#if defined(__x86_64__)
    if (has_popcnt()) return scan_popcnt;
#endif
    // Other architectures (arm64) have a population count in their baseline.
    return scan_portable;
}

/// The implementation for this processor, decided on first use. CPUID answers the same every
/// time, so racing first callers store the same pointer.
static scan_function chosen(void) {
    static _Atomic(scan_function) cached = 0;
    scan_function function = cached;
    if (function == 0) {
        function = chosen_scan();
        cached = function;
    }
    return function;
}

void hearth_hamming_scan(const uint64_t *codes, size_t rows, size_t words, const uint64_t *query, const bool *alive,
                         uint16_t refused, uint16_t *distances, size_t *histogram) {
    chosen()(codes, rows, words, query, alive, refused, distances, histogram);
}

const char *hearth_hamming_kernel(void) { return chosen() == scan_portable ? "portable" : "popcnt"; }
