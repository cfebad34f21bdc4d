import AsyncHTTPClient
import Foundation
import HearthCore
import NIOCore
import NIOHTTP1

/// What to tell the user when a server is missing or lacks a model.
public struct ModelHints: Sendable, Hashable {
    /// How to start the server (for `ModelError.unreachable`).
    public var startServer: String
    /// How to install a model (for `ModelError.modelNotFound`).
    public var installModel: String

    public init(startServer: String, installModel: String) {
        self.startServer = startServer
        self.installModel = installModel
    }
}

/// How patient a client is.
public struct ModelTimeouts: Sendable, Hashable {
    /// The whole call, streaming included.
    public var request: Duration
    /// Attempts for transient failures (connection refused, 429, 5xx) before giving up.
    public var attempts: Int
    /// The first backoff; it doubles after each failed attempt.
    public var backoff: Duration

    public init(request: Duration = .seconds(120), attempts: Int = 3, backoff: Duration = .milliseconds(250)) {
        self.request = request
        self.attempts = attempts
        self.backoff = backoff
    }
}

/// JSON over HTTP for model servers: requests with a deadline, retries on transient failures
/// only, and streamed bodies split into lines (SSE and NDJSON).
struct ModelTransport: Sendable {
    /// One client for every model call. Connection failures fail fast (no silent
    /// re-connecting until a timeout): retrying is this type's job, with its own backoff and
    /// deadline, so an unreachable server is reported in milliseconds rather than minutes.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    let baseURL: String
    let apiKey: String?
    let timeouts: ModelTimeouts
    let hints: ModelHints

    init(baseURL: String, apiKey: String?, timeouts: ModelTimeouts, hints: ModelHints) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.timeouts = timeouts
        self.hints = hints
    }

    func url(_ path: String) -> String { baseURL + path }

    /// POSTs JSON and returns the parsed JSON answer, retrying transient failures.
    func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeouts.request.inSeconds * 1e9))
        return try await withRetries {
            let response = try await send(path, body, deadline: deadline)
            let bytes = try await collect(response, path: path)
            try check(response.status, bytes: bytes, path: path, body: body)
            do {
                return try JSONValue(parsing: Data(bytes.readableBytesView))
            } catch {
                throw ModelError.malformedResponse(url: url(path), detail: "\(error) in \(preview(bytes))")
            }
        }
    }

    /// POSTs JSON and yields the response body line by line.
    ///
    /// Transient failures are retried only before the first line arrived; after that a
    /// dropped connection is a `truncatedStream` for the caller to decide about.
    func streamLines(_ path: String, _ body: JSONValue) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                let deadline = NIODeadline.now() + .nanoseconds(Int64(timeouts.request.inSeconds * 1e9))
                do {
                    let response = try await withRetries {
                        let response = try await send(path, body, deadline: deadline)
                        if response.status != .ok {
                            let bytes = try await collect(response, path: path)
                            try check(response.status, bytes: bytes, path: path, body: body)
                        }
                        return response
                    }
                    var pending = [UInt8]()
                    do {
                        for try await chunk in response.body {
                            pending.append(contentsOf: chunk.readableBytesView)
                            while let newline = pending.firstIndex(of: 0x0A) {
                                var line = pending[..<newline]
                                if line.last == 0x0D { line = line.dropLast() }
                                continuation.yield(String(decoding: line, as: UTF8.self))
                                pending.removeSubrange(...newline)
                            }
                        }
                    } catch {
                        throw mapTransportError(error, path: path, streaming: true)
                    }
                    if !pending.isEmpty { continuation.yield(String(decoding: pending, as: UTF8.self)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func send(_ path: String, _ body: JSONValue, deadline: NIODeadline) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url(path))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey, !apiKey.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        do {
            return try await Self.client.execute(request, deadline: deadline)
        } catch {
            throw mapTransportError(error, path: path, streaming: false)
        }
    }

    private func collect(_ response: HTTPClientResponse, path: String) async throws -> ByteBuffer {
        do {
            return try await response.body.collect(upTo: 256 << 20)
        } catch {
            throw mapTransportError(error, path: path, streaming: false)
        }
    }

    private func check(_ status: HTTPResponseStatus, bytes: ByteBuffer, path: String, body: JSONValue) throws {
        guard status != .ok else { return }
        let message = Self.errorMessage(bytes)
        let lowered = message.lowercased()
        if status == .notFound || (status.code == 400 && lowered.contains("model")),
            lowered.contains("not found") || lowered.contains("no such model") || lowered.contains("unknown model"),
            let model = body["model"]?.stringValue
        {
            throw ModelError.modelNotFound(model: model, url: baseURL, hint: hints.installModel)
        }
        if lowered.contains("context") && (lowered.contains("exceed") || lowered.contains("too long") || lowered.contains("context size")) {
            throw ModelError.contextOverflow(promptTokens: 0, contextTokens: 0, detail: message)
        }
        throw ModelError.httpStatus(code: Int(status.code), url: url(path), message: message)
    }

    /// Runs `attempt`, retrying transient `ModelError`s with exponential backoff.
    private func withRetries<T: Sendable>(_ attempt: () async throws -> T) async throws -> T {
        var delay = timeouts.backoff
        for number in 1...max(1, timeouts.attempts) {
            do {
                return try await attempt()
            } catch let error as ModelError where error.isTransient && number < timeouts.attempts {
                if case .timedOut = error { throw error }  // the deadline covers all attempts
                try await Task.sleep(for: delay)
                delay *= 2
            }
        }
        preconditionFailure("the loop returns or throws")
    }

    private func mapTransportError(_ error: any Error, path: String, streaming: Bool) -> any Error {
        if error is CancellationError || error is ModelError { return error }
        if let client = error as? HTTPClientError {
            if client == .deadlineExceeded || client == .readTimeout {
                return ModelError.timedOut(url: url(path), seconds: timeouts.request.inSeconds)
            }
            if client == .cancelled { return CancellationError() }
            if streaming && (client == .remoteConnectionClosed || client == .bodyLengthMismatch) {
                return ModelError.truncatedStream(url: url(path), receivedCharacters: 0)
            }
        }
        if streaming { return ModelError.truncatedStream(url: url(path), receivedCharacters: 0) }
        return ModelError.unreachable(url: baseURL, reason: Self.reason(error), hint: hints.startServer)
    }

    private static func reason(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("Connection refused") || text.contains("connectionRefused") { return "connection refused" }
        if text.contains("connectTimeout") { return "connection timed out" }
        if text.contains("remoteConnectionClosed") { return "the server closed the connection" }
        return text.count > 160 ? String(text.prefix(160)) + "…" : text
    }

    static func errorMessage(_ bytes: ByteBuffer) -> String {
        let data = Data(bytes.readableBytesView)
        if let document = try? JSONValue(parsing: data) {
            if let message = document["error"]?["message"]?.stringValue ?? document["error"]?.stringValue
                ?? document["message"]?.stringValue
            {
                return message
            }
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "(empty body)" : String(text.prefix(300))
    }

    private func preview(_ bytes: ByteBuffer) -> String {
        let text = String(decoding: bytes.readableBytesView.prefix(120), as: UTF8.self)
        return "\"\(text)\(bytes.readableBytes > 120 ? "…" : "")\""
    }
}
