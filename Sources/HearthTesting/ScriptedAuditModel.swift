import Foundation
import HearthCore

/// A model that plans the receipts audit and, per task, calls the tool the instructions name: what a
/// capable model would do, scripted so the test is exact. It answers over real HTTP.
public enum ScriptedAuditModel {
    public static let plan: JSONValue = [
        "tasks": [
            [
                "id": "policy", "title": "Read the policy", "instructions": "Read Policy.md.", "dependsOn": [],
                "expectedOutput": "the rules", "tools": ["read_file"],
            ],
            [
                "id": "check", "title": "Check receipt", "instructions": "Check {{item}} against Policy.md.", "dependsOn": ["policy"],
                "expectedOutput": "vendor, date, total and flags", "tools": ["check_receipt", "pdf_text", "ocr_image"],
                "forEach": "Receipts/*",
            ],
            [
                "id": "summary", "title": "Summarise the audit", "instructions": "Say which receipts were flagged and which failed.",
                "dependsOn": ["check"], "expectedOutput": "a summary", "tools": [],
            ],
        ]
    ]

    /// The reply to one request; `itemDelay` slows each receipt's call (crash tests kill mid-run).
    public static func reply(_ body: JSONValue) -> ScriptedModelServer.Reply { reply(body, itemDelay: 0) }

    public static func reply(_ body: JSONValue, itemDelay: Double) -> ScriptedModelServer.Reply {
        let messages = body["messages"]?.arrayValue ?? []
        let system = messages.first?["content"]?.stringValue ?? ""
        let last = messages.last?["content"]?.stringValue ?? ""
        let task = messages.count > 1 ? messages[1]["content"]?.stringValue ?? "" : ""
        if system.hasPrefix("You are the planner") { return .chat(plan.jsonText, promptTokens: 900, completionTokens: 300) }
        if task.hasPrefix("Task: Summarise") || task.hasPrefix("Task: Sum up") {
            return .chat((["answer": "Flagged receipts are listed in the table; one file could not be read."] as JSONValue).jsonText)
        }
        func call(_ tool: String, _ arguments: JSONValue) -> ScriptedModelServer.Reply {
            .chat((["tool": .string(tool), "arguments": arguments] as JSONValue).jsonText, promptTokens: 400, completionTokens: 30)
        }
        let done = call("final_answer", ["text": "done"])
        if task.hasPrefix("Task: Read the policy") {
            return messages.count <= 2 ? call("read_file", ["path": "Policy.md"]) : done
        }
        guard let range = task.range(of: "The file for this task: ") else { return .status(500, message: "unexpected prompt") }
        let item = String(task[range.upperBound...].prefix { !$0.isNewline })
        if messages.count <= 2 {
            let text = (["tool": "check_receipt", "arguments": ["path": .string(item), "policy": "Policy.md"]] as JSONValue).jsonText
            return itemDelay > 0
                ? .delayed(seconds: itemDelay, then: .init(text)) : call("check_receipt", ["path": .string(item), "policy": "Policy.md"])
        }
        // After a failure, try the format's own reader once (course correction), then give up.
        if last.hasPrefix("The call failed") && messages.count <= 4 && item.hasSuffix(".pdf") {
            return call("pdf_text", ["path": .string(item)])
        }
        return done
    }
}
