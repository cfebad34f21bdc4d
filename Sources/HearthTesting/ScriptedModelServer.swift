import Foundation
import HearthCore
import Hummingbird
import NIOCore
import Synchronization

/// A real HTTP server on loopback that speaks the OpenAI-compatible and Ollama APIs from a
/// script, so the real clients can be tested against streaming, slow and dropped connections,
/// errors and malformed JSON, deterministically.
///
/// Each request takes the next scripted reply (the last one repeats when the script runs out).
public final class ScriptedModelServer: Sendable {
    public enum Reply: Sendable, Hashable {
        /// A normal answer; streamed when the request asks for a stream.
        case chat(
            String, toolCalls: [ToolCall] = [], finishReason: String = "stop", promptTokens: Int = 12, completionTokens: Int = 7,
            cachedTokens: Int = 0)
        /// Embedding vectors of this many dimensions (deterministic per input).
        case embeddings(dimensions: Int)
        /// An HTTP error with a JSON `{"error": {"message": …}}` body.
        case status(Int, message: String)
        /// 200 with a body that is not JSON.
        case malformed(String)
        /// Waits before answering with `then`.
        case delayed(seconds: Double, then: Chat)
        /// Streams `chunks` pieces of text, then drops the connection mid-body.
        case dropStream(after: Int)
        /// Streams `chunks` pieces, then ends the body cleanly without a final marker.
        case truncateStream(after: Int)

        /// The payload of `delayed` (enums cannot nest themselves indirectly in a Sendable way here).
        public struct Chat: Sendable, Hashable {
            public var text: String
            public init(_ text: String) { self.text = text }
        }
    }

    /// A request as the server received it.
    public struct Received: Sendable {
        public var path: String
        public var body: JSONValue
        public var authorization: String?
    }

    private let script: Mutex<[Reply]>
    private let responder: (@Sendable (JSONValue) -> Reply)?
    /// Models the server lists (Ollama's `/api/tags` and OpenAI's `/v1/models`), as name and
    /// parameter size ("8.0B"; empty when unknown).
    public let models: [(name: String, size: String)]
    private let received = Mutex<[Received]>([])
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init(_ replies: [Reply], models: [(name: String, size: String)] = []) {
        precondition(!replies.isEmpty, "a script needs at least one reply")
        script = Mutex(replies)
        responder = nil
        self.models = models
    }

    /// A server whose reply depends on the request (its JSON body): for agents whose concurrent
    /// tasks ask in no fixed order.
    public init(responder: @escaping @Sendable (JSONValue) -> Reply) {
        script = Mutex([])
        self.responder = responder
        models = []
    }

    deinit {
        task.withLock { $0?.cancel() }
    }

    public var requests: [Received] { received.withLock { $0 } }

    /// Starts listening on a free port; returns the base URL (`http://127.0.0.1:PORT`).
    public func start() async throws -> String {
        let router = Router()
        for path in ["/v1/chat/completions", "/v1/embeddings", "/api/chat", "/api/embed"] {
            router.post(RouterPath(path)) { [self] request, _ in try await respond(request, path: path) }
        }
        // Model lists, as Ollama and OpenAI-compatible servers publish them.
        let models = self.models
        router.get("/api/tags") { _, _ in
            Self.json([
                "models": .array(
                    models.map { model in
                        ["name": .string(model.name), "model": .string(model.name), "details": ["parameter_size": .string(model.size)]]
                    })
            ])
        }
        router.get("/v1/models") { _, _ in
            Self.json(["object": "list", "data": .array(models.map { ["id": .string($0.name), "object": "model"] })])
        }
        let port = try await LoopbackApplication.start(router, host: "127.0.0.1", label: "scripted-model-server", task: task)
        return "http://127.0.0.1:\(port)"
    }

    public func stop() {
        task.withLock { $0?.cancel() }
    }

    private func nextReply() -> Reply {
        script.withLock { replies in replies.count > 1 ? replies.removeFirst() : replies[0] }
    }

    private func respond(_ request: Request, path: String) async throws -> Response {
        let bytes = try await request.body.collect(upTo: 16 << 20)
        let body = (try? JSONValue(parsing: Data(bytes.readableBytesView))) ?? .null
        received.withLock { $0.append(Received(path: path, body: body, authorization: request.headers[.authorization])) }
        let ollama = path.hasPrefix("/api/")
        let streaming = body["stream"] == true
        switch responder?(body) ?? nextReply() {
        case .status(let code, let message):
            return Self.json(["error": ollama ? .string(message) : ["message": .string(message)]], status: .init(code: code))
        case .malformed(let text):
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        case .delayed(let seconds, let chat):
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return chatResponse(
                text: chat.text, toolCalls: [], finish: "stop", prompt: 12, completion: 7, cached: 0, body: body, ollama: ollama,
                streaming: streaming)
        case .embeddings(let dimensions):
            let inputs = body["input"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let vectors = inputs.map { Self.vector(for: $0, dimensions: dimensions) }
            if ollama {
                return Self.json([
                    "model": body["model"] ?? "", "embeddings": .array(vectors), "prompt_eval_count": .number(Double(inputs.count * 4)),
                ])
            }
            // Answer in reverse order: clients must sort by "index".
            let data = vectors.enumerated().reversed().map { index, vector -> JSONValue in
                ["object": "embedding", "index": .number(Double(index)), "embedding": vector]
            }
            return Self.json(["object": "list", "data": .array(data), "usage": ["prompt_tokens": .number(Double(inputs.count * 4))]])
        case .chat(let text, let toolCalls, let finish, let prompt, let completion, let cached):
            return chatResponse(
                text: text, toolCalls: toolCalls, finish: finish, prompt: prompt, completion: completion, cached: cached, body: body,
                ollama: ollama, streaming: streaming)
        case .dropStream(let after):
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: .init { writer in
                    for index in 0..<after {
                        try await writer.write(
                            ByteBuffer(string: Self.sseChunk(["choices": [["index": 0, "delta": ["content": .string("piece\(index) ")]]]])))
                    }
                    throw CancellationError()  // the connection is torn down mid-body
                })
        case .truncateStream(let after):
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: .init { writer in
                    for index in 0..<after {
                        let piece = Self.sseChunk(["choices": [["index": 0, "delta": ["content": .string("piece\(index) ")]]]])
                        try await writer.write(ByteBuffer(string: ollama ? "" : piece))
                    }
                    try await writer.finish(nil)
                })
        }
    }

    private func chatResponse(
        text: String, toolCalls: [ToolCall], finish: String, prompt: Int, completion: Int, cached: Int, body: JSONValue, ollama: Bool,
        streaming: Bool
    ) -> Response {
        let model = body["model"] ?? "scripted"
        if ollama {
            let message: JSONValue = [
                "role": "assistant", "content": .string(text),
                "tool_calls": .array(toolCalls.map { ["function": ["name": .string($0.name), "arguments": $0.arguments]] }),
            ]
            let final: JSONValue = [
                "model": model, "message": streaming ? ["role": "assistant", "content": ""] : message, "done": true,
                "done_reason": .string(finish), "prompt_eval_count": .number(Double(prompt)), "eval_count": .number(Double(completion)),
                "prompt_eval_duration": 100_000_000, "eval_duration": 200_000_000,
            ]
            guard streaming else { return Self.json(final) }
            let words = Self.pieces(text)
            return Response(
                status: .ok, headers: [.contentType: "application/x-ndjson"],
                body: .init { writer in
                    for word in words {
                        try await writer.write(
                            ByteBuffer(
                                string: JSONValue.object([
                                    "model": model, "message": ["role": "assistant", "content": .string(word)], "done": false,
                                ]).jsonText + "\n"))
                    }
                    try await writer.write(ByteBuffer(string: final.jsonText + "\n"))
                    try await writer.finish(nil)
                })
        }
        let usage: JSONValue = [
            "prompt_tokens": .number(Double(prompt)), "completion_tokens": .number(Double(completion)),
            "total_tokens": .number(Double(prompt + completion)), "prompt_tokens_details": ["cached_tokens": .number(Double(cached))],
        ]
        let timings: JSONValue = [
            "cache_n": .number(Double(cached)), "prompt_n": .number(Double(prompt - cached)), "prompt_per_second": 250.0,
            "predicted_n": .number(Double(completion)), "predicted_per_second": 100.0,
        ]
        let calls: [JSONValue] = toolCalls.enumerated().map { index, call in
            [
                "index": .number(Double(index)), "id": .string(call.id), "type": "function",
                "function": ["name": .string(call.name), "arguments": .string(call.arguments.jsonText)],
            ]
        }
        guard streaming else {
            var message: [String: JSONValue] = ["role": "assistant", "content": .string(text)]
            if !calls.isEmpty { message["tool_calls"] = .array(calls) }
            return Self.json([
                "id": "chatcmpl-1", "object": "chat.completion", "model": model,
                "choices": [["index": 0, "message": .object(message), "finish_reason": .string(finish)]], "usage": usage,
                "timings": timings,
            ])
        }
        let words = Self.pieces(text)
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream"],
            body: .init { writer in
                try await writer.write(ByteBuffer(string: ": keep-alive comment\n\n"))
                for word in words {
                    try await writer.write(
                        ByteBuffer(
                            string: Self.sseChunk(["model": model, "choices": [["index": 0, "delta": ["content": .string(word)]]]])))
                }
                for call in calls {
                    // Arguments arrive in two fragments, as real servers send them.
                    let arguments = call["function"]?["arguments"]?.stringValue ?? ""
                    let half = arguments.index(arguments.startIndex, offsetBy: arguments.count / 2)
                    try await writer.write(
                        ByteBuffer(
                            string: Self.sseChunk([
                                "choices": [
                                    [
                                        "index": 0,
                                        "delta": [
                                            "tool_calls": [
                                                [
                                                    "index": call["index"]!, "id": call["id"]!,
                                                    "function": [
                                                        "name": call["function"]!["name"]!,
                                                        "arguments": .string(String(arguments[..<half])),
                                                    ],
                                                ]
                                            ]
                                        ],
                                    ]
                                ]
                            ])))
                    try await writer.write(
                        ByteBuffer(
                            string: Self.sseChunk([
                                "choices": [
                                    [
                                        "index": 0,
                                        "delta": [
                                            "tool_calls": [
                                                ["index": call["index"]!, "function": ["arguments": .string(String(arguments[half...]))]]
                                            ]
                                        ],
                                    ]
                                ]
                            ])))
                }
                try await writer.write(
                    ByteBuffer(string: Self.sseChunk(["choices": [["index": 0, "delta": [:], "finish_reason": .string(finish)]]])))
                try await writer.write(ByteBuffer(string: Self.sseChunk(["choices": [], "usage": usage, "timings": timings])))
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            })
    }

    static func sseChunk(_ value: JSONValue) -> String { "data: \(value.jsonText)\n\n" }

    /// The text in streaming pieces (words with their following space).
    static func pieces(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        for character in text {
            current.append(character)
            if character == " " {
                pieces.append(current)
                current = ""
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// A unit vector that depends only on the text.
    static func vector(for text: String, dimensions: Int) -> JSONValue {
        var state = UInt64(truncatingIfNeeded: text.hashValue == 0 ? 1 : abs(text.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) }))
        var values: [Double] = []
        for _ in 0..<dimensions {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append(Double(Int64(bitPattern: state >> 11) % 1000) / 1000)
        }
        let norm = max(values.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-9)
        return .array(values.map { .number($0 / norm) })
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.jsonText)))
    }
}
