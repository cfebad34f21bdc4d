import Foundation
import HearthCore
import HearthSandbox

/// Course correction for a spec the strict reader refuses: a script normalises a copy, run
/// confined by `hearth-sandbox` (the scratch workspace only, no network), and the copy is read
/// again. The original is never touched; the script, its output and the diff are kept.
///
/// With a capable model (a `writer`), the model writes the script for the problem the reader
/// named; it runs under the same confinement and its result passes the same check. A script that
/// cannot be had, fails or leaves the copy unreadable gives way to the vetted recipe shipped with
/// Hearth — what the small default model gets from the start — and the record says which wrote
/// the script that counted, and why the model's did not.
public struct SpecRepair: Sendable {
    /// Writes a Python script for one refused spec: given the reader's complaint and the start of
    /// the file, returns the script's source.
    public struct ScriptWriter: Sendable {
        /// Who writes ("model qwen2.5-7b-instruct"), for the record.
        public var author: String
        public var write: @Sendable (_ problem: String, _ excerpt: String) async throws -> String

        public init(author: String, write: @escaping @Sendable (_ problem: String, _ excerpt: String) async throws -> String) {
            self.author = author
            self.write = write
        }
    }

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
        /// The model's answer held no script.
        case noScript(String)

        public var description: String {
            switch self {
            case .helperMissing: "the confinement helper hearth-sandbox is not installed beside hearth; rebuild hearth ('swift build')"
            case .scratch(let detail): "cannot prepare the repair's scratch workspace: \(detail)"
            case .noScript(let answer): "the answer held no script: \(answer)"
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
    let writer: ScriptWriter?

    public init(helper: URL? = CompanionProgram.locate("hearth-sandbox"), writer: ScriptWriter? = nil) {
        self.helper = helper
        self.writer = writer
    }

    /// Repairs a copy of `original` (bytes of the spec at `spec`) in `scratch` (a directory of
    /// its own, the confined script's only writable place). Returns the record and, when the
    /// copy reads, the document.
    public func repair(spec: String, original: Data, problem: String, scratch: URL) async throws -> (Record, SpecDocument?) {
        guard let helper else { throw RepairError.helperMissing }
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            try original.write(to: scratch.appending(path: "original.md"))
        } catch {
            throw RepairError.scratch("\(error)")
        }
        var declined: String?
        if let writer {
            let excerpt = String(decoding: original.prefix(4_000), as: UTF8.self)
            let script: String?
            do {
                script = try await writer.write(problem, excerpt)
            } catch {
                script = nil
                declined = "no script came back (\(error))"
            }
            if let script {
                let (record, document) = try await attempt(
                    script: script, named: "repair.py", author: writer.author, spec: spec, original: original, problem: problem,
                    helper: helper, scratch: scratch)
                if document != nil { return (record, document) }
                declined = record.stillBroken ?? "it did not repair the copy"
            }
        }
        var (record, document) = try await attempt(
            script: Self.recipe, named: Self.recipeName, author: "vetted recipe \(Self.recipeName)", spec: spec, original: original,
            problem: problem, helper: helper, scratch: scratch)
        if let declined, let writer { record.author += " (the script \(writer.author) wrote was not used: \(declined))" }
        return (record, document)
    }

    /// Runs one script on the copy, confined, and reads what it wrote.
    func attempt(
        script: String, named name: String, author: String, spec: String, original: Data, problem: String, helper: URL, scratch: URL
    ) async throws -> (Record, SpecDocument?) {
        let normalised = scratch.appending(path: "normalised.md")
        do {
            try? FileManager.default.removeItem(at: normalised)
            try Data(script.utf8).write(to: scratch.appending(path: name))
        } catch {
            throw RepairError.scratch("\(error)")
        }
        var record = Record(spec: spec, problem: problem, author: author, script: script, output: "", diff: "", stillBroken: nil)
        let output: ProgramRunner.Output
        do {
            output = try await ProgramRunner.run(
                executable: helper,
                arguments: [
                    "--workspace", scratch.path, "--cpu-seconds", "20", "--", "/usr/bin/python3", scratch.appending(path: name).path,
                    scratch.appending(path: "original.md").path, normalised.path,
                ],
                environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": scratch.path], timeout: .seconds(30),
                maxOutput: 1 << 20)
        } catch {
            record.stillBroken = "the script could not run: \(error)"
            return (record, nil)
        }
        record.output = (String(decoding: output.stdout, as: UTF8.self) + output.stderr)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard output.status == 0, let repaired = try? Data(contentsOf: normalised) else {
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

extension SpecRepair.ScriptWriter {
    /// A script written by `model` (`name` for the record) under a JSON schema: one Python 3
    /// program that reads argv[1], writes the normalised markdown to argv[2] and prints one line
    /// per change.
    public static func model(_ model: any AgentModel, name: String, maxTokens: Int = 1_500) -> SpecRepair.ScriptWriter {
        SpecRepair.ScriptWriter(author: "model \(name)") { problem, excerpt in
            let messages: [ChatMessage] = [
                .system(
                    "You write small, safe Python 3 scripts that normalise markdown files. The script gets two arguments: the "
                        + "file to read (argv[1]) and the file to write (argv[2]). It must not use the network or touch other "
                        + "files, must keep every line's text (fix encodings, fences and tables; never drop content), and prints one "
                        + "line per change it made. Answer with JSON only."),
                .user("A strict markdown reader refused this file: \(problem)\n\nThe file begins:\n<data>\n\(excerpt)\n</data>"),
            ]
            let answer = try await model.generateJSON(
                messages: messages, schema: ["type": "object", "properties": ["script": ["type": "string"]], "required": ["script"]],
                name: "repair_script", maxTokens: maxTokens)
            guard let script = answer.json["script"]?.stringValue, !script.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw SpecRepair.RepairError.noScript(String(answer.json.jsonText.prefix(160)))
            }
            return script
        }
    }
}
