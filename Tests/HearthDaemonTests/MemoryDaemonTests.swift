import Foundation
import HearthBench
import HearthCore
import HearthStore
import HearthTesting
import Testing

@Suite("The daemon keeps memory indexed", .timeLimit(.minutes(1)))
struct MemoryDaemonTests {
    @Test("records written while it was down are embedded at start, and hearth status says retrieval is hybrid")
    func embedsAtStart() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.workspace, withIntermediateDirectories: true)
        let server = ScriptedModelServer { body in
            body["input"] != nil ? .embeddings(dimensions: 16) : .chat("ok")
        }
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.prepareDaemon(
            extraConfig:
                "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\nembedding_model = \"scripted-embed\"\n"
        )
        do {
            let database = try HearthDatabase.open(at: sandbox.data.appending(path: "hearth.sqlite"))
            _ = try await MemorySQLStore(database: database).insert([
                MemoryRecord(
                    kind: .note, text: "Ann prefers green tea in the afternoon", source: "cli", provenance: .trusted, occurredAt: Date())
            ])
        }
        let daemon = try await sandbox.startDaemon()
        var retrieval = ""
        var vectors = 0
        for _ in 0..<100 {
            retrieval = try await sandbox.status()["live"]?["memory"]?["retrieval"]?.stringValue ?? ""
            let stats = try JSONValue(parsing: try await sandbox.hearth(["memory", "stats", "--json"]).stdout)
            vectors = stats["vectors"]?.intValue ?? 0
            if retrieval.hasPrefix("hybrid") && vectors > 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(retrieval == "hybrid (vectors from scripted-embed + full text)")
        #expect(vectors >= 1)
        #expect(server.requests.contains { $0.path == "/v1/embeddings" })
        let human = try await sandbox.hearth(["status"])
        #expect(human.stdout.contains("memory     hybrid"))
        #expect(await daemon.stop() == 0)
    }
}
