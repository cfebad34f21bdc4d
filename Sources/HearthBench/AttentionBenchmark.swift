import Foundation
import HearthAgent
import HearthCore
import HearthMemory

/// `hearth bench attention`: replays a labelled JSONL stream through the real mail parser, file
/// reading, ingestion, scorer and routing on a manual clock, and measures what interrupted.
///
/// Each line: `occurredAt`, `label` (`urgent`, `digest`, `noise` — removed before anything sees
/// the line), an optional `id`, and one of `mail` (raw RFC 822 text), `file` (`path`, `content`:
/// written into the bench's workspace), `commit` (`repo`, `author`, `message`, `files`) or `event`
/// (`source`, `kind`, `payload`). A keyword rule (interrupt when the subject says urgent, asap,
/// critical or down) runs beside it as the baseline.
public struct AttentionBenchmark: Sendable {
    public struct Options: Sendable {
        public var stream: URL
        public var profile: URL?
        public var workspace: URL
        public var settings = AttentionSettings()

        public init(stream: URL, profile: URL?, workspace: URL) {
            self.stream = stream
            self.profile = profile
            self.workspace = workspace
        }
    }

    public enum BenchError: Error, CustomStringConvertible {
        case line(Int, String)
        case unreadable(String)

        public var description: String {
            switch self {
            case .line(let number, let problem): "stream line \(number): \(problem)"
            case .unreadable(let problem): problem
            }
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    struct Prepared {
        var event: Event
        var label: String
        var id: String?
        var content: EventContent?
    }

    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> JSONValue {
        var facts: [Fact] = []
        var addresses: [String] = []
        if let profile = options.profile {
            guard let text = try? String(contentsOf: profile, encoding: .utf8) else {
                throw BenchError.unreadable("cannot read \(profile.path)")
            }
            for line in text.split(whereSeparator: \.isNewline) where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                let statements = StatementPatterns.statements(in: String(line), provenance: .trusted, sourceRecordID: nil)
                facts += statements.map(\.fact)
            }
            addresses = facts.filter {
                $0.subject == "user" && ["email is", "e-mail is", "address is", "email address is"].contains($0.predicate.lowercased())
            }
            .map(\.object)
        }
        let prepared = try await prepare()
        progress("\(prepared.count) events read and parsed")
        let profile = AttentionProfile.from(facts: facts, addresses: addresses)
        let ingestor = AttentionIngestor(scorer: AttentionScorer(settings: options.settings, profile: profile), reader: nil)
        var items: [AttentionItem] = []
        items.reserveCapacity(prepared.count)
        let clock = ContinuousClock()
        var elapsed = Duration.zero
        for entry in prepared {
            let started = clock.now
            let ingested = await ingestor.decide(entry.event, content: entry.content, mode: .ingest, now: entry.event.occurredAt)
            elapsed += clock.now - started
            items.append(ingested.item)
        }
        // The brief over the busiest day, built from the scored items without a model.
        let calendar = Calendar(identifier: .gregorian)
        let byDay = Dictionary(grouping: items) { calendar.startOfDay(for: $0.decidedAt) }
        let busiest = byDay.max { $0.value.count < $1.value.count }
        let briefStart = clock.now
        let brief = BriefBuilder(interruptAt: options.settings.interruptAt, timeZone: TimeZone(identifier: "UTC")!).build(
            kind: "morning", from: busiest?.key ?? Date(), to: (busiest?.key ?? Date()).addingTimeInterval(86_400),
            inputs: BriefInputs(items: busiest?.value ?? []))
        _ = BriefBuilder().markdown(brief)
        let briefSeconds = (clock.now - briefStart).inSeconds

        var urgent = (total: 0, interrupted: 0, inDigest: 0, missed: 0)
        var noise = (total: 0, suppressed: 0, interrupted: 0)
        var baseline = (missed: 0, noiseInterrupted: 0, interrupts: 0)
        var decisions: [JSONValue] = []
        var missed: [JSONValue] = []
        for (entry, item) in zip(prepared, items) {
            let level = item.decision.level
            let keyword = Self.keywordBaseline(entry.event)
            if keyword { baseline.interrupts += 1 }
            switch entry.label {
            case "urgent":
                urgent.total += 1
                if level == .interrupt {
                    urgent.interrupted += 1
                } else {
                    urgent.missed += 1
                    if level == .digest { urgent.inDigest += 1 }
                    missed.append([
                        "id": entry.id.map(JSONValue.string) ?? .null, "headline": .string(item.decision.headline),
                        "level": .string(level.rawValue), "score": .number(item.decision.score),
                    ])
                }
                if !keyword { baseline.missed += 1 }
            case "noise":
                noise.total += 1
                if level == .log { noise.suppressed += 1 }
                if level == .interrupt { noise.interrupted += 1 }
                if keyword { baseline.noiseInterrupted += 1 }
            default: break
            }
            decisions.append([
                "id": entry.id.map(JSONValue.string) ?? .null, "key": entry.event.key.map(JSONValue.string) ?? .null,
                "level": .string(level.rawValue), "confidence": .number(item.decision.confidence),
                "reasons": .array(
                    item.decision.reasons.map {
                        .string("\($0.signal) \($0.weight >= 0 ? "+" : "")\(String(format: "%.2f", $0.weight)): \($0.detail)")
                    }),
            ])
        }
        let interrupts = items.filter { $0.decision.level == .interrupt }.count
        let days = Set(items.map { calendar.startOfDay(for: $0.decidedAt) }).count
        let seconds = elapsed.inSeconds
        return [
            "events": .number(Double(items.count)),
            "model_calls": 0,
            "events_per_second": .number(seconds > 0 ? (Double(items.count) / seconds).rounded() : 0),
            "urgent": [
                "total": .number(Double(urgent.total)), "interrupted": .number(Double(urgent.interrupted)),
                "in_digest": .number(Double(urgent.inDigest)), "missed": .number(Double(urgent.missed)),
            ],
            "noise": [
                "total": .number(Double(noise.total)), "suppressed": .number(Double(noise.suppressed)),
                "interrupted": .number(Double(noise.interrupted)),
            ],
            "interrupts_per_day": .number(days > 0 ? (Double(interrupts) / Double(days) * 10).rounded() / 10 : 0),
            "brief": [
                "events": .number(Double(busiest?.value.count ?? 0)), "seconds": .number((briefSeconds * 10_000).rounded() / 10_000),
                "items": .number(Double(brief.sections.map(\.items.count).reduce(0, +))),
            ],
            "baseline_keyword_rule": [
                "missed": .number(Double(baseline.missed)), "noise_interrupted": .number(Double(baseline.noiseInterrupted)),
                "interrupts_per_day": .number(days > 0 ? (Double(baseline.interrupts) / Double(days) * 10).rounded() / 10 : 0),
            ],
            "missed": .array(missed),
            "decisions": .array(decisions),
        ]
    }

    /// The baseline: interrupt when the subject (or title) says urgent, asap, critical or down.
    static func keywordBaseline(_ event: Event) -> Bool {
        let title = (event.payload["subject"]?.stringValue ?? event.payload["title"]?.stringValue ?? "").lowercased()
        return ["urgent", "asap", "critical", " down"].contains { title.contains($0) }
    }

    /// Reads the stream; parses mail with the Maildir watcher's parser, writes files into the
    /// workspace and reads them back as ingestion does.
    func prepare() async throws -> [Prepared] {
        guard let data = try? Data(contentsOf: options.stream) else { throw BenchError.unreadable("cannot read \(options.stream.path)") }
        let reader = WorkspaceContentReader(workspace: options.workspace, settings: IngestSettings(), pdfPages: { _ in nil })
        var prepared: [Prepared] = []
        var seenPaths: Set<String> = []
        for (index, slice) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            let number = index + 1
            guard let line = try? JSONValue(parsing: Data(slice)), case .object(var object) = line else {
                if slice.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 9 }) { continue }
                throw BenchError.line(number, "not a JSON object")
            }
            guard let label = object.removeValue(forKey: "label")?.stringValue, ["urgent", "digest", "noise"].contains(label) else {
                throw BenchError.line(number, "\"label\" must be urgent, digest or noise")
            }
            guard let when = object["occurredAt"]?.stringValue.flatMap(Timestamp.parse) else {
                throw BenchError.line(number, "\"occurredAt\" must be an RFC 3339 time")
            }
            let id = object["id"]?.stringValue
            let eventID = Int64(number)
            var content: EventContent?
            let newEvent: NewEvent
            if let raw = object["mail"]?.stringValue {
                do {
                    let message = try MailMessage.parse(Data(raw.utf8), maxBodyBytes: 256 * 1024)
                    newEvent = message.event(file: "new/\(number)", key: "maildir:bench-\(number)", modified: when)
                } catch {
                    newEvent = NewEvent(
                        source: "maildir", kind: "mail.malformed", key: "maildir:bench-\(number)",
                        payload: ["error": .string(error.reason), "malformed": true], occurredAt: when, provenance: .untrusted)
                }
            } else if let file = object["file"], let path = file["path"]?.stringValue {
                guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                    throw BenchError.line(number, "file path must stay in the workspace")
                }
                let url = options.workspace.appending(path: path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                let text = file["content"]?.stringValue ?? ""
                try Data(text.utf8).write(to: url)
                let kind = seenPaths.insert(path).inserted ? "file.created" : "file.modified"
                newEvent = NewEvent(
                    source: "watcher", kind: kind, key: "file:bench-\(number)",
                    payload: ["path": .string(path), "size": .number(Double(text.utf8.count))],
                    occurredAt: when, provenance: .untrusted)
                content = await reader.content(ofWorkspacePath: path)
            } else if let commit = object["commit"] {
                newEvent = NewEvent(
                    source: "git", kind: "commit", key: "git:bench-\(number)",
                    payload: [
                        "repository": commit["repo"] ?? "repository", "author": commit["author"] ?? "unknown",
                        "message": commit["message"] ?? "",
                        "files": commit["files"] ?? .array([]), "commit": .string(String(format: "%040x", number)),
                    ], occurredAt: when, provenance: .untrusted)
            } else if let event = object["event"] {
                newEvent = NewEvent(
                    source: event["source"]?.stringValue ?? "bench", kind: event["kind"]?.stringValue ?? "event",
                    key: event["key"]?.stringValue ?? "bench-\(number)",
                    payload: event["payload"] ?? [:], occurredAt: when, provenance: .untrusted)
            } else {
                throw BenchError.line(number, "needs one of \"mail\", \"file\", \"commit\" or \"event\"")
            }
            let event = Event(
                id: eventID, source: newEvent.source, kind: newEvent.kind, key: newEvent.key, payload: newEvent.payload, occurredAt: when,
                receivedAt: when, provenance: newEvent.provenance)
            prepared.append(Prepared(event: event, label: label, id: id, content: content))
        }
        return prepared
    }
}

/// The daemon's idle CPU with the attention loop on, beside the same daemon with it off: each
/// started on a fresh data dir (inference off; a git repository and a metric file followed),
/// left idle, its user and system time read from /proc over the window.
public enum IdleBenchmark {
    public static func run(seconds: Int, progress: @Sendable (String) -> Void = { _ in }) async throws -> JSONValue {
        var results: [String: JSONValue] = [:]
        for (name, extra) in [("attention off (baseline)", "[attention]\nenabled = false\n"), ("attention on", "")] {
            let root = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-idle-\(getpid())-\(results.count)")
            defer { try? FileManager.default.removeItem(at: root) }
            let workspace = root.appending(path: "workspace")
            try FileManager.default.createDirectory(at: workspace.appending(path: "Budget"), withIntermediateDirectories: true)
            try Data("date,cost\n2026-11-01,10\n".utf8).write(to: workspace.appending(path: "Budget/costs.csv"))
            let repository = workspace.appending(path: "repo")
            try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
            _ = try await ChildProcess.run(
                URL(fileURLWithPath: "/usr/bin/git"), ["-C", repository.path, "init", "-q"], environment: ["PATH": "/usr/bin:/bin"])
            try DaemonUnderTest.prepare(
                dataDirectory: root.appending(path: "data"), workspace: workspace,
                extraConfig: extra + "[git]\nrepositories = [\"repo\"]\n[metrics]\nstreams = [\"Budget/costs.csv\"]\n")
            let daemon = try await DaemonUnderTest.start(dataDirectory: root.appending(path: "data"))
            // Let start-up work (migrations, the first scans) finish before measuring.
            try await Task.sleep(for: .seconds(3))
            let before = SpineBenchmark.cpuTicks(daemon.process.pid)
            let clock = ContinuousClock()
            let started = clock.now
            progress("\(name): idle for \(seconds) s")
            try await Task.sleep(for: .seconds(seconds))
            let after = SpineBenchmark.cpuTicks(daemon.process.pid)
            let wall = (clock.now - started).inSeconds
            _ = await daemon.stop()
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            let cpu = Double(after - before) / ticks
            results[name] = [
                "cpu_seconds": .number(cpu), "wall_seconds": .number((wall * 10).rounded() / 10),
                "cpu_percent": .number((cpu / wall * 10_000).rounded() / 100),
            ]
        }
        return .object(results)
    }
}
