import Foundation
import HearthCore
import HearthTesting
import Testing

@testable import HearthModels

struct Receipt: Decodable, Sendable, Equatable {
    var vendor: String
    var total: Double
}

let receiptSchema: JSONValue = [
    "type": "object",
    "properties": ["vendor": ["type": "string"], "total": ["type": "number", "minimum": 0]],
    "required": ["vendor", "total"],
    "additionalProperties": false,
]

@Suite("Structured output", .timeLimit(.minutes(2)))
struct StructuredOutputTests {
    @Test("a valid answer decodes on the first try; the request is constrained by a bounded schema with room to finish")
    func firstTry() async throws {
        let server = ScriptedModelServer([.chat(#"{"vendor": "ACME", "total": 12.5}"#)])
        let model = openAIClient(try await server.start())
        let result = try await StructuredOutput(model: model).generate(
            Receipt.self, messages: [.user("Read the receipt.")], schema: receiptSchema)
        #expect(result.value == Receipt(vendor: "ACME", total: 12.5))
        #expect(!result.repaired)
        let body = server.requests[0].body
        let constraint = body["response_format"]?["json_schema"]?["schema"]
        #expect(constraint?["properties"]?["vendor"]?["maxLength"] == 160)
        #expect((body["max_tokens"]?.intValue ?? 0) >= 160)
        #expect(body["messages"]?.arrayValue?.last?["content"]?.stringValue?.contains("matches this JSON schema") == true)
    }

    @Test("an invalid answer gets one repair round that quotes the errors")
    func repair() async throws {
        let server = ScriptedModelServer([.chat(#"{"vendor": "ACME", "total": "twelve"}"#), .chat(#"{"vendor": "ACME", "total": 12}"#)])
        let model = openAIClient(try await server.start())
        let result = try await StructuredOutput(model: model).generate(Receipt.self, messages: [.user("Read it.")], schema: receiptSchema)
        #expect(result.value.total == 12)
        #expect(result.repaired)
        let repairMessage = server.requests[1].body["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
        #expect(repairMessage.contains("$.total: expected number, found string \"twelve\""))
    }

    @Test(
        "text that is not JSON, or JSON in a fence, is handled",
        arguments: [
            ("Sure! ```json\n{\"vendor\": \"X\", \"total\": 1}\n```", false),
            ("The answer is {\"vendor\": \"X\", \"total\": 1} as requested.", false),
            ("I cannot do that.", true),
        ])
    func extraction(first: String, needsRepair: Bool) async throws {
        let server = ScriptedModelServer([.chat(first), .chat(#"{"vendor": "X", "total": 1}"#)])
        let result = try await StructuredOutput(model: openAIClient(try await server.start())).generate(
            Receipt.self, messages: [.user("go")], schema: receiptSchema)
        #expect(result.value == Receipt(vendor: "X", total: 1))
        #expect(result.repaired == needsRepair)
    }

    @Test("still invalid after the repair: a typed schemaViolation with the errors and the output, not a crash")
    func violation() async throws {
        let server = ScriptedModelServer([.chat(#"{"vendor": 7}"#), .chat(#"{"vendor": 8, "extra": true}"#)])
        await #expect {
            try await StructuredOutput(model: openAIClient(try await server.start())).generate(
                Receipt.self, messages: [.user("go")], schema: receiptSchema)
        } throws: { error in
            guard case ModelError.schemaViolation(let errors, let output) = error else { return false }
            return output == #"{"vendor": 8, "extra": true}"# && errors.contains { $0.contains("missing required property \"total\"") }
                && errors.contains { $0.contains("unexpected property \"extra\"") }
        }
    }

    @Test("a cut-off answer is reported as such")
    func cutOff() async throws {
        let server = ScriptedModelServer([
            .chat(#"{"vendor": "ACME", "tot"#, finishReason: "length"), .chat(#"{"vendor": "ACME""#, finishReason: "length"),
        ])
        await #expect {
            try await StructuredOutput(model: openAIClient(try await server.start())).generate(
                Receipt.self, messages: [.user("go")], schema: receiptSchema)
        } throws: { error in
            guard case ModelError.schemaViolation(let errors, _) = error else { return false }
            return errors.contains("the answer was cut off at the token limit")
        }
    }

    @Test("schema bounds: strings and arrays get limits, the worst-case size is finite and covers them")
    func bounds() {
        let schema: JSONValue = [
            "type": "object",
            "properties": [
                "tags": ["type": "array", "items": ["type": "string"]], "name": ["type": "string", "maxLength": 10],
                "kind": ["enum": ["a", "b"]],
            ],
        ]
        let bounded = SchemaBounds.bounded(schema)
        #expect(bounded["properties"]?["tags"]?["maxItems"] == 16)
        #expect(bounded["properties"]?["tags"]?["items"]?["maxLength"] == 160)
        #expect(bounded["properties"]?["name"]?["maxLength"] == 10)
        #expect(bounded["properties"]?["kind"]?["maxLength"] == nil)
        #expect(SchemaBounds.maximumTokens(bounded) > 16 * 160)
        #expect(JSONSchema.validate(["tags": .array(Array(repeating: "x", count: 17))], against: bounded).count == 1)
    }
}

@Suite("Tool calling", .timeLimit(.minutes(2)))
struct ToolCallingTests {
    let tools = [
        ToolSpec(
            name: "read_file", description: "Read a workspace file.",
            parameters: ["type": "object", "properties": ["path": ["type": "string"]], "required": ["path"], "additionalProperties": false]),
        ToolSpec(
            name: "list_files", description: "List a directory.",
            parameters: [
                "type": "object", "properties": ["directory": ["type": "string"]], "required": ["directory"], "additionalProperties": false,
            ]),
    ]

    @Test("constrained: a tool schema with its own $defs still validates once nested in the choice (definitions move to the root)")
    func nestedDefinitions() async throws {
        let share = ToolSpec(
            name: "share_file", description: "Share a file.",
            parameters: [
                "$defs": ["Permission": ["enum": ["r", "rw"], "type": "string"]],
                "type": "object", "properties": ["file_id": ["type": "string"], "permission": ["$ref": "#/$defs/Permission"]],
                "required": ["file_id", "permission"], "additionalProperties": false,
            ])
        let schema = ToolCaller.choiceSchema(tools + [share], allowAnswer: false)
        #expect(schema["$defs"]?["share_file__Permission"] != nil)
        let good: JSONValue = ["tool": "share_file", "arguments": ["file_id": "26", "permission": "r"]]
        #expect(JSONSchema.validate(good, against: schema).isEmpty)
        let bad: JSONValue = ["tool": "share_file", "arguments": ["file_id": "26", "permission": "owner"]]
        #expect(!JSONSchema.validate(bad, against: schema).isEmpty)
        // Through the real client: the model's reply is accepted as a call.
        let server = ScriptedModelServer([.chat(good.jsonText)])
        let choice = try await ToolCaller(model: openAIClient(try await server.start()), mode: .constrained).choose(
            messages: [.user("Share file 26 read-only.")], tools: tools + [share])
        #expect(choice.action == .call(ToolCall(id: "call_1_share_file", name: "share_file", arguments: good["arguments"] ?? [:])))
        let sent = server.requests[0].body["response_format"]?["json_schema"]?["schema"]
        #expect(sent?["$defs"]?["share_file__Permission"]?["enum"] == ["r", "rw"])
    }

    @Test("constrained: one oneOf branch per tool pins name and arguments; the choice comes back as a call")
    func constrained() async throws {
        let server = ScriptedModelServer([.chat(#"{"tool": "read_file", "arguments": {"path": "Policy.md"}}"#)])
        let choice = try await ToolCaller(model: openAIClient(try await server.start()), mode: .constrained).choose(
            messages: [.system("You audit receipts."), .user("Read the policy.")], tools: tools)
        #expect(choice.action == .call(ToolCall(id: "call_1_read_file", name: "read_file", arguments: ["path": "Policy.md"])))
        let body = server.requests[0].body
        let branches = body["response_format"]?["json_schema"]?["schema"]?["oneOf"]?.arrayValue ?? []
        #expect(branches.count == 3)  // two tools and final_answer
        #expect(branches[0]["properties"]?["tool"] == ["const": "read_file"])
        let system = body["messages"]?.arrayValue?.first?["content"]?.stringValue ?? ""
        #expect(system.hasPrefix("You audit receipts.\n\nYou can use these tools."))
        #expect(system.contains("- list_files: List a directory."))
    }

    @Test("constrained: final_answer becomes an answer; a hallucinated tool is repaired")
    func constrainedAnswerAndRepair() async throws {
        let answer = ScriptedModelServer([.chat(#"{"tool": "final_answer", "arguments": {"text": "All receipts are fine."}}"#)])
        let choice = try await ToolCaller(model: openAIClient(try await answer.start()), mode: .constrained).choose(
            messages: [.user("Done?")], tools: tools)
        #expect(choice.action == .answer("All receipts are fine."))

        let server = ScriptedModelServer([
            .chat(#"{"tool": "delete_everything", "arguments": {}}"#),
            .chat(#"{"tool": "list_files", "arguments": {"directory": "Receipts"}}"#),
        ])
        let repaired = try await ToolCaller(model: openAIClient(try await server.start()), mode: .constrained).choose(
            messages: [.user("List.")], tools: tools)
        #expect(repaired.responses.count == 2)
        guard case .call(let call) = repaired.action else {
            Issue.record("expected a call")
            return
        }
        #expect(call.name == "list_files")
        #expect(call.arguments == ["directory": "Receipts"])
    }

    @Test("native: a valid call passes; an unknown tool and then bad arguments fail with a typed error")
    func native() async throws {
        let good = ScriptedModelServer([.chat("", toolCalls: [ToolCall(id: "c1", name: "read_file", arguments: ["path": "a.txt"])])])
        let choice = try await ToolCaller(model: openAIClient(try await good.start(), provider: .openAI), mode: .native).choose(
            messages: [.user("read")], tools: tools)
        #expect(choice.action == .call(ToolCall(id: "c1", name: "read_file", arguments: ["path": "a.txt"])))
        #expect(good.requests[0].body["tools"]?.arrayValue?.count == 2)

        let bad = ScriptedModelServer([
            .chat("", toolCalls: [ToolCall(id: "c1", name: "rm", arguments: [:])]),
            .chat("", toolCalls: [ToolCall(id: "c2", name: "read_file", arguments: ["path": 42])]),
        ])
        await #expect {
            try await ToolCaller(model: openAIClient(try await bad.start(), provider: .openAI), mode: .native).choose(
                messages: [.user("read")], tools: tools)
        } throws: { error in
            guard case ModelError.schemaViolation(let errors, _) = error else { return false }
            return errors == ["read_file arguments: $.path: expected string, found number 42"]
        }
        let retry = bad.requests[1].body["messages"]?.arrayValue?.last
        #expect(retry?["role"] == "tool")
        #expect(retry?["content"]?.stringValue?.contains("unknown tool \"rm\"; the tools are read_file, list_files") == true)
    }

    @Test("native: no call at all is an answer, unless a call is required")
    func nativeAnswer() async throws {
        let server = ScriptedModelServer([.chat("Nothing to do.")])
        let client = openAIClient(try await server.start(), provider: .openAI)
        #expect(
            try await ToolCaller(model: client, mode: .native).choose(messages: [.user("hi")], tools: tools).action
                == .answer("Nothing to do."))
        await #expect(throws: ModelError.self) {
            try await ToolCaller(model: client, mode: .native).choose(messages: [.user("hi")], tools: tools, allowAnswer: false)
        }
    }
}
