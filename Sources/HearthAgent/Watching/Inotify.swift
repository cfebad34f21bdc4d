import Foundation
import Glibc

/// One raw inotify event.
struct InotifyEvent: Sendable {
    var watch: Int32
    var mask: UInt32
    var cookie: UInt32
    var name: String

    var isDirectory: Bool { mask & UInt32(IN_ISDIR) != 0 }
    func has(_ flag: Int32) -> Bool { mask & UInt32(flag) != 0 }
}

/// Why the kernel refused to watch something.
public struct WatchError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let code: Int32

    public var description: String {
        switch code {
        case ENOSPC:
            "cannot watch \(path): the inotify watch limit is reached; raise it with 'sysctl fs.inotify.max_user_watches=524288'"
        case EMFILE:
            "cannot watch \(path): too many inotify instances; raise 'fs.inotify.max_user_instances'"
        case EACCES:
            "cannot watch \(path): permission denied"
        default:
            "cannot watch \(path): \(String(cString: strerror(code)))"
        }
    }
}

/// An inotify instance plus a self-pipe to interrupt it, read from one dedicated thread.
///
/// The thread blocks in `poll(2)` on both descriptors, so an idle watcher costs no CPU and no
/// periodic wake-ups. `stop()` may be called from any thread.
final class InotifyLoop: @unchecked Sendable {
    // Safety: the descriptors are immutable after init; reads happen on the loop thread only;
    // `stop()` only writes one byte to the pipe, which is thread-safe.
    let inotifyFD: Int32
    private let stopReadFD: Int32
    private let stopWriteFD: Int32

    init() throws(WatchError) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw WatchError(path: "(inotify)", code: errno) }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            let code = errno
            close(fd)
            throw WatchError(path: "(pipe)", code: code)
        }
        for pipeFD in pipeFDs {
            _ = fcntl(pipeFD, F_SETFD, FD_CLOEXEC)
            _ = fcntl(pipeFD, F_SETFL, fcntl(pipeFD, F_GETFL) | O_NONBLOCK)
        }
        inotifyFD = fd
        stopReadFD = pipeFDs[0]
        stopWriteFD = pipeFDs[1]
    }

    deinit {
        close(inotifyFD)
        close(stopReadFD)
        close(stopWriteFD)
    }

    /// Adds (or updates) a watch; returns the watch descriptor.
    func addWatch(_ path: String, mask: UInt32) throws(WatchError) -> Int32 {
        let wd = inotify_add_watch(inotifyFD, path, mask)
        guard wd >= 0 else { throw WatchError(path: path, code: errno) }
        return wd
    }

    func removeWatch(_ wd: Int32) {
        inotify_rm_watch(inotifyFD, wd)
    }

    /// Asks the loop to return from `wait` as soon as possible.
    func stop() {
        var byte: UInt8 = 1
        _ = write(stopWriteFD, &byte, 1)
    }

    enum Wake {
        case events([InotifyEvent])
        case timeout
        case stopped
    }

    /// Blocks until events arrive, the timeout passes (`nil`: never) or `stop()` is called.
    func wait(timeoutMilliseconds: Int?) -> Wake {
        var descriptors = [
            pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stopReadFD, events: Int16(POLLIN), revents: 0),
        ]
        let timeout = Int32(clamping: timeoutMilliseconds ?? -1)
        let ready = poll(&descriptors, 2, timeout)
        if ready < 0 {
            return errno == EINTR ? .events([]) : .stopped
        }
        if descriptors[1].revents != 0 { return .stopped }
        if ready == 0 { return .timeout }
        return .events(readAvailable())
    }

    /// Calls `body` with each batch of events until `stop()`, on the calling (dedicated) thread.
    func forEachBatch(_ body: ([InotifyEvent]) -> Void) {
        while true {
            switch wait(timeoutMilliseconds: nil) {
            case .stopped: return
            case .timeout: continue
            case .events(let events): body(events)
            }
        }
    }

    private func readAvailable() -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        let capacity = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let count = read(inotifyFD, buffer, capacity)
            if count <= 0 { break }
            var offset = 0
            let headerSize = MemoryLayout<inotify_event>.size
            while offset + headerSize <= count {
                let header = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                var name = ""
                if header.len > 0 {
                    let namePointer = buffer.advanced(by: offset + headerSize).assumingMemoryBound(to: CChar.self)
                    name = String(cString: namePointer)
                }
                events.append(InotifyEvent(watch: header.wd, mask: header.mask, cookie: header.cookie, name: name))
                offset += headerSize + Int(header.len)
            }
        }
        return events
    }
}
