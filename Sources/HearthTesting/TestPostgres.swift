import Foundation
import HearthPostgres
import Testing

/// The suite's throwaway PostgreSQL cluster: `scripts/test` starts one on a loopback port and
/// names it in HEARTH_TEST_POSTGRES_URL; tests make a fresh database of their own on it.
public enum TestPostgres {
    public static let url = ProcessInfo.processInfo.environment["HEARTH_TEST_POSTGRES_URL"]

    public static var available: Bool { url != nil }

    /// How long a test waits to connect: the whole suite starts at once on two cores, and the
    /// product's ten seconds are not always enough for the first answer then.
    public static let connectTimeout: Duration = .seconds(120)

    /// A new, empty database on the test cluster, migrated.
    public static func freshDatabase(prefix: String = "t") async throws -> PostgresStore {
        try await open(try await freshLocation(prefix: prefix))
    }

    /// Where a new, migrated database on the test cluster is (for a child process's config).
    /// Each is a copy of one template migrated once per test process, so dozens of tests starting
    /// together do not each run every migration.
    public static func freshLocation(prefix: String = "t") async throws -> PostgresLocation {
        let base = try PostgresLocation.parse(try #require(url, "HEARTH_TEST_POSTGRES_URL is not set: run the tests with scripts/test"))
        let template = try await Template.shared.name(on: base)
        return try await PostgresStore.createDatabase(on: base, prefix: prefix, template: template, timeout: connectTimeout)
    }

    /// Opens a database of the test cluster (another daemon's view of one).
    public static func open(_ location: PostgresLocation) async throws -> PostgresStore {
        try await PostgresStore.open(location, timeout: connectTimeout)
    }

    /// The migrated template, made once by the first test that asks.
    actor Template {
        static let shared = Template()
        var made: Task<String, any Error>?

        func name(on base: PostgresLocation) async throws -> String {
            if let made { return try await made.value }
            let task = Task {
                let location = try await PostgresStore.createDatabase(on: base, prefix: "template", timeout: TestPostgres.connectTimeout)
                // Opening migrates; closed again, since a template being copied must have no connections.
                let store = try await PostgresStore.open(location, timeout: TestPostgres.connectTimeout)
                store.close()
                try await Task.sleep(for: .milliseconds(200))
                return location.database
            }
            made = task
            return try await task.value
        }
    }
}

/// The two store backends, for checks run against both.
public enum StoreBackend: String, CaseIterable, Sendable {
    case sqlite, postgres

    /// Whether the backend can be tested here: PostgreSQL needs the suite's cluster, and CI
    /// always has it (a missing cluster fails there rather than skipping).
    public var available: Bool { self == .sqlite || TestPostgres.available || Preconditions.requiredInCI }
}
