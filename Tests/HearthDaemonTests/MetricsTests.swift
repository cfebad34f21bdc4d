import Foundation
import Glibc
import HearthBench
import HearthCore
import HearthModels
import HearthServer
import HearthTesting
import Testing

@Suite(
    "Prometheus scrapes /metrics", .timeLimit(.minutes(3)),
    .enabled(if: Preconditions.run(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus"))))
struct MetricsTests {
    @Test("a real Prometheus scrapes the daemon with its token and answers queries for events, goals, tokens, latencies and memory")
    func prometheusScrapes() async throws {
        let sandbox = try Sandbox()
        let model = ScriptedModelServer([.chat("Lisbon is lovely in May.", promptTokens: 40, completionTokens: 7)])
        let modelURL = try await model.start()
        defer { model.stop() }
        try sandbox.prepareDaemon(
            extraConfig: "[inference]\nprovider = \"openai\"\nbase_url = \"\(modelURL)\"\nchat_model = \"scripted\"\n")
        let daemon = try await sandbox.startDaemon()
        for index in 1...3 {
            let added = try await sandbox.hearth(["event", "add", "--source", "probe", "--kind", "ping", "--key", "ping-\(index)"])
            #expect(added.status == 0, "\(added.stderr)")
        }
        // A goal with tool calls (a compliance review of three specs; the model is asked only for
        // verdicts on lines about requirements without an amount).
        #expect(try await sandbox.hearth(["demo", "compliance", "--into", sandbox.workspace.path, "--specs", "3"]).status == 0)
        let review = try await sandbox.hearth(["goal", "Check the specs in Projects/NextGen for compliance with Regulation.pdf"])
        #expect(review.status == 0, "\(review.stderr)")
        let token = try String(contentsOf: sandbox.data.appending(path: "api-token"), encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        // A chat turn in the daemon: memory is searched there, the model is called once.
        let client = DaemonClient(port: daemon.port, token: token, timeout: .seconds(30))
        let turn = try await client.post("/v1/chat", ["message": "What is Lisbon like in spring?"])
        #expect(turn.status == 200, "\(turn.body)")

        // Without the token there is nothing to read.
        let web = WebClient(port: daemon.port)
        defer { Task { try? await web.shutdown() } }
        #expect(try await web.get("/metrics").status == 401)

        let port = try LlamaServerSupervisor.freePort()
        let config = sandbox.root.appending("prometheus.yml")
        try Data(
            """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: hearth
                metrics_path: /metrics
                authorization:
                  credentials: \(token)
                static_configs:
                  - targets: ['127.0.0.1:\(daemon.port)']
            """.utf8
        ).write(to: config)
        let prometheus = try await ChildProcess(
            executable: URL(fileURLWithPath: "/usr/bin/prometheus"),
            arguments: [
                "--config.file=\(config.path)", "--storage.tsdb.path=\(sandbox.root.appending("tsdb").path)",
                "--web.listen-address=127.0.0.1:\(port)",
            ])
        defer { prometheus.signal(SIGTERM) }
        let api = WebClient(port: port)
        defer { Task { try? await api.shutdown() } }

        /// The first sample of `query`, waiting for scrapes to bring it.
        func sample(_ query: String) async throws -> (labels: JSONValue, value: Double)? {
            let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
            for _ in 0..<150 {
                if let page = try? await api.get("/api/v1/query?query=\(encoded)"), page.status == 200,
                    let result = (try? JSONValue(parsing: page.body))?["data"]?["result"]?.arrayValue?.first,
                    let value = result["value"]?.arrayValue?.last?.stringValue.flatMap(Double.init)
                {
                    return (result["metric"] ?? [:], value)
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            return nil
        }
        let up = try await sample("up{job=\"hearth\"}")
        #expect(up?.value == 1, "Prometheus could not scrape the daemon: \(prometheus.standardError.suffix(2000))")
        #expect(try await sample("hearth_events_total{source=\"probe\"}")?.value == 3)
        #expect(try await sample("hearth_goals{state=\"succeeded\"}")?.value == 1)
        #expect(try await sample("sum(hearth_tool_calls_total{tool=\"check_spec\"})")?.value == 3)
        // Every call the model server answered is counted, each with its 40 prompt and 7 completion tokens.
        let calls = Double(model.requests.filter { $0.path == "/v1/chat/completions" }.count)
        #expect(calls >= 1)
        #expect(try await sample("hearth_model_request_seconds_count{model=\"scripted\"}")?.value == calls)
        #expect(try await sample("hearth_model_input_tokens_total{model=\"scripted\"}")?.value == 40 * calls)
        #expect(try await sample("hearth_model_output_tokens_total{model=\"scripted\"}")?.value == 7 * calls)
        #expect(try await sample("hearth_approvals_waiting")?.value == 0)
        #expect((try await sample("hearth_memory_records")?.value ?? 0) >= 2)
        #expect((try await sample("hearth_memory_query_seconds_count")?.value ?? 0) >= 1)
        #expect((try await sample("hearth_budget_left{unit=\"tokens\"}")?.value ?? 0) > 0)
        #expect(await daemon.stop() == 0)
    }
}
