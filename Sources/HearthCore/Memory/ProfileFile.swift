import Foundation

/// `PROFILE.md`: the profile and the facts as a file the user edits, decided without I/O.
///
/// Each line is `- subject — predicate — object <!-- #ID -->` under a heading that says its kind.
/// Reading an edited file back gives what changed: a line whose text changed supersedes its fact,
/// a deleted line retracts it, a new line adds one; a line that cannot be read changes nothing —
/// and if it still carries its fact's marker, that fact is kept (nothing is retracted by accident).
public enum ProfileFile {
    public static let sections: [(FactKind, String)] = [(.preference, "Preferences"), (.rule, "Standing rules"), (.fact, "Facts")]

    public static func render(_ facts: [Fact]) -> String {
        var lines = [
            "# Profile", "",
            "Hearth keeps this file in step with its memory. Edit a line to correct it, delete a line to retract it, add one as "
                + "`- subject — predicate — object` under the right heading. Your edit wins; lines Hearth cannot read change nothing "
                + "and are listed in the journal.",
        ]
        for (kind, title) in sections {
            lines += ["", "## \(title)", ""]
            let ofKind = facts.filter { $0.kind == kind }.sorted {
                ($0.subject, $0.predicate, $0.object) < ($1.subject, $1.predicate, $1.object)
            }
            if ofKind.isEmpty { lines.append("(none yet)") }
            for fact in ofKind {
                lines.append("- \(flat(fact.subject)) — \(flat(fact.predicate)) — \(flat(fact.object)) <!-- #\(fact.id) -->")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A line read back.
    public struct Line: Sendable, Hashable {
        public var id: Int64?
        public var kind: FactKind
        public var subject: String
        public var predicate: String
        public var object: String
    }

    /// What an edited file asks for.
    public struct Changes: Sendable, Hashable {
        /// Facts whose lines were deleted.
        public var retract: [Int64] = []
        /// Facts whose lines now say something else, with what they say.
        public var supersede: [(id: Int64, line: Line)] = []
        /// New lines.
        public var add: [Line] = []
        /// Lines that could not be read (they changed nothing).
        public var unreadable: [String] = []

        public var isEmpty: Bool { retract.isEmpty && supersede.isEmpty && add.isEmpty && unreadable.isEmpty }

        public static func == (left: Changes, right: Changes) -> Bool {
            left.retract == right.retract && left.add == right.add && left.unreadable == right.unreadable
                && left.supersede.map(\.id) == right.supersede.map(\.id) && left.supersede.map(\.line) == right.supersede.map(\.line)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(retract)
            hasher.combine(add)
        }
    }

    /// What `text` (the file as the user left it) changes against `facts` (what was rendered).
    public static func changes(_ text: String, against facts: [Fact]) -> Changes {
        var changes = Changes()
        var kind: FactKind?
        var seen: Set<Int64> = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("## ") {
                let title = line.dropFirst(3).trimmingCharacters(in: .whitespaces).lowercased()
                kind = sections.first { $0.1.lowercased() == title }?.0
                continue
            }
            guard line.hasPrefix("- ") || line.hasPrefix("* ") else { continue }
            let marker = line.firstMatch(of: /<!--\s*#(\d+)\s*-->/)
            let id = marker.flatMap { Int64($0.1) }
            if let id { seen.insert(id) }
            let body = (marker.map { line.replacingCharacters(in: $0.range, with: "") } ?? line).dropFirst(2)
                .trimmingCharacters(in: .whitespaces)
            let parts = body.components(separatedBy: " — ").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let kind, parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
                changes.unreadable.append(raw)
                continue
            }
            let read = Line(id: id, kind: kind, subject: parts[0], predicate: parts[1], object: parts[2])
            guard let id, let fact = facts.first(where: { $0.id == id }) else {
                changes.add.append(read)
                continue
            }
            if fact.subject != read.subject || fact.predicate != read.predicate || fact.object != read.object || fact.kind != kind {
                changes.supersede.append((id, read))
            }
        }
        changes.retract = facts.map(\.id).filter { !seen.contains($0) }
        return changes
    }

    static func flat(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ").replacingOccurrences(of: " — ", with: " - ")
    }
}
