import HearthCore

/// Replies a scripted model gives a goal's planner and task agents (constrained tool calls).
public enum ScriptedGoal {
    /// Whether `body` is the planner's request.
    public static func isPlanner(_ body: JSONValue) -> Bool {
        body["messages"]?.arrayValue?.first?["content"]?.stringValue?.hasPrefix("You are the planner") == true
    }

    /// A plan of `tasks` (the planner's JSON).
    public static func plan(_ tasks: [JSONValue]) -> ScriptedModelServer.Reply { .chat((["tasks": .array(tasks)] as JSONValue).jsonText) }

    /// One tool call, as a constrained task agent writes it.
    public static func call(_ tool: String, _ arguments: JSONValue) -> ScriptedModelServer.Reply {
        .chat((["tool": .string(tool), "arguments": arguments] as JSONValue).jsonText, promptTokens: 100, completionTokens: 20)
    }
}
