import Foundation
import HearthAgent
import HearthCore
import HearthStore

/// How chat turns and sessions read as JSON, for `hearth chat --json` and the API.
public enum ChatView {
    public static func json(_ result: ChatEngine.Result, context: ChatContext?) -> JSONValue {
        var object: [String: JSONValue] = [
            "session": .string(result.session.id), "answer": .string(result.answer), "stored": .array(result.stored.map(JSONValue.string)),
            "answeredBy": .string(result.answeredBy), "note": result.note.map(JSONValue.string) ?? .null,
            "usage": (result.usage.flatMap { try? JSONValue(parsing: JSONEncoder().encode($0)) }) ?? .null,
        ]
        if let context { object["context"] = context.json }
        return .object(object)
    }

    public static func json(_ session: ChatSession) -> JSONValue {
        [
            "id": .string(session.id), "title": .string(session.title), "turns": .number(Double(session.turns)),
            "createdAt": .string(Timestamp.format(session.createdAt)), "updatedAt": .string(Timestamp.format(session.updatedAt)),
        ]
    }

    /// A session with its turns, oldest first.
    public static func detail(_ session: ChatSession, database: HearthDatabase) async throws -> JSONValue {
        let turns = try await MemorySQLStore(database: database).sessionRecords(source: "chat", sessionID: session.id)
        var object = json(session).objectValue ?? [:]
        object["turns"] = .array(
            turns.map {
                ["speaker": .string($0.speaker ?? "user"), "text": .string($0.text), "at": .string(Timestamp.format($0.occurredAt))]
            })
        return .object(object)
    }
}
