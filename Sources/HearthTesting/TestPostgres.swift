import Foundation
import HearthPostgres
import Testing

/// The suite's throwaway PostgreSQL cluster: `scripts/test` starts one on a loopback port and
/// names it in HEARTH_TEST_POSTGRES_URL; tests make a fresh database of their own on it.
public enum TestPostgres {
    public static let url = ProcessInfo.processInfo.environment["HEARTH_TEST_POSTGRES_URL"]

    public static var available: Bool { url != nil }

    /// A new, empty database on the test cluster, migrated.
    public static func freshDatabase(prefix: String = "t") async throws -> PostgresStore {
        let base = try PostgresLocation.parse(try #require(url, "HEARTH_TEST_POSTGRES_URL is not set: run the tests with scripts/test"))
        return try await PostgresStore.open(try await PostgresStore.createDatabase(on: base, prefix: prefix))
    }
}

/// The two store backends, for checks run against both.
public enum StoreBackend: String, CaseIterable, Sendable {
    case sqlite, postgres

    /// Whether the backend can be tested here: PostgreSQL needs the suite's cluster, and CI
    /// always has it (a missing cluster fails there rather than skipping).
    public var available: Bool { self == .sqlite || TestPostgres.available || Preconditions.requiredInCI }
}
