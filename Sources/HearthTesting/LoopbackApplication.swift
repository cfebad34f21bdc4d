import Hummingbird
import Logging
import Synchronization

/// Serves a test router on a free loopback port: the shared start of the scripted model server
/// and the echo server.
enum LoopbackApplication {
    /// Starts serving `router` on `host`, keeps the serving task in `task` (cancel it to stop),
    /// and returns the port once the server listens.
    static func start(
        _ router: Router<BasicRequestContext>, host: String, label: String, task: borrowing Mutex<Task<Void, any Error>?>
    ) async throws -> Int {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: Logger(label: label))
        task.withLock { $0 = Task { try await application.run() } }
        for await port in ports { return port }
        throw CancellationError()
    }
}
