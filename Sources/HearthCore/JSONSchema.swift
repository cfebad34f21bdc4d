import Foundation

/// Validates JSON values against a JSON Schema (the subset structured output and tools use).
///
/// Supported: `type` (one or a list), `enum`, `const`, `properties`, `required`,
/// `additionalProperties` (boolean or schema), `items`, `minItems`/`maxItems`,
/// `minLength`/`maxLength`, `pattern`, `minimum`/`maximum` and their exclusive forms,
/// `anyOf`/`oneOf`/`allOf`, and local `$ref`s (`#/$defs/…`, `#/definitions/…`). Unknown keywords
/// are ignored, as the specification says.
///
/// ```swift
/// let errors = JSONSchema.validate(["path": 3], against: ["type": "object", "properties": ["path": ["type": "string"]]])
/// // ["$.path: expected string, found number 3"]
/// ```
public enum JSONSchema {
    /// Every violation, each with the JSON path where it occurs; empty when the value is valid.
    public static func validate(_ value: JSONValue, against schema: JSONValue) -> [String] {
        var errors: [String] = []
        check(value, schema, path: "$", root: schema, errors: &errors, depth: 0)
        return errors
    }

    /// The schema made ready to sit inside another one: its local definitions (`$defs` and
    /// `definitions` at its root) come back under names starting with `prefix`, and every local
    /// `$ref` to them points at `#/$defs/<prefix><name>`, where the outer schema must put them.
    /// (A `$ref` resolves against the root of the whole document, so a tool's parameter schema
    /// with definitions is invalid once nested unless they move.)
    public static func embeddable(_ schema: JSONValue, prefix: String) -> (schema: JSONValue, definitions: [String: JSONValue]) {
        guard case .object(var root) = schema else { return (schema, [:]) }
        var definitions: [String: JSONValue] = [:]
        for key in ["$defs", "definitions"] {
            for (name, definition) in root.removeValue(forKey: key)?.objectValue ?? [:] { definitions[prefix + name] = definition }
        }
        guard !definitions.isEmpty else { return (schema, [:]) }
        func rewrite(_ value: JSONValue) -> JSONValue {
            switch value {
            case .object(var members):
                if let reference = members["$ref"]?.stringValue {
                    for old in ["#/$defs/", "#/definitions/"] where reference.hasPrefix(old) {
                        members["$ref"] = .string("#/$defs/" + prefix + reference.dropFirst(old.count))
                    }
                }
                return .object(members.mapValues(rewrite))
            case .array(let items): return .array(items.map(rewrite))
            default: return value
            }
        }
        return (rewrite(.object(root)), definitions.mapValues(rewrite))
    }

    private static func check(_ value: JSONValue, _ schema: JSONValue, path: String, root: JSONValue, errors: inout [String], depth: Int) {
        guard depth < 64 else {
            errors.append("\(path): schema nesting is too deep")
            return
        }
        if case .bool(let allowed) = schema {
            if !allowed { errors.append("\(path): no value is allowed here") }
            return
        }
        guard case .object(let keywords) = schema else { return }
        if let reference = keywords["$ref"]?.stringValue {
            guard let target = resolve(reference, in: root) else {
                errors.append("\(path): unresolvable $ref \(reference)")
                return
            }
            check(value, target, path: path, root: root, errors: &errors, depth: depth + 1)
        }
        if let types = keywords["type"] {
            let allowed = types.arrayValue?.compactMap(\.stringValue) ?? types.stringValue.map { [$0] } ?? []
            if !allowed.isEmpty && !allowed.contains(where: { matches(value, type: $0) }) {
                errors.append("\(path): expected \(allowed.joined(separator: " or ")), found \(describe(value))")
                return
            }
        }
        if let options = keywords["enum"]?.arrayValue, !options.contains(value) {
            errors.append("\(path): \(describe(value)) is not one of \(options.map(\.jsonText).joined(separator: ", "))")
        }
        if let constant = keywords["const"], constant != value {
            errors.append("\(path): expected \(constant.jsonText), found \(describe(value))")
        }
        switch value {
        case .object(let members):
            checkObject(members, keywords, path: path, root: root, errors: &errors, depth: depth)
        case .array(let elements):
            if let minimum = keywords["minItems"]?.intValue, elements.count < minimum {
                errors.append("\(path): needs at least \(minimum) items, found \(elements.count)")
            }
            if let maximum = keywords["maxItems"]?.intValue, elements.count > maximum {
                errors.append("\(path): allows at most \(maximum) items, found \(elements.count)")
            }
            if let items = keywords["items"] {
                for (index, element) in elements.enumerated() {
                    check(element, items, path: "\(path)[\(index)]", root: root, errors: &errors, depth: depth + 1)
                }
            }
        case .string(let text):
            if let minimum = keywords["minLength"]?.intValue, text.count < minimum {
                errors.append("\(path): needs at least \(minimum) characters, found \(text.count)")
            }
            if let maximum = keywords["maxLength"]?.intValue, text.count > maximum {
                errors.append("\(path): allows at most \(maximum) characters, found \(text.count)")
            }
            if let pattern = keywords["pattern"]?.stringValue, let regex = try? NSRegularExpression(pattern: pattern),
                regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
            {
                errors.append("\(path): \(describe(value)) does not match the pattern \(pattern)")
            }
        case .number(let number):
            if let minimum = keywords["minimum"]?.doubleValue, number < minimum {
                errors.append(
                    "\(path): \(JSONValue.number(number).jsonText) is less than the minimum \(JSONValue.number(minimum).jsonText)")
            }
            if let maximum = keywords["maximum"]?.doubleValue, number > maximum {
                errors.append(
                    "\(path): \(JSONValue.number(number).jsonText) is more than the maximum \(JSONValue.number(maximum).jsonText)")
            }
            if let minimum = keywords["exclusiveMinimum"]?.doubleValue, number <= minimum {
                errors.append("\(path): \(JSONValue.number(number).jsonText) must be more than \(JSONValue.number(minimum).jsonText)")
            }
            if let maximum = keywords["exclusiveMaximum"]?.doubleValue, number >= maximum {
                errors.append("\(path): \(JSONValue.number(number).jsonText) must be less than \(JSONValue.number(maximum).jsonText)")
            }
        default:
            break
        }
        checkCombinators(value, keywords, path: path, root: root, errors: &errors, depth: depth)
    }

    private static func checkObject(
        _ members: [String: JSONValue], _ keywords: [String: JSONValue], path: String, root: JSONValue, errors: inout [String], depth: Int
    ) {
        let properties = keywords["properties"]?.objectValue ?? [:]
        for name in keywords["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[name] == nil {
            errors.append("\(path): missing required property \"\(name)\"")
        }
        for (name, member) in members.sorted(by: { $0.key < $1.key }) {
            if let property = properties[name] {
                check(member, property, path: "\(path).\(name)", root: root, errors: &errors, depth: depth + 1)
            } else if let additional = keywords["additionalProperties"] {
                if additional == .bool(false) {
                    errors.append("\(path): unexpected property \"\(name)\"; allowed: \(properties.keys.sorted().joined(separator: ", "))")
                } else {
                    check(member, additional, path: "\(path).\(name)", root: root, errors: &errors, depth: depth + 1)
                }
            }
        }
    }

    private static func checkCombinators(
        _ value: JSONValue, _ keywords: [String: JSONValue], path: String, root: JSONValue, errors: inout [String], depth: Int
    ) {
        if let all = keywords["allOf"]?.arrayValue {
            for schema in all { check(value, schema, path: path, root: root, errors: &errors, depth: depth + 1) }
        }
        for keyword in ["anyOf", "oneOf"] {
            guard let options = keywords[keyword]?.arrayValue else { continue }
            var failures: [[String]] = []
            for option in options {
                var optionErrors: [String] = []
                check(value, option, path: path, root: root, errors: &optionErrors, depth: depth + 1)
                failures.append(optionErrors)
            }
            let passing = failures.filter(\.isEmpty).count
            if passing == 0 {
                // Report the closest option: the one with the fewest errors.
                let closest = failures.min { $0.count < $1.count } ?? []
                errors.append(
                    "\(path): matches none of the \(options.count) \(keyword) options; closest: \(closest.prefix(2).joined(separator: "; "))"
                )
            } else if keyword == "oneOf" && passing > 1 {
                errors.append("\(path): matches \(passing) oneOf options; exactly one is allowed")
            }
        }
    }

    private static func resolve(_ reference: String, in root: JSONValue) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var node = root
        for part in reference.dropFirst(2).split(separator: "/") {
            let key = part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = node[key] else { return nil }
            node = next
        }
        return node
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object), ("number", .number):
            true
        case ("integer", .number(let number)): number.rounded() == number
        default: false
        }
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "boolean \(flag)"
        case .number: "number \(value.jsonText)"
        case .string(let text): "string \(JSONValue.string(text.count > 40 ? String(text.prefix(40)) + "…" : text).jsonText)"
        case .array(let elements): "array of \(elements.count)"
        case .object: "object"
        }
    }
}
