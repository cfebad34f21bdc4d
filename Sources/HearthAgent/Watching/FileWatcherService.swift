import Foundation
import HearthCore
import Logging
import ServiceLifecycle

/// Called by a trigger with what it found at start-up (for `hearth status`).
public typealias StartupReporter = @Sendable (_ trigger: String, _ report: JSONValue) async -> Void

/// The workspace file watcher as a service: settled changes become `file.*` events.
///
/// Each batch is journaled together with the index update that records it, in one transaction,
/// so a crash can neither drop a change nor report it twice: whatever was not journaled is still
/// a difference between the tree and the index at the next start, and is reported then.
public struct FileWatcherService: Service {
    public struct Options: Sendable {
        public var root: URL
        /// Names the index rows; one scope per watched tree.
        public var scope: String
        public var settle: Duration
        public var rules: IgnoreRules

        public init(root: URL, scope: String = "workspace", settle: Duration, rules: IgnoreRules) {
            self.root = root
            self.scope = scope
            self.settle = settle
            self.rules = rules
        }
    }

    private let options: Options
    private let store: any FileIndexStore
    private let logger: Logger
    private let reportStartup: StartupReporter
    private let onJournaled: @Sendable (Int) -> Void

    public init(
        options: Options, store: any FileIndexStore, logger: Logger, reportStartup: @escaping StartupReporter = { _, _ in },
        onJournaled: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.options = options
        self.store = store
        self.logger = logger
        self.reportStartup = reportStartup
        self.onJournaled = onJournaled
    }

    public func run() async throws {
        let snapshot = try await store.loadFileIndex(scope: options.scope)
        let (batches, continuation) = AsyncStream.makeStream(of: ([FileChange], ScanReason).self)
        let logger = self.logger
        let watcher = try TreeWatcher(
            root: options.root, rules: options.rules, settle: options.settle, snapshot: snapshot,
            deliver: { changes, reason in continuation.yield((changes, reason)) },
            report: { message in logger.warning("\(message)") })
        let thread = Thread {
            watcher.run()
            continuation.finish()
        }
        thread.name = "hearth-watcher"
        thread.start()
        logger.info("watching \(options.root.path) (\(snapshot.count) files indexed)")

        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await (changes, reason) in batches {
                    await journal(changes, reason: reason)
                }
            } onGracefulShutdown: {
                watcher.stop()
            }
        } onCancel: {
            watcher.stop()
        }
    }

    private func journal(_ changes: [FileChange], reason: ScanReason) async {
        if reason == .overflow { logger.warning("inotify queue overflowed; compared the whole tree, \(changes.count) changes") }
        // Bounded transactions: a first scan of a large tree is thousands of changes, and one
        // huge transaction would hold all their events in memory (and the write lock) at once.
        for start in stride(from: 0, to: changes.count, by: 500) {
            guard await journalChunk(changes[start..<min(start + 500, changes.count)], reason: reason) else { return }
        }
        if reason == .startup {
            await reportStartup("watcher", ["changesWhileDown": .number(Double(changes.count))])
        }
    }

    /// Journals one chunk, retrying until it is durable; `false` if the service is stopping first.
    private func journalChunk(_ changes: ArraySlice<FileChange>, reason: ScanReason) async -> Bool {
        let now = Date()
        let events = changes.map { Self.event(for: $0, reason: reason, now: now) }
        let indexChanges = changes.flatMap(Self.indexChanges(for:))
        // A failed write (disk full) is retried: the changes are not in the index yet, so even
        // if the daemon stops first they are found again at the next start.
        let outcomes = await retryUntilDurable("journal \(changes.count) file changes", logger: logger) {
            try await store.record(events, indexChanges: indexChanges, scope: options.scope)
        }
        guard let outcomes else { return false }
        onJournaled(outcomes.filter { !$0.duplicate }.count)
        return true
    }

    static func event(for change: FileChange, reason: ScanReason, now: Date) -> NewEvent {
        let fingerprint = change.fingerprint ?? change.previous!
        var payload: [String: JSONValue] = [
            "path": .string(change.path),
            "size": .number(Double(fingerprint.size)),
            "modifiedAt": .string(Timestamp.format(Self.date(fingerprint))),
        ]
        if let previousPath = change.previousPath { payload["from"] = .string(previousPath) }
        if reason != .live { payload["detectedBy"] = .string(reason.rawValue) }
        let identity = "\(change.previousPath.map { $0 + ">" } ?? "")\(change.path)"
        let key =
            "file:\(change.kind.rawValue):\(EventKeys.compact(identity)):\(fingerprint.inode):\(fingerprint.modifiedNanoseconds):\(fingerprint.size)"
        let occurredAt = change.kind == .created || change.kind == .modified ? Self.date(fingerprint) : now
        // File names and contents come from outside Hearth's control: untrusted.
        return NewEvent(
            source: "watcher", kind: "file.\(change.kind.rawValue)", key: key, payload: .object(payload),
            occurredAt: occurredAt, provenance: .untrusted)
    }

    static func indexChanges(for change: FileChange) -> [FileIndexChange] {
        switch change.kind {
        case .created, .modified: [.upsert(path: change.path, change.fingerprint!)]
        case .deleted: [.remove(path: change.path)]
        case .moved: [.remove(path: change.previousPath!), .upsert(path: change.path, change.fingerprint!)]
        }
    }

    private static func date(_ fingerprint: FileFingerprint) -> Date {
        Date(timeIntervalSince1970: Double(fingerprint.modifiedNanoseconds) / 1_000_000_000)
    }
}

/// Helpers for building idempotency keys from arbitrary text.
public enum EventKeys {
    /// `text` itself when short, else a prefix plus a 64-bit FNV-1a hash (keys are capped at 1 KiB).
    public static func compact(_ text: String, limit: Int = 200) -> String {
        guard text.utf8.count > limit else { return text }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(text.prefix(64)) + "~" + String(hash, radix: 16)
    }
}
