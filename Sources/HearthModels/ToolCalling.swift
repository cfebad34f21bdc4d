import Foundation
import HearthCore

/// How tool calls are obtained from a model.
public enum ToolCallMode: String, Sendable, Hashable, CaseIterable {
    /// The server's `tools` API (models trained to emit tool calls).
    case native
    /// A schema-constrained "choose an action" answer `{"tool": …, "arguments": …}`, which any
    /// model can produce under constrained decoding (SmolLM2 included).
    case constrained
}

/// What the model chose: a tool call, or a final answer.
public struct ActionChoice: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case call(ToolCall)
        case answer(String)
    }

    public var action: Action
    /// Every model response involved (two after a repair round).
    public var responses: [ChatResponse]
}

/// Asks a model to pick one of a set of tools (or to answer), and guarantees the pick is valid:
/// a known tool with arguments that match its schema.
public struct ToolCaller: Sendable {
    /// The pseudo-tool of constrained mode that ends with an answer instead of a call.
    public static let finalAnswerTool = "final_answer"

    let model: any LanguageModel
    let mode: ToolCallMode

    public init(model: any LanguageModel, mode: ToolCallMode) {
        self.model = model
        self.mode = mode
    }

    /// Lets the model choose.
    ///
    /// - Parameters:
    ///   - allowAnswer: whether answering in text (no call) is acceptable.
    /// - Throws: `ModelError.schemaViolation` when even a repair round gives no valid choice.
    public func choose(
        messages: [ChatMessage], tools: [ToolSpec], allowAnswer: Bool = true, maxTokens: Int = 512, temperature: Double? = 0
    ) async throws -> ActionChoice {
        precondition(!tools.isEmpty, "choose needs at least one tool")
        switch mode {
        case .constrained: return try await chooseConstrained(messages, tools, allowAnswer, maxTokens, temperature)
        case .native: return try await chooseNative(messages, tools, allowAnswer, maxTokens, temperature)
        }
    }

    /// The schema of a choice: exactly one branch per tool, each pinning the tool's name and its
    /// argument schema, so constrained decoding cannot produce an unknown tool or bad arguments.
    public static func choiceSchema(_ tools: [ToolSpec], allowAnswer: Bool) -> JSONValue {
        // Definitions of each tool's arguments move to the root, where nested `$ref`s resolve.
        var definitions: [String: JSONValue] = [:]
        var branches: [JSONValue] = tools.map { tool in
            let (arguments, own) = JSONSchema.embeddable(tool.parameters, prefix: tool.name + "__")
            definitions.merge(own) { first, _ in first }
            return [
                "type": "object",
                "properties": ["tool": ["const": .string(tool.name)], "arguments": arguments],
                "required": ["tool", "arguments"],
                "additionalProperties": false,
            ]
        }
        if allowAnswer {
            branches.append([
                "type": "object",
                "properties": [
                    "tool": ["const": .string(finalAnswerTool)],
                    "arguments": [
                        "type": "object", "properties": ["text": ["type": "string"]], "required": ["text"], "additionalProperties": false,
                    ],
                ],
                "required": ["tool", "arguments"],
                "additionalProperties": false,
            ])
        }
        var schema: [String: JSONValue] = ["oneOf": .array(branches)]
        if !definitions.isEmpty { schema["$defs"] = .object(definitions) }
        return .object(schema)
    }

    /// Tool descriptions for the prompt. They are stable across the steps of a task, so they go
    /// into the system message, the part of the prompt the server's cache reuses.
    public static func describe(_ tools: [ToolSpec], allowAnswer: Bool) -> String {
        var lines = ["You can use these tools. Answer with JSON {\"tool\": NAME, \"arguments\": {...}}."]
        for tool in tools {
            lines.append("- \(tool.name): \(tool.description) Arguments: \(tool.parameters.jsonText)")
        }
        if allowAnswer { lines.append("- \(finalAnswerTool): give the final answer. Arguments: {\"text\": string}") }
        return lines.joined(separator: "\n")
    }

    private func chooseConstrained(
        _ messages: [ChatMessage], _ tools: [ToolSpec], _ allowAnswer: Bool, _ maxTokens: Int, _ temperature: Double?
    ) async throws -> ActionChoice {
        let schema = Self.choiceSchema(tools, allowAnswer: allowAnswer)
        let prompt = Self.withToolDescriptions(messages, Self.describe(tools, allowAnswer: allowAnswer))
        let result = try await StructuredOutput(model: model).generate(
            JSONValue.self, messages: prompt, schema: schema, name: "action", maxTokens: maxTokens, temperature: temperature,
            describeSchema: false)
        let name = result.json["tool"]?.stringValue ?? ""
        let arguments = result.json["arguments"] ?? .object([:])
        if name == Self.finalAnswerTool {
            return ActionChoice(action: .answer(arguments["text"]?.stringValue ?? ""), responses: result.responses)
        }
        let id = "call_\(result.responses.count)_\(name)"
        return ActionChoice(action: .call(ToolCall(id: id, name: name, arguments: arguments)), responses: result.responses)
    }

    private func chooseNative(
        _ messages: [ChatMessage], _ tools: [ToolSpec], _ allowAnswer: Bool, _ maxTokens: Int, _ temperature: Double?
    ) async throws -> ActionChoice {
        var request = ChatRequest(messages: messages, temperature: temperature, maxTokens: maxTokens, tools: tools)
        var responses: [ChatResponse] = []
        for round in 0..<2 {
            let response = try await model.complete(request)
            responses.append(response)
            let problems: [String]
            if let call = response.toolCalls.first {
                problems = Self.problems(with: call, tools: tools)
                if problems.isEmpty { return ActionChoice(action: .call(call), responses: responses) }
                request.messages.append(ChatMessage(role: .assistant, content: response.content, toolCalls: [call]))
                request.messages.append(
                    ChatMessage(
                        role: .tool,
                        content: "Invalid call:\n- \(problems.joined(separator: "\n- "))\nCall a tool again with valid arguments.",
                        toolCallID: call.id))
            } else if allowAnswer {
                return ActionChoice(action: .answer(response.content), responses: responses)
            } else {
                problems = ["no tool was called; one of \(tools.map(\.name).joined(separator: ", ")) is required"]
                request.messages.append(.assistant(response.content))
                request.messages.append(.user("You must call one of the tools: \(tools.map(\.name).joined(separator: ", "))."))
            }
            if round == 1 { throw ModelError.schemaViolation(errors: problems, output: response.content) }
        }
        preconditionFailure("the loop returns or throws")
    }

    /// What is wrong with a call: an unknown tool, or arguments that break the tool's schema.
    public static func problems(with call: ToolCall, tools: [ToolSpec]) -> [String] {
        guard let tool = tools.first(where: { $0.name == call.name }) else {
            return ["unknown tool \"\(call.name)\"; the tools are \(tools.map(\.name).joined(separator: ", "))"]
        }
        if case .string(let text) = call.arguments {
            return ["the arguments of \(call.name) are not JSON: \(StructuredOutput.preview(text))"]
        }
        return JSONSchema.validate(call.arguments, against: tool.parameters).map { "\(call.name) arguments: \($0)" }
    }

    private static func withToolDescriptions(_ messages: [ChatMessage], _ description: String) -> [ChatMessage] {
        var result = messages
        if let first = result.first, first.role == .system {
            result[0].content += "\n\n" + description
        } else {
            result.insert(.system(description), at: 0)
        }
        return result
    }
}

/// The agent's model seam over a chat model: tool choice through `ToolCaller`, JSON through
/// `StructuredOutput` (both validate and repair).
public struct LanguageModelAgent: AgentModel {
    let model: any LanguageModel
    let mode: ToolCallMode

    public init(model: any LanguageModel, mode: ToolCallMode) {
        self.model = model
        self.mode = mode
    }

    public func chooseAction(messages: [ChatMessage], tools: [ToolSpec], allowAnswer: Bool, maxTokens: Int) async throws -> AgentChoice {
        let choice = try await ToolCaller(model: model, mode: mode).choose(
            messages: messages, tools: tools, allowAnswer: allowAnswer, maxTokens: maxTokens)
        switch choice.action {
        case .call(let call): return AgentChoice(action: .call(call), responses: choice.responses)
        case .answer(let text): return AgentChoice(action: .answer(text), responses: choice.responses)
        }
    }

    public func generateJSON(messages: [ChatMessage], schema: JSONValue, name: String, maxTokens: Int) async throws -> AgentJSON {
        let result = try await StructuredOutput(model: model).generate(
            JSONValue.self, messages: messages, schema: schema, name: name, maxTokens: maxTokens, temperature: 0, describeSchema: false)
        return AgentJSON(json: result.json, responses: result.responses)
    }
}
