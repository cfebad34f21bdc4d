import Foundation
import Glibc
import HearthConfig
import HearthCore
import HearthModels
import HearthStore
import Logging

/// How a command reaches a model: the configured external server, the daemon's llama-server,
/// or a llama-server of its own for the duration of the command.
public final class InferenceAccess: Sendable {
    public let endpoint: ModelEndpoint
    public let apiKey: String?
    public let toolCallMode: ToolCallMode
    /// Where the server came from, for messages: "external", "daemon" or "transient".
    public let origin: String
    private let transient: Task<Void, any Error>?

    private init(
        endpoint: ModelEndpoint, apiKey: String?, toolCallMode: ToolCallMode, origin: String, transient: Task<Void, any Error>?,
        redaction: Redaction? = nil
    ) {
        self.redaction = redaction
        self.endpoint = endpoint
        self.apiKey = apiKey
        self.toolCallMode = toolCallMode
        self.origin = origin
        self.transient = transient
    }

    /// Resolves the endpoint, starting a private llama-server if nothing else serves.
    ///
    /// - Throws: `InferenceAccessError`, `InstallationError` or `ModelError` with what to do.
    public static func open(paths: HearthPaths, configuration: Configuration, logger: Logger) async throws -> InferenceAccess {
        let access = try await resolve(paths: paths, configuration: configuration, logger: logger)
        // Private data stays here when the model is elsewhere ([inference] redact).
        guard let redaction = await RedactionSetup.redaction(configuration: configuration, paths: paths, endpoint: access.endpoint)
        else {
            return access
        }
        return InferenceAccess(
            endpoint: access.endpoint, apiKey: access.apiKey, toolCallMode: access.toolCallMode, origin: access.origin,
            transient: access.transient, redaction: redaction)
    }

    /// What the model's text is redacted with; nil when it is not.
    public let redaction: Redaction?

    static func resolve(paths: HearthPaths, configuration: Configuration, logger: Logger) async throws -> InferenceAccess {
        let inference = configuration.inference
        guard inference.enabled else { throw InferenceAccessError.disabled(config: paths.configFile.path) }
        let mode = toolCallMode(configuration)
        if let baseURL = inference.baseURL {
            var key: String?
            if let variable = inference.apiKeyEnvironment {
                guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                    throw InferenceAccessError.missingAPIKey(variable: variable)
                }
                key = value
            }
            let endpoint = ModelEndpoint(
                provider: inference.provider, baseURL: baseURL, chatModel: inference.chatModel, embeddingModel: inference.embeddingModel)
            return InferenceAccess(endpoint: endpoint, apiKey: key, toolCallMode: mode, origin: "external", transient: nil)
        }
        let installation = try ModelInstallation.load(binary: paths.llamaServer, modelsDirectory: paths.modelsDirectory)
        func endpoint(_ url: String) -> ModelEndpoint {
            ModelEndpoint(provider: .llamaCpp, baseURL: url, chatModel: inference.chatModel, embeddingModel: inference.embeddingModel)
        }
        if DaemonState.running(paths) != nil {
            // The daemon supervises llama-server and publishes where it listens.
            let keyFile = paths.runtimeDirectory.appending(path: "llama-server.key")
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                if let (url, key) = Self.published(keyFile), case .ready = await LlamaServerSupervisor.probe(url: url, apiKey: key) {
                    return InferenceAccess(endpoint: endpoint(url), apiKey: key, toolCallMode: mode, origin: "daemon", transient: nil)
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            throw InferenceAccessError.daemonServerNotReady(log: paths.llamaServerLog.path)
        }
        // No daemon: run a private server in a private runtime directory for this command,
        // after cleaning up after commands that were killed before they could.
        sweepTransientDirectories(in: paths.runtimeDirectory, logger: logger)
        let status = InferenceStatus()
        let runtime = paths.runtimeDirectory.appending(path: "transient-\(getpid())")
        let supervisor = LlamaServerSupervisor(
            options: .init(
                installation: installation, chatModel: inference.chatModel, embeddingModel: inference.embeddingModel,
                runtimeDirectory: runtime, logFile: paths.llamaServerLog, threads: inference.threads,
                contextTokens: inference.contextTokens),
            status: status, logger: logger)
        let task = Task {
            defer { try? FileManager.default.removeItem(at: runtime) }
            try await supervisor.run()
        }
        let ready = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await status.waitUntilReady()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(120))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        guard ready, let connection = status.connection else {
            task.cancel()
            _ = await task.result
            throw InferenceAccessError.serverDidNotStart(
                reason: status.snapshot["lastError"]?.stringValue ?? "timed out", log: paths.llamaServerLog.path)
        }
        return InferenceAccess(
            endpoint: endpoint(connection.baseURL), apiKey: connection.apiKey, toolCallMode: mode, origin: "transient", transient: task)
    }

    /// How tool calls are obtained: `[inference] tool_calls`, else the provider's default.
    public static func toolCallMode(_ configuration: Configuration) -> ToolCallMode {
        configuration.inference.toolCalls.flatMap(ToolCallMode.init(rawValue:))
            ?? InferenceClients.defaultToolCallMode(for: configuration.inference.provider)
    }

    /// The chat and embedding client.
    public func client(timeoutSeconds: Int) -> any LanguageModel & Embedder {
        let client = InferenceClients.make(endpoint: endpoint, apiKey: apiKey, timeouts: ModelTimeouts(request: .seconds(timeoutSeconds)))
        return redaction.map { RedactingModel(client, redaction: $0) } ?? client
    }

    /// Stops a private server (a no-op for the daemon's or an external one).
    public func close() async {
        guard let transient else { return }
        transient.cancel()
        _ = await transient.result
    }

    /// Removes `transient-PID` directories of commands that are gone, stopping their servers.
    static func sweepTransientDirectories(in runtime: URL, logger: Logger) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runtime.path)) ?? []
        for name in names where name.hasPrefix("transient-") {
            guard let pid = Int32(name.dropFirst("transient-".count)), kill(pid, 0) != 0 && errno == ESRCH else { continue }
            let directory = runtime.appending(path: name)
            LlamaServerSupervisor.reapOrphan(recordedIn: directory.appending(path: "llama-server.pid"), logger: logger)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func published(_ keyFile: URL) -> (String, String)? {
        guard let text = try? String(contentsOf: keyFile, encoding: .utf8) else { return nil }
        let parts = text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard parts.count == 2, Int(parts[0]) != nil else { return nil }
        return ("http://127.0.0.1:\(parts[0])", parts[1])
    }
}

public enum InferenceAccessError: Error, Sendable, CustomStringConvertible {
    case disabled(config: String)
    case missingAPIKey(variable: String)
    case daemonServerNotReady(log: String)
    case serverDidNotStart(reason: String, log: String)

    public var description: String {
        switch self {
        case .disabled(let config): "inference is turned off ([inference] enabled = false in \(config))"
        case .missingAPIKey(let variable):
            "the environment variable \(variable) (named by [inference] api_key_env) is not set; export it first"
        case .daemonServerNotReady(let log): "the daemon's llama-server is not ready after 120 s; see 'hearth status' and \(log)"
        case .serverDidNotStart(let reason, let log): "llama-server did not start (\(reason)); see \(log)"
        }
    }
}
