import CHearthSystem
import Foundation
import Glibc
import HearthVault

/// The broker's Unix socket: mode 0600, one connection per message, and the kernel's word on who
/// connected (SO_PEERCRED) — only the broker's own user is served.
final class BrokerServer: @unchecked Sendable {
    let path: String
    let broker: Broker
    private var listener: Int32 = -1

    init(path: String, broker: Broker) {
        self.path = path
        self.broker = broker
    }

    /// Binds the socket; fails when another broker is listening there.
    func bind() throws(VaultError) {
        if VaultClient(socket: URL(fileURLWithPath: path)).isListening {
            throw .brokerUnavailable(socket: path, reason: "another broker is already listening there")
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            // A stale socket from a broker that died; anything else is not ours to remove.
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw .brokerUnavailable(socket: path, reason: "a file that is not a socket is in the way; move it aside")
            }
            unlink(path)
        }
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard var address = UnixSocket.address(path) else {
            throw .brokerUnavailable(socket: path, reason: "the socket path is longer than 107 bytes")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .brokerUnavailable(socket: path, reason: String(cString: strerror(errno))) }
        // The socket is created 0600 (umask), not chmod-ed afterwards: no window where others may connect.
        let previous = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previous)
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .brokerUnavailable(socket: path, reason: "cannot listen: \(reason)")
        }
        listener = fd
    }

    /// Accepts connections until the process ends; each is served on its own thread.
    func run() -> Never {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE { continue }
                fatalError("hearth-vault: accept failed: \(String(cString: strerror(errno)))")
            }
            let thread = Thread { [self] in self.serve(client) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    func remove() { unlink(path) }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var uid: uid_t = 0
        var pid: pid_t = 0
        guard hearth_peer_credentials(client, &uid, &pid) == 0 else { return }
        let peer = Peer(uid: uid, pid: pid)
        guard uid == getuid() else {
            reply(client, .failure(.brokerRefused(code: "forbidden", message: "uid \(uid) may not use this broker")))
            return
        }
        UnixSocket.setTimeout(client, seconds: 30)
        guard let line = UnixSocket.readLine(client) else { return }
        let message: BrokerMessage
        do {
            message = try BrokerWire.decode(BrokerMessage.self, from: line)
        } catch {
            reply(client, .failure(.badRequest("the message is not a broker message (\(error))")))
            return
        }
        let answer = Blocking.wait { await self.broker.handle(message, peer: peer) }
        reply(client, answer)
    }

    private func reply(_ client: Int32, _ reply: BrokerReply) {
        guard let data = try? BrokerWire.encode(reply) else { return }
        UnixSocket.writeAll(client, data)
    }
}

/// Runs async work from a plain thread and waits for it (connection threads are not part of the
/// cooperative pool, so blocking them is fine).
enum Blocking {
    static func wait<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            box.value = await work()
            done.signal()
        }
        done.wait()
        return box.value!
    }

    final class ResultBox<T>: @unchecked Sendable {
        var value: T?
    }
}
