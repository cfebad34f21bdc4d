import Foundation
import HearthConfig
import HearthCore
import HearthModels
import Synchronization

/// The daemon's model clients: the external server from the config, or the supervised
/// llama-server once it is ready (until then every call fails with a clear `unreachable`; memory
/// falls back to full text, and a goal pauses until the server is back).
final class DeferredInference: LanguageModel, Embedder {
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

    func client() throws -> any LanguageModel & Embedder {
        let inference = configuration.inference
        let timeouts = ModelTimeouts(request: .seconds(inference.requestTimeoutSeconds))
        if inference.baseURL != nil {
            let key = inference.apiKeyEnvironment.flatMap { ProcessInfo.processInfo.environment[$0] }
            return InferenceClients.make(endpoint: endpoint, apiKey: key, timeouts: timeouts)
        }
        guard let connection = status.connection else {
            throw ModelError.unreachable(url: "llama-server", reason: "not ready yet", hint: "the daemon is starting it; see hearth status")
        }
        var live = endpoint
        live.baseURL = connection.baseURL
        return InferenceClients.make(endpoint: live, apiKey: connection.apiKey, timeouts: timeouts)
    }

    func embed(_ texts: [String]) async throws -> EmbeddingResult { try await client().embed(texts) }

    func complete(_ request: ChatRequest) async throws -> ChatResponse { try await client().complete(request) }

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatChunk, any Error> {
        do {
            return try client().stream(request)
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: error) }
        }
    }
}

/// The memory line of `hearth status`, written by the maintenance service.
final class MemoryStatusBoard: Sendable {
    private let text = Mutex("starting")

    func set(_ value: String) { text.withLock { $0 = value } }
    var value: String { text.withLock { $0 } }
}
