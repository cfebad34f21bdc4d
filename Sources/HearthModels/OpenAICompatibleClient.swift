import Foundation
import HearthCore

/// `/v1/chat/completions` and `/v1/embeddings`: llama.cpp's server, vLLM, LM Studio, hosted APIs.
///
/// With a llama.cpp endpoint it also sends `cache_prompt` and reads `timings` (prefill and
/// decode speed, prompt tokens served from the cache); GBNF grammars go in `grammar`.
public struct OpenAICompatibleClient: LanguageModel, Embedder {
    public let endpoint: ModelEndpoint
    let transport: ModelTransport
    /// Inputs per `/v1/embeddings` request.
    let embeddingBatchSize: Int

    public init(
        endpoint: ModelEndpoint, apiKey: String? = nil, timeouts: ModelTimeouts = ModelTimeouts(), hints: ModelHints,
        embeddingBatchSize: Int = 64
    ) {
        self.endpoint = endpoint
        self.transport = ModelTransport(baseURL: endpoint.baseURL, apiKey: apiKey, timeouts: timeouts, hints: hints)
        self.embeddingBatchSize = max(1, embeddingBatchSize)
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let started = ContinuousClock.now
        let body = self.body(for: request, stream: false)
        let answer = try await transport.post("/v1/chat/completions", body)
        guard let choice = answer["choices"]?.arrayValue?.first, let message = choice["message"] else {
            throw ModelError.malformedResponse(
                url: transport.url("/v1/chat/completions"), detail: "no choices[0].message in \(answer.jsonText.prefix(200))")
        }
        return ChatResponse(
            content: message["content"]?.stringValue ?? "",
            toolCalls: try Self.toolCalls(message["tool_calls"]),
            finishReason: choice["finish_reason"]?.stringValue,
            model: answer["model"]?.stringValue ?? body["model"]?.stringValue ?? "",
            usage: Self.usage(answer, latency: (ContinuousClock.now - started).inSeconds))
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatChunk, any Error> {
        let body = self.body(for: request, stream: true)
        let lines = transport.streamLines("/v1/chat/completions", body)
        let url = transport.url("/v1/chat/completions")
        return AsyncThrowingStream { continuation in
            let task = Task {
                let started = ContinuousClock.now
                var text = ""
                var finishReason: String?
                var model = body["model"]?.stringValue ?? ""
                var last: JSONValue = [:]
                var toolCalls = ToolCallAccumulator()
                var done = false
                do {
                    for try await line in lines {
                        guard line.hasPrefix("data:") else { continue }  // SSE comments, event names, blanks
                        let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                        if payload == "[DONE]" {
                            done = true
                            break
                        }
                        let chunk: JSONValue
                        do {
                            chunk = try JSONValue(parsing: payload)
                        } catch {
                            throw ModelError.malformedResponse(url: url, detail: "stream chunk: \(error)")
                        }
                        if let error = chunk["error"] {
                            throw ModelError.httpStatus(code: 500, url: url, message: error["message"]?.stringValue ?? error.jsonText)
                        }
                        if let name = chunk["model"]?.stringValue { model = name }
                        if chunk["usage"] != nil && chunk["usage"] != .null || chunk["timings"] != nil { last = chunk }
                        guard let choice = chunk["choices"]?.arrayValue?.first else { continue }
                        if let delta = choice["delta"]?["content"]?.stringValue, !delta.isEmpty {
                            text += delta
                            continuation.yield(.text(delta))
                        }
                        toolCalls.add(choice["delta"]?["tool_calls"])
                        if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
                    }
                } catch let error as ModelError {
                    if case .truncatedStream = error {
                        continuation.finish(throwing: ModelError.truncatedStream(url: url, receivedCharacters: text.count))
                    } else {
                        continuation.finish(throwing: error)
                    }
                    return
                } catch {
                    continuation.finish(throwing: error)
                    return
                }
                // A stream that closes without [DONE] (or a finish reason) was cut short.
                guard done || finishReason != nil else {
                    continuation.finish(throwing: ModelError.truncatedStream(url: url, receivedCharacters: text.count))
                    return
                }
                do {
                    let response = ChatResponse(
                        content: text, toolCalls: try toolCalls.calls(), finishReason: finishReason, model: model,
                        usage: Self.usage(last, latency: (ContinuousClock.now - started).inSeconds))
                    continuation.yield(.done(response))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func embed(_ texts: [String]) async throws -> EmbeddingResult {
        let started = ContinuousClock.now
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        var promptTokens = 0
        for start in stride(from: 0, to: texts.count, by: embeddingBatchSize) {
            let batch = Array(texts[start..<min(start + embeddingBatchSize, texts.count)])
            let answer = try await transport.post(
                "/v1/embeddings", ["model": .string(endpoint.embeddingModel), "input": .array(batch.map(JSONValue.string))])
            guard let data = answer["data"]?.arrayValue, data.count == batch.count else {
                throw ModelError.malformedResponse(
                    url: transport.url("/v1/embeddings"),
                    detail: "expected \(batch.count) embeddings, got \(answer["data"]?.arrayValue?.count ?? 0)")
            }
            // Order by "index": the API does not promise the order of "data".
            let ordered = data.sorted { ($0["index"]?.intValue ?? 0) < ($1["index"]?.intValue ?? 0) }
            for item in ordered {
                guard let numbers = item["embedding"]?.arrayValue else {
                    throw ModelError.malformedResponse(url: transport.url("/v1/embeddings"), detail: "an item has no embedding array")
                }
                vectors.append(numbers.map { Float($0.doubleValue ?? 0) })
            }
            promptTokens += answer["usage"]?["prompt_tokens"]?.intValue ?? 0
        }
        return EmbeddingResult(
            vectors: vectors, usage: ModelUsage(promptTokens: promptTokens, latencySeconds: (ContinuousClock.now - started).inSeconds))
    }

    // MARK: Request and response shapes

    func body(for request: ChatRequest, stream: Bool) -> JSONValue {
        var body: [String: JSONValue] = [
            "model": .string(request.model ?? endpoint.chatModel),
            "messages": .array(request.messages.map(Self.message)),
            "stream": .bool(stream),
        ]
        if let temperature = request.temperature { body["temperature"] = .number(temperature) }
        if let maxTokens = request.maxTokens { body["max_tokens"] = .number(Double(maxTokens)) }
        if !request.stop.isEmpty { body["stop"] = .array(request.stop.map(JSONValue.string)) }
        if let seed = request.seed { body["seed"] = .number(Double(seed)) }
        switch request.responseFormat {
        case .text: break
        case .jsonSchema(let name, let schema):
            body["response_format"] = [
                "type": "json_schema", "json_schema": ["name": .string(name), "schema": schema, "strict": true],
            ]
        case .grammar(let grammar):
            body["grammar"] = .string(grammar)
        }
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    [
                        "type": "function",
                        "function": ["name": .string(tool.name), "description": .string(tool.description), "parameters": tool.parameters],
                    ]
                })
        }
        if stream { body["stream_options"] = ["include_usage": true] }
        if endpoint.provider == .llamaCpp {
            body["cache_prompt"] = true
            let control = request.effectiveRepetition
            body["repeat_penalty"] = .number(control.repeatPenalty)
            body["repeat_last_n"] = .number(Double(control.repeatLastN))
            body["dry_multiplier"] = .number(control.dryMultiplier)
            body["dry_base"] = .number(control.dryBase)
            body["dry_allowed_length"] = .number(Double(control.dryAllowedLength))
            body["dry_penalty_last_n"] = .number(Double(control.dryLastN))
        }
        return .object(body)
    }

    static func message(_ message: ChatMessage) -> JSONValue {
        var object: [String: JSONValue] = ["role": .string(message.role.rawValue), "content": .string(message.content)]
        if !message.toolCalls.isEmpty {
            object["tool_calls"] = .array(
                message.toolCalls.map { call in
                    [
                        "id": .string(call.id), "type": "function",
                        "function": ["name": .string(call.name), "arguments": .string(call.arguments.jsonText)],
                    ]
                })
        }
        if let id = message.toolCallID { object["tool_call_id"] = .string(id) }
        return .object(object)
    }

    static func toolCalls(_ value: JSONValue?) throws -> [ToolCall] {
        guard let calls = value?.arrayValue else { return [] }
        return calls.enumerated().map { index, call in
            let function = call["function"] ?? [:]
            return ToolCall(
                id: call["id"]?.stringValue ?? "call_\(index)",
                name: function["name"]?.stringValue ?? "",
                arguments: ToolCallAccumulator.parseArguments(function["arguments"]))
        }
    }

    /// Usage from `usage` (OpenAI) and `timings` (llama.cpp), whichever the server sent.
    static func usage(_ answer: JSONValue, latency: Double) -> ModelUsage {
        let usage = answer["usage"] ?? [:]
        let timings = answer["timings"] ?? [:]
        var result = ModelUsage(
            promptTokens: usage["prompt_tokens"]?.intValue ?? 0,
            completionTokens: usage["completion_tokens"]?.intValue ?? 0,
            cachedPromptTokens: usage["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0,
            latencySeconds: latency)
        if timings != [:] {
            let cached = timings["cache_n"]?.intValue ?? 0
            let processed = timings["prompt_n"]?.intValue ?? 0
            result.cachedPromptTokens = max(result.cachedPromptTokens, cached)
            if result.promptTokens == 0 { result.promptTokens = processed + cached }
            if result.completionTokens == 0 { result.completionTokens = timings["predicted_n"]?.intValue ?? 0 }
            result.prefillTokensPerSecond = timings["prompt_per_second"]?.doubleValue
            result.decodeTokensPerSecond = timings["predicted_per_second"]?.doubleValue
        }
        return result
    }
}

/// Tool-call fragments of a stream, assembled by index (arguments arrive as string pieces).
struct ToolCallAccumulator {
    private var fragments: [Int: (id: String?, name: String, arguments: String)] = [:]

    mutating func add(_ deltas: JSONValue?) {
        for delta in deltas?.arrayValue ?? [] {
            let index = delta["index"]?.intValue ?? fragments.count
            var call = fragments[index] ?? (nil, "", "")
            if let id = delta["id"]?.stringValue { call.id = id }
            if let name = delta["function"]?["name"]?.stringValue { call.name += name }
            if let piece = delta["function"]?["arguments"]?.stringValue { call.arguments += piece }
            fragments[index] = call
        }
    }

    func calls() throws -> [ToolCall] {
        fragments.keys.sorted().map { index in
            let call = fragments[index]!
            return ToolCall(id: call.id ?? "call_\(index)", name: call.name, arguments: Self.parseArguments(.string(call.arguments)))
        }
    }

    /// Arguments as JSON; text that is not JSON is kept as a string so validation can report it.
    static func parseArguments(_ value: JSONValue?) -> JSONValue {
        switch value {
        case .string(let text)?:
            if text.trimmingCharacters(in: .whitespaces).isEmpty { return .object([:]) }
            return (try? JSONValue(parsing: text)) ?? .string(text)
        case let other?: return other
        case nil: return .object([:])
        }
    }
}
