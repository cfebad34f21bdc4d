import HearthCore

/// Makes a schema finite so a constrained answer always fits in the token budget.
///
/// Under constrained decoding a small model can loop inside an unbounded string until the
/// token limit cuts it off, and a cut-off answer is not valid JSON. Bounding every string and
/// array (where the schema did not) makes the longest valid answer finite; sizing `max_tokens`
/// to that length means the constraint can always finish. The bounded schema is stricter than
/// the original, so an answer valid for it is valid for the caller's schema too.
enum SchemaBounds {
    static let defaultStringLength = 160
    static let defaultArrayItems = 16

    /// The schema with `maxLength` on every string and `maxItems` on every array that lacked one.
    static func bounded(_ schema: JSONValue) -> JSONValue {
        guard case .object(var keywords) = schema else { return schema }
        let types = keywords["type"]?.arrayValue?.compactMap(\.stringValue) ?? keywords["type"]?.stringValue.map { [$0] } ?? []
        if types.contains("string") && keywords["maxLength"] == nil && keywords["enum"] == nil && keywords["const"] == nil {
            keywords["maxLength"] = .number(Double(defaultStringLength))
        }
        if types.contains("array") && keywords["maxItems"] == nil {
            keywords["maxItems"] = .number(Double(defaultArrayItems))
        }
        if let properties = keywords["properties"]?.objectValue {
            keywords["properties"] = .object(properties.mapValues(bounded))
        }
        for key in ["items", "additionalProperties"] {
            if let nested = keywords[key], nested.objectValue != nil { keywords[key] = bounded(nested) }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let options = keywords[key]?.arrayValue { keywords[key] = .array(options.map(bounded)) }
        }
        if let definitions = keywords["$defs"]?.objectValue { keywords["$defs"] = .object(definitions.mapValues(bounded)) }
        return .object(keywords)
    }

    /// A worst-case token count for any answer valid under a bounded schema (one token per
    /// character of a string, JSON punctuation and whitespace included).
    static func maximumTokens(_ schema: JSONValue, depth: Int = 0) -> Int {
        guard depth < 16, case .object(let keywords) = schema else { return 32 }
        if let options = (keywords["oneOf"] ?? keywords["anyOf"])?.arrayValue {
            return options.map { maximumTokens($0, depth: depth + 1) }.max() ?? 32
        }
        if let constant = keywords["const"] { return constant.jsonText.count + 2 }
        if let options = keywords["enum"]?.arrayValue { return (options.map(\.jsonText.count).max() ?? 8) + 2 }
        let types = keywords["type"]?.arrayValue?.compactMap(\.stringValue) ?? keywords["type"]?.stringValue.map { [$0] } ?? ["object"]
        return types.map { type -> Int in
            switch type {
            case "string": (keywords["maxLength"]?.intValue ?? defaultStringLength) + 4
            case "integer", "number": 24
            case "boolean", "null": 4
            case "array":
                (keywords["maxItems"]?.intValue ?? defaultArrayItems) * (maximumTokens(keywords["items"] ?? [:], depth: depth + 1) + 2) + 4
            default:
                (keywords["properties"]?.objectValue ?? [:]).reduce(8) { total, property in
                    total + property.key.count + 8 + maximumTokens(property.value, depth: depth + 1)
                }
            }
        }.max() ?? 32
    }
}
