import Foundation
import Glibc
import HearthCore
import Logging
import ServiceLifecycle

/// Turns messages arriving in a Maildir into `mail.received` events (or `mail.malformed`).
///
/// Watches `new/` and `cur/` with inotify (a delivery is a rename from `tmp/`, an MUA marking a
/// message read is a rename from `new/` to `cur/`). A message's key is its Maildir unique name
/// (the file name up to the `:2,` flags), so the same message is journaled once however often it
/// moves. Hearth never moves, edits or deletes mail files. At start and after a queue overflow
/// both folders are listed and every message not yet journaled is read.
public struct MaildirWatcherService: Service {
    private let maildir: URL
    private let maxBodyBytes: Int
    private let journal: any EventJournal
    private let logger: Logger
    private let reportStartup: StartupReporter
    private let onJournaled: @Sendable (Int) -> Void

    public init(
        maildir: URL, maxBodyBytes: Int, journal: any EventJournal, logger: Logger,
        reportStartup: @escaping StartupReporter = { _, _ in }, onJournaled: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.maildir = maildir
        self.maxBodyBytes = maxBodyBytes
        self.journal = journal
        self.logger = logger
        self.reportStartup = reportStartup
        self.onJournaled = onJournaled
    }

    enum Signal: Sendable {
        case scanAll(ScanReason)
        case files([String])
    }

    public func run() async throws {
        for folder in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(at: maildir.appending(path: folder), withIntermediateDirectories: true)
        }
        let loop = try InotifyLoop()
        var folders: [Int32: String] = [:]
        for folder in ["new", "cur"] {
            let wd = try loop.addWatch(
                maildir.appending(path: folder).path, mask: UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR))
            folders[wd] = folder
        }
        let (signals, continuation) = AsyncStream.makeStream(of: Signal.self)
        continuation.yield(.scanAll(.startup))
        let watchedFolders = folders
        let thread = Thread {
            Self.readLoop(loop, folders: watchedFolders, continuation: continuation)
        }
        thread.name = "hearth-maildir"
        thread.start()
        logger.info("watching maildir \(maildir.path)")

        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await signal in signals {
                    await handle(signal)
                }
            } onGracefulShutdown: {
                loop.stop()
            }
        } onCancel: {
            loop.stop()
        }
    }

    private static func readLoop(_ loop: InotifyLoop, folders: [Int32: String], continuation: AsyncStream<Signal>.Continuation) {
        defer { continuation.finish() }
        while true {
            switch loop.wait(timeoutMilliseconds: nil) {
            case .stopped: return
            case .timeout: continue
            case .events(let events):
                if events.contains(where: { $0.has(IN_Q_OVERFLOW) }) {
                    continuation.yield(.scanAll(.overflow))
                    continue
                }
                let files = events.compactMap { event -> String? in
                    guard let folder = folders[event.watch], !event.name.isEmpty, !event.name.hasPrefix("."),
                        !event.isDirectory
                    else { return nil }
                    return "\(folder)/\(event.name)"
                }
                if !files.isEmpty { continuation.yield(.files(files)) }
            }
        }
    }

    private func handle(_ signal: Signal) async {
        switch signal {
        case .scanAll(let reason):
            var files: [String] = []
            for folder in ["new", "cur"] {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: maildir.appending(path: folder).path)) ?? []
                files += names.filter { !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
            }
            let journaled = await ingest(files)
            if reason == .startup { await reportStartup("maildir", ["messagesWhileDown": .number(Double(journaled))]) }
            if reason == .overflow { logger.warning("maildir inotify queue overflowed; rescanned, \(journaled) new messages") }
        case .files(let files):
            _ = await ingest(files)
        }
    }

    /// Journals the messages among `files` not journaled yet; returns how many were new.
    private func ingest(_ files: [String]) async -> Int {
        var byKey: [String: String] = [:]
        for file in files { byKey[Self.key(for: file)] = file }
        let added = await retryUntilDurable("journal mail", logger: logger) {
            let known = try await journal.existingKeys(Array(byKey.keys))
            var events: [NewEvent] = []
            for (key, file) in byKey.sorted(by: { $0.value < $1.value }) where !known.contains(key) {
                if let event = readMessage(file, key: key) { events.append(event) }
            }
            // Append in bounded batches so a large first scan does not hold one huge transaction.
            var added = 0
            for start in stride(from: 0, to: events.count, by: 200) {
                let outcomes = try await journal.append(Array(events[start..<min(start + 200, events.count)]))
                added += outcomes.filter { !$0.duplicate }.count
            }
            return added
        }
        if let added, added > 0 { onJournaled(added) }
        return added ?? 0
    }

    /// The Maildir unique name: the file name without its `:2,FLAGS` info part.
    static func key(for file: String) -> String {
        let name = file.split(separator: "/").last.map(String.init) ?? file
        let unique = name.split(separator: ":", maxSplits: 1).first.map(String.init) ?? name
        return "maildir:\(EventKeys.compact(unique))"
    }

    /// Reads and parses one message; `nil` if it vanished (it moved, and the move is its own event).
    private func readMessage(_ file: String, key: String) -> NewEvent? {
        let url = maildir.appending(path: file)
        let data: Data
        var info = stat()
        guard lstat(url.path, &info) == 0 else { return nil }
        let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
        guard info.st_mode & S_IFMT == S_IFREG else {
            return malformed(file: file, key: key, size: Int64(info.st_size), modified: modified, reason: "not a regular file")
        }
        do {
            // Messages over 32 MiB are read in part: headers and text come first in practice.
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            data = try handle.read(upToCount: 32 << 20) ?? Data()
        } catch {
            if (error as NSError).code == NSFileReadNoSuchFileError || (error as NSError).code == NSFileNoSuchFileError { return nil }
            return malformed(
                file: file, key: key, size: Int64(info.st_size), modified: modified, reason: "unreadable: \(error.localizedDescription)")
        }
        do {
            let message = try MailMessage.parse(data, maxBodyBytes: maxBodyBytes)
            return message.event(file: file, key: key, modified: modified)
        } catch {
            logger.notice("malformed mail \(file): \(error.reason)")
            return malformed(file: file, key: key, size: Int64(data.count), modified: modified, reason: error.reason)
        }
    }

    private func malformed(file: String, key: String, size: Int64, modified: Date, reason: String) -> NewEvent {
        NewEvent(
            source: "maildir", kind: "mail.malformed", key: key,
            payload: ["file": .string(file), "malformed": true, "error": .string(reason), "size": .number(Double(size))],
            occurredAt: modified, provenance: .untrusted)
    }
}

extension MailMessage {
    /// The journal event for this message, as the Maildir watcher records it (and the attention
    /// benchmark replays it): who, to whom, subject, body, the attention headers.
    public func event(file: String, key: String, modified: Date) -> NewEvent {
        var payload: [String: JSONValue] = [
            "file": .string(file),
            "body": .string(body),
            "bodyTruncated": .bool(bodyTruncated),
            "malformed": false,
        ]
        payload["from"] = from.map(JSONValue.string)
        payload["fromAddress"] = fromAddress.map(JSONValue.string)
        payload["to"] = to.map(JSONValue.string)
        payload["cc"] = cc.map(JSONValue.string)
        payload["subject"] = subject.map(JSONValue.string)
        payload["date"] = date.map { .string(Timestamp.format($0)) } ?? dateText.map(JSONValue.string)
        payload["messageId"] = messageID.map(JSONValue.string)
        if !attachments.isEmpty { payload["attachments"] = .array(attachments.map(JSONValue.string)) }
        if !warnings.isEmpty { payload["warnings"] = .array(warnings.map(JSONValue.string)) }
        if !attentionHeaders.isEmpty { payload["headers"] = .object(attentionHeaders.mapValues(JSONValue.string)) }
        return NewEvent(
            source: "maildir", kind: "mail.received", key: key, payload: .object(payload), occurredAt: date ?? modified,
            provenance: .untrusted)
    }
}
