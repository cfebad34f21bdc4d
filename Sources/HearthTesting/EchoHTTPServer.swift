import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A real HTTP server on loopback for the credential-broker tests: it records what it receives
/// and echoes it back in the forms a careless API would (headers, query, body — raw, base64,
/// hex, percent- and JSON-encoded), and redirects on request.
///
/// Routes: `/echo` (any method) echoes; `/redirect?status=302&to=URL` redirects; `/flaky?fail=N`
/// fails N times, then answers; `/reject` always answers 403; `/v1/traces` takes OTLP like a collector.
public final class EchoHTTPServer: Sendable {
    public struct Received: Sendable {
        public var method: String
        public var uri: String
        public var headers: [String: String]
        public var body: String
    }

    private let received = Mutex<[Received]>([])
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init() {}

    deinit { task.withLock { $0?.cancel() } }

    public var requests: [Received] { received.withLock { $0 } }

    /// Starts listening on a free port of `host`; returns `http://HOST:PORT`.
    public func start(host: String = "127.0.0.1") async throws -> String {
        let router = Router()
        for method in [HTTPRequest.Method.get, .post, .put, .delete] {
            router.on("/echo", method: method) { [self] request, _ in try await echo(request) }
            router.on("/redirect", method: method) { [self] request, _ in try await redirect(request) }
            router.on("/flaky", method: method) { [self] request, _ in try await flaky(request) }
            router.on("/v1/traces", method: method) { [self] request, _ in
                // An OTLP/HTTP collector's answer: everything accepted.
                _ = try await record(request)
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"partialSuccess":{}}"#)))
            }
            router.on("/reject", method: method) { [self] request, _ in
                _ = try await record(request)
                return Response(status: .forbidden, body: .init(byteBuffer: ByteBuffer(string: "invalid_token")))
            }
        }
        let port = try await LoopbackApplication.start(router, host: host, label: "echo-server", task: task)
        return "http://\(host):\(port)"
    }

    public func stop() { task.withLock { $0?.cancel() } }

    /// `/flaky?fail=N`: 503 for the first N requests to it, then 200 — a channel that recovers.
    private func flaky(_ request: Request) async throws -> Response {
        _ = try await record(request)
        let failures = Int(request.uri.queryParameters.get("fail") ?? "0") ?? 0
        let seen = received.withLock { $0.filter { $0.uri.hasPrefix("/flaky") }.count }
        return Response(
            status: seen <= failures ? .serviceUnavailable : .ok,
            body: .init(byteBuffer: ByteBuffer(string: seen <= failures ? "busy" : "ok")))
    }

    private func record(_ request: Request) async throws -> Received {
        let bytes = try await request.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let entry = Received(
            method: request.method.rawValue, uri: request.uri.description, headers: headers,
            body: String(decoding: bytes.readableBytesView, as: UTF8.self))
        received.withLock { $0.append(entry) }
        return entry
    }

    private func echo(_ request: Request) async throws -> Response {
        let entry = try await record(request)
        let seen = (entry.headers["authorization"] ?? "") + "|" + entry.uri + "|" + entry.body
        let forms: [String: String] = [
            "raw": seen,
            "base64": Data(seen.utf8).base64EncodedString(),
            "base64url": Data(seen.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_"),
            "hex": seen.utf8.map { String(format: "%02x", $0) }.joined(),
            "percent": seen.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "",
        ]
        let json = try JSONSerialization.data(withJSONObject: forms, options: [.sortedKeys])
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .init("X-Echo")!: entry.headers["authorization"] ?? "none"],
            body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }

    private func redirect(_ request: Request) async throws -> Response {
        _ = try await record(request)
        let status = Int(request.uri.queryParameters.get("status") ?? "302") ?? 302
        let target = request.uri.queryParameters.get("to") ?? "/echo"
        return Response(status: .init(code: status), headers: [.location: target])
    }
}
