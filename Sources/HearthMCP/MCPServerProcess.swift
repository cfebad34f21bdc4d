import Foundation
import Glibc
import HearthCore
import HearthProcess
import HearthSandbox
import HearthVault
import Synchronization

/// How to reach one external MCP server: a program speaking MCP on stdin/stdout (confined like
/// the shell unless the user opted out) or a streamable-HTTP URL.
public struct MCPServerLaunch: Sendable, Equatable {
    public var name: String
    /// The program and its arguments; empty for a URL.
    public var command: [String]
    public var url: URL?
    /// Headers sent with every request to `url`; values may name vault secrets (`{{secret:NAME}}`).
    public var headers: [String: String]
    /// The credential broker that puts those secrets in (nil: there is no vault).
    public var broker: VaultClient?
    /// The risk every tool of this server carries (the server's own hints are not trusted).
    public var risk: ToolRisk
    public var confined: Bool
    /// Directories outside the workspace the confined program may read.
    public var read: [URL]
    public var environment: [String: String]
    public var timeout: Duration
    /// The directory the program runs in (and, confined, the only one it may change).
    public var workspace: URL
    public var mounts: [WorkspaceMount]

    public init(
        name: String, command: [String] = [], url: URL? = nil, headers: [String: String] = [:], broker: VaultClient? = nil,
        risk: ToolRisk = .network, confined: Bool = true, read: [URL] = [],
        environment: [String: String] = [:], timeout: Duration = .seconds(30), workspace: URL, mounts: [WorkspaceMount] = []
    ) {
        self.name = name
        self.command = command
        self.url = url
        self.headers = headers
        self.broker = broker
        self.risk = risk
        self.confined = confined
        self.read = read
        self.environment = environment
        self.timeout = timeout
        self.workspace = workspace
        self.mounts = mounts
    }

    /// What the user reads about this server in errors: its name and how it is reached.
    public var label: String { "MCP server \"\(name)\" (\(url?.absoluteString ?? command.joined(separator: " ")))" }
}

/// A server program started with pipes for stdin and stdout, its stderr kept (the last 4 KB) for
/// error messages. Confined, it runs under `hearth-sandbox` exactly as the shell tool's commands
/// do: the workspace, the declared mounts and `read` directories, no network.
final class MCPServerProcess: Sendable {
    private let process: LaunchedProcess
    /// The pipe ends this side keeps: the child's stdout (read) and stdin (write).
    let output: FileHandle
    let input: FileHandle
    /// The child's stderr, read into `stderrTail` (kept here: a handle let go would close it, and
    /// the program's next line to stderr would end it with EPIPE).
    private let errors: FileHandle
    private let stderrTail = StderrTail()

    init(launch: MCPServerLaunch) async throws(MCPClientError) {
        guard let program = launch.command.first else { throw .unusable(server: launch.name, reason: "no command to start") }
        var executable = program.hasPrefix("/") ? URL(fileURLWithPath: program) : ProgramRunner.locate(program)
        var arguments = Array(launch.command.dropFirst())
        if launch.confined {
            guard let helper = CompanionProgram.locate("hearth-sandbox") else {
                throw .unusable(
                    server: launch.name,
                    reason:
                        "the confinement helper hearth-sandbox is not installed beside hearth; rebuild hearth ('swift build') or set confined = false"
                )
            }
            guard let resolved = executable else {
                throw .unusable(server: launch.name, reason: "\(program) is not an installed program (give its absolute path)")
            }
            arguments = SandboxCommand.arguments(
                workspace: launch.workspace, mounts: launch.mounts, read: launch.read, cpuSeconds: 86_400, isolation: "auto",
                command: [resolved.path] + arguments)
            executable = helper
        }
        guard let executable else { throw .unusable(server: launch.name, reason: "\(program) is not an installed program") }
        // A server that dies leaves a pipe with no reader: writing to it must fail the call
        // (EPIPE), not end this process.
        signal(SIGPIPE, SIG_IGN)
        var ends: [(read: Int32, write: Int32)] = []
        do {
            for _ in 0..<3 { ends.append(try LaunchedProcess.pipe()) }
        } catch {
            for end in ends { for fd in [end.read, end.write] { close(fd) } }
            throw .unusable(server: launch.name, reason: "could not start \(executable.path): \(error)")
        }
        do {
            process = try await LaunchedProcess.start(
                executable, arguments: arguments,
                environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": launch.workspace.path].merging(
                    launch.environment
                ) { $1 }, directory: launch.workspace, input: .descriptor(ends[0].read), output: .descriptor(ends[1].write),
                error: .descriptor(ends[2].write))
        } catch {
            // The ends handed to the child are closed by the launcher, started or not; ours only
            // (closing theirs again could close a descriptor another thread has opened since).
            for fd in [ends[0].write, ends[1].read, ends[2].read] { close(fd) }
            throw .unusable(server: launch.name, reason: "could not start \(executable.path): \(error)")
        }
        // (The child's ends were handed over and are closed here already.)
        self.output = FileHandle(fileDescriptor: ends[1].read, closeOnDealloc: false)
        self.input = FileHandle(fileDescriptor: ends[0].write, closeOnDealloc: false)
        errors = FileHandle(fileDescriptor: ends[2].read, closeOnDealloc: true)
        let tail = stderrTail
        errors.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                // (Closed with this object: closing from inside the handler would wait on itself.)
                handle.readabilityHandler = nil
                return
            }
            tail.data.withLock { kept in
                kept.append(data)
                if kept.count > 4096 { kept = kept.suffix(4096) }
            }
        }
    }

    var isRunning: Bool { process.exitStatus == nil }

    /// Whether the program has ended or ends within `limit` (its exit is noticed a moment after
    /// its pipes close).
    func hasExited(within limit: Duration) async -> Bool {
        await process.exitStatus(within: limit) != nil
    }

    /// The last lines the program wrote to stderr, for an error message.
    var stderrText: String {
        let text = String(decoding: stderrTail.data.withLock { $0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return String(text.suffix(600))
    }

    /// Stops the program (and anything it started): SIGTERM, then SIGKILL after half a second.
    func stop() async {
        await process.stop(grace: .milliseconds(500))
    }

    /// Closes this side's pipe ends. The SDK's transport reads and writes them by descriptor
    /// number, so they are closed only well after it stopped (a closed number is soon reused by
    /// another file or socket of this process, which the transport must never touch).
    func closePipes(after delay: Duration = .seconds(5)) {
        let input = input
        let output = output
        Task.detached {
            try? await Task.sleep(for: delay)
            try? input.close()
            try? output.close()
        }
    }
}

/// The last bytes a program wrote to stderr, shared with the handler that reads them.
final class StderrTail: Sendable {
    let data = Mutex(Data())
}

/// Why an external MCP server's tool could not be used.
public enum MCPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server cannot be started or reached, or broke the protocol.
    case unusable(server: String, reason: String)
    /// A call took longer than the server's timeout; the server was stopped (and restarts on the next call).
    case timedOut(server: String, seconds: Int)

    public var description: String {
        switch self {
        case .unusable(let server, let reason): "MCP server \"\(server)\": \(reason)"
        case .timedOut(let server, let seconds):
            "MCP server \"\(server)\" did not answer within \(seconds) s; it was stopped and starts again on the next call (timeout_seconds in [[mcp.servers]])"
        }
    }
}
