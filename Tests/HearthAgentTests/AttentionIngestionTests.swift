import Foundation
import HearthAgent
import HearthCore
import HearthStore
import HearthTesting
import Logging
import Testing

@Suite("Attention ingestion: every event becomes a scored item and a memory, exactly once", .timeLimit(.minutes(10)))
struct AttentionIngestionTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    func fileEvent(_ id: Int64, _ path: String, kind: String = "file.created") -> Event {
        Event(
            id: id, source: "watcher", kind: kind, key: "k\(id)", payload: ["path": .string(path), "size": 10], occurredAt: now,
            receivedAt: now,
            provenance: .untrusted)
    }

    @Test("text files are remembered with their text, binaries and oversized files by name and size only, ignored sources not at all")
    func contentPerKind() async throws {
        let workspace = try TemporaryDirectory()
        try Data("# Plan\nShip the beta on Friday.\n".utf8).write(to: workspace.appending("plan.md"))
        try Data([0x7F, 0x45, 0x4C, 0x46, 0, 0, 1, 2, 3]).write(to: workspace.appending("tool.bin"))
        try Data(String(repeating: "x", count: 5_000).utf8).write(to: workspace.appending("big.txt"))
        var settings = IngestSettings()
        settings.maxFileBytes = 4_096
        settings.modes["noisy"] = .ignore
        settings.modes["maildir"] = .metadata
        let ingestor = AttentionIngestor(
            scorer: AttentionScorer(), settings: settings,
            reader: WorkspaceContentReader(workspace: workspace.url, settings: settings, pdfPages: { _ in nil }))
        let mail = Event(
            id: 4, source: "maildir", kind: "mail.received", key: nil,
            payload: ["from": "Ann <ann@x.test>", "subject": "Lunch", "body": "Secret body text"], occurredAt: now, receivedAt: now,
            provenance: .untrusted)
        let ignored = Event(
            id: 5, source: "noisy", kind: "tick", key: nil, payload: ["n": 1], occurredAt: now, receivedAt: now, provenance: .trusted)
        let out = await ingestor.process(
            [fileEvent(1, "plan.md"), fileEvent(2, "tool.bin"), fileEvent(3, "big.txt"), mail, ignored], now: now)
        #expect(out.count == 5)
        #expect(out[0].record?.text == "New file plan.md (10 bytes)\n\n# Plan\nShip the beta on Friday.\n")
        #expect(out[0].record?.provenance == .untrusted)
        #expect(out[0].item.links == ["plan.md"])
        #expect(out[1].record?.text == "New file tool.bin (10 bytes); text not kept: binary")
        #expect(out[2].record?.text.contains("text not kept: 5000 bytes, over the 4096-byte cap") == true)
        #expect(out[3].record?.text == "Mail from Ann <ann@x.test>: Lunch")
        #expect(out[4].record == nil)
        #expect(out[4].item.decision.reasons.contains { $0.signal == "source.ignored" })
    }

    @Test("a batch's records, decisions and the cursor commit together; a replayed batch changes nothing")
    func exactlyOnce() async throws {
        let directory = try TemporaryDirectory()
        let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        let journal = JournalStore(database: database)
        let store = AttentionSQLStore(database: database)
        _ = try await journal.append(
            (0..<30).map {
                NewEvent(
                    source: "cli", kind: "note.added", key: "n\($0)", payload: ["text": .string("note \($0)")], occurredAt: now,
                    provenance: .trusted)
            })
        let service = AttentionService(
            journal: journal, store: store, ingestor: AttentionIngestor(scorer: AttentionScorer(), reader: nil),
            profile: { AttentionProfile() },
            wake: WakeSignal(), clock: ManualWallClock(now: now), logger: Logger(label: "test"), batchSize: 8)
        while try await service.ingestBatch() {}
        #expect(try await store.ingestedThrough() == 30)
        #expect(try await store.items(AttentionQuery()).count == 30)
        // The same batch again, as after a crash that did commit: nothing doubles.
        let events = try await journal.events(EventQuery(afterID: 0, limit: 8))
        let again = await AttentionIngestor(scorer: AttentionScorer(), reader: nil).process(events, now: now)
        #expect(try await store.ingest(again, through: 8).isEmpty)
        #expect(try await MemorySQLStore(database: database).counts(model: nil).records == 30)
        #expect(try await store.ingestedThrough() == 30)
    }
}
