import Foundation
import HearthCore
import Testing

@Suite("A session's rolling summary: when it is rewritten, what the model is asked, what is kept", .timeLimit(.minutes(10)))
struct SessionSummaryTests {
    static func turns(_ count: Int) -> [SessionSummary.Turn] {
        (1...count).map { SessionSummary.Turn(id: Int64($0), speaker: $0 % 2 == 1 ? "user" : "assistant", text: "turn \($0)") }
    }

    @Test("due once enough turns aged past the verbatim window and the last summary; covered turns are not folded twice")
    func due() {
        #expect(SessionSummary.due(Self.turns(11), summary: nil, recent: 6, every: 6) == nil)
        let first = SessionSummary.due(Self.turns(12), summary: nil, recent: 6, every: 6)
        #expect(first?.map(\.id) == [1, 2, 3, 4, 5, 6])
        let summary = ChatSummary(text: "notes", through: 6, turns: 6, writtenAt: Date())
        #expect(SessionSummary.due(Self.turns(17), summary: summary, recent: 6, every: 6) == nil)
        #expect(SessionSummary.due(Self.turns(18), summary: summary, recent: 6, every: 6)?.map(\.id) == [7, 8, 9, 10, 11, 12])
        // A summary that covers more than the window leaves nothing due.
        let ahead = ChatSummary(text: "notes", through: 40, turns: 40, writtenAt: Date())
        #expect(SessionSummary.due(Self.turns(30), summary: ahead, recent: 6, every: 1) == nil)
    }

    @Test("the request carries the last summary and the turns, long turns cut, the oldest left out past the input budget")
    func request() {
        let long = SessionSummary.Turn(id: 1, speaker: "user", text: String(repeating: "a", count: 2_000))
        let request = SessionSummary.request(
            previous: "The user plans a trip.",
            turns: [long]
                + Self.turns(3).map {
                    SessionSummary.Turn(id: $0.id + 1, speaker: $0.speaker, text: $0.text)
                })
        let input = request.messages.last?.content ?? ""
        #expect(input.hasPrefix("Notes so far:\nThe user plans a trip.\n\nNew turns:\nuser: "))
        #expect(input.contains(String(repeating: "a", count: 600) + "…") && !input.contains(String(repeating: "a", count: 601)))
        #expect(input.hasSuffix("user: turn 1\nassistant: turn 2\nuser: turn 3"))
        #expect(request.messages.first?.role == .system)
        let many = (1...400).map {
            SessionSummary.Turn(id: Int64($0), speaker: "user", text: "message number \($0) " + String(repeating: "x", count: 40))
        }
        let cut = SessionSummary.request(previous: nil, turns: many, inputTokens: 500).messages.last?.content ?? ""
        #expect(cut.contains("Notes so far:\n(none yet)"))
        #expect(cut.contains("message number 400") && !cut.contains("message number 1 "))
        #expect(ChatContext.tokens(cut) <= 560)
    }

    @Test("a summary that is empty, repeats itself or is unreadable is refused; one cut at its token limit keeps its whole sentences")
    func accept() {
        #expect(
            SessionSummary.accept("  The user plans a trip to Lisbon in May.\n", finishReason: "stop")
                == .success("The user plans a trip to Lisbon in May."))
        #expect(SessionSummary.accept("   ", finishReason: "stop") == .failure(.empty))
        #expect(SessionSummary.accept(String(repeating: "the trip the trip ", count: 40), finishReason: "stop") == .failure(.repeating))
        #expect(SessionSummary.accept("fine", finishReason: "repetition") == .failure(.repeating))
        #expect(
            SessionSummary.accept("The user plans a trip. They asked about hot", finishReason: "length")
                == .success("The user plans a trip."))
        #expect(SessionSummary.accept("The user plans a trip and", finishReason: "length") == .failure(.cutOff))
    }

    @Test("the context carries a written summary first, then the brief of the turns after it; what does not fit is listed")
    func context() {
        let turns = (1...8).map { ChatContext.Turn(speaker: $0 % 2 == 1 ? "user" : "assistant", text: "turn \($0)") }
        let both = ChatContext.assemble(
            system: "s", profile: [], memories: [], turns: turns, message: "x", budget: 2_000, summary: "The user plans a trip to Lisbon.")
        #expect(
            both.summary
                == "Earlier in this conversation (summarised):\nThe user plans a trip to Lisbon.\nThen (2 turns, in brief):\nuser: turn 1\nassistant: turn 2"
        )
        #expect(both.recent.count == 6)
        #expect(both.messages(for: "x").first?.content.contains("The user plans a trip to Lisbon.") == true)
        let long = String(repeating: "The user said many things. ", count: 60)
        let tight = ChatContext.assemble(system: "s", profile: [], memories: [], turns: turns, message: "x", budget: 100, summary: long)
        #expect(tight.summary?.hasPrefix("Then (2 turns") == true)
        #expect(tight.dropped.contains("the session's summary"))
        let none = ChatContext.assemble(
            system: "s", profile: [], memories: [], turns: Array(turns.suffix(6)), message: "x", budget: 2_000, summary: "Notes.")
        #expect(none.summary == "Earlier in this conversation (summarised):\nNotes.")
    }
}
