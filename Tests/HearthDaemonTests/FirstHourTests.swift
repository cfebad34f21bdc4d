import Foundation
import HearthBench
import HearthCore
import HearthTesting
import HearthVault
import Testing

/// What a new user meets in their first hour (issue 15), end to end through the real binary:
/// failures that say why, goals planned without a model, loops cut short, a memory that keeps
/// notes as notes, a second agent set up in one command, and the small surprises fixed.
@Suite("The first hour, end to end", .timeLimit(.minutes(2)))
struct FirstHourTests {
    static func isPlanner(_ body: JSONValue) -> Bool {
        body["messages"]?.arrayValue?.first?["content"]?.stringValue?.hasPrefix("You are the planner") == true
    }

    static func schemaName(_ body: JSONValue) -> String? { body["response_format"]?["json_schema"]?["name"]?.stringValue }

    /// The file a task's prompt names ("The file for this task: Notes/a.md").
    static func item(_ body: JSONValue) -> String {
        let task = body["messages"]?.arrayValue?.dropFirst().first?["content"]?.stringValue ?? ""
        guard let range = task.range(of: "The file for this task: ") else { return "" }
        return String(task[range.upperBound...].prefix { !$0.isNewline })
    }

    static func answer(_ text: String) -> ScriptedModelServer.Reply {
        .chat((["answer": .string(text)] as JSONValue).jsonText, promptTokens: 300, completionTokens: 40)
    }

    static let notes = [
        "Notes/kickoff.md": """
        # Kickoff
        We plan the Q1 launch. Ann owns the budget of €12,000.

        ## Open questions
        - Who signs off on the design?
        - Do we need a staging database

        - [ ] Sam drafts the wireframes by December 5
        """,
        "Notes/vendor.txt": "Acme quoted $4,500 and can start on 12 January 2027.\nIs the quote fixed price? Nobody knows.\n",
    ]

    @Test("a goal whose plan fails validation says why on stderr and in --json, names the model as too small, and exits 1")
    func planFailureSaysWhy() async throws {
        let sandbox = try Sandbox()
        let server = ScriptedModelServer { body in
            guard Self.isPlanner(body) else { return .status(500, message: "not expected") }
            let task: JSONValue = ["id": "a", "title": "A", "instructions": "x", "dependsOn": [], "expectedOutput": "", "tools": []]
            return .chat((["tasks": [task, task]] as JSONValue).jsonText)
        }
        try sandbox.useScriptedModel(try await server.start(), chatModel: "smollm2-135m")
        defer { server.stop() }
        try sandbox.write(Self.notes)
        let result = try await sandbox.hearth(["goal", "Plan my week around these notes"])
        #expect(result.status == 1)
        let line = try #require(result.stderr.lines.last.map(String.init))
        #expect(line.hasPrefix("hearth: run 1 failed: no valid plan: task id \"a\" is used twice"), "\(result.stderr)")
        #expect(line.contains("smollm2-135m (135M parameters) is too small to write plans of its own"))
        #expect(line.contains("\"Summarise each file in Notes/\""))
        #expect(!line.contains("see 'hearth --help'"))
        #expect(result.stdout.contains("no plan: no valid plan: task id \"a\" is used twice"))
        #expect(!result.stdout.contains("(not planned yet)"))

        let json = try await sandbox.hearth(["goal", "--json", "Plan my week around these notes"])
        #expect(json.status == 1)
        let document = try JSONValue(parsing: json.stdout)
        #expect(document["problem"]?["kind"] == "failed")
        #expect(document["problem"]?["reason"]?.stringValue?.contains("used twice") == true)
        #expect(document["problem"]?["next"]?.stringValue?.contains("bigger model") == true)
    }

    @Test("goal and resume while an approval waits name the approval and what to do, and exit 2")
    func waitingSaysWho() async throws {
        let sandbox = try Sandbox()
        let server = ScriptedModelServer { body in
            if Self.isPlanner(body) {
                let task: JSONValue = [
                    "id": "list", "title": "List files", "instructions": "Run ls.", "dependsOn": [], "expectedOutput": "",
                    "tools": ["shell"],
                ]
                return .chat((["tasks": [task]] as JSONValue).jsonText)
            }
            return .chat((["tool": "shell", "arguments": ["command": "ls"]] as JSONValue).jsonText)
        }
        try sandbox.useScriptedModel(try await server.start())
        defer { server.stop() }
        try sandbox.write(Self.notes)
        let goal = try await sandbox.hearth(["goal", "Run ls in the workspace for me"])
        #expect(goal.status == 2, "\(goal.stderr)")
        #expect(goal.stderr.contains("hearth: run 1 is waiting for your approval of action 1 (shell)"), "\(goal.stderr)")
        #expect(goal.stderr.contains("'hearth approve 1' or 'hearth deny 1 --reason …', then 'hearth resume 1'"))
        let requests = server.requests.count
        let resumed = try await sandbox.hearth(["resume", "1"])
        #expect(resumed.status == 2)
        #expect(resumed.stderr.contains("waiting for your approval of action 1 (shell)"), "\(resumed.stderr)")
        #expect(server.requests.count == requests, "resume asked the model although nothing can move")
        let status = try await sandbox.hearth(["status"])
        #expect(status.stdout.contains("1 approval(s) waiting: hearth approvals"), "\(status.stdout)")
    }

    @Test("summaries and open questions of a folder are planned without a model; the model only writes each file's summary")
    func textWorkWithoutPlanner() async throws {
        let sandbox = try Sandbox()
        let server = ScriptedModelServer { body in
            guard Self.schemaName(body) == "answer" else { return .status(500, message: "only answers are expected") }
            return Self.answer("Summary of \(Self.item(body)).")
        }
        try sandbox.useScriptedModel(try await server.start(), chatModel: "smollm2-135m")
        defer { server.stop() }
        try sandbox.write(Self.notes)
        // Notes alike enough that the collected list repeats its pattern: code's lists are never screened as model loops.
        var similar: [String: String] = [:]
        for index in 1...6 {
            similar["Notes/item-\(index).md"] = "Item \(index) was reviewed.\nIs the budget for item \(index) approved?\n"
        }
        try sandbox.write(similar)
        let result = try await sandbox.hearth(["goal", "Summarise each note in Notes/ and list the open questions"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("(recipe:text-work)"))
        let chats = server.requests.filter { $0.path == "/v1/chat/completions" }
        #expect(!chats.contains { Self.isPlanner($0.body) })
        // One model call per file: its summary. Finding the questions and reading the files is code.
        #expect(chats.count == 8)
        let report = try String(contentsOf: sandbox.workspace.appending(path: "Reports/run-1.md"), encoding: .utf8)
        #expect(report.contains("## Results\n\nOpen questions: 9 in 8 file(s):"), "\(report)")
        #expect(report.contains("- Notes/item-6.md:2: Is the budget for item 6 approved?"))
        #expect(report.contains("- Notes/kickoff.md:5: Who signs off on the design?"))
        #expect(report.contains("- Notes/kickoff.md:6: Do we need a staging database"))
        #expect(!report.contains("Sam drafts the wireframes"), "a checkbox is a to-do, not a question")
        // One row per file, its summary beside its count of questions.
        #expect(report.contains("| [Notes/vendor.txt](../Notes/vendor.txt) | succeeded | Summary of Notes/vendor.txt. | 1 |  |"))
        #expect(report.contains("- Notes/vendor.txt:2: Is the quote fixed price?"))
        #expect(report.contains("Summary of Notes/vendor.txt."))
        #expect(report.contains("8 file(s) processed: 9 open questions."))
    }

    @Test("a summary that loops is never shown as one: the file's opening stands in, marked, and the trace keeps the model's text")
    func loopingSummary() async throws {
        let sandbox = try Sandbox()
        // Under the answer schema's 600 characters, as the server's constrained decoding keeps it.
        let looping = "The note is " + String(repeating: "about the note is ", count: 30)
        let server = ScriptedModelServer { _ in Self.answer(looping) }
        try sandbox.useScriptedModel(try await server.start(), chatModel: "smollm2-135m")
        defer { server.stop() }
        try sandbox.write(Self.notes)
        let result = try await sandbox.hearth(["goal", "Summarise the files in Notes"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("about the note is about the note is"), "\(result.stdout)")
        let report = try String(contentsOf: sandbox.workspace.appending(path: "Reports/run-1.md"), encoding: .utf8)
        #expect(!report.contains("about the note is about the note is"))
        #expect(report.contains("Notes/kickoff.md (opening lines; the model's summary was unusable): Kickoff: We plan the Q1 launch."))
        #expect(report.contains("looped or were not readable text and were replaced or left out"))
        let trace = try JSONValue(parsing: try await sandbox.hearth(["trace", "1", "--json"]).stdout)
        #expect(
            trace.arrayValue?.contains { $0["detail"]?["text"]?.stringValue?.contains("about the note is about the note is") == true }
                == true)
    }

    @Test("ask stops an answer that loops, says so plainly with the fix, and still accounts for it")
    func askStopsALoop() async throws {
        let sandbox = try Sandbox()
        let loop = String(repeating: "The expense policy in one sentence is: ", count: 50)
        let server = ScriptedModelServer([.chat(loop, completionTokens: 500)])
        try sandbox.useScriptedModel(try await server.start(), chatModel: "smollm2-135m")
        defer { server.stop() }
        let result = try await sandbox.hearth(["ask", "Summarise the expense policy in one sentence."])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasSuffix("[stopped: the answer kept repeating itself]\n"))
        #expect(result.stdout.count < loop.count / 2)
        #expect(result.stderr.contains("smollm2-135m (135M parameters) got stuck repeating itself"))
        #expect(result.stderr.contains("stopped early: repeating itself; tokens estimated"))
        let json = try JSONValue(parsing: try await sandbox.hearth(["ask", "--json", "Again?"]).stdout)
        #expect(json["repetitive"] == true)
        #expect(json["answer"] == "The expense policy in one sentence is:")
        #expect(json["note"]?.stringValue?.contains("bigger model") == true)
        let usage = try JSONValue(parsing: try await sandbox.hearth(["usage", "--json"]).stdout)
        #expect(usage["totals"]?["calls"] == 2)
        #expect((usage["totals"]?["completionTokens"]?.intValue ?? 0) > 0)
    }

    @Test("doctor and init find a running Ollama and offer its largest chat model; init --use-server writes it, and ask then uses it")
    func discoversLocalServers() async throws {
        let sandbox = try Sandbox()
        let server = ScriptedModelServer(
            [.chat("hello from the big model")],
            models: [("qwen2.5:0.5b", "494.03M"), ("llama3.1:8b", "8.0B"), ("nomic-embed-text:latest", "137M")])
        let url = try await server.start()
        defer { server.stop() }
        let environment = ["HEARTH_DISCOVER_URLS": url]
        let doctor = try JSONValue(parsing: try await sandbox.hearth(["doctor", "--json"], extraEnvironment: environment).stdout)
        let found = doctor["checks"]?.arrayValue?.first { $0["name"] == "other servers" }
        #expect(found?["detail"] == .string("found Ollama at \(url): llama3.1:8b (8B parameters), the largest of 2 chat models"))
        #expect(doctor["offers"]?.arrayValue?.first?.stringValue?.contains("hearth init --use-server \(url)") == true)
        #expect(
            doctor["checks"]?.arrayValue?.contains { $0["name"] == "chat model" && $0["detail"]?.stringValue?.contains("135M") == true }
                == true)

        let initialised = try await sandbox.hearth(["init"], extraEnvironment: environment)
        #expect(initialised.stdout.contains("found      Ollama at \(url): llama3.1:8b"), "\(initialised.stdout)")
        let fresh = try Sandbox()
        let chosen = try await fresh.hearth(["init", "--use-server", "auto"], extraEnvironment: environment)
        #expect(chosen.status == 0, "\(chosen.stderr)")
        #expect(chosen.stdout.contains("inference  llama3.1:8b on ollama at \(url)"))
        let config = try String(contentsOf: fresh.data.appending(path: "config.toml"), encoding: .utf8)
        #expect(config.contains("provider = \"ollama\"") && config.contains("base_url = \"\(url)\""))
        #expect(config.contains("chat_model = \"llama3.1:8b\"") && config.contains("embedding_model = \"nomic-embed-text:latest\""))
        let ask = try await fresh.hearth(["ask", "Hi"])
        #expect(ask.status == 0, "\(ask.stderr)")
        #expect(ask.stdout == "hello from the big model\n")
        #expect(server.requests.last?.path == "/api/chat" && server.requests.last?.body["model"] == "llama3.1:8b")
        let missing = try await Sandbox().hearth(["init", "--use-server", "http://127.0.0.1:9"])
        #expect(missing.status == 64 && missing.stderr.contains("does not answer as an Ollama or OpenAI-compatible server"))
    }

    @Test("ordinary notes stay notes: only rules and preferences said as such enter the profile, which shows its size")
    func notesAreNotRules() async throws {
        let sandbox = try Sandbox()
        for note in [
            "the quarterly report should be short", "We must ship the beta by Friday", "We use Postgres 16 for the billing service",
        ] {
            #expect(try await sandbox.hearth(["memory", "remember", note]).status == 0)
        }
        let empty = try JSONValue(parsing: try await sandbox.hearth(["memory", "profile", "--json"]).stdout)
        #expect(empty["entries"] == 0)
        #expect(try await sandbox.hearth(["memory", "remember", "always put the total first"]).status == 0)
        #expect(try await sandbox.hearth(["memory", "remember", "I prefer reports in EUR"]).status == 0)
        let profile = try await sandbox.hearth(["memory", "profile", "--for", "write the expense report"])
        #expect(profile.stdout.contains("2 entries, about "), "\(profile.stdout)")
        #expect(profile.stdout.contains("a prompt carries at most 256 (all of it fits)"))
        #expect(profile.stdout.contains("for \"write the expense report\": 2 entries"))
    }

    @Test("a second agent needs one command: init --config creates the file, the data dir and database are private")
    func secondAgent() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let config = sandbox.root.appending("agent2.toml")
        let result = try await sandbox.hearth(["init", "--config", config.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: config.path))
        #expect(result.stdout.contains("next: hearth daemon --data-dir \(sandbox.data.path) --config \(config.path)"))
        #expect(try await sandbox.hearth(["event", "add", "--kind", "note", "--config", config.path]).status == 0)
        func mode(_ url: URL) throws -> Int { try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int ?? -1 }
        #expect(try mode(sandbox.data) == 0o700)
        #expect(try mode(sandbox.data.appending(path: "hearth.sqlite")) == 0o600)
        let missing = try await sandbox.hearth(["status", "--config", sandbox.root.appending("none.toml").path])
        #expect(missing.status == 1 && missing.stderr.contains("create it with 'hearth init --config"), "\(missing.stderr)")
    }

    @Test("events says when it stopped at the limit and how to page on")
    func eventsPaging() async throws {
        let sandbox = try Sandbox()
        for index in 1...3 { #expect(try await sandbox.hearth(["event", "add", "--kind", "n", "--key", "k\(index)"]).status == 0) }
        let page = try await sandbox.hearth(["events", "--limit", "2"])
        #expect(page.stdout.lines.count == 2)
        #expect(page.stderr == "showing 2 events (1–2); more follow: hearth events --after 2\n")
        let last = try await sandbox.hearth(["events", "--after", "2", "--limit", "2"])
        #expect(last.stdout.lines.count == 1 && last.stderr.isEmpty)
        let newest = try await sandbox.hearth(["events", "--latest", "--limit", "1", "--json"])
        #expect(try JSONValue(parsing: newest.stdout).arrayValue?.first?["id"] == 3)
        #expect(newest.stderr.contains("showing the newest 1 events (3–3)"))
    }

    @Test("a goal paused by a failing model server is counted as waiting for review in status")
    func statusCountsReview() async throws {
        let sandbox = try Sandbox()
        let server = ScriptedModelServer { body in
            if Self.isPlanner(body) {
                let task: JSONValue = [
                    "id": "read", "title": "Read", "instructions": "Read {{item}}.", "dependsOn": [], "expectedOutput": "",
                    "tools": ["read_file", "list_files"], "forEach": "Notes/*",
                ]
                return .chat((["tasks": [task]] as JSONValue).jsonText)
            }
            return .status(400, message: "the model is not loaded")
        }
        try sandbox.useScriptedModel(try await server.start())
        defer { server.stop() }
        try sandbox.write(Self.notes)
        let goal = try await sandbox.hearth(["goal", "Go through the notes and tell me more", "--concurrency", "1"])
        #expect(goal.status == 2, "\(goal.stderr)")
        #expect(goal.stderr.contains("run 1 paused: the model failed"), "\(goal.stderr)")
        #expect(goal.stderr.contains("'hearth resume 1' continues it"))
        let status = try await sandbox.hearth(["status"])
        #expect(status.stdout.contains("waiting    1 run(s) need review: hearth runs --state needsReview"), "\(status.stdout)")
    }

    @Test("the shell tool describes its confinement truthfully")
    func shellDescription() async throws {
        let tools = try JSONValue(parsing: try await Sandbox().hearth(["tool", "list", "--json"]).stdout)
        let shell = tools.arrayValue?.first { $0["name"] == "shell" }?["description"]?.stringValue ?? ""
        #expect(shell.contains("can read the system's program and library directories"))
        #expect(shell.contains("not the user's home") && shell.contains("no network"))
        #expect(!shell.contains("no access outside the workspace"))
    }
}
