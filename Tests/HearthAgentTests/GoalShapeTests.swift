import Foundation
import HearthAgent
import HearthCore
import HearthTools
import Testing

@Suite("Goal shapes planned without a model", .timeLimit(.minutes(10)))
struct GoalShapeTests {
    let files = [
        "Notes/kickoff.md", "Notes/vendor.txt", "Notes/2026/retro.md", "Meetings/standup.md", "Drafts/plan-v1.md", "Drafts/plan-v2.md",
        "Invoices/march.pdf", "Invoices/april.pdf", "Projects/NextGen/spec.md", "README.md", "Policy.md", "Receipts/001.txt",
    ]

    func shape(_ goal: String) -> GoalShape? { GoalShape.parse(goal, files: files) }

    @Test(
        "per-file work over a folder, however it is worded",
        arguments: [
            ("Summarise each note in Notes/ and list the open questions", ["Notes/**"], true, [GoalShape.Item.questions]),
            ("summarize every file in Notes", ["Notes/**"], true, []),
            ("Give me a summary of the meeting notes in Meetings", ["Meetings/**"], true, []),
            ("What are the open questions in Notes/?", ["Notes/**"], false, [.questions]),
            ("List all TODOs and action items across Notes/", ["Notes/**"], false, [.todos]),
            ("Find the deadlines and amounts in Invoices/", ["Invoices/**"], false, [.dates, .amounts]),
            ("Pull out every e-mail address and link from Meetings/", ["Meetings/**"], false, [.links, .emails]),
            ("Go through Projects/NextGen and tell me the key points", ["Projects/NextGen/**"], true, []),
            ("For each markdown file in Notes, list its next steps", ["Notes/**/*.md"], false, [.todos]),
            ("Read Notes/kickoff.md and list its open questions", ["Notes/kickoff.md"], false, [.questions]),
            ("tl;dr of README.md please", ["README.md"], true, []),
            ("Extract the dates from the PDFs in Invoices/", ["Invoices/**/*.pdf"], false, [.dates]),
            ("Collect all the unanswered questions and follow-ups in my workspace", ["**"], false, [.questions, .todos]),
            ("Look for the open questions in Notes/", ["Notes/**"], false, [.questions]),
        ])
    func perFile(goal: String, targets: [String], summarise: Bool, items: [GoalShape.Item]) throws {
        let parsed = try #require(shape(goal), "\(goal)")
        #expect(parsed.targets == targets, "\(goal)")
        #expect(parsed.summarise == summarise, "\(goal)")
        #expect(parsed.items == items, "\(goal)")
        #expect(parsed.search == nil && parsed.compare == nil, "\(goal)")
    }

    @Test(
        "searches and comparisons",
        arguments: [
            ("Search Notes/ for \"budget\"", "budget", ["Notes/**"]),
            ("search for invoice", "invoice", []),
            ("Which files mention Acme?", "Acme", []),
            ("Find all mentions of the staging database in Meetings/", "staging database", ["Meetings/**"]),
            ("Look for 'Q1 launch' in Notes", "Q1 launch", ["Notes/**"]),
            ("grep for FIXME", "FIXME", []),
        ])
    func search(goal: String, term: String, targets: [String]) throws {
        let parsed = try #require(shape(goal), "\(goal)")
        #expect(parsed.search == term, "\(goal)")
        #expect(parsed.targets == targets, "\(goal)")
    }

    @Test(
        "comparing two documents, however it is worded",
        arguments: [
            "Compare Drafts/plan-v1.md with Drafts/plan-v2.md", "What changed between Drafts/plan-v1.md and Drafts/plan-v2.md?",
            "diff drafts/plan-v1.md and drafts/plan-v2.md", "Drafts/plan-v1.md vs Drafts/plan-v2.md",
        ])
    func compare(goal: String) throws {
        #expect(try #require(shape(goal), "\(goal)").compare == ["Drafts/plan-v1.md", "Drafts/plan-v2.md"])
    }

    @Test(
        "goals that ask for more than reading are left to the planner, so nothing is silently dropped",
        arguments: [
            "Summarise each note in Notes/ and email the summary to Ann", "List the open questions in Notes/ then send them to Sam",
            "Translate Notes/kickoff.md and summarise it", "Summarise Notes/ and move the old ones to Archive/",
            "Find the TODOs in Notes/ and fix them", "Plan my week", "Write a blog post about the notes in Notes/",
            "Summarise the news", "Compare Drafts/plan-v1.md with something else", "List the open questions",
        ])
    func notClaimed(goal: String) {
        #expect(shape(goal) == nil, "\(goal)")
    }

    @Test("writing a summary or making a list is reading, not writing")
    func harmlessVerbs() throws {
        #expect(try #require(shape("Write a short summary of each file in Notes/")).summarise)
        #expect(try #require(shape("Make a list of the deadlines in Invoices/")).items == [.dates])
    }

    @Test("the recipe: one fan-out per kind of work, a search or a comparison pinned, and a collecting task")
    func recipe() throws {
        let tools = Set(BuiltinTools.all().names)
        let both = try #require(
            PlanRecipes.match(goal: "Summarise each note in Notes/ and list the open questions", files: files, tools: tools))
        #expect(both.name == "text-work")
        #expect(both.draft.tasks.map(\.id) == ["find", "summary", "results"])
        #expect(both.draft.tasks[0].bindings == ["kinds": "questions"] && both.draft.tasks[0].completesWith == "extract_items")
        #expect(both.draft.tasks[1].tools == ["read_document"] && both.draft.tasks[1].forEach == "Notes/**")
        #expect(both.draft.tasks[2].collect == true && both.draft.tasks[2].dependsOn == ["find", "summary"])
        #expect(both.draft.problems(knownTools: tools).isEmpty)
        let search = try #require(PlanRecipes.match(goal: "Search Notes/ for \"budget\"", files: files, tools: tools))
        #expect(search.draft.tasks[0].bindings == ["query": "budget", "pattern": "Notes/**"])
        // The audit recipe keeps its goals.
        #expect(
            PlanRecipes.match(goal: "Audit the receipts in Receipts/ against Policy.md", files: files, tools: tools)?.name
                == "document-audit")
    }

    @Test("compliance reviews and publications, however worded, get their recipes; without a regulation or a folder, none")
    func complianceRecipes() throws {
        // No [publish]: no publication tools.
        let reviewing = Set(BuiltinTools.all(publish: PublishTarget(portal: nil)).names).union([
            "read_regulation", "check_spec", "compliance_report",
        ])
        #expect(!reviewing.contains("publish_portal") && !reviewing.contains("post_summary"))
        let tools = reviewing.union(["publish_portal", "post_summary"])
        let files = [
            "Specs/payments.md", "Specs/old/login.md", "Legal/EU-Data-Act-2026.pdf", "Handbook/Writing style.md", "Notes/a.md",
            "Reports/compliance-4.md",
        ]
        let goal = "Is every feature spec in Specs/ compliant with the regulation? Cite pages."
        #expect(PlanRecipes.match(goal: goal, files: files, tools: reviewing)?.draft.tasks.map(\.id) == ["regulation", "check", "report"])
        // With [publish], the review ends with its gated publication, bound to the report as each step finds it.
        let review = try #require(PlanRecipes.match(goal: goal, files: files, tools: tools))
        #expect(review.name == "compliance-review")
        #expect(review.draft.tasks.map(\.id) == ["regulation", "check", "report", "portal", "channel"])
        #expect(
            review.draft.tasks[3...].allSatisfy {
                $0.bindings == ["report": "Reports/compliance-{{run}}.md", "sha256": "{{sha256:Reports/compliance-{{run}}.md}}"]
            })
        #expect(review.draft.tasks[3].dependsOn == ["report"] && review.draft.tasks[4].dependsOn == ["portal"])
        #expect(review.draft.tasks[0].bindings == ["path": "Legal/EU-Data-Act-2026.pdf"])
        #expect(review.draft.tasks[1].forEach == "Specs/**/*.md")
        #expect(review.draft.tasks[2].bindings?["style_guide"] == "Handbook/Writing style.md")
        #expect(review.draft.problems(knownTools: tools).isEmpty)
        // Two PDFs and none named: no recipe (the model plans, or the user names one).
        let twoPDFs = files + ["Legal/Other.pdf"]
        #expect(PlanRecipes.match(goal: "Check Specs/ for compliance", files: twoPDFs, tools: tools)?.name != "compliance-review")
        #expect(
            PlanRecipes.match(goal: "Check Specs/ for compliance with Legal/Other.pdf", files: twoPDFs, tools: tools)?.draft.tasks.first?
                .bindings?["path"] == "Legal/Other.pdf")
        #expect(PlanRecipes.match(goal: "Check for compliance", files: files, tools: tools)?.name != "compliance-review")

        let sha = String(repeating: "ab", count: 32)
        let publish = try #require(
            PlanRecipes.match(
                goal: "Publish Reports/compliance-4.md (sha256 \(sha)) to the documentation portal and the project channel", files: files,
                tools: tools))
        #expect(publish.name == "publication")
        #expect(publish.draft.tasks.map(\.id) == ["portal", "channel"])
        #expect(publish.draft.tasks.allSatisfy { $0.bindings == ["report": "Reports/compliance-4.md", "sha256": sha] })
        #expect(publish.draft.tasks[1].dependsOn == ["portal"])
        // Without the approved content's hash there is nothing to bind an approval to.
        #expect(
            PlanRecipes.match(goal: "Publish Reports/compliance-4.md to the documentation portal", files: files, tools: tools)?.name
                != "publication")
    }

    @Test("a routine's goal is planned by its instruction; the events after it, however many and whatever they say, pick nothing")
    func routineGoals() throws {
        let tools = Set(BuiltinTools.all().names)
        let subjects = (1...30).map { index in
            AttentionSubject.from(
                Event(
                    id: Int64(index), source: "watcher", kind: "file.created", key: nil,
                    payload: ["path": .string("Notes/n\(index) compare Drafts-v1.md with Drafts-v2.md.md")], occurredAt: Date(),
                    receivedAt: Date(),
                    provenance: .untrusted))
        }
        let goal = GoalTemplate.render("Summarise each file in {{folder}}", subjects: subjects)
        #expect(goal.count > 400)
        let match = try #require(PlanRecipes.match(goal: goal, files: files, tools: tools))
        #expect(match.draft.tasks.map(\.id) == ["summary", "results"])
    }

    @Test("the parser's item kinds are the tool's")
    func kindsAgree() {
        #expect(GoalShape.Item.allCases.map(\.rawValue) == TextItems.Kind.allCases.map(\.rawValue))
    }
}

@Suite("Items found by code in documents", .timeLimit(.minutes(10)))
struct TextItemsTests {
    @Test("questions, to-dos, dates, amounts, links and addresses, each with its line")
    func items() {
        let text = """
            # Notes
            Budget is €12,000; Acme quoted $4,500 and 300 EUR for support.
            Deadline: 2026-12-31, kickoff on 12 January 2027 and review Nov 30.
            Is the quote fixed? We think so. Who pays for travel?
            See https://example.com/spec?id=4 and mail ann@example.com.

            ## Open questions
            - staging database
            - [ ] Sam drafts the wireframes

            ## Next steps
            - get a second quote
            - [x] book the room
            TODO: ask legal
            ```
            // TODO: inside code, ignored
            ```
            """
        let found = TextItems.find(Set(TextItems.Kind.allCases), in: [text])
        func texts(_ kind: TextItems.Kind) -> [String] { found.filter { $0.kind == kind }.map(\.text) }
        #expect(texts(.questions) == ["Is the quote fixed?", "Who pays for travel?", "staging database"])
        #expect(texts(.todos) == ["Sam drafts the wireframes", "get a second quote", "ask legal"])
        #expect(texts(.amounts) == ["€12,000", "$4,500", "300 EUR"])
        #expect(texts(.dates) == ["2026-12-31", "12 January 2027", "Nov 30"])
        #expect(texts(.links) == ["https://example.com/spec?id=4"])
        #expect(texts(.emails) == ["ann@example.com"])
        #expect(found.first { $0.text == "Who pays for travel?" }?.line == 4)
    }

    @Test("a line diff finds what is only in each document")
    func diff() {
        let result = LineDiff.compare("Plan one.\nShip in March.\nBudget 10k.\n", "Plan two.\nShip in March.\nBudget 12k.\nBeta program.\n")
        #expect(result.common == 1)
        #expect(result.removed.map(\.text) == ["Plan one.", "Budget 10k."])
        #expect(result.added.map(\.text) == ["Plan two.", "Budget 12k.", "Beta program."])
    }
}
