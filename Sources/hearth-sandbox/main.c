// hearth-sandbox: runs one command confined to a workspace, or refuses to run it.
//
//   hearth-sandbox --workspace DIR [--read DIR]... [--write DIR]... [--cpu-seconds N] [--memory-mb N] [--file-mb N] -- PROGRAM [ARG...]
//
// --read and --write add the user's extra mounts: read-only, or read-write.
//
// In order, before exec: a new network namespace (no network at all; via a user namespace that
// maps the caller's own uid when not root), resource limits, then Landlock: read-write beneath
// the workspace, read and execute on the system directories, nothing else. Landlock applies to
// the calling thread and is inherited across exec, which is why this is a process of its own
// (Foundation's Process has no pre-exec hook). If any step fails the command is not run: exit
// 125 with the reason on stderr. Never unconfined.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REFUSE 125

static void refuse(const char *what) {
    fprintf(stderr, "hearth-sandbox: refused to run the command: %s (%s)\n", what, strerror(errno));
    exit(REFUSE);
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t length = (ssize_t)strlen(text);
    ssize_t written = write(fd, text, (size_t)length);
    close(fd);
    return written == length ? 0 : -1;
}

static void isolate_network(void) {
    if (unshare(CLONE_NEWNET) == 0) return;  // root (or CAP_SYS_ADMIN): a bare network namespace
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) refuse("no network namespace (user namespaces are not available)");
    char map[64];
    if (write_file("/proc/self/setgroups", "deny") != 0) refuse("cannot write /proc/self/setgroups");
    snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) != 0) refuse("cannot map the user id");
    snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) != 0) refuse("cannot map the group id");
}

static void limit(int resource, rlim_t value, const char *name) {
    struct rlimit limit = {value, value};
    if (setrlimit(resource, &limit) != 0) refuse(name);
}

static void allow(int ruleset, const char *path, uint64_t access, uint64_t handled, int required) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (required) refuse(path);
        return;
    }
    struct landlock_path_beneath_attr rule = {.allowed_access = access & handled, .parent_fd = fd};
    // A rule on a regular file may only carry file rights.
    struct stat info;
    if (fstat(fd, &info) == 0 && !S_ISDIR(info.st_mode)) {
        rule.allowed_access &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
                               | LANDLOCK_ACCESS_FS_TRUNCATE
#endif
            ;
    }
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0) refuse(path);
    close(fd);
}

#define MAX_MOUNTS 32
static const char *readable[MAX_MOUNTS];
static const char *writable[MAX_MOUNTS];
static int readable_count = 0, writable_count = 0;

static void confine_files(const char *workspace) {
    int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) refuse("Landlock is not available in this kernel");
    uint64_t handled = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                       LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                       LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                       LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                       LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
    if (abi >= 2) handled |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
    if (abi >= 3) handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
    struct landlock_ruleset_attr attributes = {.handled_access_fs = handled};
    size_t size = sizeof attributes;
#ifdef LANDLOCK_ACCESS_NET_CONNECT_TCP
    // ABI 4+: deny TCP bind and connect too (the network namespace already has no route).
    if (abi >= 4) {
        attributes.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
    } else {
        size = offsetof(struct landlock_ruleset_attr, handled_access_net);
    }
#endif
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attributes, size, 0);
    if (ruleset < 0) refuse("cannot create a Landlock ruleset");
    uint64_t read_execute = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
    allow(ruleset, workspace, handled, handled, 1);
    for (int i = 0; i < writable_count; i++) allow(ruleset, writable[i], handled, handled, 1);
    for (int i = 0; i < readable_count; i++) allow(ruleset, readable[i], read_execute, handled, 1);
    const char *system[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/proc", "/opt", NULL};
    for (int i = 0; system[i]; i++) allow(ruleset, system[i], read_execute, handled, 0);
    const char *devices[] = {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", NULL};
    for (int i = 0; devices[i]; i++) {
        allow(ruleset, devices[i], LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE, handled, 0);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) refuse("cannot set no_new_privs");
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) refuse("cannot apply the Landlock ruleset");
    close(ruleset);
}

int main(int argc, char **argv) {
    const char *workspace = NULL;
    long cpu = 60, memory = 2048, file = 256;
    int index = 1;
    for (; index < argc; index++) {
        if (strcmp(argv[index], "--") == 0) {
            index++;
            break;
        }
        if (index + 1 >= argc) break;
        if (strcmp(argv[index], "--workspace") == 0) workspace = argv[++index];
        else if (strcmp(argv[index], "--read") == 0 && readable_count < MAX_MOUNTS) readable[readable_count++] = argv[++index];
        else if (strcmp(argv[index], "--write") == 0 && writable_count < MAX_MOUNTS) writable[writable_count++] = argv[++index];
        else if (strcmp(argv[index], "--cpu-seconds") == 0) cpu = atol(argv[++index]);
        else if (strcmp(argv[index], "--memory-mb") == 0) memory = atol(argv[++index]);
        else if (strcmp(argv[index], "--file-mb") == 0) file = atol(argv[++index]);
        else break;
    }
    if (!workspace || index >= argc || cpu < 1 || memory < 16 || file < 1) {
        fprintf(stderr, "usage: hearth-sandbox --workspace DIR [--read DIR]... [--write DIR]... [--cpu-seconds N] [--memory-mb N] [--file-mb N] -- PROGRAM [ARG...]\n");
        return 64;
    }
    // A process group of its own: a timeout kills the command and everything it started.
    setpgid(0, 0);
    if (chdir(workspace) != 0) refuse("cannot enter the workspace");
    isolate_network();
    limit(RLIMIT_CPU, (rlim_t)cpu, "cannot limit CPU time");
    limit(RLIMIT_AS, (rlim_t)memory << 20, "cannot limit memory");
    limit(RLIMIT_FSIZE, (rlim_t)file << 20, "cannot limit file size");
    limit(RLIMIT_CORE, 0, "cannot disable core dumps");
    confine_files(workspace);
    setenv("TMPDIR", workspace, 1);
    execv(argv[index], &argv[index]);
    refuse(argv[index]);
    return REFUSE;
}
