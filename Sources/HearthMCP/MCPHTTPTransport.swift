import AsyncHTTPClient
import Foundation
import HearthCore
import HearthVault
import Logging
import MCP
import NIOCore
import NIOHTTP1

/// The client side of MCP's streamable HTTP for one endpoint, on AsyncHTTPClient: each message
/// is POSTed; the answer comes back as JSON or as a server-sent-event stream, both read to the
/// end and handed on message by message. (The SDK's own HTTP transport reads SSE answers only
/// on Apple platforms.) The session id the server assigns is sent back with every request.
///
/// Headers that name vault secrets (a bearer token) send every request through the credential
/// broker instead, which puts the secrets in and scrubs them from the answer: this process never
/// holds them. The broker reads an answer whole, so an event stream is handed on once it ends.
actor MCPHTTPTransport: Transport {
    nonisolated let logger = Logger(label: "hearth.mcp.http")
    let endpoint: URL
    /// Sent with every request, as configured (handles and all).
    let headers: [(name: String, value: String)]
    /// Set when a header names a secret: the broker that sends the requests.
    let broker: VaultClient?
    /// Who asks, in the broker's audit log.
    let caller: String
    /// A message larger than this is refused rather than read.
    static let maxResponse = 16 << 20
    private var sessionID: String?
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    private let later = QuietStream()

    /// - Throws: `MCPError` when the headers name secrets and there is no vault to hold them.
    init(endpoint: URL, headers: [String: String] = [:], broker: VaultClient? = nil, caller: String = "mcp") throws {
        self.endpoint = endpoint
        self.headers = headers.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        self.caller = caller
        let secrets = Array(Set(headers.values.flatMap(SecretHandles.names(in:)))).sorted()
        if secrets.isEmpty {
            self.broker = nil
        } else if let broker {
            self.broker = broker
        } else {
            throw MCPError.internalError(
                "its headers name vault secrets (\(secrets.joined(separator: ", "))) but there is no vault; add them with "
                    + "'hearth vault add \(secrets[0]) --host \(endpoint.host ?? "HOST")\(endpoint.port.map { ":\($0)" } ?? "") --method POST --method DELETE'"
            )
        }
        (messages, continuation) = AsyncThrowingStream.makeStream()
    }

    func connect() async throws {}

    func disconnect() async {
        if let sessionID {
            _ = try? await exchange(method: "DELETE", body: nil, extra: [("Mcp-Session-Id", sessionID)], timeout: 2)
        }
        continuation.finish()
        later.finish()
    }

    func send(_ data: Data) async throws {
        var extra = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
        if let sessionID { extra.append(("Mcp-Session-Id", sessionID)) }
        let answer = try await exchange(method: "POST", body: data, extra: extra, timeout: 600)
        switch answer {
        case .whole(let status, let headers, let text):
            if let assigned = Self.header("Mcp-Session-Id", in: headers) { sessionID = assigned }
            guard (200..<300).contains(status) else {
                throw MCPError.internalError("HTTP \(status) from \(endpoint.absoluteString): \(text.prefix(300))")
            }
            if Self.header("Content-Type", in: headers)?.contains("text/event-stream") == true {
                for message in Self.events(in: text) { continuation.yield(Data(message.utf8)) }
            } else if !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                continuation.yield(Data(text.utf8))
            }
        case .streaming(let response):
            if let assigned = response.headers.first(name: "Mcp-Session-Id") { sessionID = assigned }
            try await read(response, answering: data)
        }
    }

    /// An answer: read whole (through the broker, or anything but an event stream), or an event
    /// stream still arriving.
    enum Answer {
        case whole(status: Int, headers: [(String, String)], text: String)
        case streaming(HTTPClientResponse)
    }

    /// Sends one request, directly or through the broker.
    private func exchange(method: String, body: Data?, extra: [(String, String)], timeout: Int) async throws -> Answer {
        if let broker {
            let template = RequestTemplate(
                method: method, url: endpoint.absoluteString,
                headers: (headers + extra).map { RequestTemplate.Header(name: $0.0, value: $0.1) },
                body: body.map { String(decoding: $0, as: UTF8.self) }, timeoutSeconds: min(timeout, 300))
            let response: BrokeredResponse
            do {
                response = try await broker.request(template, caller: caller)
            } catch {
                throw MCPError.internalError("the credential broker could not send it: \(error)")
            }
            guard !response.truncated else {
                throw MCPError.internalError("an answer from \(endpoint.absoluteString) was longer than the credential broker reads")
            }
            let text = response.bodyIsBase64 ? String(decoding: Data(base64Encoded: response.body) ?? Data(), as: UTF8.self) : response.body
            return .whole(status: response.status, headers: response.headers.map { ($0.name, $0.value) }, text: text)
        }
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers + extra { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await Self.execute(request, timeout: .seconds(Int64(timeout)))
        let contentType = response.headers.first(name: "Content-Type") ?? ""
        guard (200..<300).contains(response.status.code), contentType.contains("text/event-stream") else {
            let limit = (200..<300).contains(response.status.code) ? Self.maxResponse : 64 << 10
            let text = String(buffer: try await response.body.collect(upTo: limit))
            return .whole(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, text: text)
        }
        return .streaming(response)
    }

    static func header(_ name: String, in headers: [(String, String)]) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// An event stream stays open as long as the server likes: each event is handed on as it
    /// arrives, and reading stops at the answer to `request`.
    private func read(_ response: HTTPClientResponse, answering request: Data) async throws {
        let awaited = (try? JSONValue(parsing: String(decoding: request, as: UTF8.self)))?["id"]
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
    static func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        do {
            return try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch let error where neverSent(error) {
            return try await HTTPClient.shared.execute(request, timeout: timeout)
        }
    }

    /// Whether a failed request is known not to have left this machine.
    static func neverSent(_ error: any Error) -> Bool {
        (error as? ChannelError) == .ioOnClosedChannel
    }

    /// The messages, the first time; after that a stream that ends at `disconnect()` (`QuietStream`).
    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> {
        later.takeFirst() ? messages : later.stream
    }

    /// The data of each event in a server-sent-event stream (multi-line data joined by newlines).
    static func events(in stream: String) -> [String] {
        var events: [String] = []
        var data: [String] = []
        // (CR LF is one Character to Swift: it must become LF before lines are split.)
        let normalized = stream.replacingOccurrences(of: "\r\n", with: "\n")
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false).map({ $0.hasSuffix("\r") ? $0.dropLast() : $0 }) {
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
