import CHearthSystem
import Foundation
import Glibc
import Synchronization

/// Every program Hearth starts is started here, through posix_spawn (`hearth_spawn`): the child
/// gets an empty signal mask and default signal dispositions (the daemon blocks and ignores signals for
/// its own handlers; a child that inherited that would ignore SIGTERM), closes every descriptor
/// not handed to it (the database, sockets, the pipe by which whoever started Hearth notices its
/// exit), and makes it the leader of its own process group, so a program that starts workers is
/// stopped with them. Its exit is reported however it ends.
public final class LaunchedProcess: Sendable {
    /// What one of the child's standard streams is.
    public enum Stream: Sendable {
        case null
        /// This process's own stream (a terminal: for a program that asks the user something).
        case inherit
        /// A descriptor handed to the child; this process's copy is closed once the child runs (or
        /// could not be started): the caller must not close it again.
        case descriptor(Int32)
    }

    /// Why a program could not be started.
    public struct LaunchError: Error, Sendable, CustomStringConvertible {
        public var program: String
        public var reason: String
        public var description: String { "could not start \(program): \(reason)" }
    }

    private final class Exit: Sendable {
        struct State {
            var status: Int32?
            var waiters: [UInt64: CheckedContinuation<Int32, Never>] = [:]
            var next: UInt64 = 0
        }
        let state = Mutex(State())

        func finish(_ status: Int32) {
            let waiters = state.withLock { state -> [CheckedContinuation<Int32, Never>] in
                state.status = status
                defer { state.waiters.removeAll() }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
    }

    public let pid: Int32
    private let exit: Exit

    private init(pid: Int32, exit: Exit) {
        self.pid = pid
        self.exit = exit
    }

    /// Starts `executable`; returns once it runs.
    ///
    /// - Parameters:
    ///   - environment: the child's whole environment; nil: this process's.
    ///   - directory: where it runs; nil: here.
    /// - Throws: `LaunchError` when it cannot be started (missing, not executable, no descriptors).
    public static func start(
        _ executable: URL, arguments: [String], environment: [String: String]? = nil, directory: URL? = nil, input: Stream = .null,
        output: Stream = .null, error: Stream = .null
    ) async throws -> LaunchedProcess {
        let program = executable.path
        let requested = [input, output, error]
        var streams: [Int32] = []
        for (index, stream) in requested.enumerated() {
            let fd: Int32
            switch stream {
            case .descriptor(let handed): fd = handed
            case .inherit: fd = fcntl(Int32(index), F_DUPFD_CLOEXEC, 3)
            case .null: fd = open("/dev/null", (index == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC)
            }
            guard fd >= 0 else {
                // Nothing is started: what was opened so far, and the descriptors handed for the
                // streams not reached, are closed as they would have been.
                let reason = String(cString: strerror(errno))
                for opened in streams { close(opened) }
                for case .descriptor(let handed) in requested[(index + 1)...] { close(handed) }
                throw LaunchError(program: program, reason: reason)
            }
            streams.append(fd)
        }
        defer { for fd in streams { close(fd) } }
        let exit = Exit()
        var pid: pid_t = 0
        let result = withCStrings([executable.path] + arguments) { argv in
            withOptionalCStrings(environment.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } }) { envp in
                hearth_spawn(program, argv, envp, directory?.path, streams[0], streams[1], streams[2], &pid)
            }
        }
        guard result == 0 else { throw LaunchError(program: program, reason: String(cString: strerror(result))) }
        let child = pid
        // One thread per child, blocked in waitpid for that child only: its exit is reported
        // however it ends, whatever else this process starts or reaps meanwhile.
        let waiter = Thread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 {
                guard errno == EINTR else {
                    exit.finish(127)
                    return
                }
            }
            // Exit code if it exited, 128 + signal if a signal ended it (as shells report it).
            exit.finish(status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
        }
        waiter.stackSize = 64 << 10
        waiter.start()
        return LaunchedProcess(pid: child, exit: exit)
    }

    /// The exit status once it ended (the exit code, or 128 + the signal that ended it).
    public var exitStatus: Int32? { exit.state.withLock { $0.status } }

    /// Waits for the program to end and returns its exit status; -1 when the waiting task is
    /// cancelled first (the program goes on).
    public func waitForExit() async -> Int32 {
        let id = exit.state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        let exit = exit
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let status = exit.state.withLock { state -> Int32? in
                    if let status = state.status { return status }
                    if Task.isCancelled { return -1 }
                    state.waiters[id] = continuation
                    return nil
                }
                if let status { continuation.resume(returning: status) }
            }
        } onCancel: {
            exit.state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: -1)
        }
    }

    /// The exit status if the program ends within `limit`, else nil (it goes on).
    public func exitStatus(within limit: Duration) async -> Int32? {
        if let status = exitStatus { return status }
        return await withTaskGroup(of: Int32?.self) { group in
            group.addTask {
                let status = await self.waitForExit()
                return status == -1 && self.exitStatus == nil ? nil : status
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Sends `signal` to the program (not to the workers it started).
    public func signal(_ signal: Int32) {
        if exitStatus == nil { kill(pid, signal) }
    }

    /// Sends `signal` to the program's process group: the program and every worker it started.
    public func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }

    /// SIGTERM, then SIGKILL to its whole group if it has not exited within `grace`; workers it
    /// started go with it either way. Returns once the program is gone (reaped) — also when the
    /// caller is being cancelled: stopping is cleanup, and a cancelled wait would skip the grace
    /// period and return while the program still runs.
    public func stop(grace: Duration = .seconds(5)) async {
        await Task { await self.stopping(grace: grace) }.value
    }

    private func stopping(grace: Duration) async {
        if exitStatus == nil {
            kill(pid, SIGTERM)
            if await exitStatus(within: grace) == nil {
                kill(-pid, SIGKILL)
                _ = await waitForExit()
            }
        }
        kill(-pid, SIGKILL)
    }
}

extension LaunchedProcess {
    /// A pipe whose two ends close on exec (the child gets one through `Stream.descriptor`).
    public static func pipe() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        // (Children are started with every other descriptor closed; close-on-exec is for anything else.)
        guard Glibc.pipe(&ends) == 0 else { throw LaunchError(program: "a pipe", reason: String(cString: strerror(errno))) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }

    /// Starts a long-running program whose stdout and stderr are appended to `logFile` (a
    /// server: llama-server, the credential broker); stdin is /dev/null.
    public static func start(_ executable: URL, arguments: [String], logFile: URL) async throws -> LaunchedProcess {
        let out = open(logFile.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard out >= 0 else {
            throw LaunchError(program: executable.path, reason: "cannot open its log \(logFile.path): \(String(cString: strerror(errno)))")
        }
        let err = dup(out)
        guard err >= 0 else {
            close(out)
            throw LaunchError(program: executable.path, reason: String(cString: strerror(errno)))
        }
        _ = fcntl(err, F_SETFD, FD_CLOEXEC)
        return try await start(executable, arguments: arguments, output: .descriptor(out), error: .descriptor(err))
    }
}

/// Runs `body` with `strings` as a NULL-terminated C array (argv, envp).
func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}

/// As `withCStrings`, with NULL for nil.
func withOptionalCStrings<T>(_ strings: [String]?, _ body: ([UnsafeMutablePointer<CChar>?]?) -> T) -> T {
    guard let strings else { return body(nil) }
    return withCStrings(strings) { body($0) }
}
