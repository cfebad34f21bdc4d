import Foundation
import GRDB
import Glibc

/// The SQLite database behind Hearth: WAL, `synchronous = FULL`, migrated on open.
///
/// ## Durability
/// In WAL mode `synchronous = NORMAL` survives a process crash but can lose the last
/// transactions on power loss, because the WAL is not synced at each commit. Hearth acknowledges
/// an event only once it is durable, so it uses `FULL`: each commit syncs the WAL. Batches
/// amortise the sync (one per transaction); `hearth bench spine` measures the cost.
///
/// ## Corruption
/// A file that is not a database, or fails `PRAGMA quick_check`, is refused with
/// `StoreError.corrupt`. Hearth never repairs, truncates or recreates such a file.
public final class HearthDatabase: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (creating if needed) and migrates the database at `url`.
    ///
    /// - Parameters:
    ///   - checkIntegrity: run `PRAGMA quick_check` first (the daemon does, at start).
    /// - Throws: `StoreError` saying what is wrong with the file and what to do.
    public static func open(at url: URL, checkIntegrity: Bool = false) throws(StoreError) -> HearthDatabase {
        let path = url.path
        let existing = try refuseNonDatabaseFile(at: path)
        // Check before the pool opens: opening in WAL mode may write (GRDB primes the WAL), and a
        // corrupt file must not be written to at all.
        if checkIntegrity && existing { try readOnlyQuickCheck(at: path) }
        makePrivate(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "hearth"
        configuration.maximumReaderCount = 4
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB picks NORMAL for WAL after connection set-up; the writer is one long-lived
            // connection, so setting FULL on it here holds for every write.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        } catch {
            throw StoreError(error, path: path)
        }
        let database = HearthDatabase(path: path, pool: pool)
        do {
            let superseded = try pool.read { db in try Migrations.migrator.hasBeenSuperseded(db) }
            if superseded { throw StoreError.newerSchema(path: path) }
            try Migrations.migrator.migrate(pool)
        } catch {
            throw StoreError(error, path: path)
        }
        return database
    }

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    /// `PRAGMA quick_check` over a read-only connection: structural corruption, in time linear
    /// in the file size, without writing a byte.
    private static func readOnlyQuickCheck(at path: String) throws(StoreError) {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        let result: [String]
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            result = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            try queue.close()
        } catch {
            throw StoreError(error, path: path)
        }
        guard result == ["ok"] else {
            throw .corrupt(path: path, detail: result.prefix(3).joined(separator: "; "))
        }
    }

    /// `PRAGMA integrity_check`: the full check, including index contents.
    public func integrityCheck() throws(StoreError) -> [String] {
        do {
            return try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        } catch {
            throw StoreError(error, path: path)
        }
    }

    /// Copies the WAL into the main file (used before measuring or copying the file).
    public func checkpoint() throws(StoreError) {
        do {
            _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        } catch {
            throw StoreError(error, path: path)
        }
    }

    /// Frees SQLite's caches and idle reader connections (after a start-up burst).
    ///
    /// GRDB's `releaseMemory()` blocks until in-flight reads finish, and those reads need a
    /// thread of the shared pool that Swift concurrency also runs on. Blocking one of its
    /// threads here (two on a 2-core machine) while another async read was in flight
    /// deadlocked the daemon's start, so the blocking call runs on a thread of its own.
    public func releaseMemory() async {
        let pool = self.pool
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                pool.releaseMemory()
                continuation.resume()
            }
        }
    }

    // The access helpers turn SQLite errors into `StoreError`s and let the domain errors a
    // transaction throws on purpose (`LedgerError`, `ScheduleError`, ...) through unchanged.

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as DatabaseError {
            throw StoreError(error, path: path)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as DatabaseError {
            throw StoreError(error, path: path)
        }
    }

    func writeSync<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.write(body)
        } catch let error as DatabaseError {
            throw StoreError(error, path: path)
        }
    }

    func readSync<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch let error as DatabaseError {
            throw StoreError(error, path: path)
        }
    }

    /// SQLite notices some garbage only on first read; checking the header ourselves refuses it
    /// before any pragma could touch the file.
    ///
    /// - Returns: whether a non-empty database file already exists.
    /// A user's memory is nobody else's: the database is created 0600 (SQLite gives its WAL and
    /// shared-memory files the database's mode), and an existing one readable by others is tightened.
    private static func makePrivate(_ path: String) {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 { Glibc.close(descriptor) }
        for file in [path, path + "-wal", path + "-shm"] {
            guard let permissions = (try? FileManager.default.attributesOfItem(atPath: file))?[.posixPermissions] as? Int,
                permissions & 0o077 != 0
            else { continue }
            chmod(file, mode_t(permissions & 0o700))
        }
    }

    private static func refuseNonDatabaseFile(at path: String) throws(StoreError) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        guard !header.isEmpty else { return false }  // an empty file is a new database
        guard header == Data("SQLite format 3\0".utf8) else {
            throw .corrupt(path: path, detail: "the file does not start with an SQLite header")
        }
        return true
    }
}

/// What went wrong with the database, in terms a user can act on.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case corrupt(path: String, detail: String)
    case diskFull(path: String)
    case readOnly(path: String, detail: String)
    case cannotOpen(path: String, detail: String)
    case newerSchema(path: String)
    case busy(path: String)
    case failed(path: String, detail: String)

    public var description: String {
        switch self {
        case .corrupt(let path, let detail):
            "database \(path) is corrupt (\(detail)); Hearth will not touch it. Move it aside and restore a backup, or move it aside to start fresh"
        case .diskFull(let path):
            "disk full while writing \(path); nothing was recorded. Free some space and retry"
        case .readOnly(let path, let detail):
            "database \(path) is not writable (\(detail)); check the permissions of the file and its directory"
        case .cannotOpen(let path, let detail):
            "cannot open database \(path) (\(detail)); check that the data directory exists and is writable"
        case .newerSchema(let path):
            "database \(path) was written by a newer Hearth; upgrade hearth or use another --data-dir"
        case .busy(let path):
            "database \(path) stayed locked by another process for 10 s; retry, or stop whatever holds it"
        case .failed(let path, let detail):
            "database error on \(path): \(detail)"
        }
    }

    init(_ error: any Error, path: String) {
        if let storeError = error as? StoreError {
            self = storeError
            return
        }
        guard let databaseError = error as? DatabaseError else {
            self = .failed(path: path, detail: String(describing: error))
            return
        }
        let detail = databaseError.message ?? "\(databaseError.resultCode)"
        switch databaseError.resultCode {
        case .SQLITE_FULL: self = .diskFull(path: path)
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: self = .corrupt(path: path, detail: detail)
        case .SQLITE_READONLY, .SQLITE_PERM: self = .readOnly(path: path, detail: detail)
        case .SQLITE_CANTOPEN: self = .cannotOpen(path: path, detail: detail)
        case .SQLITE_BUSY, .SQLITE_LOCKED: self = .busy(path: path)
        case .SQLITE_IOERR:
            // ENOSPC surfaces as an I/O error on some paths (e.g. WAL growth).
            self = Self.diskIsFull(at: path) ? .diskFull(path: path) : .failed(path: path, detail: detail)
        default: self = .failed(path: path, detail: detail)
        }
    }

    private static func diskIsFull(at path: String) -> Bool {
        var stats = statvfs()
        let directory = (path as NSString).deletingLastPathComponent
        guard statvfs(directory, &stats) == 0 else { return false }
        return stats.f_bavail == 0
    }
}
