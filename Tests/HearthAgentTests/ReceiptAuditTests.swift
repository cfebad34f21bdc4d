import Foundation
import HearthAgent
import HearthCore
import HearthDemo
import HearthModels
import HearthStore
import HearthTesting
import HearthTools
import Logging
import Testing

/// The SROIE ground truth beside the checkout.
let sroieKeys = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../../shared/bench/sroie/key").standardized

@Suite("Receipts audit, end to end with a scripted model", .timeLimit(.minutes(2)))
struct ReceiptAuditTests {
    @Test(
        "plans once (model or recipe), fans out over every receipt, isolates the broken file and flags exactly the ground truth",
        arguments: [Planner.Mode.model, .auto])
    func audit(planner: Planner.Mode) async throws {
        let directory = try TemporaryDirectory()
        let workspace = directory.appending("workspace")
        let receipts = try SampleWorkspace.create(at: workspace)
        let server = ScriptedModelServer(responder: ScriptedAuditModel.reply)
        let url = try await server.start()
        defer { server.stop() }
        let client = InferenceClients.make(
            endpoint: ModelEndpoint(provider: .openAI, baseURL: url, chatModel: "scripted", embeddingModel: "none"), apiKey: nil,
            timeouts: ModelTimeouts(request: .seconds(45)))
        let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        let store = GoalSQLStore(database: database)
        let run = try await store.createGoal(SampleWorkspace.goal, budget: GoalBudget())
        let runner = GoalRunner(
            store: store, model: LanguageModelAgent(model: client, mode: .constrained), tools: BuiltinTools.all(), workspace: workspace,
            options: GoalRunner.Options(planner: planner), logger: Logger(label: "test"))
        let detail = try await runner.run(run.id)

        #expect(detail.run.state == RunState.succeeded)
        let traces = try await store.traces(run.id)
        let planning = traces.filter { $0.kind == .model && $0.name == "plan" }
        #expect(planning.count == 1)
        if planner == .model {
            // One planning call, not one per receipt.
            #expect(detail.plan?.tasks.count == 3)
            #expect(detail.tasks.count == 1 + receipts.count + 1)
            #expect(planning.first?.detail["source"] == "model" && planning.first?.promptTokens == 900)
        } else {
            #expect(detail.plan?.tasks.count == 2)
            #expect(detail.tasks.count == receipts.count + 1)
            #expect(planning.first?.detail["source"] == "recipe:document-audit" && planning.first?.promptTokens == 0)
        }

        let items = detail.tasks.filter { $0.task.group == "check" }
        let failed = items.filter { $0.state == TaskState.failed }.map { $0.task.item! }
        #expect(failed == ["Receipts/099.pdf"])
        #expect(items.first { $0.state == TaskState.failed }?.error?.contains("damaged") == true)

        var expected: Set<String> = []
        for path in receipts where !path.hasSuffix(".pdf") {
            let id = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            let key = try JSONValue(parsing: Data(contentsOf: sroieKeys.appending(path: "\(id).json")))
            let total = Double(key["total"]!.stringValue!.filter { $0.isNumber || $0 == "." })!
            let date = ReceiptFields.firstDate(in: key["date"]!.stringValue!) ?? ""
            if total > 100 || !("2018-04-01"..."2018-06-30").contains(date) { expected.insert(id) }
        }
        var flagged: Set<String> = []
        for item in items {
            guard let data = item.result?["data"], let flags = data["flags"]?.arrayValue, !flags.isEmpty else { continue }
            flagged.insert(data["id"]?.stringValue ?? "")
        }
        #expect(flagged == expected)
        #expect(expected.count == 12)

        let report = try String(contentsOf: workspace.appending(path: detail.report ?? "missing"), encoding: .utf8)
        #expect(report.contains("What failed, and why"))
        #expect(report.contains("[Receipts/099.pdf](../Receipts/099.pdf)"))
        #expect(detail.usage.tokens > 0 && detail.usage.toolCalls >= receipts.count)
        if planner == .model {
            // The scripted model tries the PDF reader after check_receipt failed: a course correction, traced.
            #expect(traces.contains { $0.kind == .tool && $0.name == "pdf_text" && $0.detail["ok"] == false })
        }
    }
}
