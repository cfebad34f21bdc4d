import Foundation
import HearthCore

public struct RememberTool: Tool {
    public let spec = ToolSpec(
        name: "remember", description: "Store a note in long-term memory for later runs.",
        parameters: objectSchema([("text", stringProperty("what to remember, in one or two sentences"))], required: ["text"]))
    public let risk = ToolRisk.writeWorkspace
    public let idempotent = false
    let memory: any AgentMemory

    public init(memory: any AgentMemory) {
        self.memory = memory
    }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let text = requiredString(arguments, "text").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw ToolError.invalidArguments(tool: name, problems: ["text is empty"]) }
        // What an agent writes while reading files may carry their content: stored as untrusted,
        // so nothing in it becomes a preference or rule without the user's confirmation.
        let id = try await memory.remember(String(text.prefix(4000)), untrusted: true, runID: context.runID)
        return ToolOutput(text: "remembered (record \(id))", data: ["id": .number(Double(id))])
    }
}

public struct RecallTool: Tool {
    public let spec = ToolSpec(
        name: "recall", description: "Search long-term memory (past conversations, events, notes).",
        parameters: objectSchema(
            [("query", stringProperty("what to look for")), ("limit", ["type": "integer", "minimum": 1, "maximum": 20])],
            required: ["query"]))
    public let risk = ToolRisk.read
    public let idempotent = true
    let memory: any AgentMemory

    public init(memory: any AgentMemory) {
        self.memory = memory
    }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let hits = try await memory.recall(requiredString(arguments, "query"), limit: arguments["limit"]?.intValue ?? 5)
        return ToolOutput(
            text: hits.isEmpty ? "nothing relevant remembered" : clipped(hits.joined(separator: "\n"), 4000),
            data: ["memories": .array(hits.map(JSONValue.string))], untrusted: true)
    }
}

/// Queues a finding for the user: an `agent/notify` event in the journal, which the digest
/// (morning brief, end-of-day) is built from; `urgent` asks to interrupt.
public struct NotifyTool: Tool {
    public let spec = ToolSpec(
        name: "notify", description: "Tell the user something in their next digest (or now, if urgent).",
        parameters: objectSchema(
            [
                ("title", stringProperty("one line")), ("body", stringProperty("the details")),
                ("urgent", ["type": "boolean", "description": "interrupt instead of waiting for the digest"]),
            ], required: ["title"]))
    public let risk = ToolRisk.writeWorkspace
    public let idempotent = true
    let journal: any EventJournal

    public init(journal: any EventJournal) {
        self.journal = journal
    }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let title = requiredString(arguments, "title")
        var payload: [String: JSONValue] = ["title": .string(title), "urgent": .bool(arguments["urgent"]?.boolValue ?? false)]
        payload["body"] = arguments["body"]
        if let runID = context.runID { payload["run"] = .number(Double(runID)) }
        // The call's idempotency key is the event's key: a replayed call queues nothing twice.
        let outcome = try await journal.append(
            NewEvent(
                source: "agent", kind: "notify", key: "notify:\(context.idempotencyKey)", payload: .object(payload), occurredAt: Date(),
                provenance: .untrusted))
        return ToolOutput(text: "queued for the digest: \(title)", data: ["event": .string("\(outcome)")])
    }
}
