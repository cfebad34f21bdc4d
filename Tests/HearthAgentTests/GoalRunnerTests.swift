import Foundation
import HearthAgent
import HearthCore
import HearthMemory
import HearthModels
import HearthStore
import HearthTesting
import HearthTools
import Logging
import Testing

/// A goal runner over a real SQLite store, real tools in a temp workspace and a real HTTP client
/// talking to a scripted model.
struct GoalFixture {
    let directory: TemporaryDirectory
    let workspace: URL
    let store: GoalSQLStore
    let server: ScriptedModelServer
    let runner: GoalRunner

    init(
        budget: GoalBudget = GoalBudget(), files: [String: String] = ["Notes/a.md": "alpha\n", "Notes/b.md": "beta\n"],
        responder: @escaping @Sendable (JSONValue) -> ScriptedModelServer.Reply
    ) async throws {
        directory = try TemporaryDirectory()
        workspace = directory.appending("workspace")
        for (path, text) in files {
            let url = workspace.appending(path: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        server = ScriptedModelServer(responder: responder)
        let url = try await server.start()
        let client = InferenceClients.make(
            endpoint: ModelEndpoint(provider: .openAI, baseURL: url, chatModel: "scripted", embeddingModel: "none"), apiKey: nil,
            timeouts: ModelTimeouts(request: .seconds(45), attempts: 1))
        store = GoalSQLStore(database: try HearthDatabase.open(at: directory.appending("hearth.sqlite")))
        runner = GoalRunner(
            store: store, model: LanguageModelAgent(model: client, mode: .constrained), tools: BuiltinTools.all(), workspace: workspace,
            options: GoalRunner.Options(concurrency: 1, planner: .model), logger: Logger(label: "test"))
        self.budget = budget
    }

    let budget: GoalBudget

    func run(_ goal: String = "Summarise the notes in Notes/") async throws -> GoalDetail {
        let run = try await store.createGoal(goal, budget: budget)
        return try await runner.run(run.id)
    }

    static func plan(_ tasks: [JSONValue]) -> ScriptedModelServer.Reply { ScriptedGoal.plan(tasks) }

    static func call(_ tool: String, _ arguments: JSONValue) -> ScriptedModelServer.Reply { ScriptedGoal.call(tool, arguments) }

    /// A fan-out whose model still chooses its calls (two tools: no call is fixed by the plan alone).
    static let readNotes: JSONValue = [
        "id": "read", "title": "Read a note", "instructions": "Read {{item}}.", "dependsOn": [], "expectedOutput": "its text",
        "tools": ["read_file", "list_files"], "forEach": "Notes/*",
    ]

    static func isPlanner(_ body: JSONValue) -> Bool { ScriptedGoal.isPlanner(body) }
}

@Suite("Goal runner: budgets, runaways and bad model output", .timeLimit(.minutes(2)))
struct GoalRunnerTests {
    @Test("a model that repeats the same call pauses the run with a report, and resume continues it")
    func repeatedCallPauses() async throws {
        let fixture = try await GoalFixture { body in
            GoalFixture.isPlanner(body) ? GoalFixture.plan([GoalFixture.readNotes]) : GoalFixture.call("read_file", ["path": "Notes/a.md"])
        }
        defer { fixture.server.stop() }
        let detail = try await fixture.run()
        #expect(detail.run.state == RunState.needsReview)
        #expect(detail.pauseReason?.contains("repeated the same call 3 times") == true)
        #expect(detail.report == "Reports/run-\(detail.run.id).md")
        let report = try String(contentsOf: fixture.workspace.appending(path: detail.report!), encoding: .utf8)
        #expect(report.contains("Paused: task"))
        let traces = try await fixture.store.traces(detail.run.id)
        #expect(traces.contains { $0.kind == .budget && $0.name == "loop" })
        // Nothing ran a third time: two real calls, then the pause.
        #expect(traces.filter { $0.kind == .tool && $0.name == "read_file" }.count == 2)
        let resumed = try await fixture.store.resumeGoal(detail.run.id)
        #expect(resumed.run.state == RunState.pending && resumed.pauseReason == nil)
    }

    @Test("a markdown file no tool can read is normalised and the call retried, and the repair is traced")
    func markdownRepair() async throws {
        let fixture = try await GoalFixture(files: ["Notes/a.md": "#Title\r\n\u{0}notes\r\n", "Notes/b.md": "# Fine\n"]) { body in
            if GoalFixture.isPlanner(body) { return GoalFixture.plan([GoalFixture.readNotes]) }
            let messages = body["messages"]?.arrayValue ?? []
            let task = messages.dropFirst().first?["content"]?.stringValue ?? ""
            let item = task.contains("Notes/a.md") ? "Notes/a.md" : "Notes/b.md"
            return messages.count <= 2
                ? GoalFixture.call("read_file", ["path": .string(item)]) : GoalFixture.call("final_answer", ["text": "read"])
        }
        defer { fixture.server.stop() }
        let detail = try await fixture.run()
        #expect(detail.run.state == RunState.succeeded)
        let traces = try await fixture.store.traces(detail.run.id)
        #expect(traces.contains { $0.kind == .repair && $0.name == "normalize_markdown" && $0.taskID == "read[Notes/a.md]" })
        let repaired = try String(contentsOf: fixture.workspace.appending(path: "Notes/a.md"), encoding: .utf8)
        #expect(repaired == "# Title\nnotes\n")
        let record = detail.tasks.first { $0.task.id == "read[Notes/a.md]" }
        #expect(record?.result?["data"]?["text"] == "# Title\nnotes\n")
    }

    @Test("a failed step others wait for is replanned once: the route around it runs, and so do its dependents")
    func replanAroundFailure() async throws {
        let fixture = try await GoalFixture(files: ["data/b.csv": "x,y\n1,2\n"]) { body in
            let messages = body["messages"]?.arrayValue ?? []
            let prompt = messages.dropFirst().first?["content"]?.stringValue ?? ""
            if GoalFixture.isPlanner(body) {
                if prompt.contains("failed:") {
                    return GoalFixture.plan([
                        [
                            "id": "fetch-b", "title": "Read the other file", "instructions": "Read data/b.csv.", "dependsOn": [],
                            "expectedOutput": "", "tools": ["read_csv"],
                        ]
                    ])
                }
                return GoalFixture.plan([
                    [
                        "id": "fetch", "title": "Read the data", "instructions": "Read data/a.csv.", "dependsOn": [], "expectedOutput": "",
                        "tools": ["read_csv"],
                    ],
                    [
                        "id": "sum", "title": "Sum it up", "instructions": "Say what the data holds.", "dependsOn": ["fetch"],
                        "expectedOutput": "", "tools": [],
                    ],
                ])
            }
            if prompt.hasPrefix("Task: Sum it up") { return .chat((["answer": "two columns"] as JSONValue).jsonText) }
            let path = prompt.contains("data/b.csv") ? "data/b.csv" : "data/a.csv"
            return messages.count <= 2
                ? GoalFixture.call("read_csv", ["path": .string(path)]) : GoalFixture.call("final_answer", ["text": "read"])
        }
        defer { fixture.server.stop() }
        let detail = try await fixture.run("Summarise the data file")
        #expect(detail.run.state == RunState.succeeded)
        let states = Dictionary(uniqueKeysWithValues: detail.tasks.map { ($0.task.id, $0.state) })
        #expect(states == ["fetch": .replaced, "fetch-b": .succeeded, "sum": .succeeded])
        #expect(detail.tasks.first { $0.task.id == "sum" }?.task.dependsOn == ["fetch-b"])
        #expect(detail.tasks.first { $0.task.id == "fetch" }?.error?.hasPrefix("replaced after it failed") == true)
        let traces = try await fixture.store.traces(detail.run.id)
        #expect(traces.contains { $0.name == "replan" && $0.detail["valid"] == true })
    }

    @Test("a token budget stops the run before the next model call")
    func tokenBudget() async throws {
        var budget = GoalBudget()
        budget.maxTokens = 150
        let fixture = try await GoalFixture(budget: budget) { body in
            if GoalFixture.isPlanner(body) { return GoalFixture.plan([GoalFixture.readNotes]) }
            let messages = body["messages"]?.arrayValue ?? []
            return messages.count <= 2
                ? GoalFixture.call("read_file", ["path": "Notes/a.md"]) : GoalFixture.call("final_answer", ["text": "ok"])
        }
        defer { fixture.server.stop() }
        let detail = try await fixture.run()
        #expect(detail.run.state == RunState.needsReview)
        #expect(detail.pauseReason?.hasPrefix("token budget spent") == true)
        #expect(detail.usage.tokens >= 150)
    }

    @Test("broken JSON, unknown tools and hallucinated arguments fail the task with the reason; the run reports it")
    func malformedModelOutput() async throws {
        let fixture = try await GoalFixture { body in
            if GoalFixture.isPlanner(body) { return GoalFixture.plan([GoalFixture.readNotes]) }
            let task = body["messages"]?.arrayValue?.dropFirst().first?["content"]?.stringValue ?? ""
            if task.contains("Notes/a.md") { return .chat("{\"tool\": \"read_file\", \"arguments\": {\"path\": ") }
            return GoalFixture.call("delete_everything", ["path": "/"])
        }
        defer { fixture.server.stop() }
        let detail = try await fixture.run()
        #expect(detail.run.state == RunState.failed)
        let errors = detail.tasks.compactMap(\.error)
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.hasPrefix("the model gave no valid action twice") })
        // Nothing outside the tool box ran.
        let traces = try await fixture.store.traces(detail.run.id)
        #expect(!traces.contains { $0.kind == .tool && $0.name != "write_report" })
    }

    @Test("an invalid plan gets one repair round; a second invalid plan fails the run with every problem")
    func invalidPlan() async throws {
        let fixture = try await GoalFixture { body in
            GoalFixture.plan([
                [
                    "id": "a", "title": "A", "instructions": "x", "dependsOn": ["b"], "expectedOutput": "", "tools": ["read_file"],
                    "forEach": "Nowhere/*",
                ],
                ["id": "b", "title": "B", "instructions": "y", "dependsOn": ["a"], "expectedOutput": "", "tools": ["read_file"]],
            ])
        }
        defer { fixture.server.stop() }
        let detail = try await fixture.run()
        #expect(detail.run.state == RunState.failed)
        #expect(detail.summary?.contains("the dependencies form a cycle") == true)
        #expect(detail.summary?.contains("forEach \"Nowhere/*\" matches no file") == true)
        #expect(fixture.server.requests.count == 2)
        #expect(detail.usage.modelCalls == 2)
    }
}

@Suite("Goal context: profile, memories and memory tools", .timeLimit(.minutes(2)))
struct GoalContextTests {
    @Test("the profile and recalled memories reach every prompt as data; recall, remember and notify work as tools")
    func memoryInContext() async throws {
        let directory = try TemporaryDirectory()
        let workspace = directory.appending("workspace")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        let memory = MemoryEngine(store: MemorySQLStore(database: database), embedder: nil)
        _ = try await memory.handleInstruction(in: "remember that I prefer reports in EUR", source: "cli", provenance: .trusted)
        _ = try await memory.remember("Ann approved the Lisbon trip budget in March", untrusted: false, runID: nil)
        let profile = try await memory.profileLines(for: "Find what Ann approved", budget: 256)
        #expect(!profile.isEmpty)

        let server = ScriptedModelServer { body in
            if GoalFixture.isPlanner(body) {
                return GoalFixture.plan([
                    [
                        "id": "look", "title": "Look it up", "instructions": "Find what Ann approved.", "dependsOn": [],
                        "expectedOutput": "",
                        "tools": ["recall", "remember", "notify"],
                    ]
                ])
            }
            switch body["messages"]?.arrayValue?.count ?? 0 {
            case 2: return GoalFixture.call("recall", ["query": "Ann approved"])
            case 4: return GoalFixture.call("remember", ["text": "Ann approves trip budgets"])
            case 6: return GoalFixture.call("notify", ["title": "Ann approved the Lisbon budget"])
            default: return GoalFixture.call("final_answer", ["text": "Ann approved the Lisbon trip budget."])
            }
        }
        let url = try await server.start()
        defer { server.stop() }
        let client = InferenceClients.make(
            endpoint: ModelEndpoint(provider: .openAI, baseURL: url, chatModel: "scripted", embeddingModel: "none"), apiKey: nil,
            timeouts: ModelTimeouts(request: .seconds(45), attempts: 1))
        let store = GoalSQLStore(database: database)
        let recalled = try await memory.recall("Lisbon trip", limit: 3)
        let runner = GoalRunner(
            store: store, model: LanguageModelAgent(model: client, mode: .constrained),
            tools: BuiltinTools.all(memory: memory, journal: JournalStore(database: database)), workspace: workspace,
            options: GoalRunner.Options(profile: profile, memories: recalled, planner: .model), logger: Logger(label: "test"))
        let run = try await store.createGoal("What did Ann approve for the Lisbon trip?", budget: GoalBudget())
        let detail = try await runner.run(run.id)
        #expect(detail.run.state == RunState.succeeded)

        let taskRequests = server.requests.filter { !GoalFixture.isPlanner($0.body) }
        let system = taskRequests.first?.body["messages"]?.arrayValue?.first?["content"]?.stringValue ?? ""
        #expect(system.contains("The user's standing preferences:\n- \(profile[0])"))
        #expect(system.contains("<data>") && system.contains("Lisbon trip budget"))
        // The recall observation came back fenced as data.
        let observation = taskRequests.dropFirst().first?.body["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
        #expect(observation.hasPrefix("Result of recall:\n<data>") && observation.contains("Ann approved the Lisbon trip budget"))
        let notes = try await memory.recall("approves trip budgets", limit: 5)
        #expect(notes.contains { $0.contains("Ann approves trip budgets") })
        let queued = try await JournalStore(database: database).events(EventQuery(source: "agent"))
        #expect(queued.count == 1 && queued.first?.kind == "notify")
    }
}
