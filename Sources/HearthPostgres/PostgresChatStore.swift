import Foundation
import HearthCore
import Logging
import PostgresNIO

/// Chat sessions in the shared PostgreSQL: a conversation begun on one machine continues on
/// another (its turns are memory records, in the shared memory).
public struct PostgresChatStore: ChatSessionStore {
    let database: PostgresStore

    public init(database: PostgresStore) {
        self.database = database
    }

    var logger: Logger { database.logger }

    public func createSession(title: String, at date: Date) async throws -> ChatSession {
        let logger = logger
        let at = date.millisecondsSince1970
        let shortTitle = String(title.prefix(80))
        while true {
            let id = "s" + String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16).prefix(7)
            let created = try await database.transaction { connection in
                try await connection.rows(
                    """
                    INSERT INTO chat_session (id, title, createdAt, updatedAt) VALUES (\(id), \(shortTitle), \(at), \(at))
                    ON CONFLICT (id) DO NOTHING RETURNING id
                    """, as: (String).self, logger: logger)
            }
            if !created.isEmpty { return ChatSession(id: id, title: shortTitle, createdAt: date, updatedAt: date) }
        }
    }

    public func session(_ id: String) async throws -> ChatSession? {
        try await sessions(id: id, limit: 1).first
    }

    public func sessions(limit: Int) async throws -> [ChatSession] {
        try await sessions(id: nil, limit: limit)
    }

    func sessions(id: String?, limit: Int) async throws -> [ChatSession] {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                """
                SELECT s.id, s.title, s.createdAt, s.updatedAt,
                    (SELECT COUNT(*) FROM memory_record r WHERE r.source = 'chat' AND r.sessionId = s.id)
                FROM chat_session s WHERE (\(id)::TEXT IS NULL OR s.id = \(id)) ORDER BY s.updatedAt DESC LIMIT \(limit)
                """, as: (String, String, Int64, Int64, Int).self, logger: logger
            ).map { id, title, created, updated, turns in
                ChatSession(
                    id: id, title: title, createdAt: Date(millisecondsSince1970: created), updatedAt: Date(millisecondsSince1970: updated),
                    turns: turns)
            }
        }
    }

    public func touch(_ id: String, at date: Date) async throws {
        let at = date.millisecondsSince1970
        try await database.client.query("UPDATE chat_session SET updatedAt = \(at) WHERE id = \(id)", logger: logger)
    }

    public func link(run: Int64, session: String) async throws {
        try await database.client.query(
            "INSERT INTO chat_run (runId, sessionId, toldState) VALUES (\(run), \(session), NULL) ON CONFLICT DO NOTHING", logger: logger)
    }

    public func takeRunNews(session: String) async throws -> [ChatRunNews] {
        let logger = logger
        return try await database.transaction { connection in
            // Locked: two machines in one session are each told of a run's new state once between them.
            let rows = try await connection.rows(
                """
                SELECT r.id, r.title, r.state FROM chat_run c JOIN run r ON r.id = c.runId
                WHERE c.sessionId = \(session) AND r.state IN ('succeeded', 'failed', 'cancelled', 'needsReview', 'awaitingApproval')
                  AND (c.toldState IS NULL OR c.toldState <> r.state)
                ORDER BY r.id FOR UPDATE OF c
                """, as: (Int64, String, String).self, logger: logger)
            var news: [ChatRunNews] = []
            for (id, title, state) in rows {
                guard let runState = RunState(rawValue: state) else { continue }
                try await connection.query("UPDATE chat_run SET toldState = \(state) WHERE runId = \(id)", logger: logger)
                news.append(ChatRunNews(runID: id, title: title, state: runState))
            }
            return news
        }
    }

    public func summary(session: String) async throws -> ChatSummary? {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                "SELECT text, through, turns, writtenAt FROM chat_summary WHERE sessionId = \(session)",
                as: (String, Int64, Int, Int64).self, logger: logger
            ).first.map { text, through, turns, written in
                ChatSummary(text: text, through: through, turns: turns, writtenAt: Date(millisecondsSince1970: written))
            }
        }
    }

    @discardableResult public func setSummary(_ summary: ChatSummary, session: String) async throws -> Bool {
        let logger = logger
        let (text, through, turns, written) = (summary.text, summary.through, summary.turns, summary.writtenAt.millisecondsSince1970)
        return try await database.transaction { connection in
            try await !connection.rows(
                """
                INSERT INTO chat_summary (sessionId, text, through, turns, writtenAt) VALUES (\(session), \(text), \(through), \(turns), \(written))
                ON CONFLICT (sessionId) DO UPDATE SET text = excluded.text, through = excluded.through, turns = excluded.turns,
                    writtenAt = excluded.writtenAt
                WHERE excluded.through > chat_summary.through
                RETURNING sessionId
                """, as: (String).self, logger: logger
            ).isEmpty
        }
    }

    public func runs(session: String) async throws -> [ChatRunNews] {
        let logger = logger
        return try await database.read { connection in
            try await connection.rows(
                "SELECT r.id, r.title, r.state FROM chat_run c JOIN run r ON r.id = c.runId WHERE c.sessionId = \(session) ORDER BY r.id",
                as: (Int64, String, String).self, logger: logger
            ).compactMap { id, title, state in RunState(rawValue: state).map { ChatRunNews(runID: id, title: title, state: $0) } }
        }
    }
}
