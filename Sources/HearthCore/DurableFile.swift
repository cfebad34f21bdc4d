import Foundation

/// Why a small file could not be written; the previous content (if any) is untouched.
public struct DurableFileError: Error, Sendable, Equatable {
    /// The system's words for it (`No space left on device`).
    public let reason: String
}

/// Writing small files that must be whole or absent after a crash or a full disk: the token,
/// the daemon's state, the vault and its key.
public enum DurableFile {
    /// Replaces `url` with `data`: a new temporary file beside it (mode `mode`), every byte
    /// written and synced, renamed over `url`, the directory synced. On failure the temporary
    /// file is removed and `url` keeps its old content.
    public static func replace(_ url: URL, with data: Data, mode: mode_t) throws(DurableFileError) {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appending(path: ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw DurableFileError(reason: String(cString: strerror(errno))) }
        var failure = writeAll(fd, data)
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temporary.path, url.path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary.path)
            throw DurableFileError(reason: failure)
        }
        let directoryFD = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Creates `url` holding `data` (mode `mode`, synced), never replacing a file that exists.
    ///
    /// - Returns: `false` when the file existed already (nothing was written).
    /// - Throws: when creating or writing failed; a partly written file is removed.
    @discardableResult
    public static func create(_ url: URL, with data: Data, mode: mode_t) throws(DurableFileError) -> Bool {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if fd < 0 && errno == EEXIST { return false }
        guard fd >= 0 else { throw DurableFileError(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var failure = writeAll(fd, data)
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(url.path)
            throw DurableFileError(reason: failure)
        }
        return true
    }

    /// Writes every byte (retrying short writes and interruptions); the error text or `nil`.
    private static func writeAll(_ fd: Int32, _ data: Data) -> String? {
        data.withUnsafeBytes { raw -> String? in
            var offset = 0
            while offset < raw.count {
                let count = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                offset += count
            }
            return nil
        }
    }
}
