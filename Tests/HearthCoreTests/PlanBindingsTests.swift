import HearthCore
import Testing

@Suite("Plan bindings known when a task starts", .timeLimit(.minutes(10)))
struct PlanBindingsTests {
    @Test("{{run}} and {{sha256:PATH}} are filled in; a file that cannot be read matches no hash; other values stay")
    func resolve() {
        var asked: [String] = []
        let resolved = PlanBindings.resolve(
            [
                "report": "Reports/compliance-{{run}}.md", "sha256": "{{sha256:Reports/compliance-{{run}}.md}}",
                "missing": "{{sha256:gone.md}}", "policy": "Policy.md",
            ], runID: 7
        ) { path in
            asked.append(path)
            return path == "Reports/compliance-7.md" ? "3f2a" : nil
        }
        #expect(resolved["report"] == "Reports/compliance-7.md")
        #expect(resolved["sha256"] == "3f2a")
        #expect(resolved["missing"] == "unreadable")
        #expect(resolved["policy"] == "Policy.md")
        #expect(Set(asked) == ["Reports/compliance-7.md", "gone.md"])
    }
}
