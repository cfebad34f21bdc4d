import AsyncHTTPClient
import Foundation
import HearthVault
import NIOCore
import NIOHTTP1

/// The broker's one HTTP client: no automatic redirects (the broker follows them itself, so a
/// change of host can drop the secret), no cookies, a size cap on bodies.
struct HTTPTransport: BrokerTransport {
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    func send(_ request: OutgoingRequest) async throws(VaultError) -> IncomingResponse {
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for header in request.headers { outgoing.headers.add(name: header.name, value: header.value) }
        if let body = request.body { outgoing.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await Self.client.execute(outgoing, timeout: .seconds(Int64(request.timeoutSeconds)))
            var body: [UInt8] = []
            var truncated = false
            for try await chunk in response.body {
                let room = request.maxBodyBytes - body.count
                if chunk.readableBytes > room {
                    body.append(contentsOf: chunk.readableBytesView.prefix(room))
                    truncated = true
                    break
                }
                body.append(contentsOf: chunk.readableBytesView)
            }
            return IncomingResponse(
                status: Int(response.status.code), headers: response.headers.map { .init(name: $0.name, value: $0.value) }, body: body,
                truncated: truncated)
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw .transport("no answer from \(request.url.host ?? "the host") within \(request.timeoutSeconds) s")
        } catch {
            // The broker scrubs this text before it leaves; it names the host, never the URL.
            throw .transport("\(request.url.host ?? "the host"): \(error)")
        }
    }
}
