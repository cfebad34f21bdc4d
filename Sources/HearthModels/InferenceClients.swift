import HearthCore

/// Builds the client for an endpoint, with the hints its errors should carry.
public enum InferenceClients {
    /// A chat and embedding client for `endpoint`.
    public static func make(endpoint: ModelEndpoint, apiKey: String?, timeouts: ModelTimeouts) -> any LanguageModel & Embedder {
        let hints = hints(for: endpoint)
        switch endpoint.provider {
        case .ollama: return OllamaClient(endpoint: endpoint, timeouts: timeouts, hints: hints)
        case .llamaCpp, .openAI: return OpenAICompatibleClient(endpoint: endpoint, apiKey: apiKey, timeouts: timeouts, hints: hints)
        }
    }

    /// How tool calls are obtained by default: hosted OpenAI-style APIs have native tool calls;
    /// llama.cpp and Ollama get the constrained path, which works with every model they serve.
    public static func defaultToolCallMode(for provider: ModelEndpoint.Provider) -> ToolCallMode {
        provider == .openAI ? .native : .constrained
    }

    public static func hints(for endpoint: ModelEndpoint) -> ModelHints {
        switch endpoint.provider {
        case .llamaCpp:
            ModelHints(
                startServer: "start 'hearth daemon' (it runs llama-server), or check [inference] base_url",
                installModel: ModelInstallation.setupHint)
        case .openAI:
            ModelHints(
                startServer: "start the server at \(endpoint.baseURL) or change [inference] base_url in config.toml",
                installModel: "load the model on that server or change [inference] chat_model / embedding_model")
        case .ollama:
            ModelHints(
                startServer: "start Ollama ('ollama serve') or change [inference] base_url in config.toml",
                installModel: "pull it with 'ollama pull \(endpoint.chatModel)' (and the embedding model likewise)")
        }
    }
}
