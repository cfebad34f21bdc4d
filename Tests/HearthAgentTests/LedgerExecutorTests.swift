import Foundation
import HearthAgent
import HearthCore
import HearthStore
import HearthTesting
import Logging
import Testing

@Suite("Ledger executor", .timeLimit(.minutes(2)))
struct LedgerExecutorTests {
    let data: TemporaryDirectory
    let workspace: TemporaryDirectory
    let ledger: LedgerStore
    let wake = WakeSignal()
    let effects = EffectRegistry([AppendLineEffect()])

    init() throws {
        data = try TemporaryDirectory(prefix: "ledger")
        workspace = try TemporaryDirectory(prefix: "ws")
        ledger = LedgerStore(database: try HearthDatabase.open(at: data.appending("hearth.sqlite")))
    }

    func executor() -> LedgerExecutor {
        LedgerExecutor(
            ledger: ledger, effects: effects,
            options: .init(concurrency: 2, shutdownGrace: .seconds(5), workspace: workspace.url), wake: wake,
            clock: SystemWallClock(), logger: Logger(label: "test"))
    }

    func waitForRun(_ id: Int64, _ state: RunState) async throws -> RunDetail {
        // Polls with a pause: a busy loop of yields would take the very threads the executor needs
        // on a starved machine.
        try await withTimeout(45, "run \(id) to be \(state)") { [ledger] in
            while true {
                let detail = try await ledger.run(id)
                if detail.run.state == state { return detail }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    func request(_ lines: [String], idempotent: Bool = true, file: String = "log.txt") throws -> RunRequest {
        RunRequest(
            title: "append", origin: "test",
            steps: try lines.map {
                try effects.stepRequest(
                    effect: "append_line", arguments: ["path": .string(file), "text": .string($0), "idempotent": .bool(idempotent)])
            })
    }

    @Test("runs every step of every run, in order, and wakes for new runs")
    func runsSteps() async throws {
        let task = Task { try await executor().run() }
        defer { task.cancel() }
        let (a, _) = try await ledger.createRun(try request(["a1", "a2", "a3"], file: "a.txt"))
        let (b, _) = try await ledger.createRun(try request(["b1"], file: "b.txt"))
        wake.wake()
        _ = try await waitForRun(a.id, .succeeded)
        _ = try await waitForRun(b.id, .succeeded)
        let lines = try String(contentsOf: workspace.appending("a.txt"), encoding: .utf8).split(separator: "\n")
        #expect(lines.map { $0.split(separator: " ").first! } == ["a1", "a2", "a3"])
    }

    @Test("a failing step fails its run with the effect's message and leaves later steps pending")
    func failure() async throws {
        try FileManager.default.createDirectory(at: workspace.appending("dir.txt"), withIntermediateDirectories: true)
        let task = Task { try await executor().run() }
        defer { task.cancel() }
        let (run, _) = try await ledger.createRun(try request(["x", "y"], file: "dir.txt"))
        wake.wake()
        let detail = try await waitForRun(run.id, .failed)
        #expect(detail.steps.map(\.state) == [.failed, .pending])
        #expect(detail.steps[0].error?.contains("dir.txt") == true)
    }

    @Test("an unknown effect in the ledger fails the step instead of crashing")
    func unknownEffect() async throws {
        let task = Task { try await executor().run() }
        defer { task.cancel() }
        let (run, _) = try await ledger.createRun(
            RunRequest(title: "bad", origin: "test", steps: [.init(effect: "launch_rockets", arguments: [:], idempotent: true)]))
        wake.wake()
        let detail = try await waitForRun(run.id, .failed)
        #expect(detail.steps[0].error?.contains("unknown effect \"launch_rockets\"") == true)
    }

    @Test("after a crash mid-step, an idempotent append is re-run without writing its line twice")
    func idempotentRecovery() async throws {
        let (run, _) = try await ledger.createRun(try request(["only once"]))
        let claim = try #require(try await ledger.claimNextStep())
        // The effect ran, then the process died before recording the result.
        let context = EffectContext(
            idempotencyKey: claim.step.idempotencyKey, runID: run.id, stepID: claim.step.id, attempt: 1, workspace: workspace.url)
        _ = try await AppendLineEffect().perform(claim.step.arguments, context: context)
        let recovery = try await ledger.recover()
        #expect(recovery.requeuedSteps == [claim.step.id])
        let task = Task { try await executor().run() }
        defer { task.cancel() }
        let detail = try await waitForRun(run.id, .succeeded)
        #expect(detail.steps[0].result?["appended"] == false)
        let text = try String(contentsOf: workspace.appending("log.txt"), encoding: .utf8)
        #expect(text.split(separator: "\n").count == 1)
    }
}
