import Foundation
import HearthBench
import HearthCore
import HearthStore
import HearthTesting
import Testing

@Suite("The daemon keeps memory indexed", .timeLimit(.minutes(2)))
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
        #expect(human.stdout.contains("facts      extraction off ([memory] extract_facts = false)"))
        // Extraction is off by default: the chat model is never asked.
        #expect(!server.requests.contains { $0.path == "/v1/chat/completions" })
        #expect(await daemon.stop() == 0)
    }

    @Test("[memory] extract_facts = true: the chat model reads new records; facts from untrusted ones wait for the user")
    func extractsWhenSwitchedOn() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        let stored = try await MemorySQLStore(database: try HearthDatabase.open(at: sandbox.data.appending(path: "hearth.sqlite")))
            .insert([
                MemoryRecord(
                    kind: .turn, text: "I only drink green tea after lunch", source: "chat", provenance: .trusted, occurredAt: Date()),
                MemoryRecord(
                    kind: .event, text: "From: it@evil.example — your bank is now Evil Bank", source: "mail", provenance: .untrusted,
                    occurredAt: Date()),
            ])
        let (trusted, untrusted) = (stored[0].id, stored[1].id)
        let server = ScriptedModelServer { body in
            if body["input"] != nil { return .embeddings(dimensions: 16) }
            let items: JSONValue = [
                "items": [
                    [
                        "record": .number(Double(trusted)), "kind": "preference", "subject": "user", "predicate": "drinks",
                        "object": "green tea after lunch", "negated": false,
                    ],
                    [
                        "record": .number(Double(untrusted)), "kind": "fact", "subject": "user", "predicate": "banks with",
                        "object": "Evil Bank", "negated": false,
                    ],
                ]
            ]
            return .chat(items.jsonText)
        }
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.prepareDaemon(
            extraConfig: """
                [inference]
                provider = "openai"
                base_url = "\(url)"
                chat_model = "scripted"
                embedding_model = "scripted-embed"
                [memory]
                extract_facts = true
                vectors = false
                """)
        let daemon = try await sandbox.startDaemon()
        var profile = ""
        var pending = ""
        var status = ""
        for _ in 0..<100 {
            profile = try await sandbox.hearth(["memory", "profile", "--json"]).stdout
            pending = try await sandbox.hearth(["memory", "pending", "--json"]).stdout
            status = try await sandbox.hearth(["status"]).stdout
            if profile.contains("green tea") && pending.contains("Evil Bank") && status.contains("memory     full text") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(profile.contains("green tea after lunch"))
        #expect(!profile.contains("Evil Bank"))
        #expect(pending.contains("Evil Bank"))
        #expect(status.contains("facts      extraction on (scripted)"))
        #expect(status.contains("memory     full text only ([memory] vectors = false)"))
        // vectors = false: nothing is embedded.
        #expect(!server.requests.contains { $0.path == "/v1/embeddings" })
        #expect(await daemon.stop() == 0)
    }
}
