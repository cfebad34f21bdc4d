import HearthCore
import Testing

@Suite("What a vector is computed from: texts cut by word pieces, context centred on its record", .timeLimit(.minutes(10)))
struct EmbeddingTextTests {
    @Test("word pieces are estimated per word, number and mark")
    func estimate() {
        #expect(EmbeddingText.estimate("") == 0)
        #expect(EmbeddingText.estimate("the dog is called Biscuit") == 5)
        #expect(EmbeddingText.estimate("Hello, world!") == 4)
        // Long words split: 16 letters are three pieces by the estimate.
        #expect(EmbeddingText.estimate("incomprehensible") == 3)
        // Digits three to a piece; accented words split sooner; each CJK character is a piece.
        #expect(EmbeddingText.estimate("1234567") == 3)
        #expect(EmbeddingText.estimate("überraschung") > EmbeddingText.estimate("surprises"))
        #expect(EmbeddingText.estimate("東京都") == 3)
        #expect(EmbeddingText.estimate("<td>&nbsp;</td>") == 10)
    }

    @Test("a text is cut between pieces at the budget and kept whole when it fits")
    func head() {
        let policy = EmbeddingText(tokens: 12)
        #expect(policy.text("my dog is called Biscuit") == "my dog is called Biscuit")
        let long = (1...40).map { "word\($0)" }.joined(separator: " ")
        let cut = policy.text(long)
        #expect(long.hasPrefix(cut))
        #expect(EmbeddingText.estimate(cut) <= 10)  // 12 less the two special tokens
        #expect(cut.hasSuffix("word5"))
        #expect(EmbeddingText.tail(long, tokens: 4) == "word39 word40")
        // A script written without spaces, or a pasted blob, is one long word: cut inside it, never to nothing.
        let thai = String(repeating: "ภาษาไทยเขียนติดกันโดยไม่เว้นวรรค", count: 100)
        let thaiCut = policy.text(thai)
        #expect(!thaiCut.isEmpty && thai.hasPrefix(thaiCut) && EmbeddingText.estimate(thaiCut) <= 10)
        let blobTail = EmbeddingText.tail(String(repeating: "QUJD", count: 500), tokens: 5)
        #expect(!blobTail.isEmpty && EmbeddingText.estimate(blobTail) <= 5)
        // A budget smaller than anything is still a usable policy.
        #expect(EmbeddingText(tokens: 0).tokens == 8)
    }

    @Test("short turns keep their whole window: the turn before, the turn, the turn after")
    func shortWindow() {
        let policy = EmbeddingText()
        let context = policy.context(before: "Caroline: Did you go?", own: "Melanie: Yes, last week.", after: "Caroline: How was it?")
        #expect(context == "Caroline: Did you go?\nMelanie: Yes, last week.\nCaroline: How was it?")
        #expect(policy.context(before: nil, own: "first turn", after: nil) == "first turn")
        #expect(policy.context(before: "", own: "a turn", after: "the next") == "a turn\nthe next")
    }

    @Test("a long turn is read with the end of the question before it and keeps at least half the budget")
    func longTurn() {
        let policy = EmbeddingText(tokens: 64)
        let question = "user: " + (1...50).map { "q\($0)" }.joined(separator: " ") + " which laptop should I buy?"
        let answer = "assistant: " + (1...200).map { "a\($0)" }.joined(separator: " ")
        let next = "user: thanks " + (1...50).map { "n\($0)" }.joined(separator: " ")
        let context = policy.context(before: question, own: answer, after: next)
        let lines = context.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasSuffix("which laptop should I buy?"))
        #expect(lines[1].hasPrefix("assistant: a1 a2"))
        #expect(lines[2].hasPrefix("user: thanks"))
        #expect(EmbeddingText.estimate(lines[1]) >= 31)
        #expect(EmbeddingText.estimate(context) <= 62)
        // A short turn between long ones lends its unused share to them and stays whole.
        let short = policy.context(before: answer, own: "user: and the second?", after: answer)
        #expect(short.contains("\nuser: and the second?\n"))
        #expect(EmbeddingText.estimate(short) <= 62)
        #expect(EmbeddingText.estimate(short) >= 55)
    }

    @Test("the work list's fields pick the text and the centred context")
    func work() {
        let policy = EmbeddingText()
        #expect(policy.text(for: VectorWork(recordID: 1, field: .text, text: "own", before: "b", after: "a")) == "own")
        #expect(policy.text(for: VectorWork(recordID: 1, field: .context, text: "own", before: "b", after: "a")) == "b\nown\na")
    }
}
