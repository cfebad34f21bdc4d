import AsyncHTTPClient
import Foundation
import HearthCore
import Logging
import MCP
import NIOCore
import NIOHTTP1

/// The client side of MCP's streamable HTTP for one endpoint, on AsyncHTTPClient: each message
/// is POSTed; the answer comes back as JSON or as a server-sent-event stream, both read to the
/// end and handed on message by message. (The SDK's own HTTP transport reads SSE answers only
/// on Apple platforms.) The session id the server assigns is sent back with every request.
actor MCPHTTPTransport: Transport {
    nonisolated let logger = Logger(label: "hearth.mcp.http")
    let endpoint: URL
    /// A message larger than this is refused rather than read.
    static let maxResponse = 16 << 20
    private var sessionID: String?
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation

    init(endpoint: URL) {
        self.endpoint = endpoint
        (messages, continuation) = AsyncThrowingStream.makeStream()
    }

    func connect() async throws {}

    func disconnect() async {
        if let sessionID {
            var request = HTTPClientRequest(url: endpoint.absoluteString)
            request.method = .DELETE
            request.headers.add(name: "Mcp-Session-Id", value: sessionID)
            _ = try? await HTTPClient.shared.execute(request, timeout: .seconds(2))
        }
        continuation.finish()
    }

    func send(_ data: Data) async throws {
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json, text/event-stream")
        if let sessionID { request.headers.add(name: "Mcp-Session-Id", value: sessionID) }
        request.body = .bytes(ByteBuffer(bytes: data))
        let response = try await Self.execute(request)
        if let assigned = response.headers.first(name: "Mcp-Session-Id") { sessionID = assigned }
        let contentType = response.headers.first(name: "Content-Type") ?? ""
        guard (200..<300).contains(response.status.code) else {
            let text = String(buffer: try await response.body.collect(upTo: 64 << 10))
            throw MCPError.internalError("HTTP \(response.status.code) from \(endpoint.absoluteString): \(text.prefix(300))")
        }
        guard contentType.contains("text/event-stream") else {
            let text = String(buffer: try await response.body.collect(upTo: Self.maxResponse))
            if !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { continuation.yield(Data(text.utf8)) }
            return
        }
        // An event stream stays open as long as the server likes: each event is handed on as it
        // arrives, and reading stops at the answer to this request.
        let awaited = (try? JSONValue(parsing: String(decoding: data, as: UTF8.self)))?["id"]
        var pending = ""
        var read = 0
        for try await chunk in response.body {
            read += chunk.readableBytes
            guard read <= Self.maxResponse else {
                throw MCPError.internalError("an answer from \(endpoint.absoluteString) exceeded \(Self.maxResponse) bytes")
            }
            pending += String(buffer: chunk).replacingOccurrences(of: "\r\n", with: "\n")
            while let end = pending.range(of: "\n\n") {
                let block = String(pending[..<end.lowerBound])
                pending = String(pending[end.upperBound...])
                for message in Self.events(in: block + "\n\n") {
                    continuation.yield(Data(message.utf8))
                    if let awaited, awaited != .null, let parsed = try? JSONValue(parsing: message), parsed["id"] == awaited,
                        parsed["result"] != nil || parsed["error"] != nil
                    {
                        return
                    }
                }
            }
        }
        for message in Self.events(in: pending) { continuation.yield(Data(message.utf8)) }
    }

    /// Sends a request once more when the pooled connection it was given turned out closed before
    /// anything was written — a server closing an idle keep-alive connection (uvicorn after 5 s)
    /// as the next request takes it. Nothing reached the server, so the second try cannot repeat
    /// an effect; any other failure is the caller's.
    static func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        do {
            return try await HTTPClient.shared.execute(request, timeout: .seconds(600))
        } catch let error where neverSent(error) {
            return try await HTTPClient.shared.execute(request, timeout: .seconds(600))
        }
    }

    /// Whether a failed request is known not to have left this machine.
    static func neverSent(_ error: any Error) -> Bool {
        (error as? ChannelError) == .ioOnClosedChannel
    }

    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    /// The data of each event in a server-sent-event stream (multi-line data joined by newlines).
    static func events(in stream: String) -> [String] {
        var events: [String] = []
        var data: [String] = []
        for line in stream.split(separator: "\n", omittingEmptySubsequences: false).map({ $0.hasSuffix("\r") ? $0.dropLast() : $0 }) {
            if line.isEmpty {
                if !data.isEmpty { events.append(data.joined(separator: "\n")) }
                data = []
            } else if line.hasPrefix("data:") {
                let value = line.dropFirst(5)
                data.append(String(value.hasPrefix(" ") ? value.dropFirst() : value))
            }
        }
        if !data.isEmpty { events.append(data.joined(separator: "\n")) }
        return events
    }
}
