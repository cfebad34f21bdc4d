// hearth-sandbox: runs one command confined to a workspace, or refuses to run it.
//
//   hearth-sandbox --workspace DIR [--read DIR]... [--write DIR]... [--cpu-seconds N] [--memory-mb N] [--file-mb N]
//                  [--isolation auto|native|bubblewrap] -- PROGRAM [ARG...]
//
// --read and --write add the user's extra mounts: read-only, or read-write.
//
// native: in order, before exec: a new network namespace (no network at all; via a user
// namespace that maps the caller's own uid when not root), resource limits, then Landlock:
// read-write beneath the workspace, read and execute on the system directories, nothing else.
// Landlock applies to the calling thread and is inherited across exec, which is why this is a
// process of its own (Foundation's Process has no pre-exec hook).
//
// bubblewrap: where Landlock or user namespaces are missing (or when asked), the helper runs
// itself again under bwrap with no network, a private /tmp, and a root that holds only the
// system directories (read-only), the workspace and the mounts; inside, it still sets the limits
// and applies Landlock when the kernel has it.
//
// auto (the default) takes native when it can, bubblewrap otherwise. The mechanism used is in
// HEARTH_SANDBOX for the command. If every mechanism fails the command is not run: exit 125 with
// the reason on stderr. Never unconfined.
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

/// A private network namespace; NULL on success, else why not.
static const char *isolate_network(void) {
    if (unshare(CLONE_NEWNET) == 0) return NULL;  // root (or CAP_SYS_ADMIN): a bare network namespace
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) return "no network namespace (user namespaces are not available)";
    char map[64];
    if (write_file("/proc/self/setgroups", "deny") != 0) refuse("cannot write /proc/self/setgroups");
    snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) != 0) refuse("cannot map the user id");
    snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) != 0) refuse("cannot map the group id");
    return NULL;
}

/// Whether this process sees no network interface but loopback (checked inside bubblewrap).
static int network_is_isolated(void) {
    FILE *devices = fopen("/proc/net/dev", "re");
    if (!devices) return 0;
    char line[512];
    int isolated = 1, number = 0;
    while (fgets(line, sizeof line, devices)) {
        if (++number <= 2) continue;  // two header lines
        const char *name = line;
        while (*name == ' ') name++;
        if (strncmp(name, "lo:", 3) != 0) isolated = 0;
    }
    fclose(devices);
    return isolated;
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

static int landlock_abi(void) { return (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION); }

static const char *const system_directories[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/opt", NULL};

static void confine_files(const char *workspace) {
    int abi = landlock_abi();
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
    for (int i = 0; system_directories[i]; i++) allow(ruleset, system_directories[i], read_execute, handled, 0);
    allow(ruleset, "/proc", read_execute, handled, 0);
    const char *devices[] = {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", NULL};
    for (int i = 0; devices[i]; i++) {
        allow(ruleset, devices[i], LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE, handled, 0);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) refuse("cannot set no_new_privs");
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) refuse("cannot apply the Landlock ruleset");
    close(ruleset);
}

/// The bwrap executable, or NULL.
static const char *find_bubblewrap(void) {
    static const char *const candidates[] = {"/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap", NULL};
    for (int i = 0; candidates[i]; i++) {
        if (access(candidates[i], X_OK) == 0) return candidates[i];
    }
    return NULL;
}

#define MAX_ARGS 512
static const char *bwrap_argv[MAX_ARGS];
static int bwrap_argc = 0;

static void push(const char *argument) {
    if (bwrap_argc >= MAX_ARGS - 1) {
        errno = E2BIG;
        refuse("too many arguments for bubblewrap");
    }
    bwrap_argv[bwrap_argc++] = argument;
}

/// Runs this helper again under bubblewrap (never returns): no network, and a root holding only
/// the system directories (read-only), the workspace and the mounts.
static void exec_bubblewrap(const char *bwrap, const char *workspace, int argc, char **argv, int first_option, const char *why) {
    static char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) refuse("cannot find the helper's own executable");
    self[length] = 0;
    push(bwrap);
    push("--unshare-net");
    push("--unshare-ipc");
    push("--unshare-pid");
    push("--unshare-uts");
    push("--die-with-parent");
    for (int i = 0; system_directories[i]; i++) {
        struct stat info;
        if (lstat(system_directories[i], &info) != 0) continue;
        if (S_ISLNK(info.st_mode)) {
            static char targets[16][4096];
            ssize_t n = readlink(system_directories[i], targets[i], sizeof targets[i] - 1);
            if (n <= 0) continue;
            targets[i][n] = 0;
            push("--symlink");
            push(targets[i]);
        } else {
            push("--ro-bind");
            push(system_directories[i]);
        }
        push(system_directories[i]);
    }
    push("--proc");
    push("/proc");
    push("--dev");
    push("/dev");
    push("--tmpfs");
    push("/tmp");
    push("--ro-bind");
    push(self);
    push(self);
    for (int i = 0; i < readable_count; i++) {
        push("--ro-bind");
        push(readable[i]);
        push(readable[i]);
    }
    for (int i = 0; i < writable_count; i++) {
        push("--bind");
        push(writable[i]);
        push(writable[i]);
    }
    push("--bind");
    push(workspace);
    push(workspace);
    push("--chdir");
    push(workspace);
    push("--");
    push(self);
    push("--inside-bubblewrap");
    for (int i = first_option; i < argc; i++) push(argv[i]);
    bwrap_argv[bwrap_argc] = NULL;
    execv(bwrap, (char *const *)bwrap_argv);
    fprintf(stderr, "hearth-sandbox: refused to run the command: %s, and bubblewrap could not start (%s)\n", why, strerror(errno));
    exit(REFUSE);
}

int main(int argc, char **argv) {
    const char *workspace = NULL;
    const char *isolation = "auto";
    int inside_bubblewrap = 0;
    long cpu = 60, memory = 2048, file = 256;
    int index = 1;
    if (index < argc && strcmp(argv[index], "--inside-bubblewrap") == 0) {
        inside_bubblewrap = 1;
        index++;
    }
    int first_option = index;
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
        else if (strcmp(argv[index], "--isolation") == 0) isolation = argv[++index];
        else break;
    }
    int known = strcmp(isolation, "auto") == 0 || strcmp(isolation, "native") == 0 || strcmp(isolation, "bubblewrap") == 0;
    if (!workspace || index >= argc || cpu < 1 || memory < 16 || file < 1 || !known) {
        fprintf(stderr, "usage: hearth-sandbox --workspace DIR [--read DIR]... [--write DIR]... [--cpu-seconds N] [--memory-mb N] [--file-mb N] [--isolation auto|native|bubblewrap] -- PROGRAM [ARG...]\n");
        return 64;
    }
    int landlock = landlock_abi() >= 1;
    const char *mechanism;
    if (inside_bubblewrap) {
        // bwrap made the namespaces; make sure of the one that matters before trusting it.
        if (!network_is_isolated()) {
            errno = EPERM;
            refuse("bubblewrap left a network interface other than loopback");
        }
        mechanism = landlock ? "bubblewrap+landlock" : "bubblewrap";
    } else {
        // A process group of its own: a timeout kills the command and everything it started.
        setpgid(0, 0);
        const char *why = NULL;
        if (strcmp(isolation, "bubblewrap") == 0) {
            why = "bubblewrap was asked for";
        } else if (!landlock) {
            why = "Landlock is not available in this kernel";
        } else {
            why = isolate_network();
        }
        if (why) {
            const char *bwrap = find_bubblewrap();
            if (!bwrap || strcmp(isolation, "native") == 0) {
                fprintf(
                    stderr, "hearth-sandbox: refused to run the command: %s%s\n", why,
                    strcmp(isolation, "native") == 0 ? "" : ", and bubblewrap (bwrap) is not installed");
                exit(REFUSE);
            }
            exec_bubblewrap(bwrap, workspace, argc, argv, first_option, why);
        }
        mechanism = "landlock+netns";
    }
    if (chdir(workspace) != 0) refuse("cannot enter the workspace");
    limit(RLIMIT_CPU, (rlim_t)cpu, "cannot limit CPU time");
    limit(RLIMIT_AS, (rlim_t)memory << 20, "cannot limit memory");
    limit(RLIMIT_FSIZE, (rlim_t)file << 20, "cannot limit file size");
    limit(RLIMIT_CORE, 0, "cannot disable core dumps");
    if (landlock) {
        confine_files(workspace);
    } else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        refuse("cannot set no_new_privs");
    }
    setenv("TMPDIR", workspace, 1);
    setenv("HEARTH_SANDBOX", mechanism, 1);
    execv(argv[index], &argv[index]);
    refuse(argv[index]);
    return REFUSE;
}
