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
    public static func match(goal: String, files: [String], tools: Set<String>) -> Match? {
        documentAudit(goal: goal, files: files, tools: tools)
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
}
