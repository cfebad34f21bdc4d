import Foundation

/// A morning brief or end-of-day digest: what needs the user, what was done for them, what
/// arrived, and counts of everything suppressed, so nothing vanishes silently.
///
/// Built deterministically from scored items (`BriefBuilder`); a model may add one-line summaries
/// afterwards, but the brief is complete without one.
public struct Brief: Sendable, Hashable, Codable {
    public struct Item: Sendable, Hashable, Codable {
        public var text: String
        public var level: String
        public var source: String
        public var links: [String]
        public var eventID: Int64?

        public init(text: String, level: String, source: String, links: [String] = [], eventID: Int64? = nil) {
            self.text = text
            self.level = level
            self.source = source
            self.links = links
            self.eventID = eventID
        }
    }

    public struct Section: Sendable, Hashable, Codable {
        public var title: String
        public var items: [Item]
    }

    public struct Period: Sendable, Hashable, Codable {
        public var from: Date
        public var to: Date
    }

    /// `morning`, `evening` or `brief` (asked for by hand).
    public var kind: String
    public var period: Period
    public var sections: [Section]
    /// Where the Markdown was written, relative to the workspace.
    public var path: String?

    public func section(_ title: String) -> Section? { sections.first { $0.title == title } }
}

/// The inputs a brief is built from, gathered by the caller (the store, the goal table).
public struct BriefInputs: Sendable {
    public struct Approval: Sendable {
        public var id: Int64
        public var runID: Int64
        public var tool: String
        public var reason: String
        public var expiresAt: Date
        public init(id: Int64, runID: Int64, tool: String, reason: String, expiresAt: Date) {
            self.id = id
            self.runID = runID
            self.tool = tool
            self.reason = reason
            self.expiresAt = expiresAt
        }
    }

    public struct Goal: Sendable {
        public var runID: Int64
        public var goal: String
        /// `succeeded`, `failed`, `needsReview`, …
        public var state: String
        public var report: String?
        public var tokens: Int
        public var cost: Double?
        public init(runID: Int64, goal: String, state: String, report: String?, tokens: Int, cost: Double?) {
            self.runID = runID
            self.goal = goal
            self.state = state
            self.report = report
            self.tokens = tokens
            self.cost = cost
        }
    }

    public var items: [AttentionItem]
    /// Interrupt-level items from before the period still not acknowledged.
    public var openInterrupts: [AttentionItem]
    public var approvals: [Approval]
    public var goals: [Goal]
    /// The first lines of new documents, by event id (from their memory records).
    public var documentLines: [Int64: String]

    public init(
        items: [AttentionItem], openInterrupts: [AttentionItem] = [], approvals: [Approval] = [], goals: [Goal] = [],
        documentLines: [Int64: String] = [:]
    ) {
        self.items = items
        self.openInterrupts = openInterrupts
        self.approvals = approvals
        self.goals = goals
        self.documentLines = documentLines
    }
}

/// Builds a brief from scored items, with no model and no I/O.
public struct BriefBuilder: Sendable {
    public var interruptAt: Double
    public var timeZone: TimeZone

    public init(interruptAt: Double = AttentionSettings().interruptAt, timeZone: TimeZone = .current) {
        self.interruptAt = interruptAt
        self.timeZone = timeZone
    }

    public static let sectionTitles = ["Needs you", "Done for you", "Arrived", "Commits", "New documents", "Anomalies", "Suppressed"]

    public func build(kind: String, from: Date, to: Date, inputs: BriefInputs) -> Brief {
        var needs: [Brief.Item] = []
        var done: [Brief.Item] = []
        var arrived: [Brief.Item] = []
        var documents: [Brief.Item] = []
        var anomalies: [Brief.Item] = []
        var suppressed: [String: Int] = [:]
        var noise: [String: Int] = [:]
        var commits: [String: [String: [AttentionItem]]] = [:]

        for approval in inputs.approvals.sorted(by: { $0.expiresAt < $1.expiresAt }) {
            needs.append(
                Brief.Item(
                    text:
                        "Approval \(approval.id) waits: \(approval.tool) in run \(approval.runID) — \(approval.reason) (expires \(format(approval.expiresAt)); hearth approve \(approval.id))",
                    level: "interrupt", source: "approval"))
        }
        for goal in inputs.goals {
            let links = goal.report.map { [$0] } ?? []
            let usage = goal.tokens > 0 ? ", \(goal.tokens) tokens" + (goal.cost.map { String(format: ", $%.4f", $0) } ?? "") : ""
            if goal.state == "succeeded" {
                done.append(
                    Brief.Item(text: "Run \(goal.runID) finished: \(goal.goal)\(usage)", level: "digest", source: "goal", links: links))
            } else if ["failed", "needsReview", "paused", "awaitingApproval"].contains(goal.state) {
                needs.append(
                    Brief.Item(
                        text: "Run \(goal.runID) \(goal.state): \(goal.goal) (hearth run \(goal.runID))", level: "interrupt",
                        source: "goal", links: links))
            }
        }
        var seenClusters: Set<String> = []
        let open = inputs.openInterrupts.filter { item in !inputs.items.contains { $0.eventID == item.eventID } }
        for item in open + inputs.items {
            let decision = item.decision
            let urgent = decision.duplicateOf == nil && (decision.level == .interrupt || decision.score >= interruptAt)
            if let reason = decision.suppressedBy, !urgent || reason == "duplicate" || reason == "burst" {
                suppressed[reason, default: 0] += 1
                continue
            }
            if urgent && item.acknowledgedAt == nil {
                guard seenClusters.insert(decision.cluster).inserted else {
                    suppressed["duplicate", default: 0] += 1
                    continue
                }
                var text = decision.headline
                if decision.level != .interrupt, let reason = decision.suppressedBy { text += " (held: \(reason))" }
                needs.append(Brief.Item(text: text, level: "interrupt", source: item.source, links: item.links, eventID: item.eventID))
                if decision.category == .metric {
                    anomalies.append(
                        Brief.Item(
                            text: decision.headline, level: "interrupt", source: item.source, links: item.links, eventID: item.eventID))
                }
                continue
            }
            switch decision.category {
            case .commit:
                let repository = Self.repository(item)
                let author =
                    decision.headline.components(separatedBy: ": ").dropFirst().joined(separator: ": ").components(separatedBy: " — ")
                    .first ?? "?"
                commits[repository, default: [:]][author, default: []].append(item)
            case .metric:
                if decision.reasons.contains(where: { $0.signal.hasPrefix("metric.") && $0.signal != "base.metric" }) {
                    anomalies.append(
                        Brief.Item(
                            text: decision.headline, level: decision.level.rawValue, source: item.source, links: item.links,
                            eventID: item.eventID))
                } else {
                    suppressed["routine metric rows", default: 0] += 1
                }
            case .file where item.kind == "file.created" && decision.level >= .digest:
                var text = decision.headline
                if let lines = inputs.documentLines[item.eventID], !lines.isEmpty { text += " — " + lines }
                documents.append(
                    Brief.Item(text: text, level: decision.level.rawValue, source: item.source, links: item.links, eventID: item.eventID))
            default:
                if decision.level >= .digest {
                    arrived.append(
                        Brief.Item(
                            text: decision.headline, level: decision.level.rawValue, source: item.source, links: item.links,
                            eventID: item.eventID))
                } else {
                    noise[Self.noiseClass(item), default: 0] += 1
                }
            }
        }
        arrived.sort { lhs, rhs in
            let left = inputs.items.first { $0.eventID == lhs.eventID }?.decision.score ?? 0
            let right = inputs.items.first { $0.eventID == rhs.eventID }?.decision.score ?? 0
            return left > right
        }
        if !noise.isEmpty {
            let summary = noise.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.value) \($0.key)" }
            arrived.append(Brief.Item(text: "Also: " + summary.joined(separator: ", "), level: "log", source: "attention"))
        }
        var commitItems: [Brief.Item] = []
        for (repository, authors) in commits.sorted(by: { $0.key < $1.key }) {
            for (author, items) in authors.sorted(by: {
                $0.value.count > $1.value.count || ($0.value.count == $1.value.count && $0.key < $1.key)
            }) {
                let messages = items.map { item -> String in
                    let title = item.decision.headline.components(separatedBy: " — ").dropFirst().joined(separator: " — ")
                    let notable = item.decision.reasons.filter { ["commit.large", "commit.revert", "watch"].contains($0.signal) }.map(
                        \.detail)
                    return notable.isEmpty ? title : "\(title) [\(notable.joined(separator: "; "))]"
                }
                commitItems.append(
                    Brief.Item(
                        text: "\(repository) — \(author) (\(items.count) commit\(items.count == 1 ? "" : "s")): "
                            + messages.joined(separator: "; "),
                        level: items.map(\.decision.level).max()!.rawValue, source: "git", links: []))
            }
        }
        let suppressedItems = suppressed.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map {
            Brief.Item(text: "\($0.value) held back: \($0.key)", level: "log", source: "attention")
        }
        let sections = zip(Self.sectionTitles, [needs, done, arrived, commitItems, documents, anomalies, suppressedItems]).map {
            Brief.Section(title: $0.0, items: $0.1)
        }
        return Brief(kind: kind, period: Brief.Period(from: from, to: to), sections: sections, path: nil)
    }

    static func repository(_ item: AttentionItem) -> String {
        item.decision.headline.components(separatedBy: ": ").first ?? "repository"
    }

    /// "newsletters and lists", "automated notices", "file changes", …: how noise is counted.
    static func noiseClass(_ item: AttentionItem) -> String {
        let signals = Set(item.decision.reasons.map(\.signal))
        if signals.contains("mail.bulk") { return "newsletters and list mails" }
        if signals.contains("mail.automated") { return "automated notices" }
        if signals.contains("mute") { return "muted by your rules" }
        switch item.decision.category {
        case .mail: return "other mails"
        case .file: return "file changes"
        case .schedule: return "schedule firings"
        case .webhook: return "webhooks"
        case .malformed: return "unreadable inputs"
        default: return "other events"
        }
    }

    func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "EEE d MMM HH:mm"
        return formatter.string(from: date)
    }

    /// The brief as Markdown, links relative to `Briefs/`.
    public func markdown(_ brief: Brief) -> String {
        var lines = [
            "# \(brief.kind == "morning" ? "Morning brief" : brief.kind == "evening" ? "End-of-day digest" : "Brief"), \(format(brief.period.to))",
            "",
        ]
        lines.append("Covers \(format(brief.period.from)) to \(format(brief.period.to)).")
        for section in brief.sections {
            lines += ["", "## \(section.title)", ""]
            if section.items.isEmpty {
                lines.append("Nothing.")
                continue
            }
            for item in section.items {
                let links = item.links.map { link in
                    let target =
                        link.contains("://")
                        ? link
                        : "../"
                            + link.split(separator: "/").map {
                                String($0).addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? String($0)
                            }.joined(separator: "/")
                    return "[\(Self.escape(link))](\(target))"
                }
                lines.append("- " + Self.escape(item.text) + (links.isEmpty ? "" : " (" + links.joined(separator: ", ") + ")"))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text from outside (subjects, file names) cannot open links, images or HTML in the brief.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text.replacingOccurrences(of: "\n", with: " ") {
            if "\\`*_[]<>!|#".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }
}

extension Brief {
    /// `{"kind", "period": {"from", "to"}, "path", "sections": [{"title", "items": [{"text", "level", "source", "links", "event"}]}]}`.
    public var json: JSONValue {
        [
            "kind": .string(kind),
            "period": ["from": .string(Timestamp.format(period.from)), "to": .string(Timestamp.format(period.to))],
            "path": path.map(JSONValue.string) ?? .null,
            "sections": .array(
                sections.map { section in
                    [
                        "title": .string(section.title),
                        "items": .array(
                            section.items.map { item in
                                [
                                    "text": .string(item.text), "level": .string(item.level), "source": .string(item.source),
                                    "links": .array(item.links.map(JSONValue.string)),
                                    "event": item.eventID.map { .number(Double($0)) } ?? .null,
                                ]
                            }),
                    ]
                }),
        ]
    }
}

/// When briefs are due: the morning and evening cron expressions, decided without I/O.
public struct BriefSchedule: Sendable {
    public var morning: CronExpression
    public var evening: CronExpression
    public var timeZone: TimeZone

    public init(morning: CronExpression, evening: CronExpression, timeZone: TimeZone) {
        self.morning = morning
        self.evening = evening
        self.timeZone = timeZone
    }

    /// The latest morning or evening slot in (after, now], and which it was: after downtime that
    /// spans several slots, one brief (the latest slot's kind) covers the whole gap.
    public func latestSlot(after: Date, upTo now: Date) -> (kind: String, at: Date)? {
        var latest: (kind: String, at: Date)?
        for (kind, expression) in [("morning", morning), ("evening", evening)] {
            var cursor = after
            var found: Date?
            for _ in 0..<1_000 {
                guard let next = expression.nextFire(after: cursor, in: timeZone), next <= now else { break }
                found = next
                cursor = next
            }
            if let found, latest == nil || found > latest!.at { latest = (kind, found) }
        }
        return latest
    }

    /// The next slot after `now`.
    public func next(after now: Date) -> Date? {
        [morning.nextFire(after: now, in: timeZone), evening.nextFire(after: now, in: timeZone)].compactMap { $0 }.min()
    }
}
