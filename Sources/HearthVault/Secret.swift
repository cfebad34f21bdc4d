import Foundation

/// One credential: its value and where it may go.
///
/// A secret is only ever sent to the hosts it names, with the methods it names, and over HTTPS
/// (plain HTTP only to a loopback address).
public struct Secret: Codable, Sendable, Equatable {
    public var name: String
    public var value: String
    /// Host patterns: `api.example.com` (default port), `api.example.com:8443`, `*.example.com`.
    public var hosts: [String]
    /// Upper-case HTTP methods.
    public var methods: [String]
    public var createdAt: Date
    public var rotatedAt: Date?

    public init(name: String, value: String, hosts: [String], methods: [String], createdAt: Date, rotatedAt: Date? = nil) {
        self.name = name
        self.value = value
        self.hosts = hosts
        self.methods = methods
        self.createdAt = createdAt
        self.rotatedAt = rotatedAt
    }

    /// What may be shown about a secret: everything but the value.
    public var info: SecretInfo {
        SecretInfo(name: name, hosts: hosts, methods: methods, createdAt: createdAt, rotatedAt: rotatedAt)
    }

    /// The methods a secret allows when none are given.
    public static let defaultMethods = ["GET", "HEAD"]
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// Checks a new secret's name, value, hosts and methods; returns it with methods normalised.
    public static func validated(name: String, value: String, hosts: [String], methods: [String], at date: Date) throws(VaultError)
        -> Secret
    {
        try validate(name: name)
        guard !value.isEmpty else { throw .emptyValue }
        guard !hosts.isEmpty else { throw .invalidHost("(none): name at least one host with --host") }
        for host in hosts { _ = try HostPattern(host) }
        var normalised: [String] = []
        for method in methods.isEmpty ? defaultMethods : methods {
            let upper = method.uppercased()
            guard knownMethods.contains(upper) else { throw .invalidMethod(method) }
            if !normalised.contains(upper) { normalised.append(upper) }
        }
        return Secret(name: name, value: value, hosts: hosts, methods: normalised, createdAt: date)
    }

    public static func validate(name: String) throws(VaultError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
        guard (1...64).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else { throw .invalidName(name) }
    }
}

/// A secret without its value: what `hearth vault list` and the broker's `list` show.
public struct SecretInfo: Codable, Sendable, Equatable {
    public var name: String
    public var hosts: [String]
    public var methods: [String]
    public var createdAt: Date
    public var rotatedAt: Date?
}

/// A host a secret may be sent to.
///
/// Without a port the pattern means the scheme's default port; `*.example.com` matches any
/// subdomain of example.com but not example.com itself.
public struct HostPattern: Sendable, Equatable {
    public let host: String
    public let port: Int?
    public let wildcard: Bool

    public init(_ text: String) throws(VaultError) {
        var rest = text.lowercased()
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@"), !rest.contains(" ") else { throw .invalidHost(text) }
        var port: Int?
        if let colon = rest.lastIndex(of: ":"), !rest.hasPrefix("[") || rest[..<colon].hasSuffix("]") {
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65535).contains(number) else {
                throw .invalidHost(text)
            }
            port = number
            rest = String(rest[..<colon])
        }
        wildcard = rest.hasPrefix("*.")
        if wildcard { rest.removeFirst(2) }
        rest = rest.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.:")
        guard !rest.isEmpty, rest.allSatisfy({ allowed.contains($0) }), !rest.contains("*") else { throw .invalidHost(text) }
        host = rest
        self.port = port
    }

    /// Whether a request to `host:port` over `scheme` may carry the secret.
    public func matches(host candidate: String, port candidatePort: Int?, scheme: String) -> Bool {
        let name = candidate.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let effective = candidatePort ?? (scheme == "https" ? 443 : 80)
        let wanted = port ?? (scheme == "https" ? 443 : 80)
        guard effective == wanted else { return false }
        return wildcard ? name.hasSuffix("." + host) : name == host
    }

    /// Loopback hosts may be reached over plain HTTP (local services); everything else needs HTTPS.
    public static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return name == "localhost" || name == "::1" || name.hasPrefix("127.")
    }
}
