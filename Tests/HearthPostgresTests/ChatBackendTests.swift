import Foundation
import HearthCore
import HearthPostgres
import HearthStore
import HearthTesting
import Testing

extension StoreBackend {
    func makeChats() async throws -> (chats: any ChatSessionStore, close: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory(prefix: "chats")
            let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
            return (ChatSQLStore(database: database), { withExtendedLifetime(directory) {} })
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            return (PostgresChatStore(database: database), { database.close() })
        }
    }
}

@Suite("Chat sessions on both backends", .timeLimit(.minutes(2)))
struct ChatBackendTests {
    @Test(
        "sessions created, found, listed newest first; a session's summary kept only when it covers more (racing writers: the widest wins)",
        arguments: StoreBackend.allCases)
    func sessionsAndSummaries(_ backend: StoreBackend) async throws {
        try #require(backend.available, "no PostgreSQL for the tests: run them with scripts/test")
        let (chats, close) = try await backend.makeChats()
        defer { close() }
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try await chats.createSession(title: "Trip planning\nwith details", at: start)
        let second = try await chats.createSession(title: String(repeating: "t", count: 200), at: start.addingTimeInterval(60))
        #expect(second.title.count == 80)
        try await chats.touch(first.id, at: start.addingTimeInterval(120))
        #expect(try await chats.sessions(limit: 10).map(\.id) == [first.id, second.id])
        #expect(try await chats.session("nope") == nil)

        #expect(try await chats.summary(session: first.id) == nil)
        let written = Date(timeIntervalSince1970: 1_800_000_500)
        #expect(try await chats.setSummary(ChatSummary(text: "Notes one.", through: 6, turns: 6, writtenAt: written), session: first.id))
        #expect(try await !chats.setSummary(ChatSummary(text: "Older.", through: 4, turns: 4, writtenAt: written), session: first.id))
        #expect(try await !chats.setSummary(ChatSummary(text: "Same.", through: 6, turns: 6, writtenAt: written), session: first.id))
        #expect(try await chats.summary(session: first.id) == ChatSummary(text: "Notes one.", through: 6, turns: 6, writtenAt: written))
        #expect(try await chats.summary(session: second.id) == nil)

        // Eight writers race with summaries of different reach: the one covering most stays.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for reach in (7...14).shuffled() {
                group.addTask {
                    _ = try await chats.setSummary(
                        ChatSummary(text: "Notes to \(reach).", through: Int64(reach), turns: reach, writtenAt: written), session: first.id)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await chats.summary(session: first.id)?.text == "Notes to 14.")
    }
}
