import Foundation
import Glibc
import HearthCore
import Logging
import Synchronization

/// An append-only log file with a size cap: at the cap it becomes `<name>.1` and a new file starts.
///
/// Writes are plain `write(2)` calls under a lock. When the disk is full, lines are dropped and
/// counted (a log must never take the daemon down); the count is written once space returns.
public final class LogFile: Sendable {
    private struct State: ~Copyable {
        var fd: Int32
        var size: Int
        var dropped = 0
    }

    public let url: URL
    private let maxBytes: Int
    private let state: Mutex<State>

    public init(url: URL, maxBytes: Int) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        self.url = url
        self.maxBytes = maxBytes
        let fd = Self.openFile(url)
        guard fd >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
        }
        let size = lseek(fd, 0, SEEK_END)
        state = Mutex(State(fd: fd, size: Int(max(0, size))))
    }

    deinit {
        state.withLock { close($0.fd) }
    }

    public func write(_ line: String) {
        var bytes = Array(line.utf8)
        if bytes.last != 0x0A { bytes.append(0x0A) }
        state.withLock { state in
            if state.size + bytes.count > maxBytes { rotate(&state) }
            if state.dropped > 0 {
                let note = Array("\(Timestamp.format(Date())) warning hearth: \(state.dropped) log lines were dropped (disk full)\n".utf8)
                if note.withUnsafeBytes({ Glibc.write(state.fd, $0.baseAddress, $0.count) }) == note.count {
                    state.size += note.count
                    state.dropped = 0
                }
            }
            let written = bytes.withUnsafeBytes { Glibc.write(state.fd, $0.baseAddress, $0.count) }
            if written == bytes.count {
                state.size += written
            } else {
                state.dropped += 1
            }
        }
    }

    private func rotate(_ state: inout State) {
        close(state.fd)
        let previous = url.path + ".1"
        _ = rename(url.path, previous)
        state.fd = Self.openFile(url)
        state.size = 0
    }

    private static func openFile(_ url: URL) -> Int32 {
        open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
    }
}

/// A swift-log handler writing `time level label: message key=value` lines to a `LogFile`.
public struct FileLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let file: LogFile

    public init(label: String, file: LogFile, level: Logger.Level) {
        self.label = label
        self.file = file
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let details = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        file.write("\(Timestamp.format(Date())) \(event.level) \(label): \(event.message)\(details)")
    }
}
