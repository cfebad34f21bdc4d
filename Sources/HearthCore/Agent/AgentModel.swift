import Foundation

/// What an agent asks of a model: pick a tool (or answer), or write JSON matching a schema.
/// Whatever it returns is already valid (a known tool, arguments matching its schema; JSON
/// matching the schema), or it throws `ModelError.schemaViolation`.
public protocol AgentModel: Sendable {
    func chooseAction(messages: [ChatMessage], tools: [ToolSpec], allowAnswer: Bool, maxTokens: Int) async throws -> AgentChoice
    func generateJSON(messages: [ChatMessage], schema: JSONValue, name: String, maxTokens: Int) async throws -> AgentJSON
}

/// A tool call or a final answer, with every model response involved (for accounting).
public struct AgentChoice: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case call(ToolCall)
        case answer(String)
    }

    public var action: Action
    public var responses: [ChatResponse]

    public init(action: Action, responses: [ChatResponse]) {
        self.action = action
        self.responses = responses
    }
}

/// Schema-valid JSON, with every model response involved.
public struct AgentJSON: Sendable, Hashable {
    public var json: JSONValue
    public var responses: [ChatResponse]

    public init(json: JSONValue, responses: [ChatResponse]) {
        self.json = json
        self.responses = responses
    }
}
