import Foundation
import HearthCore

/// Facts, preferences and rules read out of records by a language model under a JSON schema.
///
/// The model's output is never trusted: items naming a record outside the batch, an unknown
/// kind, or empty parts are dropped and counted; statements inherit their record's provenance,
/// so anything read from untrusted content lands `pending`.
public struct FactExtractor: Sendable {
    let model: any LanguageModel
    public var maxTokens = 512

    public init(model: any LanguageModel) {
        self.model = model
    }

    public static let schema: JSONValue = [
        "type": "object",
        "properties": [
            "items": [
                "type": "array", "maxItems": 12,
                "items": [
                    "type": "object",
                    "properties": [
                        "record": ["type": "integer"],
                        "kind": ["type": "string", "enum": ["fact", "preference", "rule"]],
                        "subject": ["type": "string", "maxLength": 80],
                        "predicate": ["type": "string", "maxLength": 60],
                        "object": ["type": "string", "maxLength": 160],
                        "negated": ["type": "boolean"],
                    ],
                    "required": ["record", "kind", "subject", "predicate", "object", "negated"],
                ],
            ]
        ],
        "required": ["items"],
    ]

    static let instructions = """
        You read messages and extract lasting facts about the user and the people they mention, the user's preferences, \
        and standing rules the user gives. Use "user" as the subject for the user. Skip small talk, questions and anything \
        temporary. Set negated to true when a message says something stopped being true. Answer with JSON only.
        """

    public struct Result: Sendable {
        public var statements: [FactStatement]
        /// Items the model produced that failed validation, with why.
        public var rejected: [String]
        public var usage: ModelUsage
    }

    public func extract(from records: [MemoryRecord]) async throws -> Result {
        guard !records.isEmpty else { return Result(statements: [], rejected: [], usage: ModelUsage()) }
        let listing = records.map { record in
            "[\(record.id)] \(Timestamp.format(record.occurredAt).prefix(10)) \(record.spokenText.prefix(600))"
        }.joined(separator: "\n")
        let request = ChatRequest(
            messages: [.system(Self.instructions), .user("Messages:\n\(listing)")], temperature: 0, maxTokens: maxTokens,
            responseFormat: .jsonSchema(name: "memory_facts", schema: Self.schema))
        let response = try await model.complete(request)
        var result = Self.validate(response.content, records: records)
        result.usage = response.usage
        return result
    }

    /// Checks the model's JSON item by item.
    public static func validate(_ content: String, records: [MemoryRecord]) -> Result {
        let byID = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) })
        guard let json = try? JSONValue(parsing: content), let items = json["items"]?.arrayValue else {
            return Result(statements: [], rejected: ["not the expected JSON object: \(content.prefix(120))"], usage: ModelUsage())
        }
        var statements: [FactStatement] = []
        var rejected: [String] = []
        for item in items {
            guard let recordID = item["record"]?.intValue, let record = byID[Int64(recordID)] else {
                rejected.append("names a record outside the batch: \(item.jsonText.prefix(120))")
                continue
            }
            guard let kindText = item["kind"]?.stringValue, let kind = FactKind(rawValue: kindText) else {
                rejected.append("unknown kind: \(item.jsonText.prefix(120))")
                continue
            }
            let parts = ["subject", "predicate", "object"].map {
                item[$0]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            }
            guard parts.allSatisfy({ !$0.isEmpty && $0.count <= 200 }) else {
                rejected.append("empty or oversized subject/predicate/object: \(item.jsonText.prefix(120))")
                continue
            }
            let fact = Fact(
                kind: kind, subject: parts[0], predicate: parts[1], object: parts[2], validFrom: record.occurredAt,
                sourceRecordID: record.id, provenance: record.provenance, confidence: 0.7,
                status: record.provenance == .trusted ? .active : .pending)
            statements.append(FactStatement(fact: fact, negated: item["negated"]?.boolValue ?? false))
        }
        return Result(statements: statements, rejected: rejected, usage: ModelUsage())
    }
}
