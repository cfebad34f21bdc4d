import Foundation
import Glibc

/// Why the daemon could not take its data directory.
public enum DaemonLockError: Error, Sendable, Equatable, CustomStringConvertible {
    case held(pid: Int32?, dataDirectory: String)
    case failed(path: String, reason: String)

    public var description: String {
        switch self {
        case .held(let pid?, let dataDirectory):
            "another hearth daemon (pid \(pid)) is using \(dataDirectory); stop it (kill \(pid)) or pass a different --data-dir"
        case .held(nil, let dataDirectory):
            "another hearth daemon is using \(dataDirectory); stop it or pass a different --data-dir"
        case .failed(let path, let reason):
            "cannot lock \(path): \(reason); check that the data directory is writable"
        }
    }
}

/// An exclusive lock on a data directory, held for the daemon's lifetime.
///
/// An open-file-description lock (`F_OFD_SETLK`): the kernel drops it when the process dies,
/// however it dies, so a crash never leaves a stale lock behind. `holder(of:)` can test for it
/// without taking it (`F_OFD_GETLK`), so `hearth status` never races a starting daemon.
public final class DaemonLock: Sendable {
    private let fd: Int32
    public let path: String

    private static let getLock: Int32 = 36  // F_OFD_GETLK
    private static let setLock: Int32 = 37  // F_OFD_SETLK

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Takes the lock or explains who holds it.
    ///
    /// - Throws: `DaemonLockError.held` naming the other daemon's pid.
    public static func acquire(at url: URL, dataDirectory: String) throws(DaemonLockError) -> DaemonLock {
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .failed(path: url.path, reason: String(cString: strerror(errno))) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, setLock, &lock) == 0 else {
            let code = errno
            close(fd)
            if code == EAGAIN || code == EACCES { throw .held(pid: Self.recordedPID(at: url), dataDirectory: dataDirectory) }
            throw .failed(path: url.path, reason: String(cString: strerror(code)))
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return DaemonLock(fd: fd, path: url.path)
    }

    /// The pid of the daemon holding the lock, `0` if held but unrecorded, `nil` if nobody holds it.
    public static func holder(of url: URL) -> Int32? {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, getLock, &probe) == 0, probe.l_type != Int16(F_UNLCK) else { return nil }
        return recordedPID(at: url) ?? 0
    }

    private static func recordedPID(at url: URL) -> Int32? {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
