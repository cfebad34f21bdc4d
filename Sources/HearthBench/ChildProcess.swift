import Foundation
import Glibc
import Synchronization

/// A child process with its output captured, for tests and benchmarks that drive the real binary.
public final class ChildProcess: Sendable {
    private let process: Process
    private let output = Mutex<(stdout: Data, stderr: Data)>((Data(), Data()))
    private let lines: AsyncStream<String>
    private let linesContinuation: AsyncStream<String>.Continuation
    private let exit: AsyncStream<Int32>
    private let exitContinuation: AsyncStream<Int32>.Continuation

    public var pid: Int32 { process.processIdentifier }

    /// Starts `executable` with `arguments`; stdin is /dev/null unless `input` is given.
    public init(executable: URL, arguments: [String], environment: [String: String]? = nil, input: Data? = nil) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let stdinPipe = input == nil ? nil : Pipe()
        process.standardInput = stdinPipe ?? FileHandle.nullDevice
        (lines, linesContinuation) = AsyncStream.makeStream(of: String.self)
        (exit, exitContinuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        let exitContinuation = self.exitContinuation
        process.terminationHandler = { process in
            exitContinuation.yield(process.terminationStatus)
            exitContinuation.finish()
        }
        try process.run()
        if let input, let stdinPipe {
            stdinPipe.fileHandleForWriting.write(input)
            try? stdinPipe.fileHandleForWriting.close()
        }
        // The child has its copies; close ours of the write ends so readers see EOF when it exits.
        try? stdoutPipe.fileHandleForWriting.close()
        try? stderrPipe.fileHandleForWriting.close()
        startReader(stdoutPipe.fileHandleForReading, isStdout: true)
        startReader(stderrPipe.fileHandleForReading, isStdout: false)
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

    /// Returns once stdout has closed and everything written to it has been read.
    public func drained() async {
        for await _ in lines {}
    }

    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit; returns its status (the signal number if it was killed).
    @discardableResult
    public func waitForExit() async -> Int32 {
        for await status in exit { return status }
        // Cancelled (a test's time limit): Foundation traps on the status of a running process.
        return process.isRunning ? -1 : process.terminationStatus
    }

    /// Runs a command to completion and returns its status and output.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, input: Data? = nil
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, input: input)
        let status = await child.waitForExit()
        // The readers finish when the pipes close, just after exit; wait for stdout to drain.
        await child.drained()
        return (status, child.standardOutput, child.standardError)
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
