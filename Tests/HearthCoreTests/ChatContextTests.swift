import Foundation
import HearthCore
import Testing

@Suite("Chat: answers from facts and context under a budget, without I/O", .timeLimit(.minutes(10)))
struct ChatContextTests {
    let dog = Fact(subject: "user", predicate: "dog is", object: "Biscuit", provenance: .trusted)

    @Test("questions about a stored fact find its slot; other questions do not")
    func slots() {
        #expect(FactAnswers.slot(of: "What is my dog called?")?.predicate == "dog is")
        #expect(FactAnswers.slot(of: "Who is my manager?")?.predicate == "manager is")
        #expect(FactAnswers.slot(of: "Where do I live?")?.predicate == "lives in")
        #expect(FactAnswers.slot(of: "What is the capital of France?") == nil)
        #expect(FactAnswers.slot(of: "What is my favourite way to spend a long rainy Sunday afternoon?") == nil)
    }

    @Test("the answer quotes the newest active fact; a superseded or pending one is not used")
    func answers() {
        var old = Fact(
            subject: "user", predicate: "manager is", object: "Bo Park", recordedAt: Date(timeIntervalSince1970: 1_700_000_000),
            provenance: .trusted)
        old.invalidatedAt = Date(timeIntervalSince1970: 1_750_000_000)
        let current = Fact(subject: "user", predicate: "manager is", object: "Ann Lee", provenance: .trusted)
        let pending = Fact(subject: "user", predicate: "cat is", object: "Tom", provenance: .untrusted, status: .pending)
        #expect(FactAnswers.answer("What is my dog called?", facts: [dog])?.text.hasPrefix("Your dog is Biscuit.") == true)
        #expect(FactAnswers.answer("Who is my manager?", facts: [old, current])?.fact.object == "Ann Lee")
        #expect(FactAnswers.answer("What is my cat called?", facts: [pending]) == nil)
    }

    @Test("context keeps the newest turns, then the profile, then memories; what does not fit is listed, never cut silently")
    func budget() {
        let turns = (1...10).map {
            ChatContext.Turn(speaker: $0 % 2 == 0 ? "assistant" : "user", text: "turn \($0) " + String(repeating: "word ", count: 20))
        }
        let memories = (1...5).map {
            ChatContext.Memory(
                id: Int64($0), text: "memory \($0) " + String(repeating: "fact ", count: 40), source: "chat", untrusted: $0 == 5)
        }
        let context = ChatContext.assemble(
            system: "You are Hearth.", profile: ["user prefers tea over coffee"], memories: memories, turns: turns, message: "and now?",
            budget: 300)
        #expect(context.recent.count == 6)
        #expect(context.recent.last?.text.hasPrefix("turn 10") == true)
        #expect(context.profile == ["user prefers tea over coffee"])
        #expect(context.memories.count < 5)
        #expect(context.dropped.contains { $0.hasPrefix("memory #") })
        let messages = context.messages(for: "and now?")
        #expect(messages.first?.role == .system)
        #expect(messages.first?.content.contains("What you know about the user") == true)
        #expect(messages.last?.content == "and now?")
        let wide = ChatContext.assemble(system: "s", profile: [], memories: memories, turns: turns, message: "x", budget: 4_000)
        #expect(wide.summary?.hasPrefix("Earlier in this conversation (4 turns, in brief)") == true)
        #expect(wide.messages(for: "x").first?.content.contains("untrusted=\"true\"") == true)
    }
}
