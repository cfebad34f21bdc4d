import Foundation
import HearthConfig
import HearthCore
import HearthDaemon
import HearthStore

/// The stores a command reads and changes: SQLite in the data directory, or the shared
/// PostgreSQL when `[store] url` is set (the same commands, the same output, either way).
typealias SharedStores = DaemonStores

extension HearthContext {
    /// Opens the configured store; `creating` makes a missing SQLite database (and data dir),
    /// otherwise a data dir never set up gives `nil`.
    func openStores(creating: Bool) async throws -> SharedStores? {
        try await DaemonStores.open(configuration, holder: fleetName) { creating ? try openForWriting() : try openForReading() }
    }
}
