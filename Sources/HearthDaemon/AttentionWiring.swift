import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthMemory
import HearthSandbox
import HearthStore
import HearthTools

/// The attention loop's parts, built from the configuration: the scorer's settings, what is
/// remembered per source, the profile from memory, and briefs written to `Briefs/`.
public enum AttentionWiring {
    public static func settings(_ configuration: Configuration) -> AttentionSettings {
        let attention = configuration.attention
        var settings = AttentionSettings()
        settings.interruptAt = attention.interruptAt
        settings.digestAt = attention.digestAt
        settings.maxInterruptsPerHour = attention.maxInterruptsPerHour
        if let (start, end) = Configuration.Attention.quietRange(attention.quietHours) {
            settings.quietStart = start
            settings.quietEnd = end
        }
        settings.timeZone = configuration.timeZone
        settings.coveredPaths = configuration.gitRepositories.filter { !$0.hasPrefix("/") } + configuration.metricStreams
        return settings
    }

    public static func ingest(_ configuration: Configuration) -> IngestSettings {
        var settings = IngestSettings()
        for source in configuration.attention.metadataOnly { settings.modes[source] = .metadata }
        for source in configuration.attention.ignore { settings.modes[source] = .ignore }
        settings.maxTextBytes = configuration.attention.maxTextBytes
        settings.maxFileBytes = configuration.attention.maxFileBytes
        return settings
    }

    /// The profile as memory holds it now: roles, rules, budgets, feedback, plus `[attention]`'s addresses and VIPs.
    public static func profile(memory: any MemoryStore, configuration: Configuration) async throws -> AttentionProfile {
        let facts = try await memory.facts(FactQuery())
        var profile = AttentionProfile.from(facts: facts, addresses: configuration.attention.me, vips: configuration.attention.vips)
        for line in configuration.metricBounds {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let series = (parts[0] as NSString).deletingPathExtension.replacingOccurrences(of: "/", with: " ")
            if parts.count == 2, var bound = AttentionProfile.bound(subject: series, amount: parts[1]) {
                bound.series = parts[0]
                bound.statement = "[metrics] bounds: \(line)"
                profile.bounds.append(bound)
            }
        }
        return profile
    }

    /// Reads a PDF's pages with `pdftotext`; nil when it cannot.
    public static func pdfPages(_ url: URL) async -> [String]? {
        guard
            let output = try? await ProgramRunner.run(
                "pdftotext", package: "poppler-utils", arguments: ["-layout", "-enc", "UTF-8", url.path, "-"], timeout: .seconds(60))
        else { return nil }
        return PDFText.pages(fromPdftotext: output.stdout)
    }

    public static func ingestor(configuration: Configuration, workspace: URL) -> AttentionIngestor {
        let ingest = ingest(configuration)
        return AttentionIngestor(
            scorer: AttentionScorer(settings: settings(configuration)), settings: ingest,
            reader: WorkspaceContentReader(workspace: workspace, settings: ingest, pdfPages: pdfPages))
    }
}

/// Why a brief could not be written; nothing partial is left behind.
public struct BriefError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// Builds a brief from the store and writes it: `Briefs/YYYY-MM-DD-KIND.md` (whole or not at
/// all), a memory record, a `brief.created` event.
public struct BriefWriter: Sendable {
    let stores: DaemonStores
    let configuration: Configuration
    let workspace: URL

    public init(stores: DaemonStores, configuration: Configuration, workspace: URL) {
        self.stores = stores
        self.configuration = configuration
        self.workspace = workspace
    }

    /// The end of the last brief written, if any.
    public func lastBriefEnd() async throws -> Date? {
        let events = try await stores.journal.events(
            EventQuery(limit: 1, source: "hearth", kind: "brief.created", newestFirst: true))
        return events.first?.payload["to"]?.stringValue.flatMap(Timestamp.parse)
    }

    /// Builds the brief for `from..<to` without writing anything.
    public func build(kind: String, from: Date, to: Date) async throws -> Brief {
        let store = stores.attention([])
        let items = try await store.items(AttentionQuery(from: from, to: to))
        let open = try await store.items(AttentionQuery(to: from, levels: [.interrupt], unacknowledgedOnly: true, limit: 200))
        let approvals = try await stores.approvals.approvals(states: [.pending]).map {
            BriefInputs.Approval(id: $0.id, runID: $0.runID, tool: $0.tool, reason: $0.reason, expiresAt: $0.expiresAt)
        }
        let goalStore = stores.goals
        var goals: [BriefInputs.Goal] = []
        for run in try await stores.ledger.runs(limit: 500, states: nil)
        where run.origin == "goal" && run.updatedAt >= from && run.updatedAt < to {
            guard let detail = try? await goalStore.goal(run.id) else { continue }
            goals.append(
                BriefInputs.Goal(
                    runID: run.id, goal: detail.goal, state: run.state.rawValue, report: detail.report,
                    tokens: detail.usage.promptTokens + detail.usage.completionTokens, cost: nil))
        }
        var lines: [Int64: String] = [:]
        let documentRecords = items.filter { $0.kind == "file.created" && $0.decision.level >= .digest }.compactMap(\.memoryRecordID)
        if !documentRecords.isEmpty {
            for record in try await stores.memory.records(ids: documentRecords) {
                let body = record.text.components(separatedBy: "\n\n").dropFirst().joined(separator: " ")
                let first = body.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                    .prefix(2).joined(separator: " ")
                if let item = items.first(where: { $0.memoryRecordID == record.id }), !first.isEmpty {
                    lines[item.eventID] = first.count > 160 ? String(first.prefix(159)) + "…" : first
                }
            }
        }
        let builder = BriefBuilder(interruptAt: configuration.attention.interruptAt, timeZone: configuration.timeZone)
        return builder.build(
            kind: kind, from: from, to: to,
            inputs: BriefInputs(items: items, openInterrupts: open, approvals: approvals, goals: goals, documentLines: lines))
    }

    /// Builds and writes the brief; the file is whole or absent.
    public func write(kind: String, from: Date, to: Date) async throws -> Brief {
        var brief = try await build(kind: kind, from: from, to: to)
        let builder = BriefBuilder(interruptAt: configuration.attention.interruptAt, timeZone: configuration.timeZone)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = configuration.timeZone
        let day = calendar.dateComponents([.year, .month, .day], from: to)
        let name = String(format: "%04d-%02d-%02d-%@.md", day.year ?? 0, day.month ?? 0, day.day ?? 0, kind)
        let relative = "Briefs/\(name)"
        brief.path = relative
        let directory = workspace.appending(path: "Briefs")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try DurableFile.replace(directory.appending(path: name), with: Data(builder.markdown(brief).utf8), mode: 0o644)
        } catch let error as DurableFileError {
            throw BriefError(reason: "cannot write \(relative): \(error.reason); nothing was written")
        } catch {
            throw BriefError(reason: "cannot write \(relative): \(error.localizedDescription); nothing was written")
        }
        let counts = brief.sections.map { "\($0.title): \($0.items.count)" }.joined(separator: ", ")
        _ = try await stores.memory.insert([
            MemoryRecord(
                kind: .summary,
                text:
                    "\(kind == "brief" ? "Brief" : kind.capitalized + " brief") for \(Timestamp.format(from)) to \(Timestamp.format(to)) (\(counts))\n\n"
                    + builder.markdown(brief),
                source: "brief", provenance: .trusted, occurredAt: to, importance: 0.7)
        ])
        _ = try await stores.journal.append(
            NewEvent(
                source: "hearth", kind: "brief.created", key: "brief:\(kind):\(Int64(to.timeIntervalSince1970))",
                payload: [
                    "path": .string(relative), "from": .string(Timestamp.format(from)), "to": .string(Timestamp.format(to)),
                    "brief": brief.json,
                ], occurredAt: to, provenance: .trusted))
        return brief
    }
}

extension Configuration {
    /// `[cron] timezone`, else the machine's.
    public var timeZone: TimeZone { cron.timeZone.flatMap(TimeZone.init(identifier:)) ?? .current }
}

/// How inbox items read as JSON, for `hearth inbox --json` and `GET /v1/inbox`.
public enum InboxView {
    public static func json(_ item: AttentionItem, deliveries: [Delivery] = []) -> JSONValue {
        [
            "deliveries": .array(
                deliveries.map { delivery in
                    [
                        "channel": .string(delivery.channel), "state": .string(delivery.state.rawValue),
                        "attempts": .number(Double(delivery.attempts)),
                        "lastError": delivery.lastError.map(JSONValue.string) ?? .null,
                        "deliveredAt": delivery.deliveredAt.map { .string(Timestamp.format($0)) } ?? .null,
                        "nextAttemptAt": delivery.state == .delivered ? .null : .string(Timestamp.format(delivery.nextAttemptAt)),
                    ]
                }),
            "id": .number(Double(item.eventID)), "text": .string(item.decision.headline), "level": .string(item.decision.level.rawValue),
            "source": .string(item.source), "kind": .string(item.kind), "occurredAt": .string(Timestamp.format(item.occurredAt)),
            "decidedAt": .string(Timestamp.format(item.decidedAt)), "score": .number((item.decision.score * 1000).rounded() / 1000),
            "confidence": .number(item.decision.confidence),
            "reasons": .array(
                item.decision.reasons.map {
                    ["signal": .string($0.signal), "weight": .number(($0.weight * 1000).rounded() / 1000), "detail": .string($0.detail)]
                }),
            "links": .array(item.links.map(JSONValue.string)), "acknowledged": .bool(item.acknowledgedAt != nil),
        ]
    }

    /// The inbox as JSON, each item with its deliveries.
    public static func list(stores: DaemonStores, all: Bool) async throws -> JSONValue {
        let items = try await Self.items(stores: stores, all: all)
        let deliveries = try await stores.deliveries.deliveries(eventIDs: items.map(\.eventID))
        return .array(items.map { json($0, deliveries: deliveries[$0.eventID] ?? []) })
    }

    public static func items(stores: DaemonStores, all: Bool) async throws -> [AttentionItem] {
        try await stores.attention([]).items(AttentionQuery(levels: [.interrupt], unacknowledgedOnly: !all, limit: 1_000))
    }

    /// Teaches the scorer from the user's verdict on an item: future items from its sender (or,
    /// without one, of its kind) weigh more or less. The verdict is a trusted fact that replaces
    /// any earlier one for the same sender or kind. Returns what was noted, nil when there is no
    /// such item.
    public static func feedback(stores: DaemonStores, eventID: Int64, urgent: Bool) async throws -> String? {
        guard let item = try await stores.attention([]).item(eventID: eventID) else { return nil }
        let event = try await stores.journal.events(EventQuery(afterID: eventID - 1, limit: 1)).first
        let sender = event.flatMap { AttentionSubject.from($0).senderAddress }
        let subject = sender.map { "sender:\($0)" } ?? "kind:\(item.kind)"
        let verdict = urgent ? "urgent" : "not-urgent"
        let fact = Fact(subject: subject, predicate: "feedback", object: verdict, provenance: .trusted)
        let store = stores.memory
        let now = Date()
        for old in try await store.facts(FactQuery(slot: fact.slot)) {
            try await store.invalidate(factID: old.id, by: nil, at: now, validTo: now)
        }
        _ = try await store.insertFacts([fact])
        return "\(subject) is \(verdict)"
    }

    /// The newest brief's JSON from the journal.
    public static func latestBrief(stores: DaemonStores) async throws -> JSONValue? {
        try await stores.journal.events(EventQuery(limit: 1, source: "hearth", kind: "brief.created", newestFirst: true))
            .first?.payload["brief"]
    }
}
