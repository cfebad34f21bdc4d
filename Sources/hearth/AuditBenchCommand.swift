import ArgumentParser
import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthDaemon
import HearthDemo
import HearthModels
import HearthStore
import HearthTools
import Logging

struct AuditBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The receipts audit on the local model: precision and recall of flagged receipts, wall time, tokens.",
        discussion: """
            Runs the demo's goal over its sample workspace (in a temporary directory) with the configured model, \
            and scores the flagged set against the SROIE ground truth in --keys (a receipt should be flagged when \
            its true total is over the policy's limit or its true date is outside the claim period; the broken file \
            should fail). The same run measures a baseline without any model: check_receipt called on every file.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The SROIE key/ folder (e.g. ../shared/bench/sroie/key).", valueName: "dir"))
    var keys: String

    @Option(help: "Where plans come from: auto (a recipe when one fits) or model (the model always writes the plan).")
    var planner = "auto"

    @Option(
        help: ArgumentHelp(
            "Instead of the demo's hand-picked sample, this many receipts drawn at random from the SROIE box/ folder beside --keys.",
            valueName: "n"))
    var random: Int?

    @Option(help: "Seed for --random.")
    var seed: UInt64 = 1

    @Flag(help: "Only the no-model baseline (e.g. to score check_receipt over all 626 receipts with --random 626).")
    var noModel = false

    @Flag(help: "Print the figures as JSON.")
    var json = false

    func run() async throws {
        guard let mode = Planner.Mode(rawValue: planner) else { throw CLIError.usage("--planner must be auto or model") }
        let context = try common.load()
        let scratch = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-audit-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let workspace = scratch.appending(path: "workspace")
        var receipts = try SampleWorkspace.create(at: workspace)
        if let random {
            receipts = try Self.randomSample(random, seed: seed, keys: URL(fileURLWithPath: keys), workspace: workspace)
        }
        let policy = try ExpensePolicy.parse(String(contentsOf: workspace.appending(path: "Policy.md"), encoding: .utf8))
        let truth = try Self.truth(receipts: receipts, keys: URL(fileURLWithPath: keys), policy: policy)
        let say: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("bench: \($0)\n".utf8)) }

        // Baseline: the deterministic tool on every file, no model.
        let baselineStart = ContinuousClock.now
        var baselineFlagged: Set<String> = []
        var baselineFailed: Set<String> = []
        for path in receipts {
            let toolContext = ToolContext(workspace: workspace, idempotencyKey: "bench-\(path)")
            do {
                let output = try await CheckReceiptTool().invoke(["path": .string(path), "policy": "Policy.md"], context: toolContext)
                if output.data["flags"]?.arrayValue?.isEmpty == false { baselineFlagged.insert(CheckReceiptTool.receiptID(path)) }
            } catch {
                baselineFailed.insert(CheckReceiptTool.receiptID(path))
            }
        }
        let baselineSeconds = (ContinuousClock.now - baselineStart).inSeconds
        if noModel {
            var baseline = Self.score(flagged: baselineFlagged, failed: baselineFailed, truth: truth)
            baseline["seconds"] = .number((baselineSeconds * 100).rounded() / 100)
            baseline["flagged"] = .number(Double(baselineFlagged.count))
            baseline["failed"] = .array(baselineFailed.sorted().map(JSONValue.string))
            let document: JSONValue = [
                "benchmark": "audit", "receipts": .number(Double(receipts.count)), "truth_flagged": .number(Double(truth.flagged.count)),
                "sample": .string(random.map { "random \($0), seed \(seed)" } ?? "demo"), "baseline_tools_only": .object(baseline),
            ]
            print(
                json
                    ? document.jsonText
                    : "no model: \(baseline.filter { $0.key != "failed" }.map { "\($0.key) \($0.value.jsonText)" }.sorted().joined(separator: "  "))"
            )
            return
        }

        // Hearth: the goal, planned and run by the agent on the model.
        let database = try HearthDatabase.open(at: scratch.appending(path: "hearth.sqlite"))
        let store = GoalSQLStore(database: database)
        let run = try await store.createGoal(SampleWorkspace.goal, budget: GoalBudget(), workspace: workspace.path)
        let logger = Logger(label: "hearth.bench")
        say("starting the model server")
        let access = try await InferenceAccess.open(paths: context.paths, configuration: context.configuration, logger: logger)
        let model = LanguageModelAgent(
            model: access.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds), mode: access.toolCallMode)
        let started = ContinuousClock.now
        let detail: GoalDetail
        do {
            detail = try await GoalRunner(
                store: store, model: model, tools: BuiltinTools.all(), workspace: workspace, options: .init(planner: mode), logger: logger
            ) { event in
                if case .finished(let task, let state, _) = event { say("\(state.rawValue) \(task)") }
                if case .planned(let tasks, let source, _) = event { say("planned \(tasks) task(s) (\(source))") }
            }.run(run.id)
        } catch {
            await access.close()
            throw error
        }
        let seconds = (ContinuousClock.now - started).inSeconds
        await access.close()
        let summary = DemoCommand.summary(detail, receipts: receipts, workspace: workspace, seconds: seconds)
        let flagged = Set(summary["flagged"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [])
        let failed = Set(summary["failed"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [])
        let traces = try await store.traces(run.id)
        let plan = traces.first { $0.kind == .model && $0.name == "plan" }

        let hearth = Self.score(flagged: flagged, failed: failed, truth: truth)
        let baseline = Self.score(flagged: baselineFlagged, failed: baselineFailed, truth: truth)
        var hearthJSON = hearth
        hearthJSON["state"] = .string(detail.run.state.rawValue)
        hearthJSON["seconds"] = .number((seconds * 10).rounded() / 10)
        hearthJSON["tokens"] = .number(Double(detail.usage.tokens))
        hearthJSON["model_calls"] = .number(Double(detail.usage.modelCalls))
        hearthJSON["tool_calls"] = .number(Double(detail.usage.toolCalls))
        hearthJSON["plan_source"] = plan?.detail["source"] ?? .null
        hearthJSON["plan_valid"] = plan?.detail["valid"] ?? .null
        var baselineJSON = baseline
        baselineJSON["seconds"] = .number((baselineSeconds * 100).rounded() / 100)
        let document: JSONValue = [
            "benchmark": "audit", "model": .string(access.endpoint.chatModel), "planner": .string(mode.rawValue),
            "receipts": .number(Double(receipts.count)), "sample": .string(random.map { "random \($0), seed \(seed)" } ?? "demo"),
            "truth_flagged": .number(Double(truth.flagged.count)),
            "hearth": .object(hearthJSON), "baseline_tools_only": .object(baselineJSON),
        ]
        if json {
            printJSON(document)
            return
        }
        print(
            "receipts audit, \(receipts.count) receipts (\(truth.flagged.count) should be flagged, \(truth.broken.count) broken), model \(access.endpoint.chatModel), planner \(mode.rawValue)"
        )
        for (name, figures) in [("hearth", hearthJSON), ("no model", baselineJSON)] {
            let line = ["precision", "recall", "failed_correct", "seconds", "tokens", "model_calls", "plan_source", "state"].compactMap {
                key in
                figures[key].map { "\(key) \($0.stringValue ?? $0.jsonText)" }
            }
            print("  \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(line.joined(separator: "  "))")
        }
    }

    /// Replaces the sample's receipts with `count` SROIE receipts (their OCR lines as text) drawn with `seed`.
    static func randomSample(_ count: Int, seed: UInt64, keys: URL, workspace: URL) throws -> [String] {
        let boxes = keys.deletingLastPathComponent().appending(path: "box")
        let all = try FileManager.default.contentsOfDirectory(atPath: boxes.path).filter { $0.hasSuffix(".csv") }.sorted()
        guard count >= 1 && count <= all.count else { throw CLIError.usage("--random must be between 1 and \(all.count)") }
        var generator = SplitMix64(seed: seed)
        let chosen = all.shuffled(using: &generator).prefix(count).sorted()
        let folder = workspace.appending(path: "Receipts")
        try FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var receipts: [String] = []
        for file in chosen {
            let csv = try String(contentsOf: boxes.appending(path: file), encoding: .utf8)
            let lines = csv.split(whereSeparator: \.isNewline).compactMap { line in
                line.split(separator: ",", maxSplits: 8, omittingEmptySubsequences: false).dropFirst(8).first.map(String.init)
            }
            let name = "Receipts/" + file.replacingOccurrences(of: ".csv", with: ".txt")
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: workspace.appending(path: name))
            receipts.append(name)
        }
        return receipts
    }

    struct Truth {
        var flagged: Set<String>
        var broken: Set<String>
    }

    /// Which receipts the policy flags, from the ground-truth total and date; the sample's
    /// broken PDF is the one file that should fail.
    static func truth(receipts: [String], keys: URL, policy: ExpensePolicy) throws -> Truth {
        var truth = Truth(flagged: [], broken: [])
        for path in receipts {
            let id = CheckReceiptTool.receiptID(path)
            if path.hasSuffix(".pdf") {
                truth.broken.insert(id)
                continue
            }
            let file = keys.appending(path: "\(id).json")
            guard let data = FileManager.default.contents(atPath: file.path), let key = try? JSONValue(parsing: data) else {
                throw CLIError("--keys: cannot read \(file.path); point --keys at the SROIE key/ folder")
            }
            let total = Double(key["total"]?.stringValue?.filter { $0.isNumber || $0 == "." } ?? "")
            let date = key["date"]?.stringValue.flatMap(ReceiptFields.firstDate(in:))
            if !policy.flags(for: ReceiptFields(vendor: nil, date: date, total: total)).isEmpty { truth.flagged.insert(id) }
        }
        return truth
    }

    static func score(flagged: Set<String>, failed: Set<String>, truth: Truth) -> [String: JSONValue] {
        let hits = flagged.intersection(truth.flagged).count
        let precision = flagged.isEmpty ? 0 : Double(hits) / Double(flagged.count)
        let recall = truth.flagged.isEmpty ? 1 : Double(hits) / Double(truth.flagged.count)
        return [
            "precision": .number((precision * 1000).rounded() / 1000), "recall": .number((recall * 1000).rounded() / 1000),
            "flagged": .array(flagged.sorted().map(JSONValue.string)), "failed": .array(failed.sorted().map(JSONValue.string)),
            "failed_correct": .bool(failed == truth.broken),
        ]
    }
}
