import Foundation
import HearthCore

/// JSON answers small models cannot break.
///
/// 1. The request is constrained to the schema where the server can (`response_format:
///    json_schema` for OpenAI-compatible servers and llama.cpp, `format` for Ollama), so the
///    sampler can only produce valid JSON. The constraint uses a bounded copy of the schema and
///    `max_tokens` is raised to fit its longest valid answer (`SchemaBounds`): a small model
///    looping inside a string can no longer run into the token limit mid-JSON.
/// 2. The answer is validated against the schema anyway and decoded into the Swift type.
/// 3. If that fails (a server that ignores the constraint, a truncated answer), one repair round
///    quotes the exact errors back to the model.
/// 4. Still invalid: `ModelError.schemaViolation`, which the caller can route — never a crash.
public struct StructuredOutput: Sendable {
    public struct Result<Value: Sendable>: Sendable {
        public var value: Value
        public var json: JSONValue
        /// Every model response involved (one, or two after a repair).
        public var responses: [ChatResponse]
        public var repaired: Bool { responses.count > 1 }
    }

    let model: any LanguageModel

    public init(model: any LanguageModel) {
        self.model = model
    }

    /// Asks for JSON matching `schema` and decodes it as `T`.
    ///
    /// - Parameters:
    ///   - describeSchema: also tell the model the schema in words (helps small models fill the
    ///     fields sensibly; the constraint alone only guarantees the shape).
    /// - Throws: `ModelError.schemaViolation` after a failed repair, or the transport's errors.
    public func generate<T: Decodable & Sendable>(
        _ type: T.Type, messages: [ChatMessage], schema: JSONValue, name: String = "answer", maxTokens: Int? = nil,
        temperature: Double? = 0, describeSchema: Bool = true
    ) async throws -> Result<T> {
        var conversation = messages
        if describeSchema, let last = conversation.indices.last, conversation[last].role == .user {
            conversation[last].content += "\n\nReply with only a JSON value that matches this JSON schema:\n\(schema.jsonText)"
        }
        // Constrain with a bounded copy of the schema and leave room for its longest valid
        // answer, so the constraint can always finish; validate against the caller's schema.
        let bounded = SchemaBounds.bounded(schema)
        let room = SchemaBounds.maximumTokens(bounded) + 16
        let request = ChatRequest(
            messages: conversation, temperature: temperature, maxTokens: max(maxTokens ?? 0, room),
            responseFormat: .jsonSchema(name: name, schema: bounded))
        let first = try await model.complete(request)
        switch Self.check(first, schema: schema, as: T.self) {
        case .success(let (value, json)):
            return Result(value: value, json: json, responses: [first])
        case .failure(let problems):
            var repair = request
            repair.messages.append(.assistant(first.content))
            repair.messages.append(
                .user(
                    "Your answer is not valid:\n- \(problems.errors.prefix(8).joined(separator: "\n- "))\n"
                        + "Reply again with only the corrected JSON value."))
            let second = try await model.complete(repair)
            switch Self.check(second, schema: schema, as: T.self) {
            case .success(let (value, json)):
                return Result(value: value, json: json, responses: [first, second])
            case .failure(let again):
                throw ModelError.schemaViolation(errors: again.errors, output: second.content)
            }
        }
    }

    struct Problems: Error {
        var errors: [String]
    }

    /// Parses, validates and decodes one answer.
    static func check<T: Decodable>(_ response: ChatResponse, schema: JSONValue, as type: T.Type) -> Swift.Result<(T, JSONValue), Problems>
    {
        guard let json = extractJSON(response.content) else {
            var errors = ["the answer is not JSON: \(preview(response.content))"]
            if response.finishReason == "length" { errors.append("the answer was cut off at the token limit") }
            return .failure(Problems(errors: errors))
        }
        let errors = JSONSchema.validate(json, against: schema)
        guard errors.isEmpty else { return .failure(Problems(errors: errors)) }
        do {
            let decoder = JSONDecoder()
            return .success((try decoder.decode(T.self, from: Data(json.jsonText.utf8)), json))
        } catch {
            return .failure(Problems(errors: ["the JSON does not decode as \(T.self): \(Self.describe(error))"]))
        }
    }

    /// The JSON value in a model's text: the whole text, or inside a ``` fence, or the first
    /// `{`/`[` through the matching last `}`/`]`.
    static func extractJSON(_ text: String) -> JSONValue? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let value = try? JSONValue(parsing: trimmed) { return value }
        if let fence = trimmed.range(of: "```") {
            var inner = trimmed[fence.upperBound...]
            if let newline = inner.firstIndex(of: "\n") { inner = inner[inner.index(after: newline)...] }
            if let close = inner.range(of: "```") {
                if let value = try? JSONValue(parsing: String(inner[..<close.lowerBound])) { return value }
            }
        }
        for (open, close) in [("{", "}"), ("[", "]")] {
            if let start = trimmed.firstIndex(of: Character(open)), let end = trimmed.lastIndex(of: Character(close)), start < end {
                if let value = try? JSONValue(parsing: String(trimmed[start...end])) { return value }
            }
        }
        return nil
    }

    static func preview(_ text: String) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return "\"\(line.prefix(80))\(line.count > 80 ? "…" : "")\""
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context): context.debugDescription
        default: String(describing: error)
        }
    }
}
