#ifndef HEARTH_SYSTEM_H
#define HEARTH_SYSTEM_H

// Linux calls that Swift's Glibc module does not expose (they live behind _GNU_SOURCE or in
// headers it does not include). Keep this small: one wrapper per call, no logic.

#include <malloc.h>

/// Limits glibc to `count` malloc arenas; a daemon with a few busy threads otherwise keeps
/// several mostly-empty arenas alive. Returns 1 on success.
static inline int hearth_set_malloc_arena_max(int count) { return mallopt(M_ARENA_MAX, count); }

/// Returns free heap pages to the kernel (after a burst such as a start-up scan). Returns 1 if
/// memory was released.
static inline int hearth_malloc_trim(void) { return malloc_trim(0); }

#endif
