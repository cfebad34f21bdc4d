import Foundation
import HearthCore
import HearthSandbox
import Hummingbird

/// The Trace, Usage and Health pages: what the agent did, what it cost, how the daemon is.
extension Dashboard {
    // MARK: Trace

    /// A goal's timeline as a waterfall: each model call, tool call and policy decision as a bar
    /// from its start to its end on one time axis, with tokens, cached tokens and outcome.
    func tracePage(_ session: DashboardSessions.Session, id: String) async throws -> Response {
        guard let store = data.goals, let runID = Int64(id), let detail = try? await store.goal(runID) else {
            throw DashboardError.notFound("There is no goal \"\(id)\". The Goals page lists them.")
        }
        let events = try await store.traces(runID).sorted { $0.at < $1.at }
        let spans = events.map { event -> (start: Date, end: Date, event: TraceEvent) in
            let seconds = Double(event.milliseconds ?? 0) / 1000
            return (event.at.addingTimeInterval(-seconds), event.at, event)
        }
        let origin = min(spans.map(\.start).min() ?? detail.run.createdAt, detail.run.createdAt)
        let total = max(0.001, (spans.map(\.end).max() ?? origin).timeIntervalSince(origin))
        let rows: [[String: Any]] = spans.map { span in
            let event = span.event
            let left = span.start.timeIntervalSince(origin) / total * 1000
            let width = max(2, span.end.timeIntervalSince(span.start) / total * 1000)
            var tokens = ""
            if let prompt = event.promptTokens, let completion = event.completionTokens {
                let cached = event.detail["cachedTokens"]?.intValue ?? 0
                tokens = "\(prompt) in (\(cached) cached) · \(completion) out"
            }
            let outcome: String
            switch event.kind {
            case .tool: outcome = event.detail["ok"]?.boolValue == false ? "failed" : "ok"
            case .policy: outcome = event.name
            default: outcome = event.detail["valid"]?.boolValue == false ? "invalid" : ""
            }
            return [
                "kind": event.kind.rawValue, "name": event.name, "task": event.taskID ?? "run",
                "offset": String(format: "+%.2f s", span.start.timeIntervalSince(origin)),
                "duration": event.milliseconds.map { "\($0) ms" } ?? "", "tokens": tokens, "outcome": outcome,
                "failed": outcome == "failed" || outcome == "invalid" || outcome == "deny",
                "x": String(format: "%.1f", min(left, 998)), "width": String(format: "%.1f", min(width, 1000 - min(left, 998))),
            ]
        }
        let model = events.filter { $0.kind == .model }
        return render(
            "trace", title: "Trace of goal \(runID)", session: session,
            [
                "id": runID, "goal": detail.goal, "rows": rows, "none": rows.isEmpty, "span": String(format: "%.2f s", total),
                "modelCalls": model.count, "toolCalls": events.filter { $0.kind == .tool }.count,
                "promptTokens": model.compactMap(\.promptTokens).reduce(0, +),
                "cachedTokens": model.compactMap { $0.detail["cachedTokens"]?.intValue }.reduce(0, +),
                "completionTokens": model.compactMap(\.completionTokens).reduce(0, +),
            ])
    }

    // MARK: Usage

    func usagePage(_ session: DashboardSessions.Session, _ request: Request) async throws -> Response {
        guard let usage = data.usage else {
            throw DashboardError(title: "Usage", text: "This daemon records no usage.", status: .serviceUnavailable)
        }
        let days = min(366, max(1, request.uri.queryParameters["days"].flatMap { Int($0) } ?? 14))
        let calendar = Calendar.current
        let today = calendar.startOfDay(for: Date())
        let since = calendar.date(byAdding: .day, value: -(days - 1), to: today) ?? today
        let rows = try await usage.breakdown(UsageFilter(since: since))
        let used = try await usage.totals(UsageFilter(since: today))
        let recent = try await usage.recent(limit: 500).filter { $0.at >= since }

        var total = UsageTotals()
        var byDay: [String: Int] = [:]
        var byModel: [String: UsageTotals] = [:]
        var byPurpose: [String: UsageTotals] = [:]
        for row in rows {
            total.add(row.totals)
            byDay[row.day, default: 0] += row.totals.tokens
            byModel[row.model, default: UsageTotals()].add(row.totals)
            byPurpose[row.purpose, default: UsageTotals()].add(row.totals)
        }
        let formatter = DateFormatter()
        formatter.calendar = calendar
        formatter.timeZone = calendar.timeZone
        formatter.dateFormat = "yyyy-MM-dd"
        let dayBars = (0..<days).map { offset -> (String, Double) in
            let day = formatter.string(from: calendar.date(byAdding: .day, value: offset, to: since) ?? since)
            return (day, Double(byDay[day] ?? 0))
        }
        func table(_ groups: [String: UsageTotals]) -> [[String: Any]] {
            groups.sorted { $0.value.tokens > $1.value.tokens }.map { name, totals in
                [
                    "name": name, "calls": totals.calls, "tokens": totals.tokens, "prompt": totals.promptTokens,
                    "completion": totals.completionTokens, "seconds": String(format: "%.1f", totals.modelSeconds),
                    "cost": Self.dollars(totals.costMicrodollars),
                ]
            }
        }
        func median(_ values: [Double]) -> String {
            let sorted = values.sorted()
            return sorted.isEmpty ? "–" : String(format: "%.1f tok/s", sorted[sorted.count / 2])
        }
        let day = data.budgets.day
        let budgets: [[String: Any]] = [
            day.tokens.map { ("Tokens today", Double(used.tokens), Double($0), "\(used.tokens) of \($0)") },
            day.calls.map { ("Model calls today", Double(used.calls), Double($0), "\(used.calls) of \($0)") },
            day.modelSeconds.map { ("Model time today", used.modelSeconds, $0, String(format: "%.0f s of %.0f s", used.modelSeconds, $0)) },
            day.costDollars.map {
                ("Cost today", Double(used.costMicrodollars) / 1_000_000, $0, "\(Self.dollars(used.costMicrodollars)) of $\($0)")
            },
        ].compactMap { $0 }.map { name, spent, limit, text in
            let share = limit > 0 ? min(1, spent / limit) : 1
            return [
                "name": name, "text": text, "left": String(format: "%.0f%% left", (1 - share) * 100), "over": share >= 0.9,
                "width": String(format: "%.1f", share * 1000),
            ]
        }
        let limits = [("a run", data.budgets.run), ("a goal", data.budgets.goal)].compactMap { scope, budget -> [String: Any]? in
            let parts = [
                budget.tokens.map { "\($0) tokens" }, budget.calls.map { "\($0) calls" },
                budget.modelSeconds.map { "\(Int($0)) s of model time" }, budget.costDollars.map { "$\($0)" },
            ].compactMap { $0 }
            return parts.isEmpty ? nil : ["scope": scope, "text": parts.joined(separator: ", ")]
        }
        let cachedShare = total.promptTokens > 0 ? Double(total.cachedPromptTokens) / Double(total.promptTokens) : 0
        return render(
            "usage", title: "Usage", session: session,
            [
                "days": days, "calls": total.calls, "tokens": total.tokens, "prompt": total.promptTokens,
                "completion": total.completionTokens, "seconds": String(format: "%.1f", total.modelSeconds),
                "cost": Self.dollars(total.costMicrodollars), "cached": String(format: "%.0f%%", cachedShare * 100),
                "decode": median(recent.compactMap(\.usage.decodeTokensPerSecond)),
                "prefill": median(recent.compactMap(\.usage.prefillTokensPerSecond)),
                "dayChart": SVGChart.columns(dayBars, caption: "Tokens per day"),
                "modelChart": SVGChart.bars(byModel.map { ($0.key, Double($0.value.tokens)) }, caption: "Tokens by model"),
                "purposeChart": SVGChart.bars(byPurpose.map { ($0.key, Double($0.value.tokens)) }, caption: "Tokens by purpose"),
                "models": table(byModel), "purposes": table(byPurpose), "none": rows.isEmpty,
                "budgets": budgets, "noBudgets": budgets.isEmpty, "limits": limits,
            ])
    }

    static func dollars(_ micro: Int64) -> String { String(format: "$%.4f", Double(micro) / 1_000_000) }

    // MARK: Health

    func healthPage(_ session: DashboardSessions.Session) async -> Response {
        var sections = await data.health?() ?? []
        let probe = SandboxProbe.run(workspace: data.workspace)
        sections.append(
            HealthSection(
                "Sandbox",
                probe.checks.map { check in
                    .init(
                        check.name, check.available ? .ok : .warning, check.available ? check.detail : "\(check.detail) — \(check.remedy)")
                }))
        let view: [[String: Any]] = sections.map { section in
            [
                "title": section.title,
                "lines": section.lines.map { line -> [String: Any] in
                    ["name": line.name, "state": line.state.rawValue, "label": Self.label(line.state), "detail": line.detail]
                },
            ]
        }
        return render("health", title: "Health", session: session, ["sections": view])
    }

    static func label(_ state: HealthSection.State) -> String {
        switch state {
        case .ok: "working"
        case .warning: "needs attention"
        case .off: "off"
        }
    }
}

extension UsageTotals {
    mutating func add(_ other: UsageTotals) {
        calls += other.calls
        promptTokens += other.promptTokens
        completionTokens += other.completionTokens
        cachedPromptTokens += other.cachedPromptTokens
        modelSeconds += other.modelSeconds
        costMicrodollars += other.costMicrodollars
    }
}

/// Small charts drawn on the server as SVG (no script, no inline style: the CSP holds). Every
/// label is escaped.
enum SVGChart {
    /// Vertical columns, one per label (days, in order).
    static func columns(_ values: [(String, Double)], caption: String) -> String {
        let height = 160.0
        let width = 1000.0
        let top = max(1, values.map(\.1).max() ?? 1)
        let step = width / Double(max(1, values.count))
        let every = max(1, values.count / 7)
        var svg =
            "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height + 24))\" role=\"img\" aria-label=\"\(SafeMarkdown.escape(caption))\">"
        for (index, (label, value)) in values.enumerated() {
            let barHeight = value / top * height
            let x = Double(index) * step
            svg += "<rect class=\"bar\" x=\"\(fmt(x + step * 0.15))\" y=\"\(fmt(height - barHeight))\" width=\"\(fmt(step * 0.7))\" "
            svg += "height=\"\(fmt(barHeight))\"><title>\(SafeMarkdown.escape("\(label): \(Int(value)) tokens"))</title></rect>"
            if index % every == 0 {
                svg += "<text x=\"\(fmt(x + step / 2))\" y=\"\(Int(height + 18))\" text-anchor=\"middle\">"
                svg += "\(SafeMarkdown.escape(String(label.suffix(5))))</text>"
            }
        }
        svg += "<text x=\"4\" y=\"14\">\(Int(top)) tokens</text></svg>"
        return svg
    }

    /// Horizontal bars, largest first.
    static func bars(_ values: [(String, Double)], caption: String) -> String {
        let sorted = values.sorted { $0.1 > $1.1 }.prefix(12)
        let top = max(1, sorted.map(\.1).max() ?? 1)
        let row = 26.0
        var svg =
            "<svg class=\"chart\" viewBox=\"0 0 1000 \(Int(row * Double(max(1, sorted.count))))\" role=\"img\" aria-label=\"\(SafeMarkdown.escape(caption))\">"
        for (index, (label, value)) in sorted.enumerated() {
            let y = Double(index) * row
            svg += "<text x=\"0\" y=\"\(fmt(y + 17))\">\(SafeMarkdown.escape(String(label.prefix(28))))</text>"
            svg += "<rect class=\"bar\" x=\"300\" y=\"\(fmt(y + 4))\" width=\"\(fmt(max(2, value / top * 560)))\" height=\"18\"></rect>"
            svg += "<text x=\"\(fmt(306 + value / top * 560))\" y=\"\(fmt(y + 17))\">\(Int(value))</text>"
        }
        return svg + "</svg>"
    }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }
}
