import AsyncHTTPClient
import Foundation
import HearthCore
import NIOCore
import NIOHTTP1

/// A client for a running daemon's loopback API (used by the CLI and the benchmarks).
public struct DaemonClient: Sendable {
    /// Fails fast when nothing listens (a daemon that just stopped): callers decide what that means.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(2)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public let port: Int
    let token: String
    let timeout: TimeAmount

    public init(port: Int, token: String, timeout: Duration = .seconds(10)) {
        self.port = port
        self.token = token
        self.timeout = .milliseconds(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    }

    /// A response: status code and parsed JSON body.
    public struct Reply: Sendable {
        public var status: Int
        public var body: JSONValue
    }

    public func get(_ path: String) async throws -> Reply {
        try await send(.GET, path, body: nil)
    }

    public func post(_ path: String, _ body: JSONValue?) async throws -> Reply {
        try await send(.POST, path, body: body)
    }

    /// Posts one event; returns the journal's outcome once the daemon says it is durable.
    ///
    /// - Throws: `DaemonClientError.refused` with the daemon's message when it rejects the event.
    public func postEvent(_ event: JSONValue) async throws -> AppendOutcome {
        let reply = try await post("/v1/events", event)
        guard reply.status == 200 || reply.status == 201, let id = reply.body["id"]?.intValue else {
            throw DaemonClientError.refused(status: reply.status, message: reply.body["error"]?.stringValue ?? reply.body.jsonText)
        }
        return AppendOutcome(id: Int64(id), duplicate: reply.body["duplicate"]?.boolValue ?? false)
    }

    /// Tells the daemon that the CLI changed the database (`runs`, `schedules`, `events`).
    public func wake(_ what: [String]) async throws {
        let reply = try await post("/v1/wake", ["what": .array(what.map(JSONValue.string))])
        guard reply.status == 200 else {
            throw DaemonClientError.refused(status: reply.status, message: reply.body["error"]?.stringValue ?? "wake failed")
        }
    }

    /// Follows a server-sent event stream (`/v1/inbox/stream`): each event's `data` parsed as JSON.
    /// The stream ends when the daemon closes it or the caller stops iterating.
    public func stream(_ path: String, post body: JSONValue? = nil) -> AsyncThrowingStream<JSONValue, any Error> {
        let events = events(path, post: body)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await event in events { continuation.yield(event.data) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The server-sent events of `path` with their names (`message` when unnamed); comments and
    /// events whose data is not JSON are skipped.
    public func events(_ path: String, post body: JSONValue? = nil) -> AsyncThrowingStream<(name: String, data: JSONValue), any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                    request.headers.add(name: "Authorization", value: "Bearer \(token)")
                    request.headers.add(name: "Accept", value: "text/event-stream")
                    if let body {
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string: body.jsonText))
                    }
                    let response = try await Self.client.execute(request, timeout: .hours(24))
                    guard response.status == .ok else {
                        throw DaemonClientError.refused(status: Int(response.status.code), message: "stream refused")
                    }
                    var pending = ""
                    for try await buffer in response.body {
                        pending += String(buffer: buffer)
                        while let end = pending.range(of: "\n\n") {
                            let lines = pending[..<end.lowerBound].split(separator: "\n")
                            pending = String(pending[end.upperBound...])
                            let data = lines.filter { $0.hasPrefix("data: ") }.map { $0.dropFirst(6) }.joined(separator: "\n")
                            let name = lines.first { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) } ?? "message"
                            if !data.isEmpty, let value = try? JSONValue(parsing: Data(data.utf8)) { continuation.yield((name, value)) }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func send(_ method: HTTPMethod, _ path: String, body: JSONValue?) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonText))
        }
        let response = try await Self.client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let parsed =
            bytes.readableBytes == 0
            ? JSONValue.null : (try? JSONValue(parsing: Data(bytes.readableBytesView))) ?? .string(String(buffer: bytes))
        return Reply(status: Int(response.status.code), body: parsed)
    }
}

public enum DaemonClientError: Error, Sendable, CustomStringConvertible {
    case refused(status: Int, message: String)

    public var description: String {
        switch self {
        case .refused(let status, let message): "the daemon refused the request (\(status)): \(message)"
        }
    }
}
