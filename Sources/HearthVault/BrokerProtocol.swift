import Foundation

/// A request as the agent writes it: secrets appear only as `{{secret:NAME}}` handles.
public struct RequestTemplate: Codable, Sendable, Equatable {
    public var method: String
    public var url: String
    public var headers: [Header]
    public var body: String?
    public var timeoutSeconds: Int?

    public struct Header: Codable, Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(method: String, url: String, headers: [Header] = [], body: String? = nil, timeoutSeconds: Int? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
    }

    /// Every secret the template names.
    public var secretNames: [String] {
        var names: [String] = []
        for text in [url] + headers.map(\.value) + [body ?? ""] {
            for name in SecretHandles.names(in: text) where !names.contains(name) { names.append(name) }
        }
        return names
    }
}

/// What the broker returns for a request: the response with every secret scrubbed out.
public struct BrokeredResponse: Codable, Sendable, Equatable {
    public var status: Int
    public var headers: [RequestTemplate.Header]
    /// UTF-8 text, or base64 when `bodyIsBase64`.
    public var body: String
    public var bodyIsBase64: Bool
    /// The body was longer than the broker's limit and was cut.
    public var truncated: Bool
    /// The secrets injected into the first request.
    public var secretsUsed: [String]
    /// How many secret occurrences were scrubbed from the response.
    public var scrubbed: Int
    /// Redirects followed, as URLs (scrubbed); and what the broker decided on the way.
    public var redirects: [String]
    public var notes: [String]

    public init(
        status: Int, headers: [RequestTemplate.Header], body: String, bodyIsBase64: Bool, truncated: Bool, secretsUsed: [String],
        scrubbed: Int, redirects: [String], notes: [String]
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyIsBase64 = bodyIsBase64
        self.truncated = truncated
        self.secretsUsed = secretsUsed
        self.scrubbed = scrubbed
        self.redirects = redirects
        self.notes = notes
    }
}

/// One message to the broker (one per connection, a JSON line).
public struct BrokerMessage: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
        case request, list, status
    }

    public var op: Operation
    public var request: RequestTemplate?
    /// Who asks (a run and task, for the audit log).
    public var caller: String?

    public init(op: Operation, request: RequestTemplate? = nil, caller: String? = nil) {
        self.op = op
        self.request = request
        self.caller = caller
    }
}

/// The broker's answer.
public struct BrokerReply: Codable, Sendable, Equatable {
    public var ok: Bool
    public var error: Failure?
    public var response: BrokeredResponse?
    public var secrets: [SecretInfo]?
    public var status: BrokerStatus?

    public struct Failure: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
    }

    public init(
        ok: Bool, error: Failure? = nil, response: BrokeredResponse? = nil, secrets: [SecretInfo]? = nil, status: BrokerStatus? = nil
    ) {
        self.ok = ok
        self.error = error
        self.response = response
        self.secrets = secrets
        self.status = status
    }

    public static func failure(_ error: VaultError) -> BrokerReply {
        BrokerReply(ok: false, error: Failure(code: error.code, message: error.description))
    }
}

/// What `status` reports.
public struct BrokerStatus: Codable, Sendable, Equatable {
    public var pid: Int32
    public var vault: String
    public var vaultExists: Bool
    public var secrets: Int
    public var keySource: String

    public init(pid: Int32, vault: String, vaultExists: Bool, secrets: Int, keySource: String) {
        self.pid = pid
        self.vault = vault
        self.vaultExists = vaultExists
        self.secrets = secrets
        self.keySource = keySource
    }
}

/// Encoding shared by both ends (dates as ISO 8601).
public enum BrokerWire {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value) + Data("\n".utf8)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: data)
    }
}
