#ifndef HEARTH_KERNELS_H
#define HEARTH_KERNELS_H

// Hot loops that need CPU instructions the x86-64 baseline Swift builds for does not include.
// Each picks its implementation once, at first use, from what the processor reports (CPUID), so
// the binary still runs on any x86-64 machine.

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// Hamming distances from `query` to `rows` sign codes of `words` 64-bit words each, laid out
/// row after row in `codes`. A row that is not `alive`, or whose entry in `distances` already
/// holds `refused` (a filter turned it away), gets `refused`; every other row gets its distance.
/// `histogram[d]` is incremented for each row's distance `d`, so it needs `refused + 1` entries.
void hearth_hamming_scan(const uint64_t *codes, size_t rows, size_t words, const uint64_t *query,
                         const bool *alive, uint16_t refused, uint16_t *distances, size_t *histogram);

/// The implementation `hearth_hamming_scan` uses on this processor: "popcnt" or "portable".
const char *hearth_hamming_kernel(void);

#endif
