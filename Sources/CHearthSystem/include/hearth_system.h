#ifndef HEARTH_SYSTEM_H
#define HEARTH_SYSTEM_H

// Linux calls that Swift's Glibc module does not expose (they live behind _GNU_SOURCE or in
// headers it does not include), and the one way Hearth starts a program.

#include <malloc.h>
#include <sys/types.h>

/// Limits glibc to `count` malloc arenas; a daemon with a few busy threads otherwise keeps
/// several mostly-empty arenas alive. Returns 1 on success.
static inline int hearth_set_malloc_arena_max(int count) { return mallopt(M_ARENA_MAX, count); }

/// Returns free heap pages to the kernel (after a burst such as a start-up scan). Returns 1 if
/// memory was released.
static inline int hearth_malloc_trim(void) { return malloc_trim(0); }

/// Starts `path` with `argv` (NULL-terminated) and `envp` (NULL: this process's environment) in
/// `directory` (NULL: here), its stdin, stdout and stderr the given descriptors; an empty signal
/// mask and default signal dispositions (a child of a daemon that blocks and ignores signals for
/// its own handlers would otherwise ignore SIGTERM). The child leads a new process group (its
/// pid), which its own children join, and inherits no other descriptor.
/// Returns 0 and sets `*pid`, or an errno value (ENOENT, EACCES, ...).
int hearth_spawn(const char *path, char *const argv[], char *const envp[], const char *directory, int input_fd, int output_fd,
                 int error_fd, pid_t *pid);

/// openat2(2) with `RESOLVE_*` flags in `resolve`. Returns a descriptor, or -1 with errno set
/// (ENOSYS on kernels before 5.6).
int hearth_openat2(int dirfd, const char *path, int flags, unsigned int mode, unsigned long long resolve);

/// The flags for confined opens: stay beneath the directory, follow no symbolic link at all,
/// and never a "magic" link such as /proc/self/root.
unsigned long long hearth_resolve_confined(void);

/// The Landlock ABI version the kernel offers, or -1 with errno set (ENOSYS: not built in;
/// EOPNOTSUPP: built in but disabled at boot).
int hearth_landlock_abi(void);

/// Whether this process may create a user namespace (tried in a short-lived child). 1 or 0.
int hearth_user_namespaces_work(void);

/// The value of SO_PEERCRED (Linux's struct ucred, which Swift's Glibc does not export): the
/// process, user and group on the other end of a connected Unix socket, set by the kernel at
/// connect time.
typedef struct {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} hearth_peer_credentials;

/// Marks the process non-dumpable: no core files, and other processes of the same user can no
/// longer ptrace it or read its memory through /proc. Returns 0, or -1 with errno set.
int hearth_set_undumpable(void);

#endif
