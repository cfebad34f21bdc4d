import Foundation
import Glibc
import HearthCore
import Logging
import MCP
import Synchronization

/// MCP over a pair of pipes (stdio): one JSON-RPC message a line. Unlike the SDK's stdio
/// transport, a line has a limit: a longer one is skipped up to its end instead of read into
/// memory whole, and on the server side answered with a JSON-RPC error (`id` null, as for a
/// message that cannot be read), after which the next line is served as usual.
actor MCPLineTransport: Transport {
    nonisolated let logger = Logger(label: "hearth.mcp.stdio")
    let input: Int32
    let output: Int32
    let maxLine: Int
    /// Whether a skipped line is answered (a server answers its client; a client has no one to tell).
    let answersOversized: Bool
    private var connected = false
    private var reader: Task<Void, Never>?
    /// Ids of requests read and not yet answered (JSON text of the id): at the end of the input
    /// the server still answers them before it ends.
    private var unanswered: Set<String> = []
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    private let later = QuietStream()

    init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO, maxLine: Int, answersOversized: Bool) {
        self.input = input
        self.output = output
        self.maxLine = maxLine
        self.answersOversized = answersOversized
        (messages, continuation) = AsyncThrowingStream.makeStream()
    }

    func connect() async throws {
        guard !connected else { return }
        for descriptor in [input, output] {
            let flags = fcntl(descriptor, F_GETFL)
            guard flags >= 0, fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) >= 0 else {
                throw MCPError.internalError("cannot use descriptor \(descriptor) for MCP: \(String(cString: strerror(errno)))")
            }
        }
        connected = true
        reader = Task { await self.readLoop() }
    }

    func disconnect() async {
        connected = false
        reader?.cancel()
        continuation.finish()
        later.finish()
    }

    func send(_ data: Data) async throws {
        guard connected else { throw MCPError.internalError("the MCP stdio transport is not connected") }
        if let id = Self.answerID(data) { unanswered.remove(id) }
        var remaining = data + [0x0A]
        while !remaining.isEmpty {
            let written = remaining.withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
            if written > 0 {
                remaining.removeFirst(written)
            } else if written < 0 && (errno == EAGAIN || errno == EINTR) {
                try await Task.sleep(for: .milliseconds(5))
            } else {
                throw MCPError.internalError("writing an MCP message failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The messages read, the first time; after that a stream that ends only at `disconnect()`.
    /// The SDK's client asks again as soon as the stream it reads ends (the program exited):
    /// handed the ended stream again, its loop would read it again at once, for ever, holding the
    /// client's actor and a thread (`QuietStream`).
    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> {
        later.takeFirst() ? messages : later.stream
    }

    private func readLoop() async {
        var lines = LineSplitter(maxLine: maxLine)
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while connected && !Task.isCancelled {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR {
                    try? await Task.sleep(for: .milliseconds(5))
                    continue
                }
                logger.error("reading MCP messages failed: \(String(cString: strerror(errno)))")
                break
            }
            for piece in lines.feed(buffer[0..<count]) {
                switch piece {
                case .line(let line):
                    if let id = Self.requestID(line) { unanswered.insert(id) }
                    continuation.yield(line)
                case .skipped(let bytes):
                    logger.warning("an MCP message of \(bytes) bytes (more than \(maxLine)) was skipped")
                    if answersOversized { try? await send(Data(Self.oversizedError(bytes: bytes, limit: maxLine).jsonText.utf8)) }
                }
            }
        }
        continuation.finish()
    }

    /// Waits until every request read has been answered, at most `limit` (a handler that never
    /// ends does not hold the process forever). For the end of the input: a client may write its
    /// requests and close its end at once, and is still owed the answers.
    func answered(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while !unanswered.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if !unanswered.isEmpty {
            logger.warning("\(unanswered.count) MCP request(s) were still unanswered when the input ended")
        }
    }

    /// The id of a JSON-RPC request (a message with a method and an id), as JSON text.
    static func requestID(_ line: Data) -> String? {
        guard let message = try? HearthCore.JSONValue(parsing: String(decoding: line, as: UTF8.self)),
            message["method"]?.stringValue != nil, let id = message["id"], id != .null
        else { return nil }
        return id.jsonText
    }

    /// The id a JSON-RPC response answers (a message with an id and a result or an error).
    static func answerID(_ data: Data) -> String? {
        guard let message = try? HearthCore.JSONValue(parsing: String(decoding: data, as: UTF8.self)),
            message["method"] == nil, message["result"] != nil || message["error"] != nil, let id = message["id"], id != .null
        else { return nil }
        return id.jsonText
    }

    /// The JSON-RPC error for a message too large to read: `id` is null, as it could not be read.
    static func oversizedError(bytes: Int, limit: Int) -> HearthCore.JSONValue {
        [
            "jsonrpc": "2.0", "id": .null,
            "error": ["code": -32600, "message": .string("the message is \(bytes) bytes; at most \(limit) are read")],
        ]
    }
}

/// Splits a byte stream into lines (without their newline; empty lines left out), skipping any
/// line longer than `maxLine` as it goes — its bytes are never kept — and saying so at its end.
struct LineSplitter {
    enum Piece: Equatable {
        case line(Data)
        /// A line of this many bytes was skipped.
        case skipped(Int)
    }

    let maxLine: Int
    private var pending = Data()
    /// Bytes of the line being skipped so far; nil while not skipping.
    private var skipping: Int?

    init(maxLine: Int) {
        self.maxLine = maxLine
    }

    mutating func feed(_ bytes: some Collection<UInt8>) -> [Piece] {
        var pieces: [Piece] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let end = rest.firstIndex(of: 0x0A)
            let chunk = rest[..<(end ?? rest.endIndex)]
            if let skipped = skipping {
                skipping = skipped + chunk.count
            } else if pending.count + chunk.count > maxLine {
                skipping = pending.count + chunk.count
                pending = Data()
            } else {
                pending.append(contentsOf: chunk)
            }
            guard let end else { break }
            if let skipped = skipping {
                pieces.append(.skipped(skipped))
                skipping = nil
            } else if !pending.isEmpty {
                pieces.append(.line(pending))
                pending = Data()
            }
            rest = rest[rest.index(after: end)...]
        }
        return pieces
    }
}

/// What a transport hands out once its messages were handed out: a stream that yields nothing
/// and ends when the transport disconnects. The SDK's client reads `receive()` in a loop that
/// asks again whenever a stream ends; a stream that ended at once would make that loop spin
/// without ever suspending (a core, and the client's actor, taken until the session closes —
/// with two such sessions on two cores, nothing else in the process ran).
final class QuietStream: Sendable {
    let stream: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    private let handedOut = Mutex(false)

    init() {
        (stream, continuation) = AsyncThrowingStream.makeStream()
    }

    /// True the first time it is asked, false after.
    func takeFirst() -> Bool {
        handedOut.withLock { handed in
            defer { handed = true }
            return !handed
        }
    }

    func finish() { continuation.finish() }
}
