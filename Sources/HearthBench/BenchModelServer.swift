import Foundation
import HearthCore
import HearthModels
import Logging

/// The supervised llama-server a benchmark measures against: the installed chat and embedding
/// models in a scratch runtime directory, stopped when the benchmark is done.
struct BenchModelServer {
    let client: OpenAICompatibleClient
    let connection: (baseURL: String, apiKey: String)
    private let task: Task<Void, any Error>

    /// Starts the server and waits until both models are loaded.
    static func start(
        installation: ModelInstallation, directory: URL, threads: Int, embeddingSlots: Int = 4, progress: @Sendable (String) -> Void
    ) async throws -> BenchModelServer {
        let status = InferenceStatus()
        let supervisor = LlamaServerSupervisor(
            options: .init(
                installation: installation, chatModel: "smollm2-135m", embeddingModel: "minilm-l6",
                runtimeDirectory: directory.appending(path: "runtime"), logFile: directory.appending(path: "llama-server.log"),
                threads: threads, contextTokens: 4096, embeddingSlots: embeddingSlots),
            status: status, logger: Logger(label: "bench"))
        let task = Task { try await supervisor.run() }
        progress("starting llama-server (-t \(threads))")
        await status.waitUntilReady()
        guard let connection = status.connection else {
            task.cancel()
            throw ModelError.unreachable(url: "llama-server", reason: "did not start", hint: "see the log")
        }
        let endpoint = ModelEndpoint(
            provider: .llamaCpp, baseURL: connection.baseURL, chatModel: "smollm2-135m", embeddingModel: "minilm-l6")
        let client = OpenAICompatibleClient(endpoint: endpoint, apiKey: connection.apiKey, hints: InferenceClients.hints(for: endpoint))
        return BenchModelServer(client: client, connection: connection, task: task)
    }

    /// Stops the server without waiting (for a `defer` on the way out of an error).
    func cancel() { task.cancel() }

    /// Stops the server and waits for it to be gone.
    func stop() async {
        task.cancel()
        _ = await task.result
    }
}
