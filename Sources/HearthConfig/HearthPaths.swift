import Foundation
import HearthCore

/// Where everything lives, resolved from flags, the config file and the XDG environment.
///
/// Precedence for each location: the command-line flag, then `config.toml`, then the XDG
/// default. The config file itself is `--config`, else `<--data-dir>/config.toml` when only a
/// data dir was given (so one flag isolates an agent completely), else
/// `$XDG_CONFIG_HOME/hearth/config.toml`.
public struct HearthPaths: Sendable, Equatable {
    public var configFile: URL
    public var dataDirectory: URL
    public var workspace: URL
    /// Extra directories from `[paths] mounts`.
    public var mounts: [WorkspaceMount] = []
    /// The documentation portal ([publish] portal), resolved.
    public var portal: URL?
    public var maildir: URL

    /// The llama-server binary the daemon supervises (`scripts/setup` builds it here).
    public var llamaServer: URL
    /// Installed models and their `catalog.json`.
    public var modelsDirectory: URL

    public var database: URL { dataDirectory.appending(path: "hearth.sqlite") }
    public var logDirectory: URL { dataDirectory.appending(path: "logs") }
    public var logFile: URL { logDirectory.appending(path: "hearth.log") }
    public var runtimeDirectory: URL { dataDirectory.appending(path: "runtime") }
    public var lockFile: URL { runtimeDirectory.appending(path: "daemon.lock") }
    /// Written by a running daemon once it is ready: pid, port, start time.
    public var daemonStateFile: URL { runtimeDirectory.appending(path: "daemon.json") }
    public var llamaServerLog: URL { logDirectory.appending(path: "llama-server.log") }
    /// The bearer token for the local HTTP API (mode 0600).
    public var tokenFile: URL { dataDirectory.appending(path: "api-token") }
    /// The sealed credential vault (only `hearth-vault` opens it).
    public var vaultFile: URL { dataDirectory.appending(path: "vault.enc") }
    /// The credential broker's socket (mode 0600).
    public var vaultSocket: URL { runtimeDirectory.appending(path: "vault.sock") }
    /// One line per brokered request: who, where, which secrets by name.
    public var vaultAuditLog: URL { logDirectory.appending(path: "vault-audit.log") }
    /// The vault's key file (`[vault] key_file`).
    public var vaultKeyFile: URL

    public init(
        configFile: URL, dataDirectory: URL, workspace: URL, maildir: URL, llamaServer: URL? = nil, modelsDirectory: URL? = nil,
        vaultKeyFile: URL? = nil
    ) {
        self.configFile = configFile
        self.dataDirectory = dataDirectory
        self.workspace = workspace
        self.maildir = maildir
        self.llamaServer = llamaServer ?? dataDirectory.appending(path: "bin/llama-server")
        self.modelsDirectory = modelsDirectory ?? dataDirectory.appending(path: "models")
        self.vaultKeyFile = vaultKeyFile ?? configFile.deletingLastPathComponent().appending(path: "vault.key")
    }
}

/// The flags every command accepts.
public struct PathOverrides: Sendable, Equatable {
    public var dataDirectory: String?
    public var configFile: String?
    public var workspace: String?

    public init(dataDirectory: String? = nil, configFile: String? = nil, workspace: String? = nil) {
        self.dataDirectory = dataDirectory
        self.configFile = configFile
        self.workspace = workspace
    }
}

/// The process environment, injectable for tests.
public struct Environment: Sendable {
    public var variables: [String: String]
    public var currentDirectory: String

    public init(variables: [String: String], currentDirectory: String) {
        self.variables = variables
        self.currentDirectory = currentDirectory
    }

    public static var process: Environment {
        Environment(variables: ProcessInfo.processInfo.environment, currentDirectory: FileManager.default.currentDirectoryPath)
    }

    public var home: String {
        if let home = variables["HOME"], !home.isEmpty { return home }
        return NSHomeDirectory()
    }

    public var configHome: String { xdg("XDG_CONFIG_HOME", default: ".config") }
    public var dataHome: String { xdg("XDG_DATA_HOME", default: ".local/share") }

    /// XDG says relative values are invalid and must be ignored.
    private func xdg(_ name: String, default relative: String) -> String {
        if let value = variables[name], value.hasPrefix("/") { return value }
        return (home as NSString).appendingPathComponent(relative)
    }

    /// Expands `~` and `$HOME`, and makes relative paths absolute against `base`.
    public func absolutePath(_ path: String, relativeTo base: String) -> String {
        var expanded = path
        if expanded == "~" || expanded.hasPrefix("~/") {
            expanded = home + expanded.dropFirst()
        } else if expanded.hasPrefix("$HOME/") || expanded == "$HOME" {
            expanded = home + expanded.dropFirst(5)
        }
        if !expanded.hasPrefix("/") { expanded = (base as NSString).appendingPathComponent(expanded) }
        return (expanded as NSString).standardizingPath
    }
}

extension HearthPaths {
    /// Where the config file is, before it is read.
    public static func configFile(overrides: PathOverrides, environment: Environment) -> (url: URL, explicit: Bool) {
        if let config = overrides.configFile {
            return (URL(fileURLWithPath: environment.absolutePath(config, relativeTo: environment.currentDirectory)), true)
        }
        if let dataDirectory = overrides.dataDirectory {
            let directory = environment.absolutePath(dataDirectory, relativeTo: environment.currentDirectory)
            return (URL(fileURLWithPath: directory).appending(path: "config.toml"), false)
        }
        return (URL(fileURLWithPath: environment.configHome).appending(path: "hearth/config.toml"), false)
    }

    /// Resolves every location from the flags, the loaded configuration and the environment.
    ///
    /// llama-server and the models are installed once (by `scripts/setup`, under the default data
    /// dir) and shared: a data dir without its own installation uses the default one's, so a new
    /// agent with `--data-dir` needs no second download or build.
    public static func resolve(
        overrides: PathOverrides, configFile: URL, configuration: Configuration, environment: Environment,
        fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
    ) -> HearthPaths {
        let configDirectory = configFile.deletingLastPathComponent().path
        // A flag is relative to the working directory, a config value to the config's directory.
        func pick(flag: String?, configured: String?, otherwise fallback: String) -> String {
            if let flag { return environment.absolutePath(flag, relativeTo: environment.currentDirectory) }
            if let configured { return environment.absolutePath(configured, relativeTo: configDirectory) }
            return fallback
        }
        let dataDirectory = pick(
            flag: overrides.dataDirectory, configured: configuration.paths.dataDirectory,
            otherwise: (environment.dataHome as NSString).appendingPathComponent("hearth"))
        let workspace = pick(
            flag: overrides.workspace, configured: configuration.paths.workspace,
            otherwise: (environment.home as NSString).appendingPathComponent("HearthWorkspace"))
        let maildir = pick(
            flag: nil, configured: configuration.maildir.path, otherwise: (dataDirectory as NSString).appendingPathComponent("mail"))
        let sharedData = (environment.dataHome as NSString).appendingPathComponent("hearth")
        func installed(_ relative: String, marker: String = "") -> String {
            let own = (dataDirectory as NSString).appendingPathComponent(relative)
            let shared = (sharedData as NSString).appendingPathComponent(relative)
            return fileExists(own + marker) || !fileExists(shared + marker) ? own : shared
        }
        let llamaServer = pick(flag: nil, configured: configuration.inference.llamaServer, otherwise: installed("bin/llama-server"))
        let modelsDirectory = pick(
            flag: nil, configured: configuration.inference.modelsDirectory, otherwise: installed("models", marker: "/catalog.json"))
        let vaultKeyFile = pick(
            flag: nil, configured: configuration.vault.keyFile,
            otherwise: (environment.configHome as NSString).appendingPathComponent("hearth/vault.key"))
        var paths = HearthPaths(
            configFile: configFile,
            dataDirectory: URL(fileURLWithPath: dataDirectory),
            workspace: URL(fileURLWithPath: workspace),
            maildir: URL(fileURLWithPath: maildir),
            llamaServer: URL(fileURLWithPath: llamaServer),
            modelsDirectory: URL(fileURLWithPath: modelsDirectory),
            vaultKeyFile: URL(fileURLWithPath: vaultKeyFile))
        paths.mounts = configuration.paths.mounts.compactMap { entry in
            WorkspaceMount.parse(entry) { environment.absolutePath($0, relativeTo: configDirectory) }
        }
        paths.portal = configuration.publish.portal.map { URL(fileURLWithPath: environment.absolutePath($0, relativeTo: configDirectory)) }
        return paths
    }
}

/// The configuration and every path, as one command sees them.
public struct LoadedSettings: Sendable {
    public var paths: HearthPaths
    public var configuration: Configuration
    public var configFileExisted: Bool

    /// Reads the config file (if any) and resolves every path from the flags.
    ///
    /// - Throws: `ConfigError` for a malformed file, or for an explicit `--config` that does not exist.
    /// - Parameter creating: the caller is about to create the config (`hearth init`), so an
    ///   explicit `--config` that does not exist yet is fine.
    public static func load(
        overrides: PathOverrides, environment: Environment = .process, creating: Bool = false
    ) throws(ConfigError) -> LoadedSettings {
        let (configURL, explicit) = HearthPaths.configFile(overrides: overrides, environment: environment)
        let exists = FileManager.default.fileExists(atPath: configURL.path)
        var configuration = Configuration()
        if exists {
            configuration = try Configuration.load(path: configURL.path)
        } else if explicit && !creating {
            throw .missing(path: configURL.path)
        }
        let paths = HearthPaths.resolve(
            overrides: overrides, configFile: configURL, configuration: configuration, environment: environment)
        return LoadedSettings(paths: paths, configuration: configuration, configFileExisted: exists)
    }
}
