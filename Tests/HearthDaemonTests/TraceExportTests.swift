import Foundation
import HearthBench
import HearthCore
import HearthServer
import HearthTesting
import Testing

@Suite("OpenTelemetry traces of goal runs", .timeLimit(.minutes(3)))
struct TraceExportTests {
    /// An OTLP attribute's value, whatever its type, as JSON.
    func attribute(_ span: JSONValue, _ key: String) -> JSONValue? {
        guard let value = span["attributes"]?.arrayValue?.first(where: { $0["key"]?.stringValue == key })?["value"] else { return nil }
        if let text = value["stringValue"] { return text }
        if let number = value["intValue"]?.stringValue.flatMap(Double.init) { return .number(number) }
        return value["boolValue"] ?? value["doubleValue"]
    }

    @Test(
        "a goal run reaches a loopback OTLP receiver as invoke_agent, plan, task, chat and execute_tool spans with GenAI attributes, parent links and policy events"
    )
    func goalRunSpans() async throws {
        let sandbox = try Sandbox()
        let collector = EchoHTTPServer()
        let collectorURL = try await collector.start()
        defer { collector.stop() }
        let model = ScriptedModelServer([
            .chat(#"{"answer": "A note about the launch budget."}"#, promptTokens: 120, completionTokens: 9, cachedTokens: 64)
        ])
        let modelURL = try await model.start()
        defer { model.stop() }
        try sandbox.useScriptedModel(modelURL, extra: "[telemetry]\notlp_endpoint = \"\(collectorURL)\"\n")
        try sandbox.write([
            "Notes/one.md": "# Launch\nWe reviewed the launch plan. Is the budget approved?\n",
            "Notes/two.md": "# Hiring\nTwo roles are open. Who interviews on Friday?\n",
        ])
        let run = try await sandbox.hearth(["goal", "--json", "Summarise each note in Notes/"])
        #expect(run.status == 0, "\(run.stderr)")

        let posts = collector.requests.filter { $0.uri == "/v1/traces" }
        #expect(posts.count == 1)
        #expect(posts.first?.headers["content-type"] == "application/json")
        let body = try JSONValue(parsing: posts.first?.body ?? "")
        let resource = body["resourceSpans"]?.arrayValue?.first
        #expect(attribute(resource?["resource"] ?? [:], "service.name") == "hearth")
        let spans = resource?["scopeSpans"]?.arrayValue?.first?["spans"]?.arrayValue ?? []
        let names = spans.compactMap { $0["name"]?.stringValue }
        let root = try #require(spans.first { $0["name"] == "invoke_agent hearth" })
        #expect(root["parentSpanId"] == nil)
        #expect(attribute(root, "gen_ai.operation.name") == "invoke_agent")
        #expect(attribute(root, "hearth.run.state") == "succeeded")
        let traceID = root["traceId"]?.stringValue ?? ""
        #expect(traceID.count == 32 && spans.allSatisfy { $0["traceId"]?.stringValue == traceID })
        let rootID = root["spanId"]?.stringValue

        let plan = try #require(spans.first { $0["name"] == "plan" })
        #expect(plan["parentSpanId"]?.stringValue == rootID)
        #expect(attribute(plan, "hearth.plan.source")?.stringValue?.hasPrefix("recipe:") == true)

        let tasks = spans.filter { $0["name"]?.stringValue?.hasPrefix("task ") == true }
        #expect(tasks.count >= 2 && tasks.allSatisfy { $0["parentSpanId"]?.stringValue == rootID }, "\(names)")
        let taskIDs = Set(tasks.compactMap { $0["spanId"]?.stringValue })

        let chats = spans.filter { $0["name"] == "chat scripted" }
        #expect(chats.count == 2, "\(names)")
        for chat in chats {
            #expect(taskIDs.contains(chat["parentSpanId"]?.stringValue ?? ""))
            #expect(attribute(chat, "gen_ai.operation.name") == "chat")
            #expect(attribute(chat, "gen_ai.request.model") == "scripted")
            #expect(attribute(chat, "gen_ai.usage.input_tokens") == 120)
            #expect(attribute(chat, "gen_ai.usage.output_tokens") == 9)
            #expect(attribute(chat, "gen_ai.usage.cache_read.input_tokens") == 64)
            let start = Int64(chat["startTimeUnixNano"]?.stringValue ?? "") ?? 0
            let end = Int64(chat["endTimeUnixNano"]?.stringValue ?? "") ?? 0
            #expect(start > 0 && end >= start)
        }
        let tools = spans.filter { $0["name"] == "execute_tool read_document" }
        #expect(tools.count == 2, "\(names)")
        #expect(
            tools.allSatisfy {
                attribute($0, "gen_ai.tool.name") == "read_document" && taskIDs.contains($0["parentSpanId"]?.stringValue ?? "")
            })
        // The policy's decision on each call is an event of its task's span.
        let events = tasks.flatMap { $0["events"]?.arrayValue ?? [] }
        #expect(events.contains { $0["name"] == "policy allow" && attribute($0, "gen_ai.tool.name") == "read_document" }, "\(events)")
    }

    @Test("a collector that is down does not fail the run; a malformed endpoint is a config error naming the key")
    func collectorDown() async throws {
        let sandbox = try Sandbox()
        let model = ScriptedModelServer([.chat(#"{"answer": "A short note."}"#)])
        let modelURL = try await model.start()
        defer { model.stop() }
        try sandbox.useScriptedModel(modelURL, extra: "[telemetry]\notlp_endpoint = \"http://127.0.0.1:9\"\n")
        try sandbox.write(["Notes/one.md": "# Launch\nThe plan is ready.\n"])
        let run = try await sandbox.hearth(["goal", "--json", "Summarise each note in Notes/"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try JSONValue(parsing: run.stdout)["state"] == "succeeded")

        try sandbox.useScriptedModel(modelURL, extra: "[telemetry]\notlp_endpoint = \"not a url\"\n")
        let refused = try await sandbox.hearth(["goal", "Summarise each note in Notes/"])
        #expect(refused.status != 0 && refused.stderr.contains("telemetry.otlp_endpoint"), "\(refused.stderr)")
    }

    @Test(
        "a chat turn at the daemon becomes a trace (invoke_agent with the conversation id, a chat span with its tokens); spans a down collector could not take are counted in /metrics"
    )
    func chatTurnSpans() async throws {
        let sandbox = try Sandbox()
        let collector = EchoHTTPServer()
        let collectorURL = try await collector.start()
        defer { collector.stop() }
        let model = ScriptedModelServer([.chat("It is on Thursday.", promptTokens: 90, completionTokens: 6, cachedTokens: 32)])
        let modelURL = try await model.start()
        defer { model.stop() }
        try sandbox.prepareDaemon(
            extraConfig: """
                [inference]
                provider = "openai"
                base_url = "\(modelURL)"
                chat_model = "scripted"
                [telemetry]
                otlp_endpoint = "\(collectorURL)"
                metrics_public = true

                """)
        let daemon = try await sandbox.startDaemon()
        let turn = try await daemon.client.post("/v1/chat", ["message": "When is the board meeting?"])
        let session = try #require(turn.body["session"]?.stringValue, "\(turn.body)")
        try await waitUntil("the turn's trace arrives", seconds: 20) { collector.requests.contains { $0.uri == "/v1/traces" } }
        let body = try JSONValue(parsing: collector.requests.first { $0.uri == "/v1/traces" }?.body ?? "")
        let spans = body["resourceSpans"]?.arrayValue?.first?["scopeSpans"]?.arrayValue?.first?["spans"]?.arrayValue ?? []
        let root = try #require(spans.first { $0["name"] == "invoke_agent hearth" }, "\(spans)")
        #expect(attribute(root, "gen_ai.conversation.id")?.stringValue == session)
        #expect(attribute(root, "hearth.chat.answered_by") == "model")
        let chat = try #require(spans.first { $0["name"] == "chat scripted" }, "\(spans)")
        #expect(chat["parentSpanId"] == root["spanId"])
        #expect(attribute(chat, "gen_ai.usage.input_tokens") == 90 && attribute(chat, "gen_ai.usage.output_tokens") == 6)
        #expect(attribute(chat, "gen_ai.usage.cache_read.input_tokens") == 32, "\(turn.body["usage"] ?? .null)")
        try await daemon.stop()

        // The collector goes away: the next turn still answers, its spans are counted as dropped.
        collector.stop()
        let again = try await sandbox.startDaemon()
        let answered = try await again.client.post("/v1/chat", ["message": "And who chairs it?"])
        #expect(answered.status == 200)
        let web = WebClient(port: again.port)
        defer { Task { try? await web.shutdown() } }
        try await waitUntil("the dropped spans are counted", seconds: 30) {
            try await web.get("/metrics").body.contains("hearth_otlp_dropped_spans_total 2")
        }
        try await again.stop()
    }

    @Test("a chat turn taken by the CLI itself (no daemon) becomes a trace too, sent once its answer is out")
    func cliChatTurnSpans() async throws {
        let sandbox = try Sandbox()
        let collector = EchoHTTPServer()
        let collectorURL = try await collector.start()
        defer { collector.stop() }
        let model = ScriptedModelServer([.chat("It is on Thursday.", promptTokens: 70, completionTokens: 5)])
        let modelURL = try await model.start()
        defer { model.stop() }
        try sandbox.useScriptedModel(modelURL, extra: "[telemetry]\notlp_endpoint = \"\(collectorURL)\"\n[chat]\ntools = false\n")
        let turn = try await sandbox.hearth(["chat", "--json", "When is the board meeting?"])
        #expect(turn.status == 0, "\(turn.stderr)")
        let session = try JSONValue(parsing: turn.stdout)["session"]?.stringValue
        // The command returned after exporting: the collector has it already.
        let body = try JSONValue(parsing: collector.requests.first { $0.uri == "/v1/traces" }?.body ?? "")
        let spans = body["resourceSpans"]?.arrayValue?.first?["scopeSpans"]?.arrayValue?.first?["spans"]?.arrayValue ?? []
        let root = try #require(spans.first { $0["name"] == "invoke_agent hearth" }, "\(spans)")
        #expect(attribute(root, "gen_ai.conversation.id")?.stringValue == session)
        let chat = try #require(spans.first { $0["name"] == "chat scripted" }, "\(spans)")
        #expect(chat["parentSpanId"] == root["spanId"])
        #expect(attribute(chat, "gen_ai.usage.input_tokens") == 70)
    }
}
