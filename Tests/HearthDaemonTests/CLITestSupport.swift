import Foundation
import HearthBench
import HearthCore
import HearthTesting

/// An isolated home for the real `hearth` binary: HOME and XDG dirs inside a temp directory.
struct Sandbox {
    let root: TemporaryDirectory
    var home: URL { root.appending("home") }
    var data: URL { root.appending("data") }
    var workspace: URL { root.appending("workspace") }

    init() throws {
        root = try TemporaryDirectory(prefix: "e2e")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home.path
        environment["XDG_CONFIG_HOME"] = home.appending(path: ".config").path
        environment["XDG_DATA_HOME"] = home.appending(path: ".local/share").path
        return environment
    }

    /// Runs `hearth` with `--data-dir` and `--workspace` pointing into the sandbox.
    func hearth(_ arguments: [String], isolated: Bool = true, input: Data? = nil, extraEnvironment: [String: String] = [:]) async throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let paths = isolated ? ["--data-dir", data.path, "--workspace", workspace.path] : []
        return try await ChildProcess.run(
            HearthBinary.url, arguments + paths, environment: environment.merging(extraEnvironment) { _, new in new }, input: input)
    }

    /// Writes `[inference]` for a scripted OpenAI-compatible server into the data dir's config.
    func useScriptedModel(_ url: String, chatModel: String = "scripted", extra: String = "") throws {
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try Data(
            "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"\(chatModel)\"\ntool_calls = \"constrained\"\n\(extra)"
                .utf8
        ).write(to: data.appending(path: "config.toml"))
    }

    /// Writes files (relative path → text) into the workspace.
    func write(_ files: [String: String]) throws {
        for (path, text) in files {
            let url = workspace.appending(path: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    /// Writes a test config (free port, short settle) into the data dir.
    func prepareDaemon(extraConfig: String = "") throws {
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        try DaemonUnderTest.prepare(dataDirectory: data, workspace: workspace, extraConfig: extraConfig)
    }

    /// A daemon's config whose model server is the scripted one at `url` (chat model "scripted"),
    /// with `extra` lines for `[inference]` and any sections after it.
    func prepareDaemon(scriptedModel url: String, extra: String = "") throws {
        try prepareDaemon(extraConfig: "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\n" + extra)
    }

    func startDaemon() async throws -> DaemonUnderTest {
        try await DaemonUnderTest.start(dataDirectory: data)
    }

    /// A workspace file's text once it contains `text` (the daemon writes it every few seconds),
    /// else what it holds after 15 s.
    func file(_ path: String, containing text: String) async throws -> String {
        let file = workspace.appending(path: path)
        var content = ""
        for _ in 0..<150 {
            content = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            if content.contains(text) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return content
    }

    /// Today's journal (`Journal/YYYY-MM-DD.md`) once it contains `text`.
    func journal(containing text: String) async throws -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        return try await file("Journal/\(formatter.string(from: Date())).md", containing: text)
    }

    func status() async throws -> JSONValue {
        let result = try await hearth(["status", "--json"])
        return try JSONValue(parsing: result.stdout)
    }
}

extension String {
    /// Non-empty lines.
    var lines: [Substring] { split(separator: "\n") }
}

/// A scripted model for a goal that writes one note: the planner gets a one-task plan whose task
/// writes `note.txt`, and the task's agent writes it, then finishes. Nil for any other request
/// (a chat turn), which the caller answers.
enum NoteWriter {
    static func reply(_ body: JSONValue) -> ScriptedModelServer.Reply? {
        let messages = body["messages"]?.arrayValue ?? []
        func reply(_ value: JSONValue) -> ScriptedModelServer.Reply { .chat(value.jsonText) }
        if messages.first?["content"]?.stringValue?.hasPrefix("You are the planner") == true {
            return reply([
                "tasks": [
                    [
                        "id": "note", "title": "Write the note", "instructions": "Write note.txt.", "dependsOn": [], "expectedOutput": "",
                        "tools": ["write_file"],
                    ]
                ]
            ])
        }
        guard body.jsonText.contains("Write note.txt.") else { return nil }
        return messages.count <= 2
            ? reply(["tool": "write_file", "arguments": ["path": "note.txt", "content": "hello"]])
            : reply(["tool": "final_answer", "arguments": ["text": "written"]])
    }
}
