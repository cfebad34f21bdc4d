import Foundation
import HearthBench
import HearthCore
import HearthTesting
import Testing

@Suite("Redaction on the way to a model elsewhere", .timeLimit(.minutes(10)))
struct RedactionTests {
    @Test("private values become stable placeholders and come back; dates, amounts and ordinary words stay")
    func placeholders() {
        var redaction = Redaction(names: ["Ann Lee", "Bo"], terms: ["Project Falcon"], paths: ["/home/sam/HearthWorkspace"])
        var counts: [Redaction.Kind: Int] = [:]
        let text = """
            Ann Lee (ann.lee@acme.example, +351 912 345 678) owns Project Falcon; pay DE89 3704 0044 0532 0130 00 \
            with card 4111 1111 1111 1111 by 2026-12-02, 1,250.00 EUR. Notes: /home/sam/HearthWorkspace/Notes/a.md. Bob and Bo met.
            """
        let hidden = redaction.redact(text, counts: &counts)
        for value in ["Ann Lee", "ann.lee@acme.example", "912 345 678", "DE89", "4111", "Project Falcon", "/home/sam"] {
            #expect(!hidden.contains(value), "\(value) leaked: \(hidden)")
        }
        #expect(hidden.contains("2026-12-02") && hidden.contains("1,250.00 EUR") && hidden.contains("Bob"), "\(hidden)")
        #expect(counts[.person] == 2 && counts[.email] == 1 && counts[.phone] == 1 && counts[.iban] == 1 && counts[.card] == 1, "\(counts)")
        #expect(counts[.term] == 1 && counts[.path] == 1)
        #expect(redaction.restore(hidden) == text)
        // The same value, the same placeholder, in a later request.
        var again: [Redaction.Kind: Int] = [:]
        #expect(redaction.redact("Mail ann.lee@acme.example", counts: &again) == "Mail [EMAIL_1]")
        // A card number that fails the Luhn check is just a number.
        #expect(redaction.redact("order 4111 1111 1111 1112", counts: &again) == "order 4111 1111 1111 1112")
        #expect(Redaction.endsInsidePlaceholder("Write to [EMA") && !Redaction.endsInsidePlaceholder("Write to [EMAIL_1] now"))
    }

    @Test("redact = always: the model server never receives a listed value, and the user sees the restored answer")
    func loopbackServerUnderAlways() async throws {
        let sandbox = try Sandbox()
        // The server answers with what it was told, so the answer carries the placeholders it saw.
        let server = ScriptedModelServer { body in
            let last = body["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
            return .chat("You said: \(last)")
        }
        let url = try await server.start()
        defer { server.stop() }
        try sandbox.useScriptedModel(url, extra: "redact = \"always\"\nredact_terms = [\"Project Falcon\"]\n")
        #expect(try await sandbox.hearth(["memory", "remember", "My manager is Ann Lee"]).status == 0)
        let question =
            "Tell Ann Lee (ann.lee@acme.example, +351 912 345 678) that Project Falcon's IBAN DE89 3704 0044 0532 0130 00 is fine."
        let asked = try await sandbox.hearth(["ask", "--json", question])
        #expect(asked.status == 0, "\(asked.stderr)")
        let answer = try JSONValue(parsing: asked.stdout)
        #expect(answer["answer"]?.stringValue == "You said: \(question)")
        #expect(answer["redacted"]?["email"] == 1 && answer["redacted"]?["person"] == 1, "\(answer)")
        let sent = server.requests.map(\.body.jsonText).joined(separator: "\n")
        #expect(!sent.isEmpty)
        for value in ["Ann Lee", "ann.lee@acme.example", "912 345 678", "DE89 3704", "Project Falcon", sandbox.workspace.path] {
            #expect(!sent.contains(value), "the server received \(value)")
        }
        #expect(sent.contains("[PERSON_1]") && sent.contains("[EMAIL_1]"))

        // A bad mode names the key.
        try sandbox.useScriptedModel(url, extra: "redact = \"sometimes\"\n")
        let refused = try await sandbox.hearth(["ask", "hello"])
        #expect(refused.status != 0 && refused.stderr.contains("inference.redact"), "\(refused.stderr)")
    }
}
