import Foundation

/// One message of a chat.
public struct ChatMessage: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Hashable, Codable {
        case system, user, assistant, tool
    }

    public var role: Role
    public var content: String
    /// Tool calls the assistant made in this message (native tool calling).
    public var toolCalls: [ToolCall]
    /// For `tool` messages: the call this is the result of.
    public var toolCallID: String?

    public init(role: Role, content: String, toolCalls: [ToolCall] = [], toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }

    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: .system, content: text) }
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: .user, content: text) }
    public static func assistant(_ text: String) -> ChatMessage { ChatMessage(role: .assistant, content: text) }
}

/// A tool the model may call: a name, what it does, and a JSON schema for its arguments.
public struct ToolSpec: Sendable, Hashable {
    public var name: String
    public var description: String
    public var parameters: JSONValue

    public init(name: String, description: String, parameters: JSONValue) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }
}

/// A call the model asked for.
public struct ToolCall: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var arguments: JSONValue

    public init(id: String, name: String, arguments: JSONValue) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// How the model's text must be shaped.
public enum ResponseFormat: Sendable, Hashable {
    case text
    /// Constrained to a JSON schema (server-side where the server supports it).
    case jsonSchema(name: String, schema: JSONValue)
    /// Constrained by a GBNF grammar (llama.cpp only).
    case grammar(String)
}

/// Sampling that keeps a small model out of loops: llama.cpp's DRY ("don't repeat yourself")
/// penalty on repeated sequences and the classic penalty on recently used tokens.
///
/// Applied where the server supports it (llama.cpp: all of it; Ollama: the repeat penalty);
/// hosted OpenAI-compatible APIs get none of it (their models do not need it, and their
/// penalties mean something else). The values are measured on the 135M default model with
/// `hearth bench loops` (BENCHMARKS.md).
public struct RepetitionControl: Sendable, Hashable, Codable {
    /// Divides the logits of tokens seen in the last `repeatLastN` tokens; 1 is off.
    public var repeatPenalty: Double
    public var repeatLastN: Int
    /// Strength of the DRY penalty on a token that would extend a repeated sequence; 0 is off.
    public var dryMultiplier: Double
    public var dryBase: Double
    /// Repeated sequences up to this many tokens are free (names, short phrases).
    public var dryAllowedLength: Int
    /// How many recent tokens DRY scans for repetitions (0 disables it).
    public var dryLastN: Int

    public init(repeatPenalty: Double, repeatLastN: Int, dryMultiplier: Double, dryBase: Double, dryAllowedLength: Int, dryLastN: Int) {
        self.repeatPenalty = repeatPenalty
        self.repeatLastN = repeatLastN
        self.dryMultiplier = dryMultiplier
        self.dryBase = dryBase
        self.dryAllowedLength = dryAllowedLength
        self.dryLastN = dryLastN
    }

    /// No penalties: the server's plain sampling (the benchmark's baseline).
    public static let off = RepetitionControl(
        repeatPenalty: 1, repeatLastN: 0, dryMultiplier: 0, dryBase: 1.75, dryAllowedLength: 2, dryLastN: 0)

    /// Free text (answers, summaries). Chosen with `hearth bench loops --tune` on 30 tuning
    /// prompts: no loops and no answer run to the token limit, with the most right answers and
    /// the fewest tokens of the candidates (a stronger token penalty made answers longer).
    public static let text = RepetitionControl(
        repeatPenalty: 1.1, repeatLastN: 128, dryMultiplier: 0.8, dryBase: 1.75, dryAllowedLength: 2, dryLastN: 1024)

    /// Output constrained to a schema or grammar: DRY only (its sequence breakers `"` and `:`
    /// leave JSON's syntax alone), no token penalty (JSON repeats its punctuation by design).
    public static let structured = RepetitionControl(
        repeatPenalty: 1, repeatLastN: 0, dryMultiplier: 0.8, dryBase: 1.75, dryAllowedLength: 3, dryLastN: 1024)

    /// What a request gets when it does not say.
    public static func `default`(for format: ResponseFormat) -> RepetitionControl {
        if case .text = format { return .text }
        return .structured
    }
}

/// One chat completion request.
public struct ChatRequest: Sendable, Hashable {
    public var messages: [ChatMessage]
    /// The model to use; `nil` means the endpoint's configured chat model.
    public var model: String?
    public var temperature: Double?
    public var maxTokens: Int?
    public var responseFormat: ResponseFormat
    public var tools: [ToolSpec]
    public var stop: [String]
    public var seed: Int?
    /// Penalties against loops; nil: `RepetitionControl.default(for: responseFormat)`.
    public var repetition: RepetitionControl?

    /// The penalties this request is sent with.
    public var effectiveRepetition: RepetitionControl { repetition ?? .default(for: responseFormat) }

    public init(
        messages: [ChatMessage], model: String? = nil, temperature: Double? = nil, maxTokens: Int? = nil,
        responseFormat: ResponseFormat = .text, tools: [ToolSpec] = [], stop: [String] = [], seed: Int? = nil,
        repetition: RepetitionControl? = nil
    ) {
        self.repetition = repetition
        self.messages = messages
        self.model = model
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.responseFormat = responseFormat
        self.tools = tools
        self.stop = stop
        self.seed = seed
    }
}

/// What one model call cost and how fast it ran.
public struct ModelUsage: Sendable, Hashable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// Prompt tokens served from the server's prompt cache (not recomputed).
    public var cachedPromptTokens: Int
    public var prefillTokensPerSecond: Double?
    public var decodeTokensPerSecond: Double?
    /// Wall time of the whole call, as the client saw it.
    public var latencySeconds: Double

    public init(
        promptTokens: Int = 0, completionTokens: Int = 0, cachedPromptTokens: Int = 0, prefillTokensPerSecond: Double? = nil,
        decodeTokensPerSecond: Double? = nil, latencySeconds: Double = 0
    ) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.prefillTokensPerSecond = prefillTokensPerSecond
        self.decodeTokensPerSecond = decodeTokensPerSecond
        self.latencySeconds = latencySeconds
    }

    public var totalTokens: Int { promptTokens + completionTokens }
}

/// A finished chat completion.
public struct ChatResponse: Sendable, Hashable {
    public var content: String
    public var toolCalls: [ToolCall]
    /// `stop`, `length`, `tool_calls`, …, as the server said.
    public var finishReason: String?
    /// The model that answered, as the server named it.
    public var model: String
    public var usage: ModelUsage
    /// How many private values of each kind a redaction hid from the model (never the values).
    public var redactions: [String: Int] = [:]

    public init(content: String, toolCalls: [ToolCall] = [], finishReason: String?, model: String, usage: ModelUsage) {
        self.content = content
        self.toolCalls = toolCalls
        self.finishReason = finishReason
        self.model = model
        self.usage = usage
    }
}

/// A piece of a streamed completion.
public enum ChatChunk: Sendable, Hashable {
    /// More text.
    case text(String)
    /// The complete response (the last chunk).
    case done(ChatResponse)
}

/// Which endpoint and model a client talks to (for errors, traces and usage records).
public struct ModelEndpoint: Sendable, Hashable, Codable {
    public enum Provider: String, Sendable, Hashable, Codable, CaseIterable {
        /// A llama.cpp server (supervised by the daemon or external): OpenAI-compatible plus extras.
        case llamaCpp = "llama.cpp"
        /// Any OpenAI-compatible server (vLLM, LM Studio, hosted APIs).
        case openAI = "openai"
        case ollama
    }

    public var provider: Provider
    public var baseURL: String
    public var chatModel: String
    public var embeddingModel: String

    public init(provider: Provider, baseURL: String, chatModel: String, embeddingModel: String) {
        self.provider = provider
        self.baseURL = baseURL
        self.chatModel = chatModel
        self.embeddingModel = embeddingModel
    }

    /// Whether the server can constrain decoding to a JSON schema or grammar.
    public var constrainsOutput: Bool { true }
    /// Whether `grammar` (GBNF) is accepted.
    public var acceptsGrammar: Bool { provider == .llamaCpp }
}

/// A chat model.
public protocol LanguageModel: Sendable {
    var endpoint: ModelEndpoint { get }
    /// Runs a completion to the end.
    func complete(_ request: ChatRequest) async throws -> ChatResponse
    /// Streams a completion; the last chunk is `.done` with the whole response and its usage.
    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatChunk, any Error>
}

/// Embedding vectors and what computing them cost.
public struct EmbeddingResult: Sendable, Hashable {
    public var vectors: [[Float]]
    public var usage: ModelUsage

    public init(vectors: [[Float]], usage: ModelUsage) {
        self.vectors = vectors
        self.usage = usage
    }
}

/// A text embedding model.
public protocol Embedder: Sendable {
    var endpoint: ModelEndpoint { get }
    /// Embeds texts, in order (the client batches as the server allows).
    func embed(_ texts: [String]) async throws -> EmbeddingResult
}
