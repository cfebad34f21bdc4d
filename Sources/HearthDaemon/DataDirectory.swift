import Foundation
import Glibc
import HearthConfig
import HearthCore

/// Why the data directory, workspace or token could not be set up.
public enum SetupError: Error, Sendable, Equatable, CustomStringConvertible {
    case notWritable(path: String, reason: String)
    case notADirectory(path: String)
    case badToken(path: String, reason: String)

    public var description: String {
        switch self {
        case .notWritable(let path, let reason):
            "cannot write to \(path) (\(reason)); fix its permissions or choose another location with --data-dir / --workspace"
        case .notADirectory(let path):
            "\(path) exists but is not a directory; move it aside or choose another location"
        case .badToken(let path, let reason):
            "the API token \(path) is unusable (\(reason)); delete it and run 'hearth init' to create a new one"
        }
    }
}

/// Creating and checking the on-disk layout: data dir (0700), logs, runtime, workspace, token (0600).
public enum DataDirectory {
    /// Creates what is missing and checks that it is writable; returns the API token.
    ///
    /// Idempotent: existing directories and an existing token are kept as they are.
    @discardableResult
    public static func prepare(_ paths: HearthPaths) throws(SetupError) -> String {
        try ensureDirectory(paths.dataDirectory, mode: 0o700)
        try ensureDirectory(paths.logDirectory, mode: 0o700)
        try ensureDirectory(paths.runtimeDirectory, mode: 0o700)
        try ensureDirectory(paths.workspace, mode: 0o755)
        try checkWritable(paths.dataDirectory)
        return try ensureToken(at: paths.tokenFile)
    }

    /// Reads the API token (for the CLI talking to a running daemon).
    public static func readToken(_ paths: HearthPaths) throws(SetupError) -> String {
        let text: String
        do {
            text = try String(contentsOf: paths.tokenFile, encoding: .utf8)
        } catch {
            throw .badToken(path: paths.tokenFile.path, reason: "cannot read it")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 32 else { throw .badToken(path: paths.tokenFile.path, reason: "it is too short") }
        return token
    }

    static func ensureDirectory(_ url: URL, mode: Int) throws(SetupError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .notADirectory(path: url.path) }
            // A private directory made by someone else's tool (mkdir -p: 0755) is tightened, if it is ours.
            if mode == 0o700, let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
                let permissions = attributes[.posixPermissions] as? Int, permissions & 0o077 != 0,
                (attributes[.ownerAccountID] as? NSNumber)?.uint32Value == getuid()
            {
                chmod(url.path, 0o700)
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
        } catch {
            throw .notWritable(path: url.path, reason: FileErrorText.describe(error))
        }
    }

    /// Creating a directory can succeed on a tree we cannot write into later (read-only bind
    /// mount, root-owned dir); a probe file tells for sure, at start rather than at first write.
    static func checkWritable(_ directory: URL) throws(SetupError) {
        let probe = directory.appending(path: ".write-probe-\(getpid())")
        let fd = open(probe.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .notWritable(path: directory.path, reason: String(cString: strerror(errno))) }
        close(fd)
        unlink(probe.path)
    }

    static func ensureToken(at url: URL) throws(SetupError) -> String {
        if FileManager.default.fileExists(atPath: url.path) {
            // Tighten a token file someone loosened; the token is a credential.
            chmod(url.path, 0o600)
            let text = (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            guard text.count >= 32 else { throw .badToken(path: url.path, reason: "it is empty or too short") }
            return text
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        // Created exclusively: if two processes race here, one wins and the other reads the winner's token.
        let created: Bool
        do {
            created = try DurableFile.create(url, with: Data((token + "\n").utf8), mode: 0o600)
        } catch {
            throw .notWritable(path: url.path, reason: error.reason)
        }
        guard created else { return try ensureToken(at: url) }
        return token
    }

    /// Writes `data` to `url` atomically (temp file, fsync, rename), with `mode`.
    public static func writeAtomically(_ data: Data, to url: URL, mode: mode_t = 0o644) throws(SetupError) {
        do {
            try DurableFile.replace(url, with: data, mode: mode)
        } catch {
            throw .notWritable(path: url.path, reason: error.reason)
        }
    }
}

/// `hearth init`: the config, the data dir, the workspace, the token, optionally a systemd unit.
public enum Initializer {
    public struct Report: Sendable {
        public var lines: [String] = []
    }

    /// Idempotent set-up. Never overwrites an existing config or unit file.
    /// - Parameter server: a model server the user chose for `[inference]` (only a new config gets it).
    public static func run(
        paths: HearthPaths, configFileExisted: Bool, systemd: Bool, executable: String, environment: Environment,
        server: ConfigurationTemplate.Server? = nil
    ) throws(SetupError) -> Report {
        var report = Report()
        try DataDirectory.prepare(paths)
        report.lines.append("data dir   \(paths.dataDirectory.path)")
        report.lines.append("workspace  \(paths.workspace.path)")
        report.lines.append("api token  \(paths.tokenFile.path) (mode 0600)")
        if configFileExisted {
            report.lines.append("config     \(paths.configFile.path) (exists, left as it is)")
        } else {
            try DataDirectory.ensureDirectory(paths.configFile.deletingLastPathComponent(), mode: 0o755)
            let text = ConfigurationTemplate.render(
                dataDirectory: paths.dataDirectory.path, workspace: paths.workspace.path, server: server)
            try createIfAbsent(Data(text.utf8), at: paths.configFile)
            report.lines.append("config     \(paths.configFile.path) (created with the defaults, commented)")
            if let server {
                report.lines.append("inference  \(server.chatModel) on \(server.provider.rawValue) at \(server.baseURL)")
            }
        }
        if !paths.modelsDirectory.path.hasPrefix(paths.dataDirectory.path + "/") {
            report.lines.append("models     \(paths.modelsDirectory.path) (shared: installed once by scripts/setup)")
        }
        if systemd {
            let unitDirectory = URL(fileURLWithPath: environment.configHome).appending(path: "systemd/user")
            let unit = unitDirectory.appending(path: "hearth.service")
            if FileManager.default.fileExists(atPath: unit.path) {
                report.lines.append("systemd    \(unit.path) (exists, left as it is)")
            } else {
                try DataDirectory.ensureDirectory(unitDirectory, mode: 0o755)
                try createIfAbsent(Data(systemdUnit(executable: executable, paths: paths).utf8), at: unit)
                report.lines.append("systemd    \(unit.path) (created)")
                report.lines.append("           enable it with: systemctl --user daemon-reload && systemctl --user enable --now hearth")
            }
        }
        return report
    }

    public static func systemdUnit(executable: String, paths: HearthPaths) -> String {
        """
        [Unit]
        Description=Hearth, a local-first AI agent daemon
        Documentation=file://\(paths.configFile.path)

        [Service]
        Type=simple
        ExecStart=\(executable) daemon --config \(paths.configFile.path) --data-dir \(paths.dataDirectory.path) --workspace \(paths.workspace.path)
        Restart=on-failure
        RestartSec=5
        # SIGTERM lets in-flight steps finish (see [executor] shutdown_grace_seconds).
        KillSignal=SIGTERM
        TimeoutStopSec=60

        [Install]
        WantedBy=default.target

        """
    }

    /// Writes a new file, never replacing one that appeared meanwhile.
    private static func createIfAbsent(_ data: Data, at url: URL) throws(SetupError) {
        do {
            try DurableFile.create(url, with: data, mode: 0o644)
        } catch {
            throw .notWritable(path: url.path, reason: error.reason)
        }
    }
}
