import Foundation
import GRDB
import HearthCore

/// Source positions in SQLite, written in the same transaction as the events they produced.
public struct SourceStateTable: SourceStateStore {
    let database: HearthDatabase

    public init(database: HearthDatabase) {
        self.database = database
    }

    public func sourceState(_ name: String) async throws -> String? {
        try await database.read { db in try String.fetchOne(db, sql: "SELECT value FROM source_state WHERE name = ?", arguments: [name]) }
    }

    public func record(_ events: [NewEvent], state: [String: String]) async throws -> [AppendOutcome] {
        for event in events { try event.validate() }
        let receivedAt = Date()
        return try await database.write { db in
            let outcomes = try JournalStore.insert(events, receivedAt: receivedAt, in: db)
            for (name, value) in state {
                try db.execute(sql: "INSERT OR REPLACE INTO source_state (name, value) VALUES (?, ?)", arguments: [name, value])
            }
            return outcomes
        }
    }
}
