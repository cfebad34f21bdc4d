import Foundation
import HearthAgent
import HearthCore
import HearthStore
import HearthTesting
import Logging
import Testing

@Suite("Maildir trigger", .timeLimit(.minutes(2)))
struct MaildirWatcherTests {
    let data: TemporaryDirectory
    let maildir: URL
    let journal: JournalStore
    let journaled = Notifications<Int>()
    let startup = Notifications<JSONValue>()

    init() throws {
        data = try TemporaryDirectory(prefix: "maildata")
        maildir = data.appending("Maildir")
        journal = JournalStore(database: try HearthDatabase.open(at: data.appending("hearth.sqlite")))
    }

    func start() async throws -> Task<Void, any Error> {
        let service = MaildirWatcherService(
            maildir: maildir, maxBodyBytes: 4096, journal: journal, logger: Logger(label: "test"),
            reportStartup: { [startup] _, report in startup.send(report) },
            onJournaled: { [journaled] count in journaled.send(count) })
        let task = Task { try await service.run() }
        _ = try await withTimeout(30, "maildir start-up") { [startup] in await startup.next()! }
        return task
    }

    /// Delivers like an MDA: write into tmp/, then rename into new/.
    func deliver(_ name: String, _ content: Data) throws {
        let temporary = maildir.appending(path: "tmp/\(name)")
        try content.write(to: temporary)
        try FileManager.default.moveItem(at: temporary, to: maildir.appending(path: "new/\(name)"))
    }

    func waitForEvents(_ count: Int) async throws -> [Event] {
        try await withTimeout(30, "\(count) mail events") { [journal, journaled] in
            while true {
                let events = try await journal.events(EventQuery())
                if events.count >= count { return events }
                _ = await journaled.next()
            }
        }
    }

    @Test("a delivered message becomes one untrusted mail.received event with its fields")
    func delivered() async throws {
        let task = try await start()
        defer { task.cancel() }
        try deliver(
            "1700000000.M1P1.host",
            Data(
                "From: Ann <ann@example.com>\r\nTo: me@example.com\r\nSubject: Lunch\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\nNoon?\r\n"
                    .utf8))
        let events = try await waitForEvents(1)
        let event = try #require(events.first)
        #expect(event.kind == "mail.received")
        #expect(event.source == "maildir")
        #expect(event.provenance == .untrusted)
        #expect(event.key == "maildir:1700000000.M1P1.host")
        #expect(event.payload["subject"] == "Lunch")
        #expect(event.payload["fromAddress"] == "ann@example.com")
        #expect(event.payload["body"] == "Noon?\r\n")
        #expect(event.payload["malformed"] == false)
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_700_000_000))
    }

    @Test("malformed mail is an event flagged malformed, and the file is kept untouched")
    func malformed() async throws {
        let task = try await start()
        defer { task.cancel() }
        let junk = Data([0x00, 0xFF, 0x13, 0x37, 0x00, 0x42])
        try deliver("junk.1", junk)
        try deliver("empty.2", Data())
        let events = try await waitForEvents(2)
        #expect(events.allSatisfy { $0.kind == "mail.malformed" && $0.payload["malformed"] == true })
        #expect(
            Set(events.compactMap { $0.payload["error"]?.stringValue }) == [
                "the header contains NUL bytes (binary data, not mail)", "the file is empty",
            ])
        #expect(try Data(contentsOf: maildir.appending(path: "new/junk.1")) == junk)
        #expect(FileManager.default.fileExists(atPath: maildir.appending(path: "new/empty.2").path))
    }

    @Test("a message moved from new/ to cur/ with flags, and a restart, do not duplicate it; mail that arrived while down is read at start")
    func noDuplicates() async throws {
        let message = Data("From: a@example.com\nSubject: once\n\nbody\n".utf8)
        let first = try await start()
        try deliver("msg.1", message)
        _ = try await waitForEvents(1)
        try FileManager.default.moveItem(at: maildir.appending(path: "new/msg.1"), to: maildir.appending(path: "cur/msg.1:2,S"))
        first.cancel()
        _ = await first.result

        try deliver("msg.2", Data("From: b@example.com\nSubject: while down\n\nbody\n".utf8))
        let second = try await start()
        defer { second.cancel() }
        let events = try await waitForEvents(2)
        #expect(events.map(\.key) == ["maildir:msg.1", "maildir:msg.2"])
        #expect(events[1].payload["subject"] == "while down")
    }
}
