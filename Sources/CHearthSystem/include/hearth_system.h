#ifndef HEARTH_SYSTEM_H
#define HEARTH_SYSTEM_H

// Linux calls that Swift's Glibc module does not expose (they live behind _GNU_SOURCE or in
// headers it does not include), and one spawn helper Foundation's Process cannot replace.

#include <malloc.h>
#include <sys/types.h>

/// Limits glibc to `count` malloc arenas; a daemon with a few busy threads otherwise keeps
/// several mostly-empty arenas alive. Returns 1 on success.
static inline int hearth_set_malloc_arena_max(int count) { return mallopt(M_ARENA_MAX, count); }

/// Returns free heap pages to the kernel (after a burst such as a start-up scan). Returns 1 if
/// memory was released.
static inline int hearth_malloc_trim(void) { return malloc_trim(0); }

/// Starts `path` with `argv` (NULL-terminated) and the current environment: stdin from
/// /dev/null, stdout and stderr to `output_fd` (or /dev/null when it is -1), an empty signal
/// mask and default signal dispositions. Foundation's Process passes on the parent's blocked
/// signals, so a child of a daemon that blocks SIGTERM could never be stopped with it.
/// Returns 0 and sets `*pid`, or an errno value.
int hearth_spawn(const char *path, char *const argv[], int output_fd, pid_t *pid);

#endif
