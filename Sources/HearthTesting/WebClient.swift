import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A browser-like client for dashboard tests: keeps the session cookie it is given, posts forms
/// as a browser does, and does not follow redirects (tests look at them).
public final class WebClient: Sendable {
    public struct Page: Sendable {
        public let status: Int
        public let headers: [(name: String, value: String)]
        public let body: String

        public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    let base: String
    private let cookie = Mutex<String?>(nil)
    private let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    public init(port: Int) {
        base = "http://127.0.0.1:\(port)"
    }

    /// The session cookie sent with each request (nil: none).
    public var sessionCookie: String? {
        get { cookie.withLock { $0 } }
        set { cookie.withLock { $0 = newValue } }
    }

    public func get(_ path: String) async throws -> Page { try await send(path, method: .GET, body: nil) }

    /// A form post; `accept` asks for another representation (the chat page's event stream).
    public func post(_ path: String, form: [String: String], accept: String? = nil) async throws -> Page {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let body = form.sorted { $0.key < $1.key }.map { key, value in
            "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
        return try await send(path, method: .POST, body: body, accept: accept)
    }

    private func send(_ path: String, method: HTTPMethod, body: String?, accept: String? = nil) async throws -> Page {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let accept { request.headers.add(name: "Accept", value: accept) }
        if let cookie = sessionCookie { request.headers.add(name: "Cookie", value: cookie) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let headers = response.headers.map { (name: $0.name, value: $0.value) }
        if let set = response.headers.first(name: "Set-Cookie"), let pair = set.split(separator: ";").first {
            let value = pair.split(separator: "=", maxSplits: 1).last.map(String.init) ?? ""
            sessionCookie = value.isEmpty ? nil : String(pair)
        }
        return Page(status: Int(response.status.code), headers: headers, body: String(buffer: bytes))
    }

    public func shutdown() async throws { try await http.shutdown() }
}
