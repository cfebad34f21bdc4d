#define _GNU_SOURCE
#include "hearth_system.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/openat2.h>
#include <linux/landlock.h>

extern char **environ;

int hearth_spawn(const char *path, char *const argv[], char *const envp[], const char *directory, int input_fd, int output_fd,
                 int error_fd, pid_t *pid) {
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_t actions;
    int result = posix_spawnattr_init(&attributes);
    if (result != 0) return result;
    result = posix_spawn_file_actions_init(&actions);
    if (result != 0) {
        posix_spawnattr_destroy(&attributes);
        return result;
    }
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attributes, &empty);
    posix_spawnattr_setsigdefault(&attributes, &all);
    // Its own process group: a server that spawns workers (llama-server's router does) can be
    // stopped, or reaped after a crash of ours, as one group.
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    posix_spawn_file_actions_adddup2(&actions, input_fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, output_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, error_fd, STDERR_FILENO);
    if (directory != NULL) posix_spawn_file_actions_addchdir_np(&actions, directory);
    // Nothing else of ours goes with it: not the database, not sockets, and not the descriptor
    // by which whoever started *us* notices our exit — a server that outlived a killed daemon
    // would otherwise keep that parent waiting forever.
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    result = posix_spawn(pid, path, &actions, &attributes, argv, envp != NULL ? envp : environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return result;
}


int hearth_openat2(int dirfd, const char *path, int flags, unsigned int mode, unsigned long long resolve) {
    struct open_how how = {.flags = (unsigned long long)flags, .mode = mode, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

unsigned long long hearth_resolve_confined(void) {
    return RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
}

int hearth_landlock_abi(void) {
#ifdef SYS_landlock_create_ruleset
    return (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int hearth_user_namespaces_work(void) {
    pid_t child = fork();
    if (child < 0) return 0;
    if (child == 0) _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return 0;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int hearth_set_undumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }
