import Foundation
import Glibc
import HearthCore

/// A settled change to one file, relative to the watched root.
public struct FileChange: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case created, modified, deleted, moved
    }

    public var kind: Kind
    public var path: String
    /// For `moved`: where the file was.
    public var previousPath: String?
    /// The file now (`nil` when deleted).
    public var fingerprint: FileFingerprint?
    /// The file as last reported (`nil` when created).
    public var previous: FileFingerprint?
}

/// Why a batch of changes was found.
public enum ScanReason: String, Sendable {
    /// The start-up comparison of the tree with the persisted index: changes made while down.
    case startup
    /// Live inotify events, settled.
    case live
    /// The kernel queue overflowed, so the whole tree was compared again.
    case overflow
}

/// Which names the watcher skips.
public struct IgnoreRules: Sendable {
    public var patterns: [String]
    /// Relative paths never to enter (e.g. the data dir, if someone put it inside the workspace).
    public var excludedPaths: Set<String>

    public init(patterns: [String], excludedPaths: Set<String> = []) {
        self.patterns = patterns
        self.excludedPaths = excludedPaths
    }

    /// Whether `name` (one path component) or the relative `path` is ignored.
    func ignores(name: String, path: String) -> Bool {
        if excludedPaths.contains(path) { return true }
        return patterns.contains { fnmatch($0, name, 0) == 0 }
    }
}

/// Watches a directory tree with inotify and reports settled file changes.
///
/// inotify only says *which* paths may have changed; the watcher marks them dirty and, once a
/// path has been quiet for the settle interval, compares the file on disk with what it last
/// reported. So a burst of writes is one `modified`, a create-then-delete is nothing, and a
/// rename (same inode gone from one path, present at another) is one `moved`. After a queue
/// overflow the whole tree is compared the same way.
///
/// All state is confined to the thread that calls `run()`; `stop()` is the only cross-thread call.
final class TreeWatcher: @unchecked Sendable {
    // Safety: every mutable field below is touched only from the thread running `run()`.
    private let root: String
    private let rules: IgnoreRules
    private let settleNanoseconds: UInt64
    private let loop: InotifyLoop
    private let deliver: @Sendable ([FileChange], ScanReason) -> Void
    private let report: @Sendable (String) -> Void
    private var snapshot: [String: FileFingerprint]
    private var watches: [Int32: String] = [:]
    private var dirty: [String: UInt64] = [:]
    /// While a batch of events is handled: the instant its paths settle (see `handle`).
    private var batchDeadline: UInt64?
    private var needsRescan = false

    private static let directoryMask = UInt32(
        IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
            | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

    /// - Parameters:
    ///   - snapshot: what was last reported (from the persisted index).
    ///   - deliver: called on the watcher thread with each batch of settled changes.
    ///   - report: called with problems worth logging (a directory that cannot be watched).
    init(
        root: URL, rules: IgnoreRules, settle: Duration, snapshot: [String: FileFingerprint],
        deliver: @escaping @Sendable ([FileChange], ScanReason) -> Void, report: @escaping @Sendable (String) -> Void
    ) throws(WatchError) {
        self.root = root.path.hasSuffix("/") && root.path.count > 1 ? String(root.path.dropLast()) : root.path
        self.rules = rules
        let components = settle.components
        self.settleNanoseconds = UInt64(max(0, components.seconds)) * 1_000_000_000 + UInt64(max(0, components.attoseconds / 1_000_000_000))
        self.snapshot = snapshot
        self.deliver = deliver
        self.report = report
        self.loop = try InotifyLoop()
    }

    func stop() { loop.stop() }

    /// Runs until `stop()`: a start-up comparison, then live events.
    func run() {
        rescan(reason: .startup)
        while true {
            let timeout = nextTimeoutMilliseconds()
            switch loop.wait(timeoutMilliseconds: timeout) {
            case .stopped: return
            case .timeout: break
            case .events(let events): handle(events)
            }
            if needsRescan {
                needsRescan = false
                rescan(reason: .overflow)
            }
            flushSettled()
        }
    }

    // MARK: Live events

    private func handle(_ events: [InotifyEvent]) {
        // Every path this batch touches settles at the same instant, so the two halves of a move
        // (the old paths forgotten, the new tree walked) are compared together even when walking
        // the new tree takes longer than the settle time on a busy machine.
        batchDeadline = DispatchTime.now().uptimeNanoseconds + settleNanoseconds
        defer { batchDeadline = nil }
        for event in events {
            if event.has(IN_Q_OVERFLOW) {
                needsRescan = true
                continue
            }
            guard let directory = watches[event.watch] else { continue }
            if event.has(IN_IGNORED) {
                watches[event.watch] = nil
                continue
            }
            if event.has(IN_DELETE_SELF) || event.has(IN_MOVE_SELF) {
                if directory.isEmpty { needsRescan = true }  // the root itself went away
                continue
            }
            guard !event.name.isEmpty else { continue }
            let path = directory.isEmpty ? event.name : directory + "/" + event.name
            if rules.ignores(name: event.name, path: path) { continue }
            if event.isDirectory {
                if event.has(IN_CREATE) || event.has(IN_MOVED_TO) {
                    watchTree(path, markFilesDirty: true)
                } else if event.has(IN_DELETE) || event.has(IN_MOVED_FROM) {
                    forgetTree(path)
                }
            } else {
                markDirty(path)
            }
        }
    }

    private func markDirty(_ path: String) {
        dirty[path] = batchDeadline ?? DispatchTime.now().uptimeNanoseconds + settleNanoseconds
    }

    private func nextTimeoutMilliseconds() -> Int? {
        guard let earliest = dirty.values.min() else { return nil }
        let now = DispatchTime.now().uptimeNanoseconds
        return earliest <= now ? 0 : Int((earliest - now + 999_999) / 1_000_000)
    }

    private func flushSettled() {
        let now = DispatchTime.now().uptimeNanoseconds
        let settled = dirty.filter { $0.value <= now }.map(\.key)
        guard !settled.isEmpty else { return }
        for path in settled { dirty[path] = nil }
        let changes = reconcile(paths: settled)
        if !changes.isEmpty { deliver(changes, .live) }
    }

    // MARK: Directory bookkeeping

    /// Watches `path` and every directory below it; with `markFilesDirty`, files found are
    /// compared at the next flush (they may have appeared before the watch existed).
    private func watchTree(_ path: String, markFilesDirty: Bool) {
        var ignored: [String: FileFingerprint] = [:]
        watchTree(path, markFilesDirty: markFilesDirty, found: &ignored)
    }

    /// `watchTree`, also collecting the fingerprint of every file found.
    private func watchTree(_ path: String, markFilesDirty: Bool, found: inout [String: FileFingerprint]) {
        let absolute = path.isEmpty ? root : root + "/" + path
        do {
            let wd = try loop.addWatch(absolute, mask: Self.directoryMask)
            watches[wd] = path
        } catch {
            // ENOENT: it vanished already; anything else is worth a log line, not a crash.
            if error.code != ENOENT && error.code != ENOTDIR { report(error.description) }
            return
        }
        guard let directory = opendir(absolute) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let child = path.isEmpty ? name : path + "/" + name
            if rules.ignores(name: name, path: child) { continue }
            var info = stat()
            guard lstat(absolute + "/" + name, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                watchTree(child, markFilesDirty: markFilesDirty, found: &found)
            } else {
                if markFilesDirty { markDirty(child) }
                found[child] = Self.fingerprint(info)
            }
        }
    }

    /// A directory left (deleted or moved away): its files are compared at the next flush and
    /// its watches dropped (a move back in re-adds them).
    private func forgetTree(_ path: String) {
        let prefix = path + "/"
        for file in snapshot.keys where file.hasPrefix(prefix) { markDirty(file) }
        for (wd, directory) in watches where directory == path || directory.hasPrefix(prefix) {
            loop.removeWatch(wd)
            watches[wd] = nil
        }
    }

    // MARK: Comparison

    /// Compares the whole tree with the snapshot (start-up and overflow).
    private func rescan(reason: ScanReason) {
        var current: [String: FileFingerprint] = [:]
        watches.removeAll()
        dirty.removeAll()
        watchTree("", markFilesDirty: false, found: &current)
        let paths = Set(snapshot.keys).union(current.keys)
        let changes = reconcile(paths: Array(paths), known: current)
        if !changes.isEmpty || reason != .live { deliver(changes, reason) }
    }

    /// Turns "these paths may have changed" into settled changes and updates the snapshot.
    private func reconcile(paths: [String], known: [String: FileFingerprint]? = nil) -> [FileChange] {
        var created: [FileChange] = []
        var deleted: [FileChange] = []
        var modified: [FileChange] = []
        for path in paths.sorted() {
            let now: FileFingerprint? = known.map { $0[path] } ?? statFile(path)
            let before = snapshot[path]
            switch (before, now) {
            case (nil, nil):
                continue
            case (nil, let now?):
                created.append(FileChange(kind: .created, path: path, fingerprint: now))
            case (let before?, nil):
                deleted.append(FileChange(kind: .deleted, path: path, previous: before))
            case (let before?, let now?):
                if before != now { modified.append(FileChange(kind: .modified, path: path, fingerprint: now, previous: before)) }
            }
        }
        // A file gone from one path and an identical one (same inode, size and mtime, which a
        // rename preserves) at another: a rename. Matching the inode alone would mistake a new
        // file that reuses a deleted file's inode for a move.
        var deletedByFingerprint: [FileFingerprint: Int] = [:]
        for (index, change) in deleted.enumerated() {
            if let fingerprint = change.previous { deletedByFingerprint[fingerprint] = index }
        }
        var moved: [FileChange] = []
        var pairedDeletions = Set<Int>()
        created.removeAll { change in
            guard let fingerprint = change.fingerprint, let index = deletedByFingerprint[fingerprint],
                !pairedDeletions.contains(index)
            else { return false }
            pairedDeletions.insert(index)
            moved.append(
                FileChange(
                    kind: .moved, path: change.path, previousPath: deleted[index].path, fingerprint: fingerprint,
                    previous: deleted[index].previous))
            return true
        }
        deleted = deleted.enumerated().filter { !pairedDeletions.contains($0.offset) }.map(\.element)

        let changes = deleted + moved + created + modified
        for change in changes {
            switch change.kind {
            case .deleted: snapshot[change.path] = nil
            case .moved:
                snapshot[change.previousPath!] = nil
                snapshot[change.path] = change.fingerprint
            case .created, .modified: snapshot[change.path] = change.fingerprint
            }
        }
        return changes
    }

    /// The file at `path` now; `nil` if it is gone or is a directory (directories are structure, not content).
    private func statFile(_ path: String) -> FileFingerprint? {
        var info = stat()
        guard lstat(root + "/" + path, &info) == 0 else { return nil }
        if info.st_mode & S_IFMT == S_IFDIR {
            watchTree(path, markFilesDirty: true)  // a file was replaced by a directory
            return nil
        }
        return Self.fingerprint(info)
    }

    static func fingerprint(_ info: stat) -> FileFingerprint {
        FileFingerprint(
            size: Int64(info.st_size),
            modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
            inode: UInt64(info.st_ino))
    }
}
