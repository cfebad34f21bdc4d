import Foundation
import HearthCore

/// Ollama's native API: `/api/chat` (NDJSON streaming) and `/api/embed`.
///
/// Schemas go in `format`; token counts come from `prompt_eval_count` and `eval_count`, speeds
/// from the matching durations (nanoseconds).
public struct OllamaClient: LanguageModel, Embedder {
    public let endpoint: ModelEndpoint
    let transport: ModelTransport

    public init(endpoint: ModelEndpoint, timeouts: ModelTimeouts = ModelTimeouts(), hints: ModelHints) {
        self.endpoint = endpoint
        self.transport = ModelTransport(baseURL: endpoint.baseURL, apiKey: nil, timeouts: timeouts, hints: hints)
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let started = ContinuousClock.now
        let body = self.body(for: request, stream: false)
        let answer = try await transport.post("/api/chat", body)
        guard let message = answer["message"] else {
            throw ModelError.malformedResponse(url: transport.url("/api/chat"), detail: "no message in \(answer.jsonText.prefix(200))")
        }
        return ChatResponse(
            content: message["content"]?.stringValue ?? "",
            toolCalls: Self.toolCalls(message["tool_calls"]),
            finishReason: answer["done_reason"]?.stringValue,
            model: answer["model"]?.stringValue ?? endpoint.chatModel,
            usage: Self.usage(answer, latency: (ContinuousClock.now - started).inSeconds))
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatChunk, any Error> {
        let body = self.body(for: request, stream: true)
        let lines = transport.streamLines("/api/chat", body)
        let url = transport.url("/api/chat")
        let fallbackModel = endpoint.chatModel
        return AsyncThrowingStream { continuation in
            let task = Task {
                let started = ContinuousClock.now
                var text = ""
                var toolCalls: [ToolCall] = []
                do {
                    for try await line in lines where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                        let chunk: JSONValue
                        do {
                            chunk = try JSONValue(parsing: line)
                        } catch {
                            throw ModelError.malformedResponse(url: url, detail: "stream line: \(error)")
                        }
                        if let error = chunk["error"]?.stringValue {
                            throw ModelError.httpStatus(code: 500, url: url, message: error)
                        }
                        if let delta = chunk["message"]?["content"]?.stringValue, !delta.isEmpty {
                            text += delta
                            continuation.yield(.text(delta))
                        }
                        toolCalls += Self.toolCalls(chunk["message"]?["tool_calls"])
                        if chunk["done"] == true {
                            continuation.yield(
                                .done(
                                    ChatResponse(
                                        content: text, toolCalls: toolCalls, finishReason: chunk["done_reason"]?.stringValue,
                                        model: chunk["model"]?.stringValue ?? fallbackModel,
                                        usage: Self.usage(chunk, latency: (ContinuousClock.now - started).inSeconds))))
                            continuation.finish()
                            return
                        }
                    }
                    throw ModelError.truncatedStream(url: url, receivedCharacters: text.count)
                } catch let error as ModelError {
                    if case .truncatedStream = error {
                        continuation.finish(throwing: ModelError.truncatedStream(url: url, receivedCharacters: text.count))
                    } else {
                        continuation.finish(throwing: error)
                    }
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func embed(_ texts: [String]) async throws -> EmbeddingResult {
        let started = ContinuousClock.now
        let answer = try await transport.post(
            "/api/embed", ["model": .string(endpoint.embeddingModel), "input": .array(texts.map(JSONValue.string))])
        guard let embeddings = answer["embeddings"]?.arrayValue, embeddings.count == texts.count else {
            throw ModelError.malformedResponse(
                url: transport.url("/api/embed"),
                detail: "expected \(texts.count) embeddings, got \(answer["embeddings"]?.arrayValue?.count ?? 0)")
        }
        let vectors = embeddings.map { $0.arrayValue?.map { Float($0.doubleValue ?? 0) } ?? [] }
        return EmbeddingResult(
            vectors: vectors,
            usage: ModelUsage(
                promptTokens: answer["prompt_eval_count"]?.intValue ?? 0, latencySeconds: (ContinuousClock.now - started).inSeconds))
    }

    func body(for request: ChatRequest, stream: Bool) -> JSONValue {
        var options: [String: JSONValue] = [:]
        if let temperature = request.temperature { options["temperature"] = .number(temperature) }
        if let maxTokens = request.maxTokens { options["num_predict"] = .number(Double(maxTokens)) }
        if !request.stop.isEmpty { options["stop"] = .array(request.stop.map(JSONValue.string)) }
        if let seed = request.seed { options["seed"] = .number(Double(seed)) }
        // Ollama has no DRY; its repeat penalty is the same token penalty llama.cpp applies.
        let control = request.effectiveRepetition
        options["repeat_penalty"] = .number(control.repeatPenalty)
        if control.repeatLastN > 0 { options["repeat_last_n"] = .number(Double(control.repeatLastN)) }
        var body: [String: JSONValue] = [
            "model": .string(request.model ?? endpoint.chatModel),
            "messages": .array(
                request.messages.map { message in
                    var object: [String: JSONValue] = ["role": .string(message.role.rawValue), "content": .string(message.content)]
                    if !message.toolCalls.isEmpty {
                        object["tool_calls"] = .array(
                            message.toolCalls.map { ["function": ["name": .string($0.name), "arguments": $0.arguments]] })
                    }
                    return .object(object)
                }),
            "stream": .bool(stream),
            "options": .object(options),
        ]
        if case .jsonSchema(_, let schema) = request.responseFormat { body["format"] = schema }
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map {
                    [
                        "type": "function",
                        "function": ["name": .string($0.name), "description": .string($0.description), "parameters": $0.parameters],
                    ]
                })
        }
        return .object(body)
    }

    static func toolCalls(_ value: JSONValue?) -> [ToolCall] {
        (value?.arrayValue ?? []).enumerated().map { index, call in
            ToolCall(
                id: call["id"]?.stringValue ?? "call_\(index)", name: call["function"]?["name"]?.stringValue ?? "",
                arguments: ToolCallAccumulator.parseArguments(call["function"]?["arguments"]))
        }
    }

    static func usage(_ answer: JSONValue, latency: Double) -> ModelUsage {
        func perSecond(_ count: String, _ duration: String) -> Double? {
            guard let tokens = answer[count]?.doubleValue, let nanoseconds = answer[duration]?.doubleValue, nanoseconds > 0 else {
                return nil
            }
            return tokens / (nanoseconds / 1e9)
        }
        return ModelUsage(
            promptTokens: answer["prompt_eval_count"]?.intValue ?? 0,
            completionTokens: answer["eval_count"]?.intValue ?? 0,
            prefillTokensPerSecond: perSecond("prompt_eval_count", "prompt_eval_duration"),
            decodeTokensPerSecond: perSecond("eval_count", "eval_duration"),
            latencySeconds: latency)
    }
}
