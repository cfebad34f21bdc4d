import Foundation

/// Tools from other programs can be many (an MCP server may bring dozens, each schema hundreds of
/// tokens), so their schemas are not put in every prompt: the prompt carries the tools Hearth
/// always offers and `find_tools`, whose description names the others; a call to it answers with
/// the matching tools' descriptions and loads their schemas into the next prompt.
public struct FindToolsTool: Tool {
    public static let toolName = "find_tools"
    /// At most this many tools are loaded by one search.
    public static let loadLimit = 5
    let catalog: [ToolSpec]

    public init(catalog: [ToolSpec]) { self.catalog = catalog }

    public var spec: ToolSpec {
        let names = catalog.prefix(60).map(\.name).joined(separator: ", ")
        return ToolSpec(
            name: Self.toolName,
            description:
                "Find tools from other programs by what they do and make them callable in your next step. \(catalog.count) are available: \(names)\(catalog.count > 60 ? ", …" : "").",
            parameters: [
                "type": "object",
                "properties": ["query": ["type": "string", "description": "what the tool should do, or its name"]],
                "required": ["query"],
            ])
    }
    public let risk = ToolRisk.read
    public let idempotent = true

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let query = arguments["query"]?.stringValue ?? ""
        let found = Self.search(query, in: catalog)
        guard !found.isEmpty else {
            return ToolOutput(
                text: "No tool matches \"\(query)\". The tools are: \(catalog.map(\.name).joined(separator: ", ")).",
                data: ["load": []])
        }
        return ToolOutput(
            text: "Now callable:\n" + found.map { "- \($0.name): \(ToolIndex.short($0.description))" }.joined(separator: "\n"),
            data: ["load": .array(found.map { .string($0.name) })])
    }

    /// The tools that best match `query` by shared words in their names and descriptions (an
    /// exact name first), at most `loadLimit`.
    static func search(_ query: String, in catalog: [ToolSpec]) -> [ToolSpec] {
        if let exact = catalog.first(where: { $0.name == query.trimmingCharacters(in: .whitespaces) }) { return [exact] }
        let wanted = ToolIndex.words(query)
        guard !wanted.isEmpty else { return [] }
        let scored = catalog.map { spec in
            (spec, ToolIndex.words(spec.name + " " + spec.description).intersection(wanted).count)
        }
        return scored.filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }.prefix(loadLimit).map(\.0)
    }
}

/// How a tool box is shown to a model when some of its tools are deferred.
public enum ToolIndex {
    /// The first sentence of a description, at most 160 characters: what an index line carries.
    public static func short(_ description: String) -> String {
        let flat = description.split(whereSeparator: \.isNewline).joined(separator: " ")
        let sentence = flat.firstRange(of: ". ").map { String(flat[..<$0.lowerBound]) + "." } ?? flat
        return sentence.count <= 160 ? sentence : String(sentence.prefix(159)) + "…"
    }

    static func words(_ text: String) -> Set<String> {
        Set(
            text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init).filter {
                $0.count > 2 && !["the", "and", "for", "with", "from", "that", "this", "mcp"].contains($0)
            })
    }
}

extension ToolBox {
    /// The deferred tools' specs, in the box's order.
    public var deferredSpecs: [ToolSpec] { all.filter(\.deferred).map(\.spec) }

    /// The box with `find_tools` added when some tools are deferred (unchanged otherwise).
    public func withToolIndex() -> ToolBox {
        let deferred = deferredSpecs
        guard !deferred.isEmpty, self[FindToolsTool.toolName] == nil else { return self }
        return ToolBox(all + [FindToolsTool(catalog: deferred)])
    }

    /// The specs a prompt carries: every tool not deferred, and the deferred ones `loaded` names.
    public func promptSpecs(loaded: Set<String> = []) -> [ToolSpec] {
        all.filter { !$0.deferred || loaded.contains($0.name) }.map(\.spec)
    }
}
