import Foundation
import Glibc
import HearthConfig
import HearthCore
import HearthDaemon
import HearthServer

/// A `hearth daemon` child process over one data directory.
public final class DaemonUnderTest: Sendable {
    public let process: ChildProcess
    public let port: Int
    public let client: DaemonClient

    private init(process: ChildProcess, port: Int, client: DaemonClient) {
        self.process = process
        self.port = port
        self.client = client
    }

    /// Writes a config suited to tests (free port, short settle) into `dataDirectory`.
    ///
    /// Inference is off unless `extraConfig` has an `[inference]` section: a daemon under test
    /// must not start the llama-server a developer installed under their own data dir (shared
    /// installations are found there), which would slow every start and skew the benchmarks.
    public static func prepare(dataDirectory: URL, workspace: URL, extraConfig: String = "") throws {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let inference = extraConfig.contains("[inference]") ? "" : "[inference]\nenabled = false\n"
        let config = """
            [paths]
            data_dir = "\(dataDirectory.path)"
            workspace = "\(workspace.path)"
            [server]
            port = 0
            [watcher]
            settle_ms = 50
            \(extraConfig)
            \(inference)
            """
        try Data(config.utf8).write(to: dataDirectory.appending(path: "config.toml"))
    }

    /// Starts a daemon and waits for its ready line.
    ///
    /// - Throws: `DaemonStartError` with the daemon's stderr when it exits or stays silent.
    public static func start(binary: URL = HearthBinary.url, dataDirectory: URL, timeout: Double = 30) async throws -> DaemonUnderTest {
        let process = try await ChildProcess(executable: binary, arguments: ["daemon", "--data-dir", dataDirectory.path])
        let ready = await withTaskGroup(of: String?.self) { group in
            group.addTask { await process.firstLine(containing: "hearth daemon ready") }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let ready, let port = Self.port(in: ready) else {
            process.signal(SIGKILL)
            await process.waitForExit()
            throw DaemonStartError(stderr: process.standardError)
        }
        let paths = HearthPaths(
            configFile: dataDirectory.appending(path: "config.toml"), dataDirectory: dataDirectory, workspace: dataDirectory,
            maildir: dataDirectory)
        let token = try DataDirectory.readToken(paths)
        return DaemonUnderTest(process: process, port: port, client: DaemonClient(port: port, token: token))
    }

    /// SIGTERM, then wait: the exit status of a graceful stop. A daemon still running a minute
    /// later is SIGKILLed and its status is that of the kill (137), so a daemon that does not stop
    /// fails its test instead of hanging it.
    @discardableResult
    public func stop() async -> Int32 {
        if let status = await stop(within: .seconds(60)) { return status }
        FileHandle.standardError.write(Data("a daemon did not stop within 60 s of SIGTERM and was killed\n".utf8))
        return 128 + SIGKILL
    }

    /// SIGTERM, then up to `limit` for the graceful stop: its exit status, or nil when the daemon
    /// was still running then (it is SIGKILLed: a daemon that does not stop is a finding, not a hang).
    public func stop(within limit: Duration) async -> Int32? {
        process.signal(SIGTERM)
        if let status = await process.exitStatus(within: limit) { return status }
        await kill()
        return nil
    }

    /// SIGKILL, then wait.
    public func kill() async {
        process.signal(SIGKILL)
        await process.waitForExit()
    }

    static func port(in line: String) -> Int? {
        guard let range = line.range(of: "http://127.0.0.1:") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }
}

public struct DaemonStartError: Error, CustomStringConvertible {
    public let stderr: String
    public var description: String { "the daemon did not become ready; its stderr:\n\(stderr)" }
}
