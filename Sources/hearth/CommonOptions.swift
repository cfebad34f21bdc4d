import ArgumentParser
import Foundation
import HearthConfig
import HearthCore
import HearthDaemon
import HearthServer
import HearthStore

/// The flags every command takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Data directory (database, logs, API token).", valueName: "dir"))
    var dataDir: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Config file. Default: <data-dir>/config.toml with --data-dir, else $XDG_CONFIG_HOME/hearth/config.toml.",
            valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("The only directory tree the agent may touch. Default: ~/HearthWorkspace.", valueName: "dir"))
    var workspace: String?

    /// Reads the config (if any) and resolves every path.
    ///
    /// - Parameter creating: for `hearth init`, which creates a missing `--config`.
    func load(creating: Bool = false) throws -> HearthContext {
        let settings = try LoadedSettings.load(
            overrides: PathOverrides(dataDirectory: dataDir, configFile: config, workspace: workspace), creating: creating)
        return HearthContext(paths: settings.paths, configuration: settings.configuration, configFileExisted: settings.configFileExisted)
    }
}

/// Resolved paths and configuration for one command.
struct HearthContext {
    var paths: HearthPaths
    var configuration: Configuration
    var configFileExisted: Bool

    /// Opens the database for writing, creating the data dir (and token) if needed.
    func openForWriting() throws -> HearthDatabase {
        try configuration.requireLocalStore()
        try DataDirectory.prepare(paths)
        return try HearthDatabase.open(at: paths.database)
    }

    /// Opens the database for reading; `nil` when Hearth was never set up here.
    func openForReading() throws -> HearthDatabase? {
        try configuration.requireLocalStore()
        guard FileManager.default.fileExists(atPath: paths.database.path) else { return nil }
        return try HearthDatabase.open(at: paths.database)
    }

    /// Tells a running daemon that the database changed; returns whether one was told.
    ///
    /// Best effort by design: the write is already durable, and the daemon also re-checks on its
    /// own within a minute.
    @discardableResult
    func nudgeDaemon(_ what: [String]) async -> Bool {
        guard let running = DaemonState.running(paths), let state = running.state,
            let token = try? DataDirectory.readToken(paths)
        else { return false }
        do {
            try await DaemonClient(port: state.port, token: token, timeout: .seconds(3)).wake(what)
            return true
        } catch {
            return false
        }
    }
}

/// Prints a JSON document on stdout.
func printJSON(_ value: JSONValue) {
    print(value.jsonText)
}

/// Parses `--payload`-style input: inline JSON, `@file`, or `@-` for stdin.
func readJSONArgument(_ text: String, option: String) throws -> JSONValue {
    var data = Data(text.utf8)
    if text.hasPrefix("@") {
        let path = String(text.dropFirst())
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw CLIError.usage("\(option): cannot read \(path); check the path")
            }
            data = contents
        }
    }
    do {
        return try JSONValue(parsing: data)
    } catch {
        throw CLIError.usage("\(option): \(error.description)")
    }
}

/// How a benchmark that embeds reaches llama-server: a running daemon's (which keeps its own
/// `[inference] threads`), or one of its own on `--threads` threads — by default every core, since
/// a benchmark is the only work it waits for.
struct BenchServerOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Threads of the llama-server the benchmark starts when no daemon runs (default: every core of this machine; a running daemon's server keeps its [inference] threads).",
            valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
    }

    /// `configuration` with the benchmark's own server's threads.
    func configuration(_ configuration: Configuration) -> Configuration {
        var configuration = configuration
        configuration.inference.threads = threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
        return configuration
    }

    /// Which server answered, for the figures: "private llama-server, -t 2", "daemon's llama-server".
    static func describe(_ access: InferenceAccess?, _ configuration: Configuration) -> JSONValue {
        guard let access else { return .null }
        switch access.origin {
        case "transient": return .string("private llama-server, -t \(configuration.inference.threads)")
        case "daemon": return .string("daemon's llama-server")
        default: return .string("\(access.endpoint.baseURL) (\(access.origin))")
        }
    }

    /// Each result object with its `"inference"`: the server that answered.
    static func naming(_ results: [JSONValue], _ inference: JSONValue) -> [JSONValue] {
        results.map { result in
            guard case .object(var fields) = result else { return result }
            fields["inference"] = inference
            return .object(fields)
        }
    }
}
