import Foundation
import HearthCore

/// Plans that need no model: a goal of a known shape gets a fixed, reviewed plan.
///
/// Planning "check every file of a folder against a rules document" is deterministic once the
/// folder and the document are named; a small local model writes such plans badly, and a plan
/// that loses a file is worse than no plan. Recipes are matched on what the goal names and on
/// what exists in the workspace, never on the answers.
public enum PlanRecipes {
    /// A named plan for a goal.
    public struct Match: Sendable {
        public var name: String
        public var draft: PlanDraft
    }

    /// The recipe for `goal`, if one fits.
    /// A routine's goal carries its events after the instruction, as untrusted data: recipes
    /// read the instruction only, so event text can never pick a plan.
    public static func match(goal: String, files: [String], tools: Set<String>) -> Match? {
        let instruction = GoalTemplate.instruction(of: goal)
        return publication(goal: instruction, files: files, tools: tools)
            ?? complianceReview(goal: instruction, files: files, tools: tools)
            ?? documentAudit(goal: instruction, files: files, tools: tools)
            ?? textWork(goal: instruction, files: files, tools: tools)
    }

    /// Goals of a `GoalShape`: per-file summaries (the model's only job: a few sentences per
    /// file it is handed), items found by code, a search, a comparison; a last task collects
    /// the results in code.
    static func textWork(goal: String, files: [String], tools: Set<String>) -> Match? {
        guard let shape = GoalShape.parse(goal, files: files) else { return nil }
        var tasks: [PlanDraft.Task] = []
        func id(_ base: String, _ index: Int) -> String { shape.targets.count > 1 ? "\(base)-\(index + 1)" : base }
        if let pair = shape.compare {
            guard tools.contains("compare_files") else { return nil }
            tasks.append(
                PlanDraft.Task(
                    id: "compare", title: "Compare \(pair[0]) with \(pair[1])",
                    instructions:
                        "Say in two or three sentences how \(pair[1]) differs from \(pair[0]), from the lines only in one of them.",
                    expectedOutput: "the differences", tools: ["compare_files"], bindings: ["a": pair[0], "b": pair[1]]))
        }
        for (index, target) in shape.targets.enumerated() {
            if !shape.items.isEmpty {
                guard tools.contains("extract_items") else { return nil }
                let kinds = shape.items.map(\.rawValue).joined(separator: ",")
                tasks.append(
                    PlanDraft.Task(
                        id: id("find", index), title: "Find \(Self.words(shape.items))",
                        instructions: "List the \(Self.words(shape.items)) in {{item}}.", expectedOutput: "the items with their lines",
                        tools: ["extract_items"], forEach: target, bindings: ["kinds": kinds], completesWith: "extract_items"))
            }
            if shape.summarise {
                guard tools.contains("read_document") else { return nil }
                tasks.append(
                    PlanDraft.Task(
                        id: id("summary", index), title: "Summarise",
                        instructions: "Summarise {{item}} in two or three sentences: what it is about, and what it decides or asks.",
                        expectedOutput: "a short summary", tools: ["read_document"], forEach: target))
            }
        }
        if let term = shape.search {
            guard tools.contains("search_text") else { return nil }
            var bindings = ["query": term]
            if shape.targets.count == 1 { bindings["pattern"] = shape.targets[0] }
            tasks.append(
                PlanDraft.Task(
                    id: "search", title: "Search for \"\(term)\"", instructions: "Find the lines that contain \"\(term)\".",
                    expectedOutput: "the matching lines", tools: ["search_text"], bindings: bindings, completesWith: "search_text"))
        }
        guard !tasks.isEmpty, tasks.count < PlanDraft.Limits().maxTasks else { return nil }
        tasks.append(
            PlanDraft.Task(
                id: "results", title: "Results", instructions: "Collect what the other tasks found, file by file.",
                dependsOn: tasks.map(\.id), expectedOutput: "the results in one place", tools: [], collect: true))
        return Match(name: "text-work", draft: PlanDraft(tasks: tasks))
    }

    /// "open questions, to-dos and dates".
    static func words(_ items: [GoalShape.Item]) -> String {
        let names = items.map { item -> String in
            switch item {
            case .questions: "open questions"
            case .todos: "to-dos"
            case .emails: "e-mail addresses"
            default: item.rawValue
            }
        }
        return names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    /// "Audit the receipts in Receipts/ against Policy.md": the goal names a folder of the
    /// workspace and a document, and speaks of receipts or expenses.
    static func documentAudit(goal: String, files: [String], tools: Set<String>) -> Match? {
        let lowered = goal.lowercased()
        guard ["receipt", "expense", "invoice"].contains(where: lowered.contains), tools.contains("check_receipt") else { return nil }
        let words = goal.split(whereSeparator: { $0.isWhitespace || $0 == "," || $0 == "\"" || $0 == "'" }).map {
            $0.trimmingCharacters(in: CharacterSet(charactersIn: ".;:()"))
        }
        let folder = words.first { word in word.hasSuffix("/") && files.contains { $0.hasPrefix(word) } }
        let policy = words.first { word in files.contains(word) && !(folder.map { word.hasPrefix($0) } ?? false) }
        guard let folder, let policy else { return nil }
        // check_receipt reads text, PDFs and images itself, so it is the item's only tool: with the
        // file and the policy pinned, a small model has one valid call to make.
        return Match(
            name: "document-audit",
            draft: PlanDraft(tasks: [
                PlanDraft.Task(
                    id: "check", title: "Check against \(policy)",
                    instructions:
                        "Check {{item}} against the rules in \(policy) with check_receipt; report its vendor, date, total and any flags.",
                    expectedOutput: "the receipt's fields and the policy flags", tools: ["check_receipt"], forEach: folder + "**",
                    bindings: ["policy": policy], completesWith: "check_receipt"),
                PlanDraft.Task(
                    id: "summary", title: "Sum up the audit",
                    instructions:
                        "Sum up the audit in three sentences: how many receipts were checked, which were flagged and why, and which could not be read.",
                    dependsOn: ["check"], expectedOutput: "a short summary", tools: []),
            ]))
    }

    /// "Analyze all feature specs in Projects/NextGen against the regulatory PDF framework…":
    /// the goal speaks of compliance or a regulation and names a folder of markdown specs; the
    /// regulation is the PDF the goal names, else the workspace's only PDF (or the only one
    /// called a regulation); the style guide is the file the goal names, else one whose name says
    /// it is one. The regulation is read once, each spec checked in code, the report written from
    /// the results.
    static func complianceReview(goal: String, files: [String], tools: Set<String>) -> Match? {
        let lowered = goal.lowercased()
        guard ["complian", "regulat"].contains(where: lowered.contains),
            ["read_regulation", "check_spec", "compliance_report"].allSatisfy(tools.contains)
        else { return nil }
        let words = goal.split(whereSeparator: { $0.isWhitespace || $0 == "," || $0 == "\"" || $0 == "'" || $0 == "`" }).map {
            $0.trimmingCharacters(in: CharacterSet(charactersIn: ".;:()"))
        }
        let specs = files.filter { $0.lowercased().hasSuffix(".md") }
        let folder = words.lazy.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }.first { word in
            !word.isEmpty && specs.contains { $0.hasPrefix(word + "/") }
        }
        guard let folder else { return nil }
        let pdfs = files.filter { $0.lowercased().hasSuffix(".pdf") && !$0.hasPrefix(folder + "/") }
        let regulation =
            words.first { word in word.lowercased().hasSuffix(".pdf") && files.contains(word) }
            ?? (pdfs.count == 1 ? pdfs[0] : pdfs.filter { $0.lowercased().contains("regulat") }.onlyElement)
        guard let regulation else { return nil }
        let guides = files.filter { $0.lowercased().hasSuffix(".md") && !$0.hasPrefix(folder + "/") }
        let styleGuide =
            words.first { word in guides.contains(word) && word.lowercased().contains("style") }
            ?? guides.filter { ($0 as NSString).lastPathComponent.lowercased().contains("style") }.onlyElement
        var reportBindings = ["regulation": regulation, "folder": folder]
        if let styleGuide { reportBindings["style_guide"] = styleGuide }
        return Match(
            name: "compliance-review",
            draft: PlanDraft(
                tasks: [

                    PlanDraft.Task(
                        id: "regulation", title: "Read \(regulation)",
                        instructions: "Read \(regulation) into memory as requirements with their articles and pages.",
                        expectedOutput: "how many requirements, in how many articles", tools: ["read_regulation"],
                        bindings: ["path": regulation], completesWith: "read_regulation"),
                    PlanDraft.Task(
                        id: "check", title: "Check against \(regulation)",
                        instructions: "Check {{item}} against \(regulation) with check_spec.", dependsOn: ["regulation"],
                        expectedOutput: "the lines that break a requirement, with article and page", tools: ["check_spec"],
                        forEach: folder + "/**/*.md", bindings: ["regulation": regulation], completesWith: "check_spec"),
                    PlanDraft.Task(
                        id: "report", title: "Write the compliance report",
                        instructions: "Write the review's report from the checks.", dependsOn: ["check"],
                        expectedOutput: "the report's path", tools: ["compliance_report"], bindings: reportBindings,
                        completesWith: "compliance_report"),
                ] + publishing(report: "Reports/compliance-{{run}}.md", after: "report", tools: tools)))
    }

    /// Where a review's report goes once the user approves it, when `[publish]` is set (its tools
    /// are there): the documentation portal, then the project channel. Each step is gated and
    /// bound to the report's hash as the step finds it, so a report changed after it was asked
    /// about (a finding dismissed) is not what goes out.
    static func publishing(report: String, after: String, tools: Set<String>) -> [PlanDraft.Task] {
        let bindings = ["report": report, "sha256": "{{sha256:\(report)}}"]
        var tasks: [PlanDraft.Task] = []
        if tools.contains("publish_portal") {
            tasks.append(
                PlanDraft.Task(
                    id: "portal", title: "Commit the report to the documentation portal",
                    instructions:
                        "Once approved, commit the report and its remediation texts to the documentation portal on a branch of its own.",
                    dependsOn: [after], expectedOutput: "the branch and commit", tools: ["publish_portal"], bindings: bindings,
                    completesWith: "publish_portal"))
        }
        if tools.contains("post_summary") {
            tasks.append(
                PlanDraft.Task(
                    id: "channel", title: "Post the summary to the project channel",
                    instructions: "Once approved, post the report's summary to the project channel.",
                    dependsOn: tasks.isEmpty ? [after] : tasks.map(\.id), expectedOutput: "whether the channel took it",
                    tools: ["post_summary"], bindings: bindings, completesWith: "post_summary"))
        }
        return tasks
    }
}

extension PlanRecipes {
    /// "Publish Reports/compliance-7.md (sha256 3f2a…) to the documentation portal and the
    /// project channel" ('hearth publish 7' writes it): one gated step per place, each bound to
    /// the report's hash, so what is approved is exactly what goes out. The channel hears of it
    /// after the portal has it.
    static func publication(goal: String, files: [String], tools: Set<String>) -> Match? {
        let lowered = goal.lowercased()
        guard lowered.contains("publish"), let sha = goal.firstMatch(of: /\b[0-9a-f]{64}\b/).map({ String($0.output) }) else { return nil }
        let words = goal.split(whereSeparator: { $0.isWhitespace || $0 == "," || $0 == "\"" || $0 == "'" || $0 == "(" || $0 == ")" })
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ".;:")) }
        guard let report = words.first(where: { $0.hasSuffix(".md") && files.contains($0) }) else { return nil }
        let bindings = ["report": report, "sha256": sha]
        var tasks: [PlanDraft.Task] = []
        if lowered.contains("portal") && tools.contains("publish_portal") {
            tasks.append(
                PlanDraft.Task(
                    id: "portal", title: "Commit \(report) to the documentation portal",
                    instructions: "Commit \(report), as approved, to the documentation portal on a branch of its own.",
                    expectedOutput: "the branch and commit", tools: ["publish_portal"], bindings: bindings, completesWith: "publish_portal")
            )
        }
        if lowered.contains("channel") && tools.contains("post_summary") {
            tasks.append(
                PlanDraft.Task(
                    id: "channel", title: "Post the summary to the project channel",
                    instructions: "Post the summary of \(report), as approved, to the project channel.", dependsOn: tasks.map(\.id),
                    expectedOutput: "whether the channel took it", tools: ["post_summary"], bindings: bindings,
                    completesWith: "post_summary"))
        }
        return tasks.isEmpty ? nil : Match(name: "publication", draft: PlanDraft(tasks: tasks))
    }
}

extension Array {
    /// The element of a one-element array, else nil.
    var onlyElement: Element? { count == 1 ? first : nil }
}
