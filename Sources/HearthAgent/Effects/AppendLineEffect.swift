import Foundation
import Glibc
import HearthCore
import HearthSandbox

/// The built-in demo effect: append one line to a workspace file, tagged with the step's
/// idempotency key (`text [hearth:KEY]`).
///
/// Arguments: `{"path": "notes/log.txt", "text": "…", "idempotent": true}`. When idempotent (the
/// default) it first looks for its own tag in the file and does nothing if the line is already
/// there, so re-running it after a crash is safe. With `"idempotent": false` it appends blindly,
/// which is what makes recovery flag an interrupted step for review instead of repeating it.
public struct AppendLineEffect: Effect {
    public let name = "append_line"

    public init() {}

    public func isIdempotent(_ arguments: JSONValue) -> Bool {
        arguments["idempotent"]?.boolValue ?? true
    }

    public func validate(_ arguments: JSONValue) throws {
        guard case .object(let members) = arguments else {
            throw EffectArgumentError("arguments must be an object with \"path\" and \"text\"")
        }
        for key in members.keys where !["path", "text", "idempotent"].contains(key) {
            throw EffectArgumentError("unknown argument \"\(key)\"; append_line takes path, text and idempotent")
        }
        guard let path = arguments["path"]?.stringValue else { throw EffectArgumentError("\"path\" must be a string") }
        _ = try WorkspacePath.components(of: path)
        guard let text = arguments["text"]?.stringValue else { throw EffectArgumentError("\"text\" must be a string") }
        guard !text.contains(where: \.isNewline) else {
            throw EffectArgumentError("\"text\" must be a single line (no line breaks)")
        }
        guard text.utf8.count <= 64 * 1024 else { throw EffectArgumentError("\"text\" is longer than 64 KiB") }
        if let flag = arguments["idempotent"], flag.boolValue == nil {
            throw EffectArgumentError("\"idempotent\" must be true or false")
        }
    }

    public func perform(_ arguments: JSONValue, context: EffectContext) async throws -> JSONValue {
        try validate(arguments)
        try Task.checkCancellation()
        let path = arguments["path"]!.stringValue!
        let text = arguments["text"]!.stringValue!
        let tag = "[hearth:\(context.idempotencyKey)]"
        let fd = try WorkspacePath.open(path, in: context.workspace, flags: O_RDWR | O_APPEND | O_CREAT)
        defer { close(fd) }
        // Look and append under an exclusive lock: two processes doing the same step (daemons of
        // a fleet, one of which lost its lease mid-step) cannot both miss the tag and both append.
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw WorkspaceError.io(path: path, code: errno, action: "lock") }
        }
        if isIdempotent(arguments), try Self.contains(Array(tag.utf8), fd: fd, path: path) {
            return ["path": .string(path), "appended": false, "reason": "line already present"]
        }
        let line = Array("\(text) \(tag)\n".utf8)
        // One write(2) of a short line with O_APPEND: a crash leaves the whole line or none of it.
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw WorkspaceError.io(path: path, code: written < 0 ? errno : EIO, action: "write")
        }
        guard fsync(fd) == 0 else { throw WorkspaceError.io(path: path, code: errno, action: "sync") }
        return ["path": .string(path), "appended": true, "bytes": .number(Double(line.count))]
    }

    /// How many lines of `text` carry each idempotency key (`… [hearth:KEY]`, the tag this effect
    /// appends); untagged lines are not counted. What a crash harness checks a file against.
    public static func keyCounts(in text: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let open = line.range(of: "[hearth:", options: .backwards), line.hasSuffix("]") else { continue }
            counts[String(line[open.upperBound..<line.index(before: line.endIndex)]), default: 0] += 1
        }
        return counts
    }

    /// Whether the file holds `needle`, read in 1 MiB chunks (overlapping by the needle's length,
    /// so a match across a chunk boundary is found) and searched with `memchr`/`memcmp`.
    private static func contains(_ needle: [UInt8], fd: Int32, path: String) throws -> Bool {
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk + needle.count)
        var offset: off_t = 0
        var carried = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + carried, chunk, offset) }
            if count < 0 { throw WorkspaceError.io(path: path, code: errno, action: "read") }
            if count == 0 { return false }
            let available = carried + count
            if Self.search(needle, in: buffer, count: available) { return true }
            // Keep the tail that could start a match continuing in the next chunk.
            carried = min(needle.count - 1, available)
            buffer.withUnsafeMutableBytes { raw in
                _ = memmove(raw.baseAddress!, raw.baseAddress! + (available - carried), carried)
            }
            offset += off_t(count)
        }
    }

    private static func search(_ needle: [UInt8], in buffer: [UInt8], count: Int) -> Bool {
        guard let first = needle.first, count >= needle.count else { return false }
        return buffer.withUnsafeBytes { haystack in
            needle.withUnsafeBytes { pattern in
                var position = 0
                while position + pattern.count <= count {
                    guard let found = memchr(haystack.baseAddress! + position, Int32(first), count - position - pattern.count + 1) else {
                        return false
                    }
                    let index = haystack.baseAddress!.distance(to: UnsafeRawPointer(found))
                    if memcmp(found, pattern.baseAddress!, pattern.count) == 0 { return true }
                    position = index + 1
                }
                return false
            }
        }
    }
}

/// An argument an effect cannot accept.
public struct EffectArgumentError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
