import CHearthSystem
import Foundation
import Glibc
import HearthVault
import NIOCore
import NIOPosix
import Synchronization

/// The broker's Unix socket: mode 0600, one message per connection, and the kernel's word on who
/// connected (SO_PEERCRED) — only the broker's own user is served. Connections are served on
/// swift-nio's event loops (no thread per connection); an accept that fails for want of
/// descriptors or memory is logged and the broker goes on accepting.
final class BrokerServer: Sendable {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    let path: String
    let broker: Broker

    init(path: String, broker: Broker) {
        self.path = path
        self.broker = broker
    }

    /// Binds the socket; fails when another broker is listening there.
    func bind() async throws(VaultError) -> NIOAsyncChannel<Connection, Never> {
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
        guard UnixSocket.address(path) != nil else {
            throw .brokerUnavailable(socket: path, reason: "the socket path is longer than 107 bytes")
        }
        // The socket is created 0600 (umask), not chmod-ed afterwards: no window where others may
        // connect. Nothing else in this process creates files while it binds.
        let previous = umask(0o177)
        defer { umask(previous) }
        do {
            return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 64)
                // A client sends its message and shuts its side (SHUT_WR); the answer still goes back.
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(AcceptErrors()) }
                }
                .bind(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture { try Connection(wrappingChannelSynchronously: channel) }
                }
        } catch {
            throw .brokerUnavailable(socket: path, reason: "cannot listen: \(error)")
        }
    }

    /// Serves connections until the listening socket closes.
    func run(_ listener: NIOAsyncChannel<Connection, Never>) async {
        await withDiscardingTaskGroup { group in
            do {
                try await listener.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
            } catch {
                Self.log("listening stopped: \(error)")
            }
        }
    }

    func remove() { unlink(path) }

    private func serve(_ connection: Connection) async {
        let peer: Peer
        do {
            peer = try await Self.peer(of: connection.channel)
        } catch {
            try? await connection.channel.close()
            return
        }
        // A client that connects and says nothing is let go after 30 s.
        let timeout = connection.channel.eventLoop.scheduleTask(in: .seconds(30)) { connection.channel.close(promise: nil) }
        defer { timeout.cancel() }
        try? await connection.executeThenClose { inbound, outbound in
            guard peer.uid == getuid() else {
                try await outbound.write(
                    Self.encode(.failure(.brokerRefused(code: "forbidden", message: "uid \(peer.uid) may not use this broker"))))
                return
            }
            guard let line = try await Self.line(from: inbound) else { return }
            let answer: BrokerReply
            do {
                answer = await broker.handle(try BrokerWire.decode(BrokerMessage.self, from: line), peer: peer)
            } catch {
                answer = .failure(.badRequest("the message is not a broker message (\(error))"))
            }
            try await outbound.write(Self.encode(answer))
        }
    }

    /// The kernel's word on the process at the other end.
    static func peer(of channel: any Channel) async throws -> Peer {
        guard let options = channel as? any SocketOptionProvider else { throw ChannelError.operationUnsupported }
        let credentials: hearth_peer_credentials = try await options.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)
        ).get()
        return Peer(uid: credentials.uid, pid: credentials.pid)
    }

    /// Everything up to the first newline (or the end); nil when the client sent nothing or more
    /// than a message may be.
    static func line(from inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws -> Data? {
        var collected = Data()
        for try await var chunk in inbound {
            let bytes = chunk.readBytes(length: chunk.readableBytes) ?? []
            if let newline = bytes.firstIndex(of: 0x0A) {
                collected.append(contentsOf: bytes[..<newline])
                return collected
            }
            collected.append(contentsOf: bytes)
            guard collected.count <= UnixSocket.maxMessageBytes else { return nil }
        }
        return collected.isEmpty ? nil : collected
    }

    static func encode(_ reply: BrokerReply) -> ByteBuffer {
        ByteBuffer(bytes: (try? BrokerWire.encode(reply)) ?? Data())
    }

    static func log(_ line: String) {
        FileHandle.standardError.write(Data("hearth-vault: \(line)\n".utf8))
    }
}

/// Keeps an accept that failed for want of descriptors, buffers or memory (or a connection aborted
/// before it was accepted) from ending the listener: it is logged, and accepting goes on.
final class AcceptErrors: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any
    /// When the last failure was logged: at most one line a second while they last.
    private let lastLogged = Mutex(ContinuousClock.now - .seconds(2))

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? IOError, [ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errnoCode) {
            let due = lastLogged.withLock { last in
                guard ContinuousClock.now - last >= .seconds(1) else { return false }
                last = .now
                return true
            }
            if due { BrokerServer.log("accept failed (\(error)); still listening") }
            // Accepting stops with the failure; it starts again a moment later, when descriptors
            // may have been freed (a backoff rather than a spin on the same error).
            let channel = context.channel
            channel.eventLoop.scheduleTask(in: .milliseconds(100)) { channel.read() }
            return
        }
        context.fireErrorCaught(error)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }
}
