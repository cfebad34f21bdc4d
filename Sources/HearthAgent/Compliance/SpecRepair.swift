import Foundation
import HearthCore
import HearthSandbox

/// Course correction for a spec the strict reader refuses: a script normalises a copy, run
/// confined by `hearth-sandbox` (the scratch workspace only, no network), and the copy is read
/// again. The original is never touched; the script, its output and the diff are kept.
///
/// The script is a vetted recipe shipped with Hearth (labelled as such in the record): the small
/// default model cannot be trusted to write one. A model-written script would go through the
/// same confinement and the same check.
public struct SpecRepair: Sendable {
    public struct Record: Sendable, Hashable {
        public var spec: String
        /// Why the reader refused the original.
        public var problem: String
        /// "vetted recipe normalise_markdown.py" (or the model that wrote the script).
        public var author: String
        public var script: String
        public var output: String
        public var diff: String
        /// Nil when the repaired copy reads; else why it still does not (the spec is isolated).
        public var stillBroken: String?

        public var json: JSONValue {
            [
                "spec": .string(spec), "problem": .string(problem), "author": .string(author), "script": .string(script),
                "output": .string(output),
                "diff": .string(diff), "repaired": .bool(stillBroken == nil), "still_broken": stillBroken.map(JSONValue.string) ?? .null,
            ]
        }
    }

    public enum RepairError: Error, Sendable, CustomStringConvertible {
        case helperMissing
        case scratch(String)

        public var description: String {
            switch self {
            case .helperMissing: "the confinement helper hearth-sandbox is not installed beside hearth; rebuild hearth ('swift build')"
            case .scratch(let detail): "cannot prepare the repair's scratch workspace: \(detail)"
            }
        }
    }

    /// The recipe: decode each line as UTF-8, else as Windows-1252 (Latin-1's superset); close
    /// a code fence left open; give every table row its header's number of cells.
    public static let recipeName = "normalise_markdown.py"
    public static let recipe = #"""
        import sys

        source, target = sys.argv[1], sys.argv[2]
        raw = open(source, "rb").read()
        lines, changes = [], []
        for number, chunk in enumerate(raw.split(b"\n"), start=1):
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError:
                text = chunk.decode("cp1252", errors="replace")
                changes.append(f"line {number}: re-encoded from Windows-1252 to UTF-8")
            lines.append(text)
        fence_open, columns = None, None
        for index, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith("```") or stripped.startswith("~~~"):
                fence_open = None if fence_open is not None else index + 1
                continue
            if fence_open is not None:
                continue
            if stripped.startswith("|"):
                cells = [cell.strip() for cell in stripped.strip("|").split("|")]
                if columns is None:
                    columns = len(cells)
                elif len(cells) != columns:
                    kept = cells[:columns] + [""] * (columns - len(cells))
                    lines[index] = "| " + " | ".join(kept) + " |"
                    changes.append(f"line {index + 1}: table row given {columns} cells (had {len(cells)})")
            else:
                columns = None
        if fence_open is not None:
            if lines and lines[-1] == "":
                lines.insert(len(lines) - 1, "```")
            else:
                lines.append("```")
            changes.append(f"closed the code fence opened on line {fence_open}")
        open(target, "w", encoding="utf-8").write("\n".join(lines))
        print("\n".join(changes) if changes else "nothing to change")
        """#

    let helper: URL?

    public init(helper: URL? = CompanionProgram.locate("hearth-sandbox")) { self.helper = helper }

    /// Repairs a copy of `original` (bytes of the spec at `spec`) in `scratch` (a directory of
    /// its own, the confined script's only writable place). Returns the record and, when the
    /// copy reads, the document.
    public func repair(spec: String, original: Data, problem: String, scratch: URL) async throws -> (Record, SpecDocument?) {
        guard let helper else { throw RepairError.helperMissing }
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            try original.write(to: scratch.appending(path: "original.md"))
            try Data(Self.recipe.utf8).write(to: scratch.appending(path: Self.recipeName))
        } catch {
            throw RepairError.scratch("\(error)")
        }
        var record = Record(
            spec: spec, problem: problem, author: "vetted recipe \(Self.recipeName)", script: Self.recipe, output: "", diff: "",
            stillBroken: nil)
        let output: ProgramRunner.Output
        do {
            output = try await ProgramRunner.run(
                executable: helper,
                arguments: [
                    "--workspace", scratch.path, "--cpu-seconds", "20", "--", "/usr/bin/python3",
                    scratch.appending(path: Self.recipeName).path,
                    scratch.appending(path: "original.md").path, scratch.appending(path: "normalised.md").path,
                ],
                environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": scratch.path], timeout: .seconds(30),
                maxOutput: 1 << 20)
        } catch {
            record.stillBroken = "the script could not run: \(error)"
            return (record, nil)
        }
        record.output = (String(decoding: output.stdout, as: UTF8.self) + output.stderr)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard output.status == 0, let repaired = try? Data(contentsOf: scratch.appending(path: "normalised.md")) else {
            record.stillBroken = "the script failed (exit \(output.status))"
            return (record, nil)
        }
        record.diff = Self.diff(original, repaired)
        do {
            return (record, try SpecDocument.parse(repaired))
        } catch {
            record.stillBroken = "the repaired copy still does not read: \(error)"
            return (record, nil)
        }
    }

    /// The changed lines, as `-N old` / `+N new` (lines compared by position; the recipe never
    /// moves lines, it only adds a closing fence at the end).
    static func diff(_ before: Data, _ after: Data) -> String {
        let old = before.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        let new = String(decoding: after, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var lines: [String] = []
        for index in 0..<max(old.count, new.count) {
            let was = index < old.count ? old[index] : nil
            let now = index < new.count ? new[index] : nil
            guard was != now else { continue }
            if let was { lines.append("-\(index + 1) \(was)") }
            if let now { lines.append("+\(index + 1) \(now)") }
        }
        return lines.joined(separator: "\n")
    }
}
