import Foundation
import HearthCore

/// What ingestion does with one source's events.
public enum IngestMode: String, Sendable, Hashable, CaseIterable {
    /// Remember the event with its text.
    case ingest
    /// Remember who, what and when, without the text (bodies, file contents).
    case metadata
    /// Score it (so it is counted) but remember nothing.
    case ignore
}

/// How much of each event becomes memory.
public struct IngestSettings: Sendable, Hashable {
    /// By event source (`maildir`, `watcher`, `git`, `metrics`, `http`, `cli`, …); others: `ingest`.
    public var modes: [String: IngestMode] = [:]
    /// Text kept per event (a mail body, a file's text), in bytes.
    public var maxTextBytes = 16_384
    /// Files larger than this are remembered by name and size only.
    public var maxFileBytes = 8 << 20
    /// PDF pages read per document.
    public var maxPages = 20

    public init() {}

    public func mode(for source: String) -> IngestMode { modes[source] ?? .ingest }
}

/// Reads what a file event points at: text for text-like files and PDFs, nothing for binaries.
public protocol EventContentReader: Sendable {
    /// The text of a workspace file, or why there is none (binary, too large, gone).
    func content(ofWorkspacePath path: String) async -> EventContent
}

public enum EventContent: Sendable, Hashable {
    case text(String, pages: Int?)
    case metadataOnly(reason: String)
}

/// Turns journal events into scored items and memory records: the attention loop's pure-ish core
/// (it reads files through `EventContentReader`, nothing else). The daemon's `AttentionService`
/// and `hearth bench attention` both drive it.
public actor AttentionIngestor {
    public private(set) var scorer: AttentionScorer
    let settings: IngestSettings
    let reader: (any EventContentReader)?

    public init(scorer: AttentionScorer, settings: IngestSettings = IngestSettings(), reader: (any EventContentReader)?) {
        self.scorer = scorer
        self.settings = settings
        self.reader = reader
    }

    public func setProfile(_ profile: AttentionProfile) { scorer.profile = profile }

    /// Decides every event (in order) at `now` and builds the memory record each becomes.
    public func process(_ events: [Event], now: Date) async -> [IngestedEvent] {
        var output: [IngestedEvent] = []
        output.reserveCapacity(events.count)
        for event in events {
            let mode = settings.mode(for: event.source)
            var content: EventContent?
            if mode == .ingest, AttentionSubject.category(of: event) == .file, event.kind != "file.deleted", let reader,
                let path = event.payload["path"]?.stringValue
            {
                content = await reader.content(ofWorkspacePath: path)
            }
            output.append(decide(event, content: content, mode: mode, now: now))
        }
        return output
    }

    /// The decision and record for one event whose file content (if any) was already read.
    public func decide(_ event: Event, content: EventContent?, mode: IngestMode, now: Date) -> IngestedEvent {
        var text: String?
        if case .text(let body, _) = content { text = body }
        let subject = AttentionSubject.from(event, content: text)
        var decision = scorer.decide(subject, now: now)
        if mode == .ignore {
            decision.reasons.append(AttentionReason(signal: "source.ignored", weight: 0, detail: "[attention] ignores \(event.source)"))
        }
        var links: [String] = []
        if let path = subject.path { links.append(path) }
        let item = AttentionItem(
            eventID: event.id, source: event.source, kind: event.kind, occurredAt: event.occurredAt, decidedAt: now, decision: decision,
            links: links)
        guard mode != .ignore, event.source != "hearth" else { return IngestedEvent(item: item, record: nil) }
        let record = MemoryRecord(
            kind: .event,
            text: EventMemoryText.text(for: event, subject: subject, content: content, mode: mode, limit: settings.maxTextBytes),
            source: event.source, provenance: event.provenance, occurredAt: event.occurredAt, recordedAt: now,
            sessionID: EventMemoryText.session(for: subject),
            importance: decision.level == .interrupt ? 0.9 : decision.level == .digest ? 0.6 : 0.3)
        return IngestedEvent(item: item, record: record)
    }
}

/// The text an event is remembered as, per kind: who, what, when, and (unless metadata only) the
/// content, capped.
public enum EventMemoryText {
    public static func text(for event: Event, subject: AttentionSubject, content: EventContent?, mode: IngestMode, limit: Int) -> String {
        let payload = event.payload
        func value(_ key: String) -> String? { payload[key]?.stringValue }
        var head: String
        var body = ""
        switch subject.category {
        case .mail:
            head = "Mail from \(value("from") ?? "an unknown sender")"
            if let to = value("to") { head += " to \(to)" }
            if let cc = value("cc") { head += ", copied to \(cc)" }
            head += ": \(subject.title)"
            body = subject.body
        case .file:
            let verb =
                switch event.kind {
                case "file.created": "New file"
                case "file.deleted": "Deleted file"
                case "file.moved": "Moved file"
                default: "Changed file"
                }
            head = "\(verb) \(subject.path ?? "?")"
            if let size = payload["size"]?.doubleValue { head += " (\(Int64(size)) bytes)" }
            if let from = value("from") { head += ", moved from \(from)" }
            switch content {
            case .text(let text, let pages)?:
                if let pages { head += ", \(pages) page\(pages == 1 ? "" : "s")" }
                body = text
            case .metadataOnly(let reason)?: head += "; text not kept: \(reason)"
            case nil: break
            }
        case .commit:
            head =
                "Commit \(value("commit").map { String($0.prefix(10)) } ?? "") in \(subject.repository ?? "a repository") by \(subject.author ?? "?")"
            if let branch = value("branch") { head += " on \(branch)" }
            head += ": \(subject.title)"
            var lines = [subject.body]
            if !subject.changedFiles.isEmpty { lines.append("Files: " + subject.changedFiles.prefix(50).joined(separator: ", ")) }
            if let changed = subject.changedLines { lines.append("\(changed) lines changed") }
            body = lines.joined(separator: "\n")
        case .metric:
            head = "\(subject.metricSeries ?? "metric"): \(subject.body)"
        case .malformed:
            head = "Could not read \(subject.title): \(subject.body)"
        case .webhook, .schedule, .other:
            head = "\(event.source) \(event.kind)"
            body = subject.body
        }
        guard mode == .ingest, !body.isEmpty else { return head }
        return head + "\n\n" + clip(body, limit)
    }

    /// Which episodes belong together: a mail thread, one file, one repository, one series.
    public static func session(for subject: AttentionSubject) -> String? {
        switch subject.category {
        case .mail:
            return "mail:" + AttentionSubject.threadTitle(subject.title).lowercased().prefix(120)
        case .file: return subject.path.map { "file:\($0)" }
        case .commit: return subject.repository.map { "git:\($0)" }
        case .metric: return subject.metricSeries.map { "metric:\($0)" }
        default: return nil
        }
    }

    static func clip(_ text: String, _ limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        return text.prefix(utf8Bytes: limit) + " …"
    }
}

/// Reads workspace files for ingestion: UTF-8 text as it is, PDFs through `pdfPages`, anything
/// else (or anything too large) as metadata only.
public struct WorkspaceContentReader: EventContentReader {
    let workspace: URL
    let settings: IngestSettings
    let pdfPages: @Sendable (URL) async -> [String]?

    public init(workspace: URL, settings: IngestSettings, pdfPages: @escaping @Sendable (URL) async -> [String]?) {
        self.workspace = workspace
        self.settings = settings
        self.pdfPages = pdfPages
    }

    public func content(ofWorkspacePath path: String) async -> EventContent {
        guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else { return .metadataOnly(reason: "not a workspace path") }
        let url = workspace.appending(path: path)
        var info = stat()
        guard lstat(url.path, &info) == 0 else { return .metadataOnly(reason: "gone before it was read") }
        guard info.st_mode & S_IFMT == S_IFREG else { return .metadataOnly(reason: "not a regular file") }
        guard Int(info.st_size) <= settings.maxFileBytes else {
            return .metadataOnly(reason: "\(info.st_size) bytes, over the \(settings.maxFileBytes)-byte cap")
        }
        if url.pathExtension.lowercased() == "pdf" {
            guard let pages = await pdfPages(url) else { return .metadataOnly(reason: "a PDF whose text could not be read") }
            let kept = Array(pages.prefix(settings.maxPages))
            let text = kept.enumerated().map { "[page \($0.offset + 1)]\n\($0.element.trimmingCharacters(in: .whitespacesAndNewlines))" }
                .joined(separator: "\n\n")
            return .text(EventMemoryText.clip(text, settings.maxTextBytes), pages: pages.count)
        }
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return .metadataOnly(reason: "unreadable") }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: settings.maxTextBytes + 4)) ?? Data()
        if data.prefix(8_192).contains(0) { return .metadataOnly(reason: "binary") }
        // A cut may split a character: decode leniently, then require mostly valid text.
        let text = String(decoding: data, as: UTF8.self)
        let replaced = text.unicodeScalars.filter { $0 == "\u{FFFD}" }.count
        if replaced > 8 && replaced * 20 > text.unicodeScalars.count { return .metadataOnly(reason: "not text (not UTF-8)") }
        return .text(EventMemoryText.clip(text, settings.maxTextBytes), pages: nil)
    }
}
