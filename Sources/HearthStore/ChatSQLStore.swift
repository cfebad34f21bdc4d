import Foundation
import GRDB
import HearthCore

/// Chat sessions in SQLite.
public struct ChatSQLStore: ChatSessionStore {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func createSession(title: String, at date: Date) async throws -> ChatSession {
        try await database.write { db in
            var id = ""
            repeat {
                id = "s" + String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16).prefix(7)
            } while try String.fetchOne(db, sql: "SELECT id FROM chat_session WHERE id = ?", arguments: [id]) != nil
            try db.execute(
                sql: "INSERT INTO chat_session (id, title, createdAt, updatedAt) VALUES (?, ?, ?, ?)",
                arguments: [id, String(title.prefix(80)), date.millisecondsSince1970, date.millisecondsSince1970])
            return ChatSession(id: id, title: String(title.prefix(80)), createdAt: date, updatedAt: date)
        }
    }

    public func session(_ id: String) async throws -> ChatSession? {
        try await database.read { db in try Self.sessions(where: "WHERE s.id = ?", arguments: [id], limit: 1, in: db).first }
    }

    public func sessions(limit: Int) async throws -> [ChatSession] {
        try await database.read { db in try Self.sessions(where: "", arguments: [], limit: limit, in: db) }
    }

    static func sessions(where clause: String, arguments: [any DatabaseValueConvertible], limit: Int, in db: Database) throws
        -> [ChatSession]
    {
        try Row.fetchAll(
            db,
            sql: """
                SELECT s.*, (SELECT COUNT(*) FROM memory_record r WHERE r.source = 'chat' AND r.sessionId = s.id) AS turns
                FROM chat_session s \(clause) ORDER BY s.updatedAt DESC LIMIT ?
                """, arguments: StatementArguments(arguments + [limit])
        ).map { row in
            ChatSession(
                id: row["id"], title: row["title"], createdAt: Date(millisecondsSince1970: row["createdAt"]),
                updatedAt: Date(millisecondsSince1970: row["updatedAt"]), turns: row["turns"])
        }
    }

    public func touch(_ id: String, at date: Date) async throws {
        try await database.write { db in
            try db.execute(sql: "UPDATE chat_session SET updatedAt = ? WHERE id = ?", arguments: [date.millisecondsSince1970, id])
        }
    }

    public func link(run: Int64, session: String) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO chat_run (runId, sessionId, toldState) VALUES (?, ?, NULL)", arguments: [run, session])
        }
    }

    public func takeRunNews(session: String) async throws -> [ChatRunNews] {
        try await database.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.id, r.title, r.state FROM chat_run c JOIN run r ON r.id = c.runId
                    WHERE c.sessionId = ? AND r.state IN ('succeeded', 'failed', 'cancelled', 'needsReview', 'awaitingApproval')
                      AND (c.toldState IS NULL OR c.toldState != r.state)
                    ORDER BY r.id
                    """, arguments: [session])
            var news: [ChatRunNews] = []
            for row in rows {
                let state: String = row["state"]
                guard let runState = RunState(rawValue: state) else { continue }
                try db.execute(sql: "UPDATE chat_run SET toldState = ? WHERE runId = ?", arguments: [state, row["id"] as Int64])
                news.append(ChatRunNews(runID: row["id"], title: row["title"], state: runState))
            }
            return news
        }
    }

    public func summary(session: String) async throws -> ChatSummary? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM chat_summary WHERE sessionId = ?", arguments: [session]).map { row in
                ChatSummary(
                    text: row["text"], through: row["through"], turns: row["turns"],
                    writtenAt: Date(millisecondsSince1970: row["writtenAt"]))
            }
        }
    }

    @discardableResult public func setSummary(_ summary: ChatSummary, session: String) async throws -> Bool {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO chat_summary (sessionId, text, through, turns, writtenAt) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (sessionId) DO UPDATE SET text = excluded.text, through = excluded.through, turns = excluded.turns,
                        writtenAt = excluded.writtenAt
                    WHERE excluded.through > chat_summary.through
                    """,
                arguments: [session, summary.text, summary.through, summary.turns, summary.writtenAt.millisecondsSince1970])
            return db.changesCount > 0
        }
    }

    public func runs(session: String) async throws -> [ChatRunNews] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT r.id, r.title, r.state FROM chat_run c JOIN run r ON r.id = c.runId WHERE c.sessionId = ? ORDER BY r.id",
                arguments: [session]
            ).compactMap { row in
                RunState(rawValue: row["state"]).map { ChatRunNews(runID: row["id"], title: row["title"], state: $0) }
            }
        }
    }
}
