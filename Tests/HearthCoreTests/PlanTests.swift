import Foundation
import HearthCore
import Testing

@Suite("Plans: validation, fan-out and scheduling", .timeLimit(.minutes(10)))
struct PlanTests {
    let tools: Set<String> = ["read_file", "check_receipt", "write_report"]

    func task(_ id: String, after: [String] = [], tools: [String] = ["read_file"], forEach: String? = nil) -> PlanDraft.Task {
        PlanDraft.Task(id: id, title: id, instructions: "do \(id) {{item}}", dependsOn: after, tools: tools, forEach: forEach)
    }

    @Test("a plan with cycles, unknown dependencies, unknown tools and duplicate ids is refused with every reason")
    func invalidPlans() {
        let draft = PlanDraft(tasks: [
            task("a", after: ["c"]), task("b", after: ["a"]), task("c", after: ["b"]), task("d", after: ["ghost"], tools: ["rm_rf"]),
            task("d"), task("e", forEach: "../etc/*"),
        ])
        let problems = draft.problems(knownTools: tools)
        #expect(problems.contains { $0.hasPrefix("the dependencies form a cycle: a → c → b → a") })
        #expect(problems.contains("task \"d\" depends on \"ghost\", which is not in the plan"))
        #expect(problems.contains("task \"d\" names the unknown tool \"rm_rf\""))
        #expect(problems.contains("task id \"d\" is used twice"))
        #expect(problems.contains { $0.contains("forEach \"../etc/*\"") })
        #expect(throws: PlanError.self) { try draft.expand(knownTools: tools) { _ in [] } }
        #expect(PlanDraft(tasks: []).problems(knownTools: tools) == ["the plan has no tasks"])
        let tooBig = PlanDraft(tasks: (0..<7).map { task("t\($0)") })
        #expect(tooBig.problems(knownTools: tools).contains("the plan has 7 tasks; at most 6 are allowed"))
    }

    @Test("fan-out expands deterministically over the files a glob matches, in sorted order")
    func fanOut() throws {
        let files = ["Receipts/b.txt", "Receipts/a.pdf", "Receipts/sub/c.jpg", "Notes/x.md", "Receipts/.hidden"]
        let draft = PlanDraft(tasks: [task("report", after: ["check"], tools: []), task("check", forEach: "Receipts/*")])
        let expanded = try draft.expand(knownTools: tools) { glob in files.filter { WorkspaceGlob.matches($0, glob: glob) } }
        #expect(expanded.map(\.id) == ["check[Receipts/a.pdf]", "check[Receipts/b.txt]", "report"])
        #expect(expanded[0].instructions == "do check Receipts/a.pdf")
        #expect(expanded.last?.dependsOn == ["check"])
        #expect(WorkspaceGlob.matches("Receipts/sub/c.jpg", glob: "Receipts/**"))
        #expect(!WorkspaceGlob.matches("Receipts/sub/c.jpg", glob: "Receipts/*"))
        #expect(throws: PlanError.tooManyItems(task: "check", glob: "Receipts/*", count: 3, limit: 2)) {
            try draft.expand(knownTools: tools, limits: PlanDraft.Limits(maxTasks: 6, maxItemsPerFanOut: 2)) { _ in ["1", "2", "3"] }
        }
    }

    @Test("a failed fan-out item does not block the synthesis; a failed single task skips its dependents")
    func schedule() {
        let tasks = [
            PlanTask(id: "policy", group: "policy", item: nil, title: "", instructions: "", dependsOn: [], expectedOutput: "", tools: []),
            PlanTask(id: "c[1]", group: "c", item: "1", title: "", instructions: "", dependsOn: ["policy"], expectedOutput: "", tools: []),
            PlanTask(id: "c[2]", group: "c", item: "2", title: "", instructions: "", dependsOn: ["policy"], expectedOutput: "", tools: []),
            PlanTask(id: "sum", group: "sum", item: nil, title: "", instructions: "", dependsOn: ["c"], expectedOutput: "", tools: []),
        ]
        #expect(PlanSchedule.decide(tasks: tasks, states: [:]).ready == ["policy"])
        #expect(PlanSchedule.decide(tasks: tasks, states: ["policy": .succeeded]).ready == ["c[1]", "c[2]"])
        #expect(PlanSchedule.decide(tasks: tasks, states: ["policy": .succeeded, "c[1]": .failed, "c[2]": .running]).ready.isEmpty)
        let states: [String: TaskState] = ["policy": .succeeded, "c[1]": .failed, "c[2]": .succeeded]
        #expect(PlanSchedule.decide(tasks: tasks, states: states).ready == ["sum"])
        #expect(PlanSchedule.outcome(tasks: tasks, states: states.merging(["sum": .succeeded]) { $1 }) == .succeeded)

        let blocked = PlanSchedule.decide(tasks: tasks, states: ["policy": .failed])
        #expect(blocked.skip.map(\.id) == ["c[1]", "c[2]"])
        #expect(blocked.skip.first?.reason == "depends on \"policy\", which failed")
        #expect(
            PlanSchedule.outcome(tasks: tasks, states: ["policy": .failed, "c[1]": .skipped, "c[2]": .skipped, "sum": .succeeded])
                == .failed)
    }
}
