import ArgumentParser
import Foundation
import HearthCore
import HearthPostgres
import HearthStore
import PostgresNIO

struct FleetBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Durable journal appends/s on PostgreSQL with 1, 2 and 4 writers, beside single-node SQLite in the same run.",
        discussion: """
            Each writer appends one event per transaction (committed before the next: what an acknowledged event costs). \
            The writers are concurrent connections of this process standing in for daemons; each figure uses a fresh \
            database created on the server named by --store (its user must be allowed to create databases). The server's \
            own durability settings apply: measure against a cluster with fsync on (scripts/test-postgres start --durable).
            """)

    @Option(help: "The PostgreSQL server: postgresql://USER@HOST:PORT/DATABASE.")
    var store: String

    @Option(help: "Events appended per figure.")
    var events = 2_000

    @Flag(help: "Print JSON: {events, sqlite: {writers: events_per_s}, postgres: {writers: events_per_s}}.")
    var json = false

    func run() async throws {
        guard (100...1_000_000).contains(events) else { throw CLIError.usage("--events must be 100 to 1000000") }
        let base = try PostgresLocation.parse(store)
        var sqlite: [Int: Double] = [:]
        var postgres: [Int: Double] = [:]
        for writers in [1, 2, 4] {
            let directory = FileManager.default.temporaryDirectory.appending(path: "hearth-fleet-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let database = try HearthDatabase.open(at: directory.appending(path: "hearth.sqlite"))
            sqlite[writers] = try await Self.rate(JournalStore(database: database), writers: writers, events: events)
            if !json { print("sqlite    \(writers) writer(s): \(Int(sqlite[writers]!)) events/s") }

            let admin = try await PostgresStore.open(base)
            let name = "hearth_bench_\(UInt32.random(in: 0...UInt32.max))"
            try await admin.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            var location = base
            location.database = name
            let shared = try await PostgresStore.open(location)
            postgres[writers] = try await Self.rate(PostgresJournal(database: shared), writers: writers, events: events)
            shared.close()
            try await admin.client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"))
            admin.close()
            if !json { print("postgres  \(writers) writer(s): \(Int(postgres[writers]!)) events/s") }
        }
        if json {
            func object(_ figures: [Int: Double]) -> JSONValue {
                .object(Dictionary(uniqueKeysWithValues: figures.map { ("\($0.key)", .number($0.value.rounded())) }))
            }
            printJSON(["events": .number(Double(events)), "sqlite": object(sqlite), "postgres": object(postgres)])
        }
    }

    /// Events per second for `writers` concurrent appenders sharing `events`.
    static func rate(_ journal: any EventJournal, writers: Int, events: Int) async throws -> Double {
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in stride(from: writer, to: events, by: writers) {
                        _ = try await journal.append([
                            NewEvent(
                                source: "bench", kind: "event", key: "w\(writer)-\(index)", payload: ["n": .number(Double(index))],
                                occurredAt: Date(), provenance: .trusted)
                        ])
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(events) / (ContinuousClock.now - started).inSeconds
    }
}
