import Foundation
import Glibc

/// One HTTP exchange, without following redirects (the broker decides about those).
public protocol BrokerTransport: Sendable {
    func send(_ request: OutgoingRequest) async throws(VaultError) -> IncomingResponse
}

public struct OutgoingRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [RequestTemplate.Header]
    public var body: [UInt8]?
    public var timeoutSeconds: Int
    /// Read at most this many body bytes.
    public var maxBodyBytes: Int
}

public struct IncomingResponse: Sendable {
    public var status: Int
    public var headers: [RequestTemplate.Header]
    public var body: [UInt8]
    public var truncated: Bool

    public init(status: Int, headers: [RequestTemplate.Header], body: [UInt8], truncated: Bool) {
        self.status = status
        self.headers = headers
        self.body = body
        self.truncated = truncated
    }
}

/// Who is on the other end of the socket (from the kernel, not from the message).
public struct Peer: Sendable, Equatable {
    public var uid: UInt32
    public var pid: Int32
    public init(uid: UInt32, pid: Int32) {
        self.uid = uid
        self.pid = pid
    }
}

/// The broker's rules: which secret may go where, injection, redirects, scrubbing and the audit
/// line. The socket server and the HTTP transport are the executable's; this part is pure policy
/// over them.
public struct Broker: Sendable {
    public let store: VaultStore
    let transport: any BrokerTransport
    let audit: AuditLog?
    let keySource: String
    public var maxRedirects = 5
    public var maxResponseBytes = 1 << 20

    public init(store: VaultStore, transport: any BrokerTransport, audit: AuditLog?, keySource: String) {
        self.store = store
        self.transport = transport
        self.audit = audit
        self.keySource = keySource
    }

    /// Answers one message. Never throws: failures become error replies (without secret values).
    public func handle(_ message: BrokerMessage, peer: Peer) async -> BrokerReply {
        switch message.op {
        case .status:
            let count = (try? store.load().secrets.count) ?? 0
            return BrokerReply(
                ok: true,
                status: BrokerStatus(
                    pid: getpid(), vault: store.file.path, vaultExists: store.exists, secrets: count, keySource: keySource))
        case .list:
            do {
                return BrokerReply(ok: true, secrets: try store.load().secrets.map(\.info))
            } catch {
                return .failure(error)
            }
        case .request:
            guard let template = message.request else { return .failure(.badRequest("a 'request' message needs a request")) }
            var entry = AuditLog.Entry(peer: peer, caller: message.caller, template: template)
            do {
                let response = try await perform(template)
                entry.status = response.status
                entry.redirects = response.redirects.count
                entry.scrubbed = response.scrubbed
                entry.outcome = "sent"
                audit?.append(entry)
                return BrokerReply(ok: true, response: response)
            } catch {
                let scrubbed = (try? SecretScrubber(secrets: store.load().secrets).scrub(error.description).text) ?? error.code
                entry.outcome = "refused: \(scrubbed)"
                audit?.append(entry)
                return BrokerReply(ok: false, error: .init(code: error.code, message: scrubbed))
            }
        }
    }

    /// Checks the template against its secrets' rules, injects them, sends, follows redirects
    /// (dropping every secret at a change of host) and scrubs the response.
    func perform(_ template: RequestTemplate) async throws(VaultError) -> BrokeredResponse {
        let method = template.method.uppercased()
        guard Secret.knownMethods.contains(method) else { throw .invalidMethod(template.method) }
        let target = try TargetURL(template.url)
        let vault = try store.load()
        let names = template.secretNames
        var values: [String: String] = [:]
        for name in names {
            guard let secret = vault.secret(named: name) else { throw .unknownSecret(name) }
            guard secret.methods.contains(method) else {
                throw .notAllowed(
                    secret: name,
                    reason:
                        "method \(method) is not allowed (allowed: \(secret.methods.joined(separator: ", "))); re-add it with --method \(method)"
                )
            }
            let patterns = secret.hosts.compactMap { try? HostPattern($0) }
            guard patterns.contains(where: { $0.matches(host: target.host, port: target.port, scheme: target.scheme) }) else {
                throw .notAllowed(
                    secret: name, reason: "host \(target.authority) is not one of its hosts (\(secret.hosts.joined(separator: ", ")))")
            }
            guard target.scheme == "https" || HostPattern.isLoopback(target.host) else {
                throw .notAllowed(secret: name, reason: "secrets travel over https only (plain http only to a loopback address)")
            }
            values[name] = secret.value
        }
        let scrubber = SecretScrubber(secrets: vault.secrets)

        // Inject. Values are percent-encoded inside the URL; header values must stay one line.
        let renderedURL = SecretHandles.render(template.url) { name in
            values[name].map { $0.addingPercentEncoding(withAllowedCharacters: .urlUnreservedCharacters) ?? $0 }
        }
        guard let url = URL(string: renderedURL), url.host != nil else {
            throw .badRequest("the URL \(template.url) is not valid once its secrets are inserted")
        }
        var headers: [RequestTemplate.Header] = []
        var carried: Set<String> = []
        for header in template.headers {
            let name = header.name.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, !name.contains("{{"), name.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != ":" }) else {
                throw .badRequest("'\(header.name)' is not a valid header name (and handles may not appear in names)")
            }
            guard name.lowercased() != "host" else { throw .badRequest("the Host header comes from the URL; remove it") }
            let value = SecretHandles.render(header.value) { values[$0] }
            guard !value.contains("\r"), !value.contains("\n") else {
                throw .badRequest("the value of header \(name) would span several lines once its secrets are inserted")
            }
            if !SecretHandles.names(in: header.value).isEmpty { carried.insert(name.lowercased()) }
            headers.append(.init(name: name, value: value))
        }
        let bodyCarriesSecret = !SecretHandles.names(in: template.body ?? "").isEmpty
        let body = template.body.map { Array(SecretHandles.render($0) { values[$0] }.utf8) }

        var current = OutgoingRequest(
            method: method, url: url, headers: headers, body: body, timeoutSeconds: min(max(template.timeoutSeconds ?? 30, 1), 300),
            maxBodyBytes: maxResponseBytes)
        var redirects: [String] = []
        var notes: [String] = []
        var secretsDropped = false
        var response: IncomingResponse
        following: while true {
            response = try await transport.send(current)
            guard [301, 302, 303, 307, 308].contains(response.status),
                let location = response.headers.first(where: { $0.name.lowercased() == "location" })?.value,
                let next = URL(string: location, relativeTo: current.url)?.absoluteURL,
                let scheme = next.scheme?.lowercased(), scheme == "http" || scheme == "https", next.host != nil
            else { break following }
            guard redirects.count < maxRedirects else {
                notes.append("stopped after \(maxRedirects) redirects")
                break following
            }
            if scrubber.contains(location) {
                notes.append("did not follow a redirect whose address contains a secret")
                break following
            }
            var nextMethod = current.method
            var nextBody = current.body
            if response.status == 303 && nextMethod != "HEAD" || [301, 302].contains(response.status) && nextMethod == "POST" {
                nextMethod = "GET"
                nextBody = nil
            }
            var nextHeaders = current.headers
            if !Self.sameOrigin(current.url, next) {
                // A change of origin drops every secret: headers that carried one and the usual
                // credentials; a body with a secret is not sent on.
                let credentialHeaders: Set<String> = ["authorization", "cookie", "proxy-authorization"]
                nextHeaders.removeAll { carried.contains($0.name.lowercased()) || credentialHeaders.contains($0.name.lowercased()) }
                if nextBody != nil && bodyCarriesSecret && !secretsDropped {
                    notes.append("did not follow a redirect to \(next.host ?? "another host"): it would resend a body that holds a secret")
                    break following
                }
                if !names.isEmpty && !secretsDropped {
                    notes.append("redirected to \(next.host ?? "another host"): secrets were not sent there")
                }
                secretsDropped = true
            }
            redirects.append(scrubber.scrub(next.absoluteString).text)
            current = OutgoingRequest(
                method: nextMethod, url: next, headers: nextHeaders, body: nextBody, timeoutSeconds: current.timeoutSeconds,
                maxBodyBytes: maxResponseBytes)
        }
        return finish(response, scrubber: scrubber, used: names, redirects: redirects, notes: notes)
    }

    func finish(_ response: IncomingResponse, scrubber: SecretScrubber, used: [String], redirects: [String], notes: [String])
        -> BrokeredResponse
    {
        var scrubbed = 0
        let headers = response.headers.map { header -> RequestTemplate.Header in
            let (value, count) = scrubber.scrub(header.value)
            scrubbed += count
            return .init(name: header.name, value: value)
        }
        let (body, count) = scrubber.scrub(response.body)
        scrubbed += count
        let text = String(validating: body, as: UTF8.self)
        return BrokeredResponse(
            status: response.status, headers: headers, body: text ?? Data(body).base64EncodedString(), bodyIsBase64: text == nil,
            truncated: response.truncated, secretsUsed: used, scrubbed: scrubbed, redirects: redirects, notes: notes)
    }

    static func sameOrigin(_ a: URL, _ b: URL) -> Bool {
        func port(_ url: URL) -> Int { url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80) }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased() && port(a) == port(b)
    }
}

/// The scheme and authority of a template URL, read before any secret is inserted: a handle may
/// appear in the path, query or fragment, never in the host.
struct TargetURL {
    var scheme: String
    var host: String
    var port: Int?
    var authority: String

    init(_ text: String) throws(VaultError) {
        guard let separator = text.range(of: "://") else { throw .badRequest("'\(text)' is not an absolute http(s) URL") }
        scheme = text[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw .badRequest("only http and https URLs are supported, not '\(scheme)'") }
        let rest = text[separator.upperBound...]
        authority = String(rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" })
        guard !authority.isEmpty, !authority.contains("{{"), !authority.contains("}}") else {
            throw .badRequest("the host of \(text) must be written out; secrets may appear only in the path, query, headers or body")
        }
        guard !authority.contains("@") else { throw .badRequest("user information in URLs is not supported; use a header") }
        let pattern = try HostPattern(authority)
        guard !pattern.wildcard else { throw .badRequest("'\(authority)' is not a host") }
        host = pattern.host
        port = pattern.port
    }
}

extension CharacterSet {
    static let urlUnreservedCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}

/// The broker's audit trail: one JSON line per request — who, what host and path, which secrets
/// by name, the outcome. Never a value, never a query string.
public final class AuditLog: Sendable {
    public let file: URL

    public init(file: URL) {
        self.file = file
        try? FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    struct Entry: Encodable {
        var time = Date()
        var uid: UInt32
        var pid: Int32
        var caller: String?
        var method: String
        var url: String
        var secrets: [String]
        var status: Int?
        var redirects = 0
        var scrubbed = 0
        var outcome = ""

        init(peer: Peer, caller: String?, template: RequestTemplate) {
            uid = peer.uid
            pid = peer.pid
            self.caller = caller
            method = template.method.uppercased()
            // The template, not the sent URL, and without its query: no value can be in it.
            url = String(template.url.prefix { $0 != "?" && $0 != "#" })
            secrets = template.secretNames
        }
    }

    func append(_ entry: Entry) {
        guard let line = try? BrokerWire.encode(entry) else { return }
        let fd = Glibc.open(file.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
