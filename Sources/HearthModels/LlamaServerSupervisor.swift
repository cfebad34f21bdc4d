import AsyncHTTPClient
import Foundation
import Glibc
import HearthCore
import HearthProcess
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// What the supervised llama-server is doing, readable from anywhere (status, clients).
public final class InferenceStatus: Sendable {
    public enum Phase: String, Sendable {
        case starting, ready, restarting, failed, stopped
    }

    private struct State {
        var phase = Phase.starting
        var baseURL: String?
        var apiKey: String?
        var pid: Int32?
        var restarts = 0
        var lastError: String?
        var readySince: Date?
    }

    private let state = Mutex(State())
    private let readyWaiters = Mutex<[CheckedContinuation<Void, Never>]>([])

    public init() {}

    public var phase: Phase { state.withLock { $0.phase } }
    /// How many times the server died and was (or is about to be) restarted.
    public var restarts: Int { state.withLock { $0.restarts } }
    /// Where the server listens and its key, once ready.
    public var connection: (baseURL: String, apiKey: String)? {
        state.withLock { state in
            guard state.phase == .ready, let url = state.baseURL, let key = state.apiKey else { return nil }
            return (url, key)
        }
    }

    func starting(pid: Int32, baseURL: String, apiKey: String) {
        state.withLock {
            $0.pid = pid
            $0.baseURL = baseURL
            $0.apiKey = apiKey
            if $0.phase != .restarting { $0.phase = .starting }
        }
    }

    func ready() {
        state.withLock {
            $0.phase = .ready
            $0.readySince = Date()
        }
        let waiters = readyWaiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func failed(_ error: String, willRestart: Bool) {
        state.withLock {
            $0.phase = willRestart ? .restarting : .failed
            $0.lastError = error
            $0.pid = nil
            if willRestart { $0.restarts += 1 }
        }
    }

    func stopped() {
        state.withLock {
            $0.phase = .stopped
            $0.pid = nil
        }
    }

    /// Waits until the server is ready (returns at once if it is).
    public func waitUntilReady() async {
        if phase == .ready { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { $0.phase == .ready }
            if resumeNow {
                continuation.resume()
            } else {
                readyWaiters.withLock { $0.append(continuation) }
                if phase == .ready { ready() }
            }
        }
    }

    /// For `hearth status` and `hearth models`.
    public var snapshot: JSONValue {
        state.withLock { state in
            var document: [String: JSONValue] = ["phase": .string(state.phase.rawValue), "restarts": .number(Double(state.restarts))]
            if let url = state.baseURL { document["baseURL"] = .string(url) }
            if let pid = state.pid { document["pid"] = .number(Double(pid)) }
            if let error = state.lastError { document["lastError"] = .string(error) }
            if let since = state.readySince { document["readySince"] = .string(Timestamp.format(since)) }
            return .object(document)
        }
    }
}

/// Runs llama-server in router mode (one loopback port, chat and embedding models routed by the
/// request's `model`), restarts it with backoff when it dies, and stops it on shutdown.
///
/// The server's pid and kernel start time go to `<runtime>/llama-server.pid`; if the daemon was
/// SIGKILLed, the next start finds that server by pid *and* start time *and* executable (so an
/// unrelated process that reused the pid is never touched) and stops it before starting anew.
public struct LlamaServerSupervisor: Service {
    public struct Options: Sendable {
        public var installation: ModelInstallation
        public var chatModel: String
        public var embeddingModel: String
        public var runtimeDirectory: URL
        public var logFile: URL
        public var threads: Int
        public var contextTokens: Int
        public var readyTimeout: Duration
        /// Texts the embedding model takes in one forward pass (llama-server slots, each with the
        /// model's own window): one pass over many short texts is much cheaper than many passes.
        public var embeddingSlots: Int

        public init(
            installation: ModelInstallation, chatModel: String, embeddingModel: String, runtimeDirectory: URL, logFile: URL,
            threads: Int, contextTokens: Int, readyTimeout: Duration = .seconds(120), embeddingSlots: Int = 4
        ) {
            self.embeddingSlots = embeddingSlots
            self.installation = installation
            self.chatModel = chatModel
            self.embeddingModel = embeddingModel
            self.runtimeDirectory = runtimeDirectory
            self.logFile = logFile
            self.threads = threads
            self.contextTokens = contextTokens
            self.readyTimeout = readyTimeout
        }
    }

    let options: Options
    let status: InferenceStatus
    let logger: Logger
    /// Paces restarts and readiness probes (a manual clock in tests).
    let clock: any WallClock

    public init(options: Options, status: InferenceStatus, logger: Logger, clock: any WallClock = SystemWallClock()) {
        self.options = options
        self.status = status
        self.logger = logger
        self.clock = clock
    }

    var pidFile: URL { options.runtimeDirectory.appending(path: "llama-server.pid") }
    var presetsFile: URL { options.runtimeDirectory.appending(path: "llama-presets.ini") }
    public var apiKeyFile: URL { options.runtimeDirectory.appending(path: "llama-server.key") }

    public func run() async throws {
        reapOrphan()
        let chat = try options.installation.model(named: options.chatModel, kind: .chat)
        let embedding = try options.installation.model(named: options.embeddingModel, kind: .embedding)
        try writePresets(chat: chat, embedding: embedding)
        var backoff = Duration.seconds(1)
        defer {
            try? FileManager.default.removeItem(at: pidFile)
            status.stopped()
        }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let port = try Self.freePort()
            let apiKey = Self.randomKey()
            let server = try await spawn(port: port, apiKey: apiKey)
            let url = "http://127.0.0.1:\(port)"
            status.starting(pid: server.pid, baseURL: url, apiKey: apiKey)
            logger.info("llama-server starting (pid \(server.pid), \(url))")
            let started = clock.now()
            // Graceful shutdown (in a ServiceGroup) and plain cancellation (a command's private
            // server) both end the wait by stopping the server.
            let outcome = await withTaskCancellationHandler {
                await withGracefulShutdownHandler {
                    await superviseOnce(server, url: url, apiKey: apiKey)
                } onGracefulShutdown: {
                    server.signal(SIGTERM)
                }
            } onCancel: {
                server.signal(SIGTERM)
            }
            if Task.isCancelled || Task.isShuttingDownGracefully {
                await server.stop()
                logger.info("llama-server stopped")
                return
            }
            await server.stop()
            // A server that ran healthy for a while earns a fresh, short backoff.
            if clock.now().timeIntervalSince(started) > 60 { backoff = .seconds(1) }
            status.failed(outcome, willRestart: true)
            logger.error("llama-server: \(outcome); restarting in \(backoff) (log: \(options.logFile.path))")
            try? await clock.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(60))
        }
    }

    /// Waits for readiness, then for the server's exit; returns why it is no longer serving.
    private func superviseOnce(_ server: LaunchedProcess, url: String, apiKey: String) async -> String {
        let deadline = clock.now().addingTimeInterval(options.readyTimeout.inSeconds)
        while clock.now() < deadline {
            if let status = server.exitStatus { return "exited during start-up with status \(status)\(tail())" }
            switch await Self.probe(url: url, apiKey: apiKey) {
            case .ready:
                status.ready()
                logger.info("llama-server ready (\(url))")
                let exit = await server.waitForExit()
                return "exited with status \(exit)\(tail())"
            case .failed(let reason):
                return "a model failed to load: \(reason)\(tail())"
            case .notYet:
                try? await clock.sleep(for: .milliseconds(100))
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { return "stopping" }
        }
        return "not ready after \(options.readyTimeout)\(tail())"
    }

    public enum Probe: Sendable {
        case ready, notYet
        case failed(String)
    }

    /// Ready means the router answers `/health` and every model reports `loaded`.
    public static func probe(url: String, apiKey: String) async -> Probe {
        var request = HTTPClientRequest(url: url + "/v1/models")
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        guard let response = try? await ModelTransport.client.execute(request, timeout: .seconds(2)), response.status == .ok,
            let body = try? await response.body.collect(upTo: 1 << 20),
            let models = (try? JSONValue(parsing: Data(body.readableBytesView)))?["data"]?.arrayValue, !models.isEmpty
        else { return .notYet }
        for model in models {
            let status = model["status"] ?? [:]
            if status["failed"] == true {
                return .failed("\(model["id"]?.stringValue ?? "?") exited with status \(status["exit_code"]?.intValue ?? -1)")
            }
            if status["value"]?.stringValue != "loaded" { return .notYet }
        }
        return .ready
    }

    private func writePresets(chat: InstalledModel, embedding: InstalledModel) throws {
        // Each embedding slot gets the model's own window; one batch holds them all.
        let slots = max(1, options.embeddingSlots)
        let embeddingTokens = (embedding.contextTokens ?? 512) * slots
        let presets = """
            ; Written by hearth daemon at each start; edits are overwritten.
            version = 1

            [*]
            t = \(options.threads)
            np = 1
            cache-ram = 64

            [\(chat.name)]
            model = \(options.installation.path(of: chat).path)
            c = \(options.contextTokens)
            load-on-startup = true

            [\(embedding.name)]
            model = \(options.installation.path(of: embedding).path)
            embedding = true
            np = \(slots)
            c = \(embeddingTokens)
            b = \(embeddingTokens)
            ub = \(embeddingTokens)
            load-on-startup = true

            """
        try FileManager.default.createDirectory(at: options.runtimeDirectory, withIntermediateDirectories: true)
        try Data(presets.utf8).write(to: presetsFile, options: .atomic)
    }

    private func spawn(port: Int, apiKey: String) async throws -> LaunchedProcess {
        try FileManager.default.createDirectory(at: options.logFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Keep one previous log; llama-server is chatty.
        if let size = (try? FileManager.default.attributesOfItem(atPath: options.logFile.path))?[.size] as? NSNumber,
            size.intValue > 20 << 20
        {
            _ = rename(options.logFile.path, options.logFile.path + ".1")
        }
        // The key file lets `hearth ask` and `hearth bench` share this server.
        let keyFD = open(apiKeyFile.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if keyFD >= 0 {
            _ = Array("\(port) \(apiKey)\n".utf8).withUnsafeBytes { write(keyFD, $0.baseAddress, $0.count) }
            close(keyFD)
        }
        // Its own process group and a clean signal mask: SIGTERM stops it and the workers it starts.
        let process = try await LaunchedProcess.start(
            options.installation.binary,
            arguments: [
                "--host", "127.0.0.1", "--port", "\(port)", "--models-preset", presetsFile.path, "--api-key", apiKey, "--no-webui",
            ],
            logFile: options.logFile)
        let record = "\(process.pid) \(Self.startTime(of: process.pid) ?? 0) \(options.installation.binary.path)\n"
        try? Data(record.utf8).write(to: pidFile, options: .atomic)
        return process
    }

    /// Stops a server left behind by a daemon that was killed, if and only if it is still ours.
    func reapOrphan() {
        Self.reapOrphan(recordedIn: pidFile, logger: logger)
    }

    /// Stops the server recorded in `pidFile` and every process of its group (the router's model
    /// workers), if they are still ours: the leader by pid, kernel start time and executable;
    /// workers by process group and executable (so a process that reused a pid is never touched).
    /// SIGTERM first; whatever is left after five seconds gets SIGKILL.
    public static func reapOrphan(recordedIn pidFile: URL, logger: Logger) {
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8) else { return }
        let parts = text.split(separator: " ", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard parts.count == 3, let pid = Int32(parts[0]), let start = UInt64(parts[1]) else { return }
        let executable = parts[2]
        func ours() -> [Int32] {
            var found: [Int32] = []
            let leaderAlive = startTime(of: pid) == start && executablePath(of: pid) == executable
            if leaderAlive { found.append(pid) }
            for other in processIDs() where other != pid {
                // Workers outlive a SIGKILLed leader: same group, same program, started after it.
                guard let info = stat(of: other), info.group == pid, info.start >= start, executablePath(of: other) == executable else {
                    continue
                }
                found.append(other)
            }
            return found
        }
        var left = ours()
        guard !left.isEmpty else {
            try? FileManager.default.removeItem(at: pidFile)
            return
        }
        logger.notice(
            "stopping llama-server process(es) \(left.map(String.init).joined(separator: ", ")) left running by a previous daemon")
        for process in left { kill(process, SIGTERM) }
        for _ in 0..<50 {
            left = ours()
            if left.isEmpty { break }
            usleep(100_000)
        }
        for process in left { kill(process, SIGKILL) }
        try? FileManager.default.removeItem(at: pidFile)
    }

    /// Every pid in /proc.
    static func processIDs() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
    }

    static func executablePath(of pid: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
    }

    /// Process group and start time from /proc/PID/stat.
    static func stat(of pid: Int32) -> (group: Int32, start: UInt64)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let group = Int32(fields[2]), let start = UInt64(fields[19]) else { return nil }
        return (group, start)
    }

    /// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
    static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// A free loopback port, found by binding port 0.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.init(rawValue: errno) ?? .EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// The last lines of the server log, to explain a failure in one place.
    private func tail() -> String {
        guard let data = try? Data(contentsOf: options.logFile) else { return "" }
        let lines = String(decoding: data.suffix(4096), as: UTF8.self).split(separator: "\n").suffix(3)
        return lines.isEmpty ? "" : "; last log lines: " + lines.joined(separator: " | ")
    }
}
