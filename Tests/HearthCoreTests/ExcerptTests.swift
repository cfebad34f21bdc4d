import HearthCore
import Testing

@Suite("Passages of long memories", .timeLimit(.minutes(10)))
struct ExcerptTests {
    let answer = """
        Here are some ideas for your trip. The old town is best seen on foot in the morning. \
        For the seco de cordero, a light lager or a pale ale works best because it keeps the coriander bright. \
        Museums close on Mondays. Trams run until midnight.
        Pack layers: the evenings are cool by the sea. Book the fado show a week ahead.
        """

    @Test("a short memory is kept whole")
    func short() {
        let passage = Excerpt.passage(of: "My dog is called Biscuit.", about: "what is my dog called?", maxTokens: 160)
        #expect(passage.whole)
        #expect(passage.text == "My dog is called Biscuit.")
    }

    @Test("a long memory is cut to the sentences about the question, with the cuts marked, within the limit")
    func long() {
        let passage = Excerpt.passage(of: answer, about: "which beer goes with the seco de cordero?", maxTokens: 40)
        #expect(!passage.whole)
        #expect(passage.text.contains("a light lager or a pale ale"))
        #expect(passage.text.hasPrefix("… "))
        #expect(passage.text.hasSuffix(" …"))
        #expect(ChatContext.tokens(passage.text) <= 40)
        #expect(!passage.text.contains("fado"))
    }

    @Test("a memory over the limit is cut to a passage of its own, shorter length; one within the limit stays whole")
    func shorterPassage() {
        let cut = Excerpt.passage(of: answer, about: "which beer goes with the seco de cordero?", maxTokens: 60, passageTokens: 30)
        #expect(!cut.whole)
        #expect(ChatContext.tokens(cut.text) <= 30)
        #expect(cut.text.contains("a light lager or a pale ale"))
        let kept = Excerpt.passage(of: answer, about: "seco de cordero", maxTokens: 200, passageTokens: 30)
        #expect(kept.whole)
        #expect(kept.text == answer)
    }

    @Test("one sentence longer than the limit is cut to it; a question sharing no word keeps the start")
    func oneLongSentence() {
        let sentence = String(repeating: "lorem ipsum dolor ", count: 100)
        let passage = Excerpt.passage(of: sentence, about: "lorem", maxTokens: 30)
        #expect(!passage.whole)
        #expect(ChatContext.tokens(passage.text) <= 30)
        let unrelated = Excerpt.passage(of: answer, about: "quantum chromodynamics", maxTokens: 30)
        #expect(unrelated.text.hasPrefix("Here are some ideas"))
        #expect(ChatContext.tokens(unrelated.text) <= 30)
    }
}
