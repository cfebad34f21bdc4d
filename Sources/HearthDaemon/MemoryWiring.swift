import Foundation
import HearthConfig
import HearthCore
import HearthModels
import Synchronization

/// The embedder the daemon's memory uses: the external server from the config, or the supervised
/// llama-server once it is ready (until then every call fails, and retrieval uses full text).
final class DeferredEmbedder: Embedder {
    let endpoint: ModelEndpoint
    let configuration: Configuration
    let status: InferenceStatus

    init(configuration: Configuration, status: InferenceStatus) {
        self.configuration = configuration
        self.status = status
        let inference = configuration.inference
        endpoint = ModelEndpoint(
            provider: inference.baseURL == nil ? .llamaCpp : inference.provider, baseURL: inference.baseURL ?? "http://127.0.0.1",
            chatModel: inference.chatModel, embeddingModel: inference.embeddingModel)
    }

    func embed(_ texts: [String]) async throws -> EmbeddingResult {
        let inference = configuration.inference
        let timeouts = ModelTimeouts(request: .seconds(inference.requestTimeoutSeconds))
        if inference.baseURL != nil {
            let key = inference.apiKeyEnvironment.flatMap { ProcessInfo.processInfo.environment[$0] }
            return try await InferenceClients.make(endpoint: endpoint, apiKey: key, timeouts: timeouts).embed(texts)
        }
        guard let connection = status.connection else {
            throw ModelError.unreachable(url: "llama-server", reason: "not ready yet", hint: "the daemon is starting it; see hearth status")
        }
        var live = endpoint
        live.baseURL = connection.baseURL
        return try await InferenceClients.make(endpoint: live, apiKey: connection.apiKey, timeouts: timeouts).embed(texts)
    }
}

/// The memory line of `hearth status`, written by the maintenance service.
final class MemoryStatusBoard: Sendable {
    private let text = Mutex("starting")

    func set(_ value: String) { text.withLock { $0 = value } }
    var value: String { text.withLock { $0 } }
}
