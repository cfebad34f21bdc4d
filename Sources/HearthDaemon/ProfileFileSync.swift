import Foundation
import HearthAgent
import HearthCore
import HearthMemory
import HearthStore
import Logging
import ServiceLifecycle

/// Keeps `PROFILE.md` in the workspace in step with the fact graph, both ways: memory's changes
/// are rendered into it, and the user's edits flow back as trusted facts (a changed line
/// supersedes its fact with history, a deleted line retracts it, a new line adds one) — the
/// user's edit winning — then the file is rendered again. What an edit did is journaled as a
/// `profile.edited` event; lines that cannot be read are listed there and change nothing.
struct ProfileFileSync: Service {
    let memory: MemoryEngine
    let stores: DaemonStores
    let workspace: URL
    let wake: WakeSignal
    let clock: any WallClock
    let logger: Logger

    static let renderedCursor = "profile.rendered"

    var file: URL { workspace.appending(path: "PROFILE.md") }

    func run() async throws {
        await WorkspaceFileService.poll(wake: wake, clock: clock, logger: logger, name: "PROFILE.md") { try await sync() }
    }

    /// The facts the file shows: the profile (preferences, rules) and the current facts.
    func facts() async throws -> [Fact] {
        let profile = try await memory.profile()
        let current = try await memory.currentFacts().filter { $0.kind == .fact }
        return profile + current
    }

    func sync() async throws {
        let state = stores.sources
        let rendered = try await state.sourceState(Self.renderedCursor)
        let onDisk = try? String(contentsOf: file, encoding: .utf8)
        if let onDisk, let rendered, SHA256.hex(onDisk) != rendered {
            try await apply(onDisk)
        }
        let text = ProfileFile.render(try await facts())
        if text != onDisk || rendered == nil {
            try Data(text.utf8).write(to: file, options: .atomic)
            _ = try await state.record([], state: [Self.renderedCursor: SHA256.hex(text)])
        }
    }

    /// Applies the user's edit; returns what it did.
    @discardableResult
    func apply(_ edited: String) async throws -> ProfileFile.Changes {
        let known = try await facts()
        var changes = ProfileFile.changes(edited, against: known)
        let readable = edited.split(separator: "\n").contains { $0.contains(" — ") && !changes.unreadable.contains(String($0)) }
        if known.count > 1 && changes.retract.count == known.count && !readable {
            // A file emptied or garbled as a whole is not a request to forget everything.
            logger.warning("PROFILE.md lists no fact Hearth can read; nothing was retracted (delete lines one by one to retract)")
            changes.retract = []
        }
        let now = clock.now()
        var report: [String: JSONValue] = [:]
        for id in changes.retract {
            try await memory.store.invalidate(factID: id, by: nil, at: now, validTo: now)
        }
        var superseded = 0
        for (id, line) in changes.supersede {
            let learned = try await memory.learn([FactStatement(fact: Self.fact(line))])
            try await memory.store.invalidate(factID: id, by: learned.added.first, at: now, validTo: now)
            superseded += 1
        }
        var added = 0
        for line in changes.add {
            added += try await memory.learn([FactStatement(fact: Self.fact(line))]).added.count
        }
        try await memory.factsChanged()
        guard !changes.isEmpty else { return changes }
        report["retracted"] = .number(Double(changes.retract.count))
        report["superseded"] = .number(Double(superseded))
        report["added"] = .number(Double(added))
        report["unreadable"] = .array(changes.unreadable.prefix(50).map(JSONValue.string))
        let summary =
            "your edit of PROFILE.md: \(added) added, \(superseded) changed, \(changes.retract.count) retracted"
            + (changes.unreadable.isEmpty ? "" : ", \(changes.unreadable.count) line(s) not understood (they changed nothing)")
        report["title"] = .string(summary)
        _ = try await stores.journal.append([
            NewEvent(source: "hearth", kind: "profile.edited", payload: .object(report), occurredAt: now, provenance: .trusted)
        ])
        logger.notice("\(summary)")
        return changes
    }

    /// A statement from the user's file: trusted, the kind its heading says.
    static func fact(_ line: ProfileFile.Line) -> Fact {
        Fact(kind: line.kind, subject: line.subject, predicate: line.predicate, object: line.object, provenance: .trusted)
    }
}
