import Foundation
import Glibc

/// Blocking Unix-socket primitives shared by the broker and its client: one JSON line each way.
public enum UnixSocket {
    /// The most a message may be (a request with its body, or a response with 1 MiB of body in JSON).
    public static let maxMessageBytes = 8 << 20

    /// Fills a `sockaddr_un`; `nil` when the path does not fit.
    public static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// Connects to `path`; returns the descriptor or an errno text.
    public static func connect(_ path: String) -> Result<Int32, VaultError> {
        guard var address = address(path) else {
            return .failure(.brokerUnavailable(socket: path, reason: "the socket path is longer than 107 bytes"))
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.brokerUnavailable(socket: path, reason: String(cString: strerror(errno)))) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = errno == ENOENT || errno == ECONNREFUSED ? "nothing is listening" : String(cString: strerror(errno))
            close(fd)
            return .failure(.brokerUnavailable(socket: path, reason: reason))
        }
        return .success(fd)
    }

    /// Writes all of `data`.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let count = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if count < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += count
            }
            return true
        }
    }

    /// Reads up to the first newline (or the end); `nil` on error, timeout or an oversized message.
    public static func readLine(_ fd: Int32) -> Data? {
        var collected = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { return collected.isEmpty ? nil : collected }
            if let newline = buffer[..<count].firstIndex(of: UInt8(ascii: "\n")) {
                collected.append(contentsOf: buffer[..<newline])
                return collected
            }
            collected.append(contentsOf: buffer[..<count])
            if collected.count > maxMessageBytes { return nil }
        }
    }

    /// Sets a receive and send timeout on a socket.
    public static func setTimeout(_ fd: Int32, seconds: Int) {
        var value = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }
}

/// The agent's side of the broker: sends one message per connection and waits for the answer.
///
/// The socket I/O blocks, so it runs on a Dispatch queue rather than the cooperative pool.
public struct VaultClient: Sendable, Equatable {
    public let socket: URL

    public init(socket: URL) { self.socket = socket }

    public var isListening: Bool {
        if case .success(let fd) = UnixSocket.connect(socket.path) {
            close(fd)
            return true
        }
        return false
    }

    public func send(_ message: BrokerMessage, timeoutSeconds: Int = 330) async throws(VaultError) -> BrokerReply {
        let path = socket.path
        let result: Result<BrokerReply, VaultError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Self.exchange(message, path: path, timeoutSeconds: timeoutSeconds))
            }
        }
        let reply = try result.get()
        if !reply.ok, let error = reply.error { throw .brokerRefused(code: error.code, message: error.message) }
        return reply
    }

    /// Sends a request template; returns the scrubbed response.
    public func request(_ template: RequestTemplate, caller: String? = nil) async throws(VaultError) -> BrokeredResponse {
        let reply = try await send(BrokerMessage(op: .request, request: template, caller: caller))
        guard let response = reply.response else { throw .brokerRefused(code: "protocol", message: "the reply has no response") }
        return response
    }

    static func exchange(_ message: BrokerMessage, path: String, timeoutSeconds: Int) -> Result<BrokerReply, VaultError> {
        let fd: Int32
        switch UnixSocket.connect(path) {
        case .success(let value): fd = value
        case .failure(let error): return .failure(error)
        }
        defer { close(fd) }
        UnixSocket.setTimeout(fd, seconds: timeoutSeconds)
        guard let data = try? BrokerWire.encode(message), UnixSocket.writeAll(fd, data) else {
            return .failure(.brokerUnavailable(socket: path, reason: "sending failed: \(String(cString: strerror(errno)))"))
        }
        shutdown(fd, Int32(SHUT_WR))
        guard let line = UnixSocket.readLine(fd) else {
            return .failure(.brokerUnavailable(socket: path, reason: "no answer (timed out or the broker closed the connection)"))
        }
        do {
            return .success(try BrokerWire.decode(BrokerReply.self, from: line))
        } catch {
            return .failure(.brokerUnavailable(socket: path, reason: "the answer is not a broker reply"))
        }
    }
}
