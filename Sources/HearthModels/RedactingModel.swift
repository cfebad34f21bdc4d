import Foundation
import HearthCore
import Synchronization

/// A model on another host, seen through a redaction: every message, tool-call argument and text
/// to embed leaves with private values replaced by placeholders, and the answer comes back with
/// them restored. The placeholders are stable for the client's life; the response says how many
/// of each kind were hidden (`ChatResponse.redactions`), never which.
public final class RedactingModel: LanguageModel, Embedder, Sendable {
    let inner: any LanguageModel & Embedder
    let redaction: Mutex<Redaction>

    public init(_ inner: any LanguageModel & Embedder, redaction: Redaction) {
        self.inner = inner
        self.redaction = Mutex(redaction)
    }

    public var endpoint: ModelEndpoint { inner.endpoint }

    /// Whether text for `endpoint` is redacted under `mode`: always, never, or (auto) when its
    /// host is not this machine.
    public static func applies(_ mode: String, to endpoint: ModelEndpoint) -> Bool {
        switch mode {
        case "always": return true
        case "never": return false
        default:
            let host = URL(string: endpoint.baseURL)?.host?.lowercased() ?? ""
            return !(host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127."))
        }
    }

    func redacted(_ request: ChatRequest) -> (ChatRequest, [String: Int]) {
        var counts: [Redaction.Kind: Int] = [:]
        var request = request
        redaction.withLock { redaction in
            for index in request.messages.indices {
                request.messages[index].content = redaction.redact(request.messages[index].content, counts: &counts)
                request.messages[index].toolCalls = request.messages[index].toolCalls.map { call in
                    var call = call
                    call.arguments = Self.map(call.arguments) { redaction.redact($0, counts: &counts) }
                    return call
                }
            }
        }
        return (request, Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }))
    }

    func restored(_ response: ChatResponse, counts: [String: Int]) -> ChatResponse {
        var response = response
        let redaction = redaction.withLock { $0 }
        response.content = redaction.restore(response.content)
        response.toolCalls = response.toolCalls.map { call in
            var call = call
            call.arguments = Self.map(call.arguments) { redaction.restore($0) }
            return call
        }
        response.redactions = counts
        return response
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let (outgoing, counts) = redacted(request)
        return restored(try await inner.complete(outgoing), counts: counts)
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatChunk, any Error> {
        let (outgoing, counts) = redacted(request)
        let upstream = inner.stream(outgoing)
        return AsyncThrowingStream { continuation in
            let task = Task {
                // Text is passed on restored; a piece that may end inside a placeholder waits for the next.
                var held = ""
                do {
                    for try await chunk in upstream {
                        switch chunk {
                        case .text(let text):
                            held += text
                            guard !Redaction.endsInsidePlaceholder(held) else { continue }
                            let restored = redaction.withLock { $0.restore(held) }
                            held = ""
                            continuation.yield(.text(restored))
                        case .done(let response):
                            if !held.isEmpty { continuation.yield(.text(redaction.withLock { $0.restore(held) })) }
                            continuation.yield(.done(restored(response, counts: counts)))
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

    public func embed(_ texts: [String]) async throws -> EmbeddingResult {
        var counts: [Redaction.Kind: Int] = [:]
        let outgoing = redaction.withLock { redaction in texts.map { redaction.redact($0, counts: &counts) } }
        return try await inner.embed(outgoing)
    }

    /// `value` with `transform` applied to every string in it.
    static func map(_ value: JSONValue, _ transform: (String) -> String) -> JSONValue {
        switch value {
        case .string(let text): .string(transform(text))
        case .array(let items): .array(items.map { map($0, transform) })
        case .object(let fields): .object(fields.mapValues { map($0, transform) })
        default: value
        }
    }
}
