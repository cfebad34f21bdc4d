import Foundation
import Glibc
import HearthCore
import Logging
import ServiceLifecycle
import Synchronization

/// Journals every new commit on any branch of the configured repositories.
///
/// The repositories' ref directories and `packed-refs` are watched with inotify (no polling);
/// a change re-reads the branch tips with `git` and journals the commits between the tips last
/// recorded and the new ones — including commits that arrived while the daemon was down, found
/// at start. Events and the new tips commit in one transaction; a commit on two branches is one
/// event. A path that is not a repository (or a corrupt one) is reported once and skipped; the
/// other repositories and sources keep running.
public struct GitWatcherService: Service {
    public struct Source: Sendable {
        public var name: String
        public var path: URL
        public init(name: String, path: URL) {
            self.name = name
            self.path = path
        }
    }

    let sources: [Source]
    let store: any SourceStateStore
    let logger: Logger
    let reportStartup: StartupReporter
    let onJournaled: @Sendable (Int) -> Void

    public init(
        sources: [Source], store: any SourceStateStore, logger: Logger, reportStartup: @escaping StartupReporter = { _, _ in },
        onJournaled: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.sources = sources
        self.store = store
        self.logger = logger
        self.reportStartup = reportStartup
        self.onJournaled = onJournaled
    }

    public func run() async throws {
        var repositories: [GitRepository] = []
        var problems: [JSONValue] = []
        for source in sources {
            do {
                repositories.append(try await GitRepository.open(source.path, name: source.name))
            } catch {
                logger.error("\(error); the other sources keep running")
                problems.append(.string("\(error)"))
            }
        }
        guard !repositories.isEmpty else {
            await reportStartup("git", ["repositories": 0, "problems": .array(problems)])
            // Returning would end the daemon's service group: stay until it stops.
            try? await gracefulShutdown()
            return
        }
        let loop: InotifyLoop
        do {
            loop = try InotifyLoop()
        } catch {
            logger.error("git: cannot watch repositories: \(error); the other sources keep running")
            try? await gracefulShutdown()
            return
        }
        let watches = WatchTable()
        for (index, repository) in repositories.enumerated() { watches.addAll(for: repository, index: index, loop: loop) }
        let (signals, continuation) = AsyncStream.makeStream(of: Int.self)
        let thread = Thread { Self.readLoop(loop, watches: watches, continuation: continuation) }
        thread.name = "hearth-git"
        thread.start()
        var caughtUp = 0
        for index in repositories.indices { caughtUp += await scan(repositories[index]) }
        await reportStartup(
            "git",
            ["repositories": .number(Double(repositories.count)), "catchUps": .number(Double(caughtUp)), "problems": .array(problems)])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await index in signals {
                    // A push writes several files: let it settle, then read once.
                    try? await Task.sleep(for: .milliseconds(200))
                    watches.addAll(for: repositories[index], index: index, loop: loop)
                    _ = await scan(repositories[index])
                }
            } onGracefulShutdown: {
                loop.stop()
            }
        } onCancel: {
            loop.stop()
        }
    }

    /// Journals what is new in `repository`; returns how many commits.
    public func scan(_ repository: GitRepository) async -> Int {
        let stateName = "git:\(repository.name):tips"
        do {
            let tips = try await repository.tips()
            let stored = try await store.sourceState(stateName)
            guard let stored, let old = try? JSONValue(parsing: Data(stored.utf8)).objectValue?.compactMapValues(\.stringValue) else {
                // First sight: the history so far is not news; from now on every commit is.
                _ = try await store.record([], state: [stateName: JSONValue.object(tips.mapValues(JSONValue.string)).jsonText])
                logger.info("git: following \(repository.name) (\(tips.count) branches)")
                return 0
            }
            guard tips != old else { return 0 }
            let commits = try await repository.commits(new: tips, old: old)
            let events = commits.map { $0.event(repository: repository.name, now: Date()) }
            let outcomes = try await store.record(events, state: [stateName: JSONValue.object(tips.mapValues(JSONValue.string)).jsonText])
            let added = outcomes.filter { !$0.duplicate }.count
            if added > 0 { onJournaled(added) }
            return added
        } catch {
            logger.error("git: \(error)")
            return 0
        }
    }

    private static func readLoop(_ loop: InotifyLoop, watches: WatchTable, continuation: AsyncStream<Int>.Continuation) {
        defer { continuation.finish() }
        loop.forEachBatch { events in
            var touched: Set<Int> = []
            for event in events {
                // Lock files come and go on every ref update; the rename that follows is what counts.
                if event.name.hasSuffix(".lock") { continue }
                if let index = watches.repository(for: event.watch) { touched.insert(index) }
            }
            for index in touched.sorted() { continuation.yield(index) }
        }
    }

    /// Watch descriptors → repository index, shared by the reading thread and the handler.
    final class WatchTable: Sendable {
        private let state = Mutex<(byWatch: [Int32: Int], paths: Set<String>)>(([:], []))

        func repository(for watch: Int32) -> Int? { state.withLock { $0.byWatch[watch] } }

        /// Watches the git dir (packed-refs, HEAD) and every directory under refs/heads and refs/remotes.
        func addAll(for repository: GitRepository, index: Int, loop: InotifyLoop) {
            var directories = [repository.gitDirectory.path, repository.gitDirectory.appending(path: "refs").path]
            for root in ["refs/heads", "refs/remotes"] {
                let base = repository.gitDirectory.appending(path: root)
                guard FileManager.default.fileExists(atPath: base.path) else { continue }
                directories.append(base.path)
                if let walker = FileManager.default.enumerator(atPath: base.path) {
                    while let next = walker.nextObject() as? String {
                        var isDirectory: ObjCBool = false
                        let path = base.appending(path: next).path
                        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                            directories.append(path)
                        }
                    }
                }
            }
            for directory in directories where !state.withLock({ $0.paths.contains(directory) }) {
                guard
                    let wd = try? loop.addWatch(directory, mask: UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ONLYDIR))
                else {
                    continue
                }
                state.withLock {
                    $0.byWatch[wd] = index
                    $0.paths.insert(directory)
                }
            }
        }
    }
}
