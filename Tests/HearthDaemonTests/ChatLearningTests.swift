import Foundation
import HearthBench
import HearthCore
import HearthServer
import HearthTesting
import Synchronization
import Testing

/// What a conversation teaches beyond the deterministic patterns: with `[memory] extract_facts`
/// on, the model reads a statement the patterns do not know. A scripted model plays the chat
/// model and the extractor; the CLI, the store and the fact graph are real.
@Suite("Chat learns through the model", .timeLimit(.minutes(2)))
struct ChatLearningTests {
    /// The record ids an extraction request lists (`[12] 2026-12-03 user: …`).
    static func recordIDs(in body: JSONValue) -> [Int] {
        let listing = body["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
        return listing.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("["), let end = line.firstIndex(of: "]") else { return nil }
            return Int(line[line.index(after: line.startIndex)..<end])
        }
    }

    static func items(_ items: [JSONValue]) -> ScriptedModelServer.Reply {
        .chat((["items": .array(items)] as JSONValue).jsonText, promptTokens: 80, completionTokens: 20)
    }

    @Test(
        "a statement the patterns miss is read by the model and noted beside the answer; items outside the message and broken replies are rejected; questions are not read"
    )
    func extraction() async throws {
        let sandbox = try Sandbox()
        let extractions = Mutex(0)
        let server = ScriptedModelServer { body in
            guard body["response_format"]?["json_schema"]?["name"] == "memory_facts" else {
                return .chat("Happy to hear it.", promptTokens: 90, completionTokens: 5)
            }
            extractions.withLock { $0 += 1 }
            let listing = body["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
            let id = Double(Self.recordIDs(in: body).first ?? 0)
            if listing.contains("Mochi") {
                return Self.items([
                    [
                        "record": .number(id), "kind": "fact", "subject": "user", "predicate": "cat is", "object": "Mochi",
                        "negated": false,
                    ]
                ])
            }
            if listing.contains("walk") {
                // A record the message is not: refused item by item.
                return Self.items([
                    [
                        "record": .number(id + 1000), "kind": "fact", "subject": "user", "predicate": "walks", "object": "daily",
                        "negated": false,
                    ],
                    [
                        "record": .number(id), "kind": "opinion", "subject": "user", "predicate": "likes", "object": "walks",
                        "negated": false,
                    ],
                ])
            }
            return .chat("{\"items\": [", promptTokens: 80, completionTokens: 3)
        }
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.prepareDaemon(scriptedModel: url, extra: "[chat]\ntools = false\n[memory]\nextract_facts = true\nvectors = false\n")

        let told = try await sandbox.hearth(["chat", "--json", "Our cat Mochi turned four last week."])
        let first = try JSONValue(parsing: told.stdout)
        #expect(first["stored"] == ["your cat is Mochi"], "\(told.stdout) \(told.stderr)")
        #expect(first["answer"] == "Noted: your cat is Mochi.\nHappy to hear it.")
        #expect(first["answeredBy"] == "model")
        #expect(first["extraction"]?.stringValue?.contains("1 new") == true, "\(first)")

        let asked = try JSONValue(parsing: try await sandbox.hearth(["chat", "--new", "--json", "What is my cat called?"]).stdout)
        #expect(asked["answeredBy"] == "facts", "\(asked)")
        #expect(asked["answer"]?.stringValue?.hasPrefix("Your cat is Mochi.") == true, "\(asked)")
        #expect(asked["extraction"] == .null, "a question is not read for facts")

        let walk = try JSONValue(parsing: try await sandbox.hearth(["chat", "--json", "The weather was lovely on our walk."]).stdout)
        #expect(walk["stored"] == [])
        #expect(walk["answer"] == "Happy to hear it.")
        let report = walk["extraction"]?.stringValue ?? ""
        #expect(report.contains("names a record outside the batch") && report.contains("unknown kind"), "\(walk)")

        let broken = try JSONValue(parsing: try await sandbox.hearth(["chat", "--json", "Something happened today."]).stdout)
        #expect(broken["answer"] == "Happy to hear it.")
        #expect(broken["extraction"]?.stringValue?.contains("not the expected JSON object") == true, "\(broken)")
        #expect(extractions.withLock { $0 } == 3)

        // What the model read is a fact like any other, with the message it came from.
        let facts = try await sandbox.hearth(["memory", "facts"])
        #expect(facts.stdout.contains("cat is Mochi"), "\(facts.stdout)")
    }

    @Test(
        "with [chat] summaries on, the model rewrites the session's summary as turns age out of the verbatim window; the context carries it in their place; a looping summary is refused and the last one kept"
    )
    func rollingSummary() async throws {
        let sandbox = try Sandbox()
        let requests = Mutex<[String]>([])
        let server = ScriptedModelServer { body in
            let messages = body["messages"]?.arrayValue ?? []
            guard messages.first?["content"]?.stringValue?.hasPrefix("You keep the notes") == true else {
                return .chat("All right.", promptTokens: 60, completionTokens: 3)
            }
            let input = messages.last?["content"]?.stringValue ?? ""
            let count = requests.withLock {
                $0.append(input)
                return $0.count
            }
            return count == 1
                ? .chat("The user plans a trip to Lisbon in May with Ann.", promptTokens: 200, completionTokens: 14)
                : .chat(String(repeating: "Lisbon Lisbon ", count: 60), promptTokens: 200, completionTokens: 120)
        }
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.prepareDaemon(scriptedModel: url, extra: "[chat]\ntools = false\nsummaries = true\n[memory]\nvectors = false\n")
        let opened = try JSONValue(parsing: try await sandbox.hearth(["chat", "--json", "Turn 1: let us plan a trip to Lisbon."]).stdout)
        let session = try #require(opened["session"]?.stringValue)
        func say(_ number: Int) async throws -> JSONValue {
            let result = try await sandbox.hearth([
                "chat", "--json", "--show-context", "--session", session, "Turn \(number): tell me about day \(number) of the trip.",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            return try JSONValue(parsing: result.stdout)
        }
        for number in 2...5 { _ = try await say(number) }
        #expect(requests.withLock { $0.isEmpty }, "five turns: nothing aged past the six records carried verbatim")
        _ = try await say(6)
        // Twelve records: the oldest six (turns 1–3 and their answers) fold into the summary.
        let first = try #require(requests.withLock { $0.first })
        #expect(first.hasPrefix("Notes so far:\n(none yet)"))
        #expect(first.contains("user: Turn 1: let us plan") && first.contains("user: Turn 3:") && !first.contains("Turn 4:"), "\(first)")

        let seventh = try await say(7)
        #expect(
            seventh["context"]?["summary"]
                == "Earlier in this conversation (summarised):\nThe user plans a trip to Lisbon in May with Ann.",
            "\(seventh)")
        #expect(seventh["context"]?["recent"]?.arrayValue?.count == 6)
        #expect(seventh["context"]?["recent"]?.arrayValue?.first?["text"]?.stringValue?.hasPrefix("Turn 4:") == true)

        _ = try await say(8)
        let ninth = try await sandbox.hearth(["chat", "--session", session, "Turn 9: and the last day?"])
        // The second summary loops: refused, said on stderr, the first kept.
        #expect(ninth.stderr.contains("summary not rewritten: the model's summary kept repeating itself"), "\(ninth.stderr)")
        let second = try #require(requests.withLock { $0.count == 2 ? $0.last : nil })
        #expect(
            second.hasPrefix("Notes so far:\nThe user plans a trip to Lisbon in May with Ann.\n\nNew turns:\nuser: Turn 4:"), "\(second)")
        let tenth = try await say(10)
        let summary = tenth["context"]?["summary"]?.stringValue ?? ""
        #expect(summary.hasPrefix("Earlier in this conversation (summarised):\nThe user plans a trip to Lisbon in May with Ann.\nThen ("))
        #expect(summary.contains("user: Turn 4:"), "turns after the summary are carried in brief: \(summary)")

        // The session's page shows the summary and what it covers.
        let daemon = try await sandbox.startDaemon()
        let detail = try await daemon.client.get("/v1/chat/sessions/\(session)").body
        #expect(detail["summary"]?["text"] == "The user plans a trip to Lisbon in May with Ann.")
        #expect(detail["summary"]?["turns"] == 6)
        _ = await daemon.stop()
    }
}
