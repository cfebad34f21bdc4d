import Foundation
import Glibc
import HearthProcess
import Synchronization

/// A child process with its output captured, for tests and benchmarks that drive the real binary
/// (started like every program Hearth starts: `LaunchedProcess`).
public final class ChildProcess: Sendable {
    private let process: LaunchedProcess
    private let output = Mutex<(stdout: Data, stderr: Data)>((Data(), Data()))
    private let lines: AsyncStream<String>
    private let linesContinuation: AsyncStream<String>.Continuation
    /// Finished once both stdout and stderr have closed and been read.
    private let closed: AsyncStream<Void>
    private let closedContinuation: AsyncStream<Void>.Continuation
    private let openStreams = Mutex(2)

    public var pid: Int32 { process.pid }

    /// Starts `executable` with `arguments`; stdin is /dev/null unless `input` is given.
    public init(executable: URL, arguments: [String], environment: [String: String]? = nil, input: Data? = nil) async throws {
        let stdout = try LaunchedProcess.pipe()
        let stderr = try LaunchedProcess.pipe()
        let stdin = input == nil ? nil : try LaunchedProcess.pipe()
        (lines, linesContinuation) = AsyncStream.makeStream(of: String.self)
        (closed, closedContinuation) = AsyncStream.makeStream(of: Void.self)
        do {
            process = try await LaunchedProcess.start(
                executable, arguments: arguments, environment: environment, input: stdin.map { .descriptor($0.read) } ?? .null,
                output: .descriptor(stdout.write), error: .descriptor(stderr.write))
        } catch {
            for fd in [stdout.read, stderr.read] + (stdin.map { [$0.write] } ?? []) { close(fd) }
            throw error
        }
        if let input, let stdin {
            // Written from a thread: a child that reads slowly must not block the caller's.
            Thread {
                let handle = FileHandle(fileDescriptor: stdin.write, closeOnDealloc: true)
                handle.write(input)
                try? handle.close()
            }.start()
        }
        startReader(FileHandle(fileDescriptor: stdout.read, closeOnDealloc: true), isStdout: true)
        startReader(FileHandle(fileDescriptor: stderr.read, closeOnDealloc: true), isStdout: false)
    }

    private func startReader(_ handle: FileHandle, isStdout: Bool) {
        let thread = Thread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                output.withLock { isStdout ? $0.stdout.append(chunk) : $0.stderr.append(chunk) }
                guard isStdout else { continue }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    linesContinuation.yield(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            // Closed here, not left to deinit: a harness that spawns thousands of children
            // must not accumulate descriptors.
            try? handle.close()
            if isStdout { linesContinuation.finish() }
            if openStreams.withLock({ open in
                open -= 1
                return open == 0
            }) {
                closedContinuation.finish()
            }
        }
        thread.start()
    }

    public var standardOutput: String { output.withLock { String(decoding: $0.stdout, as: UTF8.self) } }
    public var standardError: String { output.withLock { String(decoding: $0.stderr, as: UTF8.self) } }

    /// The first stdout line containing `marker`, or `nil` if stdout closed first.
    public func firstLine(containing marker: String) async -> String? {
        for await line in lines where line.contains(marker) { return line }
        return nil
    }

    /// Returns once stdout and stderr have closed and everything written to them has been read.
    public func drained() async {
        for await _ in closed {}
    }

    public func signal(_ signal: Int32) {
        process.signal(signal)
    }

    /// Waits for the process to exit; returns its status (128 + the signal if a signal ended it).
    @discardableResult
    public func waitForExit() async -> Int32 {
        await process.waitForExit()
    }

    /// The exit status once the process exits, or nil if it is still running after `limit`.
    public func exitStatus(within limit: Duration) async -> Int32? {
        await process.exitStatus(within: limit)
    }

    /// Returns once stdout and stderr have closed and been read, or after `limit` (a process the
    /// child left behind may hold them open): whether they closed.
    public func drained(within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.drained()
                return !Task.isCancelled
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Runs a command to completion and returns its status and output.
    ///
    /// - Throws: `ChildProcessTimeout` (after a SIGKILL) when it runs past `limit`: a command that
    ///   hangs fails its caller instead of hanging it.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, input: Data? = nil,
        limit: Duration = .seconds(900)
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try await ChildProcess(executable: executable, arguments: arguments, environment: environment, input: input)
        guard let status = await child.exitStatus(within: limit) else {
            child.signal(SIGKILL)
            await child.waitForExit()
            _ = await child.drained(within: .seconds(5))
            throw ChildProcessTimeout(
                command: ([executable.lastPathComponent] + arguments).joined(separator: " "), limit: limit,
                stdout: child.standardOutput, stderr: child.standardError)
        }
        // The readers finish when the pipes close, just after exit; wait for both to drain (a
        // status read before stderr was would come with an empty or partial message). A process
        // the command started and left running may hold them open: what was read by then is kept.
        _ = await child.drained(within: .seconds(30))
        return (status, child.standardOutput, child.standardError)
    }
}

/// A command `ChildProcess.run` stopped with SIGKILL at its time limit, with what it printed.
public struct ChildProcessTimeout: Error, CustomStringConvertible {
    public let command: String
    public let limit: Duration
    public let stdout: String
    public let stderr: String
    public var description: String {
        "'\(command)' still ran after \(limit) and was killed; its stdout ended:\n\(stdout.suffix(2000))\nits stderr ended:\n\(stderr.suffix(2000))"
    }
}

/// Where the `hearth` binary is: `$HEARTH_BIN`, else beside the running executable (the test
/// bundle and `hearth` share a build directory), else this very process.
public enum HearthBinary {
    public static var url: URL {
        if let path = ProcessInfo.processInfo.environment["HEARTH_BIN"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let me = URL(
            fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        if me.lastPathComponent == "hearth" { return me }
        var directory = me.deletingLastPathComponent()
        // On Linux the test runner is <build>/debug/hearthPackageTests.xctest.
        for _ in 0..<3 {
            let candidate = directory.appending(path: "hearth")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return me
    }
}
