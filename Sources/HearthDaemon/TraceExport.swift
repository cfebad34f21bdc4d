import AsyncHTTPClient
import Foundation
import HearthCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// A goal run as OpenTelemetry spans, in OTLP's standard JSON encoding, with the GenAI semantic
/// conventions: `invoke_agent hearth` for the run, `plan` for planning, a span per task, `chat
/// MODEL` for each model call (`gen_ai.request.model`, `gen_ai.usage.input_tokens` — cached
/// included — `gen_ai.usage.output_tokens`, `gen_ai.usage.cache_read.input_tokens`),
/// `execute_tool NAME` for each tool call, and the policy's decisions as span events.
///
/// Built from the run's durable trace after it stops, so a run that crossed a restart is exported
/// whole. swift-otel's first build takes about 7 minutes on this 2-core machine (the machine's
/// package notes), for one request type sent as JSON: the encoding is written here instead.
public enum OTLPTraces {
    /// The `ExportTraceServiceRequest` for a run; `model` names the chat model it used.
    public static func request(for detail: GoalDetail, traces: [TraceEvent], model: String, serviceVersion: String) -> JSONValue {
        var ids = SpanIDs(seed: detail.run.id)
        let traceID = ids.traceID
        let root = ids.next()
        var spans: [JSONValue] = []
        let end = detail.run.updatedAt > detail.run.createdAt ? detail.run.updatedAt : (traces.last?.at ?? detail.run.createdAt)
        var rootAttributes: [(String, JSONValue)] = [
            ("gen_ai.operation.name", "invoke_agent"), ("gen_ai.agent.name", "hearth"), ("gen_ai.request.model", .string(model)),
            ("hearth.run.id", .number(Double(detail.run.id))), ("hearth.goal", .string(String(detail.goal.prefix(500)))),
            ("hearth.run.state", .string(detail.run.state.rawValue)),
            ("gen_ai.usage.input_tokens", .number(Double(detail.usage.promptTokens))),
            ("gen_ai.usage.output_tokens", .number(Double(detail.usage.completionTokens))),
        ]
        if let reason = detail.pauseReason { rootAttributes.append(("hearth.pause_reason", .string(reason))) }
        spans.append(
            span(
                traceID: traceID, id: root, parent: nil, name: "invoke_agent hearth", start: detail.run.createdAt, end: end,
                attributes: rootAttributes, failed: detail.run.state == .failed ? detail.summary ?? "failed" : nil))

        // A span per task, from its first to its last trace event; its calls are its children.
        var taskSpans: [String: String] = [:]
        for record in detail.tasks {
            let events = traces.filter { $0.taskID == record.task.id }
            guard let first = events.first, let last = events.last else { continue }
            let id = ids.next()
            taskSpans[record.task.id] = id
            let policy = events.filter { $0.kind == .policy }.map { event -> JSONValue in
                [
                    "timeUnixNano": .string(nanos(event.at)), "name": .string("policy \(event.name)"),
                    "attributes": .array(
                        [
                            ("hearth.policy.verdict", JSONValue.string(event.name)), ("gen_ai.tool.name", event.detail["tool"] ?? .null),
                            ("hearth.policy.risk", event.detail["risk"] ?? .null),
                            ("hearth.policy.reason", event.detail["reason"] ?? .null),
                        ].compactMap(attribute)),
                ]
            }
            spans.append(
                span(
                    traceID: traceID, id: id, parent: root, name: "task \(record.task.id)", start: started(first), end: last.at,
                    attributes: [
                        ("hearth.task.id", .string(record.task.id)), ("hearth.task.title", .string(record.task.title)),
                        ("hearth.task.state", .string(record.state.rawValue)),
                    ], events: policy, failed: record.state == .failed ? record.error ?? "failed" : nil))
        }
        for event in traces {
            let parent = event.taskID.flatMap { taskSpans[$0] } ?? root
            switch event.kind {
            case .model:
                let cached = event.detail["cachedTokens"]?.doubleValue ?? 0
                var attributes: [(String, JSONValue)] = [
                    ("gen_ai.operation.name", event.name == "plan" ? "plan" : "chat"), ("gen_ai.request.model", .string(model)),
                    ("gen_ai.usage.input_tokens", .number(Double(event.promptTokens ?? 0))),
                    ("gen_ai.usage.output_tokens", .number(Double(event.completionTokens ?? 0))),
                    ("gen_ai.usage.cache_read.input_tokens", .number(cached)), ("hearth.purpose", .string(event.name)),
                ]
                if let source = event.detail["source"]?.stringValue { attributes.append(("hearth.plan.source", .string(source))) }
                spans.append(
                    span(
                        traceID: traceID, id: ids.next(), parent: parent, name: event.name == "plan" ? "plan" : "chat \(model)",
                        start: started(event), end: event.at, attributes: attributes, failed: event.detail["error"]?.stringValue))
            case .tool:
                let ok = event.detail["ok"]?.boolValue ?? true
                spans.append(
                    span(
                        traceID: traceID, id: ids.next(), parent: parent, name: "execute_tool \(event.name)", start: started(event),
                        end: event.at,
                        attributes: [
                            ("gen_ai.operation.name", "execute_tool"), ("gen_ai.tool.name", .string(event.name)),
                            ("gen_ai.tool.type", "function"),
                        ], failed: ok ? nil : (event.detail["result"]?.stringValue ?? "the tool failed")))
            case .policy, .state, .repair, .budget: continue
            }
        }
        return envelope(spans, serviceVersion: serviceVersion)
    }

    /// The `ExportTraceServiceRequest` for one chat turn: `invoke_agent hearth` over the turn
    /// (`gen_ai.conversation.id` = the session), a `chat MODEL` span for the model's part with
    /// its tokens, and an `execute_tool NAME` span per tool call, laid end to end in the order
    /// they ran (a turn's calls carry their durations, not their start times).
    public static func request(
        forTurn message: String, result: JSONValue, started: Date, ended: Date, model: String, serviceVersion: String
    ) -> JSONValue {
        var ids = SpanIDs(seed: Int64(started.timeIntervalSince1970))
        let traceID = ids.traceID
        let root = ids.next()
        let usage = result["usage"] ?? .null
        let input = usage["promptTokens"]?.doubleValue ?? 0
        let output = usage["completionTokens"]?.doubleValue ?? 0
        let cached = usage["cachedPromptTokens"]?.doubleValue ?? 0
        var spans: [JSONValue] = [
            span(
                traceID: traceID, id: root, parent: nil, name: "invoke_agent hearth", start: started, end: ended,
                attributes: [
                    ("gen_ai.operation.name", "invoke_agent"), ("gen_ai.agent.name", "hearth"), ("gen_ai.request.model", .string(model)),
                    ("gen_ai.conversation.id", result["session"] ?? .null), ("hearth.chat.answered_by", result["answeredBy"] ?? .null),
                    ("hearth.chat.message_chars", .number(Double(message.count))), ("gen_ai.usage.input_tokens", .number(input)),
                    ("gen_ai.usage.output_tokens", .number(output)),
                ], failed: result["error"]?.stringValue)
        ]
        var cursor = started
        for call in result["calls"]?.arrayValue ?? [] {
            let end = min(ended, cursor.addingTimeInterval((call["ms"]?.doubleValue ?? 0) / 1_000))
            let name = call["tool"]?.stringValue ?? "tool"
            spans.append(
                span(
                    traceID: traceID, id: ids.next(), parent: root, name: "execute_tool \(name)", start: cursor, end: end,
                    attributes: [
                        ("gen_ai.operation.name", "execute_tool"), ("gen_ai.tool.name", .string(name)), ("gen_ai.tool.type", "function"),
                    ],
                    failed: call["ok"]?.boolValue == false ? call["result"]?.stringValue ?? "the tool failed" : nil))
            cursor = end
        }
        if result["answeredBy"]?.stringValue == "model" || input > 0 {
            let latency = usage["latencySeconds"]?.doubleValue ?? ended.timeIntervalSince(cursor)
            spans.append(
                span(
                    traceID: traceID, id: ids.next(), parent: root, name: "chat \(model)",
                    start: max(started, ended.addingTimeInterval(-latency)),
                    end: ended,
                    attributes: [
                        ("gen_ai.operation.name", "chat"), ("gen_ai.request.model", .string(model)),
                        ("gen_ai.usage.input_tokens", .number(input)), ("gen_ai.usage.output_tokens", .number(output)),
                        ("gen_ai.usage.cache_read.input_tokens", .number(cached)), ("hearth.purpose", "chat"),
                    ]))
        }
        return envelope(spans, serviceVersion: serviceVersion)
    }

    static func envelope(_ spans: [JSONValue], serviceVersion: String) -> JSONValue {
        [
            "resourceSpans": [
                [
                    "resource": [
                        "attributes": .array(
                            [("service.name", JSONValue.string("hearth")), ("service.version", .string(serviceVersion))].compactMap(
                                attribute))
                    ],
                    "scopeSpans": [["scope": ["name": "hearth", "version": .string(serviceVersion)], "spans": .array(spans)]],
                ]
            ]
        ]
    }

    static func started(_ event: TraceEvent) -> Date {
        event.at.addingTimeInterval(-Double(event.milliseconds ?? 0) / 1_000)
    }

    static func span(
        traceID: String, id: String, parent: String?, name: String, start: Date, end: Date, attributes: [(String, JSONValue)],
        events: [JSONValue] = [], failed: String? = nil
    ) -> JSONValue {
        var span: [String: JSONValue] = [
            "traceId": .string(traceID), "spanId": .string(id), "name": .string(name), "kind": 1,
            "startTimeUnixNano": .string(nanos(start)), "endTimeUnixNano": .string(nanos(max(start, end))),
            "attributes": .array(attributes.compactMap(attribute)), "events": .array(events),
            "status": failed.map { ["code": 2, "message": .string(String($0.prefix(500)))] } ?? ["code": 1],
        ]
        if let parent { span["parentSpanId"] = .string(parent) }
        return .object(span)
    }

    /// An OTLP `KeyValue`; nil for a missing value.
    static func attribute(_ pair: (String, JSONValue)) -> JSONValue? {
        let value: JSONValue
        switch pair.1 {
        case .string(let text): value = ["stringValue": .string(text)]
        case .bool(let flag): value = ["boolValue": .bool(flag)]
        case .number(let number):
            // OTLP JSON carries 64-bit integers as strings.
            value =
                number.rounded() == number && abs(number) < 1e15
                ? ["intValue": .string(String(Int64(number)))] : ["doubleValue": .number(number)]
        default: return nil
        }
        return ["key": .string(pair.0), "value": value]
    }

    static func nanos(_ date: Date) -> String {
        String(Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) * 1_000)
    }

    /// Random trace and span ids (hex), per the W3C format.
    struct SpanIDs {
        var generator: SplitMix64
        let traceID: String

        init(seed: Int64) {
            generator = SplitMix64(seed: UInt64.random(in: 1...UInt64.max) ^ UInt64(bitPattern: seed))
            traceID = Self.hex(generator.next()) + Self.hex(generator.next())
        }

        mutating func next() -> String { Self.hex(generator.next() | 1) }

        static func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
    }
}

/// Sends OTLP JSON to `[telemetry] otlp_endpoint` (`…/v1/traces`), retried on a server error;
/// a failure is logged and its spans counted as dropped (`hearth_otlp_dropped_spans_total`),
/// never the run's failure.
public struct OTLPExporter: Sendable {
    /// Spans this process could not deliver.
    public static let dropped = Atomic<Int>(0)

    let endpoint: String
    let logger: Logger

    public init(endpoint: String, logger: Logger) {
        self.endpoint = endpoint.hasSuffix("/v1/traces") ? endpoint : endpoint.trimmingSuffix("/") + "/v1/traces"
        self.logger = logger
    }

    /// Exports `body`; returns whether the collector took it.
    @discardableResult
    public func export(_ body: JSONValue) async -> Bool {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        var problem = ""
        for attempt in 1...3 {
            if attempt > 1 { try? await Task.sleep(for: .milliseconds(500 * attempt)) }
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(3))
                if (200..<300).contains(response.status.code) { return true }
                problem = "HTTP \(response.status.code)"
                if response.status.code < 500 && response.status.code != 429 { break }
            } catch {
                problem = "\(error)"
            }
        }
        let spans = (body["resourceSpans"]?.arrayValue ?? []).flatMap { ($0["scopeSpans"]?.arrayValue ?? []) }.reduce(0) {
            $0 + ($1["spans"]?.arrayValue?.count ?? 0)
        }
        Self.dropped.add(spans, ordering: .relaxed)
        logger.warning("\(spans) span(s) were not exported to \(endpoint) and are dropped: \(problem)")
        return false
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
