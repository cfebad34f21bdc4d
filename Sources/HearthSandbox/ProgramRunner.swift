import Foundation
import Glibc
import HearthCore
import HearthProcess
import Synchronization

/// Why an external program could not do its job.
public enum ProgramError: Error, Sendable, Equatable, CustomStringConvertible {
    case notInstalled(program: String, package: String)
    case timedOut(program: String, seconds: Int)
    case failed(program: String, status: Int32, stderr: String)

    public var description: String {
        switch self {
        case .notInstalled(let program, let package):
            "\(program) is not installed; run scripts/setup (or apt-get install \(package))"
        case .timedOut(let program, let seconds): "\(program) did not finish within \(seconds) s and was stopped"
        case .failed(let program, let status, let stderr):
            "\(program) exited with status \(status)" + (stderr.isEmpty ? "" : ": \(stderr)")
        }
    }
}

/// The command line of `hearth-sandbox` (the confinement helper): what the shell tool and
/// confined MCP servers run through.
public enum SandboxCommand {
    /// The helper's arguments to run `command` confined to `workspace`, the declared mounts (each
    /// writable or not) and the extra readable directories `read`, for at most `cpuSeconds` of CPU.
    public static func arguments(
        workspace: URL, mounts: [WorkspaceMount], read: [URL] = [], cpuSeconds: Int, isolation: String, command: [String]
    ) -> [String] {
        var arguments = ["--workspace", workspace.path]
        for mount in mounts { arguments += [mount.writable ? "--write" : "--read", mount.url.path] }
        for directory in read { arguments += ["--read", directory.path] }
        return arguments + ["--cpu-seconds", "\(cpuSeconds)", "--isolation", isolation, "--"] + command
    }
}

/// Runs a trusted system program (pdftotext, tesseract) on a file the caller prepared, with a
/// timeout and bounded output. Not a shell: arguments are passed as they are.
public enum ProgramRunner {
    public struct Output: Sendable {
        public var stdout: Data
        public var stderr: String
        public var status: Int32 = 0
    }

    /// Finds a program on the usual system paths.
    public static func locate(_ program: String) -> URL? {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin"] {
            let candidate = URL(fileURLWithPath: directory).appending(path: program)
            if access(candidate.path, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs `program` and waits for it.
    ///
    /// - Parameters:
    ///   - package: the Debian package that provides it (for the error message).
    ///   - maxOutput: stdout beyond this many bytes is dropped.
    /// - Throws: `ProgramError`.
    public static func run(
        _ program: String, package: String, arguments: [String], timeout: Duration = .seconds(60), maxOutput: Int = 8 << 20
    ) async throws -> Output {
        guard let executable = locate(program) else { throw ProgramError.notInstalled(program: program, package: package) }
        let output = try await run(executable: executable, arguments: arguments, timeout: timeout, maxOutput: maxOutput)
        guard output.status == 0 else {
            throw ProgramError.failed(program: program, status: output.status, stderr: String(output.stderr.suffix(500)))
        }
        return output
    }

    /// Runs `executable` and returns its output and exit status, whatever the status.
    ///
    /// - Throws: `ProgramError.timedOut` (the process and its group are killed), or a launch error.
    public static func run(
        executable: URL, arguments: [String], environment: [String: String]? = nil, timeout: Duration, maxOutput: Int = 8 << 20
    ) async throws -> Output {
        let program = executable.lastPathComponent
        let stdout = try LaunchedProcess.pipe()
        let stderr: (read: Int32, write: Int32)
        do {
            stderr = try LaunchedProcess.pipe()
        } catch {
            close(stdout.read)
            close(stdout.write)
            throw error
        }
        let process: LaunchedProcess
        do {
            process = try await LaunchedProcess.start(
                executable, arguments: arguments,
                environment: environment ?? ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_THREAD_LIMIT": "1"],
                output: .descriptor(stdout.write), error: .descriptor(stderr.write))
        } catch {
            close(stdout.read)
            close(stderr.read)
            throw error
        }
        let collected = Mutex((Data(), Data()))
        let readers = [(stdout.read, true), (stderr.read, false)].map { descriptor, isStdout in
            let done = AsyncStream.makeStream(of: Void.self)
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            Thread {
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    collected.withLock { buffers in
                        if isStdout {
                            if buffers.0.count < maxOutput { buffers.0.append(chunk.prefix(maxOutput - buffers.0.count)) }
                        } else if buffers.1.count < 64 << 10 {
                            buffers.1.append(chunk)
                        }
                    }
                }
                try? handle.close()
                done.continuation.finish()
            }.start()
            return done.stream
        }
        guard let status = await process.exitStatus(within: timeout) else {
            // The program's group too (hearth-sandbox leads one), so no grandchild outlives the timeout.
            process.signalGroup(SIGKILL)
            _ = await process.waitForExit()
            throw ProgramError.timedOut(program: program, seconds: Int(timeout.components.seconds))
        }
        for reader in readers {
            for await _ in reader {}
        }
        let (out, err) = collected.withLock { $0 }
        let errorText = String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Output(stdout: out, stderr: errorText, status: status)
    }
}
