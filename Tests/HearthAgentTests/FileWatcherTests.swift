import Foundation
import HearthCore
import HearthStore
import HearthTesting
import Logging
import Testing

@testable import HearthAgent

/// A real watcher over a temp tree, journaling into a real database.
final class WatcherHarness: Sendable {
    let data: TemporaryDirectory
    let root: TemporaryDirectory
    let database: HearthDatabase
    let journal: JournalStore
    let journaled = Notifications<Int>()
    let startup = Notifications<JSONValue>()

    init() throws {
        data = try TemporaryDirectory(prefix: "data")
        root = try TemporaryDirectory(prefix: "tree")
        database = try HearthDatabase.open(at: data.appending("hearth.sqlite"))
        journal = JournalStore(database: database)
    }

    func start(ignore: [String] = ["*.swp"]) -> Task<Void, any Error> {
        let service = FileWatcherService(
            options: .init(root: root.url, settle: .milliseconds(60), rules: IgnoreRules(patterns: ignore)),
            store: FileIndexTable(database: database), logger: Logger(label: "test"),
            reportStartup: { [startup] _, report in startup.send(report) },
            onJournaled: { [journaled] count in journaled.send(count) })
        return Task { try await service.run() }
    }

    /// Starts the watcher and waits for its start-up comparison to be journaled.
    func startAndSettle(ignore: [String] = ["*.swp"]) async throws -> (Task<Void, any Error>, JSONValue) {
        let task = start(ignore: ignore)
        let report = try await withTimeout(30, "the start-up scan") { [startup] in await startup.next()! }
        return (task, report)
    }

    func events() async throws -> [Event] {
        try await journal.events(EventQuery(limit: 10_000))
    }

    /// Waits until an event matching `predicate` is in the journal.
    @discardableResult
    func waitFor(_ what: String, _ predicate: @escaping @Sendable (Event) -> Bool) async throws -> Event {
        try await withTimeout(30, what) { [self] in
            while true {
                if let match = try await events().first(where: predicate) { return match }
                _ = await journaled.next()
            }
        }
    }

    func write(_ path: String, _ text: String) throws {
        let url = root.appending(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
}

@Suite("Workspace file watcher", .timeLimit(.minutes(2)))
struct FileWatcherTests {
    @Test("a new file is one file.created event with its path and size")
    func created() async throws {
        let harness = try WatcherHarness()
        let (task, _) = try await harness.startAndSettle()
        defer { task.cancel() }
        try harness.write("Receipts/001.txt", "total 12.50")
        let event = try await harness.waitFor("created") { $0.kind == "file.created" }
        #expect(event.source == "watcher")
        #expect(event.payload["path"] == "Receipts/001.txt")
        #expect(event.payload["size"] == 11)
        #expect(event.provenance == .untrusted)
    }

    @Test("a burst of writes to one file settles into a single event")
    func burstCoalesced() async throws {
        let harness = try WatcherHarness()
        let (task, _) = try await harness.startAndSettle()
        defer { task.cancel() }
        let handle = try FileHandle(
            forWritingTo: {
                try harness.write("burst.log", "")
                return harness.root.appending("burst.log")
            }())
        for index in 0..<300 { try handle.write(contentsOf: Data("line \(index)\n".utf8)) }
        try handle.close()
        try harness.write("marker.txt", "m")
        try await harness.waitFor("the marker") { $0.payload["path"] == "marker.txt" }
        let burst = try await harness.events().filter { $0.payload["path"] == "burst.log" }
        #expect(burst.map(\.kind) == ["file.created"])
        #expect(burst.first?.payload["size"]?.intValue == (0..<300).map { "line \($0)\n".utf8.count }.reduce(0, +))
    }

    @Test("new directories are watched recursively, including files created before the watch existed")
    func recursive() async throws {
        let harness = try WatcherHarness()
        let (task, _) = try await harness.startAndSettle()
        defer { task.cancel() }
        try harness.write("a/b/c/deep.txt", "deep")
        try await harness.waitFor("deep file") { $0.payload["path"] == "a/b/c/deep.txt" }
        try harness.write("a/b/c/later.txt", "later")
        try await harness.waitFor("file in the new directory") { $0.payload["path"] == "a/b/c/later.txt" }
    }

    @Test("rename is one file.moved; delete is file.deleted; modify is file.modified; ignored names are skipped")
    func moveDeleteModify() async throws {
        let harness = try WatcherHarness()
        try harness.write("old.txt", "content")
        try harness.write("gone.txt", "bye")
        try harness.write("edit.txt", "v1")
        let (task, _) = try await harness.startAndSettle()
        defer { task.cancel() }
        try FileManager.default.moveItem(at: harness.root.appending("old.txt"), to: harness.root.appending("new.txt"))
        try FileManager.default.removeItem(at: harness.root.appending("gone.txt"))
        try harness.write("edit.txt", "version 2")
        try harness.write(".edit.txt.swp", "swap")
        let moved = try await harness.waitFor("move") { $0.kind == "file.moved" }
        #expect(moved.payload["from"] == "old.txt")
        #expect(moved.payload["path"] == "new.txt")
        try await harness.waitFor("delete") { $0.kind == "file.deleted" && $0.payload["path"] == "gone.txt" }
        try await harness.waitFor("modify") { $0.kind == "file.modified" && $0.payload["path"] == "edit.txt" }
        try harness.write("marker.txt", "m")
        try await harness.waitFor("marker") { $0.payload["path"] == "marker.txt" }
        let live = try await harness.events().filter { $0.payload["detectedBy"] == nil }
        #expect(!live.contains { $0.payload["path"]?.stringValue?.hasSuffix(".swp") == true })
        #expect(!live.contains { $0.kind == "file.created" && $0.payload["path"] == "new.txt" })
    }

    @Test("a moved directory moves every file in it")
    func directoryMove() async throws {
        let harness = try WatcherHarness()
        try harness.write("inbox/a.txt", "a")
        try harness.write("inbox/sub/b.txt", "b")
        let (task, _) = try await harness.startAndSettle()
        defer { task.cancel() }
        try FileManager.default.moveItem(at: harness.root.appending("inbox"), to: harness.root.appending("archive"))
        try await harness.waitFor("a moved") { $0.kind == "file.moved" && $0.payload["path"] == "archive/a.txt" }
        try await harness.waitFor("b moved") { $0.kind == "file.moved" && $0.payload["path"] == "archive/sub/b.txt" }
        // The moved directory is still watched under its new name.
        try harness.write("archive/sub/c.txt", "c")
        try await harness.waitFor("c created") { $0.kind == "file.created" && $0.payload["path"] == "archive/sub/c.txt" }
    }

    @Test("changes made while the watcher was down are found at start, once")
    func offlineChanges() async throws {
        let harness = try WatcherHarness()
        try harness.write("keep.txt", "same")
        try harness.write("change.txt", "v1")
        try harness.write("remove.txt", "x")
        let (first, firstReport) = try await harness.startAndSettle()
        #expect(firstReport["changesWhileDown"] == 3)
        first.cancel()
        _ = await first.result

        try harness.write("change.txt", "v2 longer")
        try FileManager.default.removeItem(at: harness.root.appending("remove.txt"))
        try harness.write("new.txt", "n")
        let (second, report) = try await harness.startAndSettle()
        #expect(report["changesWhileDown"] == 3)
        let offline = try await harness.events().filter { $0.payload["detectedBy"] == "startup" }.suffix(3)
        #expect(
            Set(offline.map { "\($0.kind) \($0.payload["path"]!.stringValue!)" }) == [
                "file.modified change.txt", "file.deleted remove.txt", "file.created new.txt",
            ])
        second.cancel()
        _ = await second.result

        let (third, quiet) = try await harness.startAndSettle()
        #expect(quiet["changesWhileDown"] == 0)
        third.cancel()
    }

    @Test("an inotify queue overflow is handled by comparing the whole tree")
    func overflow() async throws {
        let root = try TemporaryDirectory(prefix: "overflow")
        let gate = DispatchSemaphore(value: 0)
        let batches = Notifications<([FileChange], ScanReason)>()
        let watcher = try TreeWatcher(
            root: root.url, rules: IgnoreRules(patterns: []), settle: .milliseconds(30), snapshot: [:],
            deliver: { changes, reason in
                batches.send((changes, reason))
                if reason == .startup { gate.wait() }  // hold the thread so the kernel queue fills up
            }, report: { _ in })
        let thread = Thread { watcher.run() }
        thread.start()
        defer { watcher.stop() }
        let startup = try await withTimeout(30, "start-up") { await batches.next()! }
        #expect(startup.1 == .startup)
        // The queue holds 16384 events by default; 20,000 files overflow it while the thread is held.
        let limit =
            (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16_384
        let count = limit + 2_000
        for index in 0..<count {
            let fd = open(root.appending("f\(index)").path, O_CREAT | O_WRONLY, 0o644)
            close(fd)
        }
        gate.signal()
        let rescan = try await withTimeout(30, "the overflow rescan") { await batches.next { $0.1 == .overflow }! }
        #expect(rescan.0.count == count)
        #expect(rescan.0.allSatisfy { $0.kind == .created })
    }
}
