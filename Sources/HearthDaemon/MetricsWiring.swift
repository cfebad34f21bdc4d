import CoreMetrics
import Foundation
import HearthConfig
import HearthCore
import HearthStore
import Hummingbird
import NIOCore
import Prometheus
import Synchronization

/// `/metrics` in Prometheus's text format, through swift-metrics and swift-prometheus.
///
/// Counts come from the store at each scrape (events by source, attention decisions by level,
/// goals by state, tool calls by tool and outcome, approvals waiting, model tokens and cost,
/// memory records), so work any process did on this data dir is counted once; totals that only
/// grow are counters advanced by what is new since the last scrape. Model call latency and speed
/// are histograms of the calls recorded since then; memory query latency is timed where queries
/// run (`hearth_memory_query_seconds`).
actor DaemonMetrics {
    /// One registry per process, the metrics system bootstrapped with it once.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
            .seconds(120),
        ]
        factory.valueHistogramBuckets["hearth_model_prefill_tokens_per_second"] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500]
        factory.valueHistogramBuckets["hearth_model_decode_tokens_per_second"] = [1, 2.5, 5, 10, 25, 50, 100, 250]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    let telemetry: any TelemetryReader
    let budgets: Budgets
    /// The daemon's live status (the model server's restarts are there).
    let status: @Sendable () async -> JSONValue
    /// Totals already turned into counter increments, by metric and labels.
    var counted: [String: Double] = [:]
    var usageCursor: Int64 = 0

    init(telemetry: any TelemetryReader, budgets: Budgets, status: @escaping @Sendable () async -> JSONValue) {
        _ = Self.registry
        self.telemetry = telemetry
        self.budgets = budgets
        self.status = status
    }

    /// Advances a counter to `total` (a total kept by the store).
    func advance(_ name: String, _ labels: [(String, String)], to total: Double) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = total - (counted[key] ?? 0)
        guard delta > 0 else { return }
        counted[key] = total
        CoreMetrics.FloatingPointCounter(label: name, dimensions: labels).increment(by: delta)
    }

    func gauge(_ name: String, _ labels: [(String, String)] = [], value: Double) {
        Gauge(label: name, dimensions: labels).record(value)
    }

    /// The metrics, brought up to date.
    func render() async throws -> String {
        let calendar = Calendar.current
        let counts = try await telemetry.read(afterUsage: usageCursor, since: calendar.startOfDay(for: Date()))
        for (source, count) in counts.eventsBySource { advance("hearth_events_total", [("source", source)], to: Double(count)) }
        for (level, count) in counts.attentionByLevel {
            advance("hearth_attention_decisions_total", [("level", level)], to: Double(count))
        }
        for state in RunState.allCases.map(\.rawValue) {
            gauge("hearth_goals", [("state", state)], value: Double(counts.goalsByState[state] ?? 0))
        }
        for call in counts.toolCalls {
            advance("hearth_tool_calls_total", [("tool", call.tool), ("outcome", call.outcome)], to: Double(call.count))
        }
        gauge("hearth_approvals_waiting", value: Double(counts.approvalsWaiting))
        for model in counts.models {
            let labels = [("model", model.model)]
            advance("hearth_model_input_tokens_total", labels, to: Double(model.promptTokens))
            advance("hearth_model_cached_input_tokens_total", labels, to: Double(model.cachedTokens))
            advance("hearth_model_output_tokens_total", labels, to: Double(model.completionTokens))
            advance("hearth_model_calls_total", labels, to: Double(model.calls))
            advance("hearth_model_failed_calls_total", labels, to: Double(model.failures))
            advance("hearth_model_cost_dollars_total", labels, to: Double(model.costMicrodollars) / 1_000_000)
        }
        for call in counts.newCalls {
            let labels = [("model", call.model)]
            CoreMetrics.Timer(label: "hearth_model_request_seconds", dimensions: labels).recordMilliseconds(call.latencyMilliseconds)
            if let prefill = call.prefillTokensPerSecond {
                Recorder(label: "hearth_model_prefill_tokens_per_second", dimensions: labels).record(prefill)
            }
            if let decode = call.decodeTokensPerSecond {
                Recorder(label: "hearth_model_decode_tokens_per_second", dimensions: labels).record(decode)
            }
            usageCursor = call.id
        }
        // What is left of the day's caps (a cap of 0 or none: not shown).
        if let cap = budgets.day.tokens, cap > 0 {
            gauge("hearth_budget_left", [("window", "day"), ("unit", "tokens")], value: Double(max(0, cap - counts.tokensSince)))
        }
        if let cap = budgets.day.costDollars, cap > 0 {
            gauge(
                "hearth_budget_left", [("window", "day"), ("unit", "dollars")], value: max(0, cap - Double(counts.costSince) / 1_000_000))
        }
        gauge("hearth_memory_records", value: Double(counts.memoryRecords))
        let live = await status()
        if let restarts = live["live"]?["inference"]?["restarts"]?.doubleValue {
            advance("hearth_model_server_restarts_total", [], to: restarts)
        }
        advance("hearth_otlp_dropped_spans_total", [], to: Double(OTLPExporter.dropped.load(ordering: .relaxed)))
        return Self.registry.emitToString()
    }

    /// Adds `GET /metrics`: behind the API token unless `[telemetry] metrics_public` is true.
    nonisolated func register(on router: Router<BasicRequestContext>, token: String, public isPublic: Bool) {
        router.get("/metrics") { request, _ in
            guard isPublic || request.headers[.authorization] == "Bearer \(token)" else {
                return Response(
                    status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"],
                    body: .init(byteBuffer: ByteBuffer(string: "a bearer token is required, or [telemetry] metrics_public = true\n")))
            }
            let text = try await self.render()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
