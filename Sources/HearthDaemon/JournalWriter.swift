import Foundation
import HearthAgent
import HearthCore
import HearthStore
import Logging
import ServiceLifecycle

/// The day's log as markdown, `Journal/YYYY-MM-DD.md` in the workspace: what arrived, what the
/// agent did (goals started and ended, with their reports), briefs, approvals asked and answered —
/// appended as it happens. The store stays the truth: the file is written from it, with cursors
/// kept beside the events, so a restart neither repeats nor skips a line.
struct JournalWriter: Service {
    let stores: DaemonStores
    let workspace: URL
    let wake: WakeSignal
    let clock: any WallClock
    let logger: Logger
    var calendar = Calendar.current

    static let eventCursor = "journal.events"
    static let checkedCursor = "journal.checked"

    func run() async throws {
        await WorkspaceFileService.poll(wake: wake, clock: clock, logger: logger, name: "journal") { try await catchUp() }
    }

    /// Appends what happened since the cursors, then moves them.
    func catchUp() async throws {
        let state = stores.sources
        let journal = stores.journal
        guard let stored = try await state.sourceState(Self.eventCursor), let afterEvent = Int64(stored) else {
            // The journal starts now: what arrived before it was switched on is in the store, not replayed here.
            let newest = try await journal.events(EventQuery(limit: 1, newestFirst: true)).first?.id ?? 0
            _ = try await state.record(
                [], state: [Self.eventCursor: String(newest), Self.checkedCursor: String(clock.now().timeIntervalSince1970)])
            return
        }
        let now = clock.now()
        let checked = (try await state.sourceState(Self.checkedCursor)).flatMap(Double.init).map { Date(timeIntervalSince1970: $0) } ?? now
        var lines: [(at: Date, text: String)] = []
        let events = try await journal.events(EventQuery(afterID: afterEvent, limit: 500))
        for event in events {
            if let line = Self.line(for: event) { lines.append((event.receivedAt, line)) }
        }
        let ledger = stores.ledger
        for run in try await ledger.runs(limit: 200, states: nil)
        where run.origin == "goal" && run.updatedAt > checked && run.updatedAt <= now {
            let state = run.state
            guard state != .running else { continue }
            var text = "goal \(run.id) \(state == .pending ? "handed over" : state.rawValue): \(Self.clip(run.title, 120))"
            if state.isFinished || state == .needsReview { text += " — [report](../Reports/run-\(run.id).md)" }
            lines.append((run.updatedAt, text))
        }
        for approval in try await stores.approvals.approvals(states: nil) {
            if approval.createdAt > checked && approval.createdAt <= now {
                lines.append(
                    (
                        approval.createdAt,
                        "approval \(approval.id) asked: \(approval.tool) in run \(approval.runID) — \(Self.clip(approval.reason, 120))"
                    ))
            }
            if let decided = approval.decidedAt, decided > checked, decided <= now {
                // An approval used since is still the answer the user gave: approved.
                let answer = approval.state == .used ? "approved" : approval.state.rawValue
                lines.append((decided, "approval \(approval.id) \(answer)" + (approval.note.map { ": \(Self.clip($0, 120))" } ?? "")))
            }
        }
        try append(lines.sorted { $0.at < $1.at })
        var cursors = [Self.checkedCursor: String(now.timeIntervalSince1970)]
        if let last = events.last { cursors[Self.eventCursor] = String(last.id) }
        _ = try await state.record([], state: cursors)
    }

    /// The line for an event, nil for Hearth's own files (the journal must not log itself).
    static func line(for event: Event) -> String? {
        let payload = event.payload
        let path = payload["path"]?.stringValue
        if let path, RoutineEngine.hearthWrittenPrefixes.contains(where: path.hasPrefix) { return nil }
        if event.source == "hearth" && event.kind == "brief.created" {
            let brief = payload["brief"]?["path"]?.stringValue ?? payload["path"]?.stringValue
            return "brief written" + (brief.map { " — [\($0)](../\($0))" } ?? "")
        }
        let what =
            payload["subject"]?.stringValue ?? payload["title"]?.stringValue ?? path ?? payload["name"]?.stringValue
            ?? payload["text"]?.stringValue
        let from = payload["from"]?.stringValue.map { " from \(clip($0, 60))" } ?? ""
        return "arrived: \(event.source) \(event.kind)" + (what.map { " — \(clip($0, 140))" } ?? "") + from
    }

    func append(_ lines: [(at: Date, text: String)]) throws {
        guard !lines.isEmpty else { return }
        let folder = workspace.appending(path: "Journal")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let days = Dictionary(grouping: lines) { Self.day($0.at, calendar) }
        for day in days.keys.sorted() {
            let file = folder.appending(path: "\(day).md")
            if !FileManager.default.fileExists(atPath: file.path) {
                try Data(
                    "# Journal — \(day)\n\nWhat arrived and what Hearth did, as it happened. Hearth's store is the record; this file is written from it.\n\n"
                        .utf8
                )
                .write(to: file)
            }
            let text = days[day]!.map { "- \(Self.time($0.at, calendar)) \($0.text)\n" }.joined()
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
        }
    }

    /// One line of plain text: no newlines, no markup that could start a link or a heading.
    static func clip(_ text: String, _ limit: Int) -> String {
        var flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        for mark in ["[", "]", "<", ">", "`"] { flat = flat.replacingOccurrences(of: mark, with: "\\" + mark) }
        return flat.count > limit ? String(flat.prefix(limit - 1)) + "…" : flat
    }

    static func day(_ date: Date, _ calendar: Calendar) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    static func time(_ date: Date, _ calendar: Calendar) -> String {
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
    }
}

/// The loop of a service that keeps a workspace file in step with the store: a pass every two
/// seconds (or when woken) until shutdown; a failed pass is logged and the next one tries again.
enum WorkspaceFileService {
    static func poll(wake: WakeSignal, clock: any WallClock, logger: Logger, name: String, _ pass: () async throws -> Void) async {
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    try await pass()
                } catch {
                    logger.warning("\(name): \(error)")
                }
                await wake.wait(until: clock.now().addingTimeInterval(2), clock: clock)
            }
        } onGracefulShutdown: {
            wake.wake()
        }
    }
}
