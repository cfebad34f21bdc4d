import Foundation
import HearthCore
import Testing

@Suite("Repetition: model text stuck in a loop", .timeLimit(.minutes(10)))
struct RepetitionTests {
    @Test("the loops a 135M model falls into are recognised, and what came before them is kept")
    func loops() throws {
        let phrase = "Summarise the expense policy in one sentence. The expense policy in one sentence is: "
        let looped = "Sure. " + String(repeating: "The expense policy in one sentence is: ", count: 50)
        #expect(Repetition.isDegenerate(looped))
        let trimmed = Repetition.trimmed(looped)
        #expect(trimmed.cut)
        #expect(trimmed.text == "Sure. The expense policy in one sentence is:")
        #expect(Repetition.isDegenerate("1+1." + String(repeating: "1", count: 300)))
        #expect(Repetition.isDegenerate("2018-04-25 20:30:52.128" + String(repeating: ":1", count: 200)))
        let loop = try #require(Repetition.loop(in: "2018-04-25 20:30:52.128" + String(repeating: ":1", count: 200)))
        #expect(loop.unit == ":1" || loop.unit == "1:")
        #expect(loop.repeats >= 199)
        #expect(!phrase.isEmpty)
    }

    @Test("ordinary answers are not loops: prose, lists with a shared pattern, markdown rules, short repeats")
    func ordinary() {
        #expect(
            !Repetition.isDegenerate(
                "Twelve of the twenty receipts were flagged: four are over the limit of 100, the rest fall outside Q2."))
        #expect(!Repetition.isDegenerate("ok"))
        #expect(
            !Repetition.isDegenerate("| file | total |\n|------------------------------------------------------|-------|\n| a.txt | 12 |"))
        #expect(
            !Repetition.isDegenerate(
                "- Notes/a.md: budget owner?\n- Notes/b.md: timeline?\n- Notes/c.md: who signs off?\n- Notes/d.md: which vendor?"))
        #expect(!Repetition.isDegenerate("ha ha ha, very funny."))
        #expect(Repetition.loop(in: "4") == nil)
    }

    @Test("prose that is not prose: digit soup and repeated pieces are unreadable; numbers in a sentence are fine")
    func unreadable() {
        // What SmolLM2-135M wrote as the demo's summary once penalties kept it out of an exact loop.
        #expect(
            Repetition.isUnreadable(
                "2018-12-25 20:30:52.123-0000-00-00:00:00.00-2018-10-19 20:30:52.123:2018-11-18 20:30:52.123:2018-2018-21-20 20:30:52.123"))
        #expect(!Repetition.isUnreadable("The totals are 12.50, 33.90, 122.80 and 45.00; the largest is 122.80 from AEON on 2018-04-01."))
        #expect(!Repetition.isUnreadable("Twelve of the twenty receipts were flagged: four are over 100, the rest fall outside Q2."))
        #expect(!Repetition.isDegenerate("2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47"), "a list of numbers is not a loop")
        // Counting instead of summarising, as SmolLM2 did on a kickoff note.
        #expect(
            Repetition.isUnreadable(
                "The document is about planning the Q1 launch of the Q1 Q1 Q1 Q2 Q2 Q3 Q3 Q4 Q4 Q5 Q5 Q6 Q7 Q8 Q9 Q10 Q11 Q12 Q13 Q14 Q15 Q16 Q17"
            ))
    }

    @Test("a stream is stopped once its loop has repeated a few times, not before")
    func watch() {
        var watch = RepetitionWatch()
        var stoppedAt: Int?
        for index in 0..<100 {
            if watch.add("and then ") != nil {
                stoppedAt = index
                break
            }
        }
        #expect(stoppedAt != nil)
        #expect((stoppedAt ?? 100) < 20)
        var calm = RepetitionWatch()
        let prose = "The policy caps meals at 100 and asks for a receipt for every expense. Travel is booked through the office. "
        #expect(prose.split(separator: " ").allSatisfy { calm.add(String($0) + " ") == nil })
    }
}

@Suite("Model sizes read from names", .timeLimit(.minutes(10)))
struct ModelScaleTests {
    @Test(
        "sizes in common naming schemes, and names without one",
        arguments: [
            ("smollm2-135m", 135.0), ("SmolLM2-360M-Instruct", 360), ("llama3.1:8b", 8000), ("qwen2.5:0.5b", 500),
            ("Qwen2.5-0.5B-Instruct", 500),
            ("mistral-7b-instruct-v0.3.Q4_K_M", 7000), ("8.0B", 8000), ("494.03M", 494.03),
        ])
    func sizes(name: String, millions: Double) throws {
        #expect(try #require(ModelScale(name: name)).millions == millions)
    }

    @Test("no size in the name is unknown, and small means under a billion parameters")
    func unknown() throws {
        #expect(ModelScale(name: "nomic-embed-text") == nil)
        #expect(ModelScale(name: "gpt-4o") == nil)
        #expect(try #require(ModelScale(name: "smollm2-135m")).isSmall)
        #expect(!(try #require(ModelScale(name: "llama3.1:8b")).isSmall))
        #expect(ModelScale(millions: 135).description == "135M parameters")
        #expect(ModelScale(millions: 8000).description == "8B parameters")
    }
}
