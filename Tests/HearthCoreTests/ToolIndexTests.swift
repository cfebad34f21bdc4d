import Foundation
import HearthCore
import Testing

/// Deferred tools: a prompt carries `find_tools` and the schemas a search loaded.
@Suite("Tool index: schemas on demand", .timeLimit(.minutes(10)))
struct ToolIndexTests {
    struct Stub: Tool {
        let spec: ToolSpec
        let deferred: Bool
        var risk: ToolRisk { .network }
        var idempotent: Bool { false }
        func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput { ToolOutput(text: spec.name) }

        init(_ name: String, _ description: String, deferred: Bool = true) {
            spec = ToolSpec(name: name, description: description, parameters: ["type": "object", "properties": ["id": ["type": "string"]]])
            self.deferred = deferred
        }
    }

    @Test("find_tools names the deferred tools, loads at most five by shared words or the exact name, and the prompt grows by those only")
    func findAndLoad() async throws {
        var tools: [any Tool] = [Stub("read_file", "Read a file.", deferred: false)]
        for index in 0..<20 { tools.append(Stub("mcp_crm_invoice_\(index)", "Create an invoice record in the company system. Long text.")) }
        tools.append(Stub("mcp_desk_lookup_ticket", "Look up a support ticket by its id. Returns its text."))
        let box = ToolBox(tools).withToolIndex()
        #expect(box.promptSpecs().map(\.name) == ["read_file", "find_tools"])
        let index = try #require(box["find_tools"])
        #expect(index.spec.description.contains("21 are available") && index.spec.description.contains("mcp_desk_lookup_ticket"))
        let context = ToolContext(workspace: URL(fileURLWithPath: "/tmp"), idempotencyKey: "k")

        let ticket = try await box.invoke("find_tools", arguments: ["query": "find the support ticket T-17"], context: context)
        #expect(ticket.data["load"] == ["mcp_desk_lookup_ticket"])
        #expect(ticket.text.contains("Look up a support ticket by its id.") && !ticket.text.contains("Returns its text"))
        let loaded = Set(ticket.data["load"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(box.promptSpecs(loaded: loaded).map(\.name) == ["read_file", "mcp_desk_lookup_ticket", "find_tools"])

        let invoices = try await box.invoke("find_tools", arguments: ["query": "invoice"], context: context)
        #expect(invoices.data["load"]?.arrayValue?.count == FindToolsTool.loadLimit)
        let exact = try await box.invoke("find_tools", arguments: ["query": "mcp_crm_invoice_17"], context: context)
        #expect(exact.data["load"] == ["mcp_crm_invoice_17"])
        let none = try await box.invoke("find_tools", arguments: ["query": "weather tomorrow"], context: context)
        #expect(none.data["load"] == [] && none.text.hasPrefix("No tool matches"))
    }

    @Test("a box without deferred tools gets no index; an index line is the description's first sentence, at most 160 characters")
    func shortLines() {
        let plain = ToolBox([Stub("read_file", "Read a file.", deferred: false)]).withToolIndex()
        #expect(plain.names == ["read_file"])
        #expect(ToolIndex.short("Add two numbers. Returns the sum.") == "Add two numbers.")
        #expect(ToolIndex.short(String(repeating: "word ", count: 60)).count == 160)
    }
}
