import HearthCore
import Testing

@Suite("A style guide's rules for remediation texts", .timeLimit(.minutes(10)))
struct StyleGuideTests {
    /// The demo fixture's guide.
    let numbered = """
        # Engineering style guide for remediation text

        1. Lead with the change, in the imperative: "Delete support tickets 30 days after the account closes."
        2. Name the rule it satisfies by article: "(Regulation, Article 9)".
        3. One sentence per change; no more than 30 words.
        4. Use numerals and units for every limit: "30 days", "256-bit", "15 minutes".
        5. No blame and no marketing words ("simply", "seamless", "best-in-class").
        6. Say who owns the change: "Owner: the team named in the spec."
        """

    /// Another team's guide: bullets, other wording, other forms.
    let bulleted = """
        ## Writing fixes

        - Begin every remediation with "Action:" and a verb.
        - Keep each remediation under 25 words.
        - Reference the regulation as “[Reg. §12]”.
        - Avoid the words `just`, `obviously` and `easy`.
        - Close with the responsible party, e.g.
          "Responsible: compliance lead"
        - Be kind to the reader.
        """

    @Test("a numbered guide: every rule is read and applied")
    func numberedGuide() {
        let guide = StyleGuide.read(numbered)
        #expect(guide.rules.count == 6)
        #expect(guide.maxWords == 30 && guide.oneSentence && guide.imperative)
        #expect(guide.citation == "(Regulation, Article {article})")
        #expect(guide.owner == "Owner: the team named in the spec.")
        #expect(guide.banned == ["simply", "seamless", "best-in-class"])
        #expect(guide.unapplied.isEmpty, "\(guide.unapplied)")
        let drafted = guide.draft(["Change \"90 days\" to at most 30 days"], article: 9)
        #expect(drafted.text == "Change \"90 days\" to at most 30 days (Regulation, Article 9). Owner: the team named in the spec.")
        #expect(drafted.problems.isEmpty)
    }

    @Test("a guide worded otherwise: its own lead, limit, citation, words and owner; a rule code cannot apply is listed")
    func otherGuide() {
        let guide = StyleGuide.read(bulleted)
        #expect(guide.rules.count == 6, "\(guide.rules)")
        #expect(guide.prefix == "Action:")
        #expect(guide.maxWords == 24)
        #expect(guide.citation == "[Reg. §{article}]")
        #expect(guide.banned == ["just", "obviously", "easy"])
        #expect(guide.owner == "Responsible: compliance lead")
        #expect(guide.unapplied == ["Be kind to the reader."])
        let drafted = guide.draft(["Change \"90 days\" to at most 30 days"], article: 14)
        #expect(drafted.text == "Action: Change \"90 days\" to at most 30 days [Reg. §14]. Responsible: compliance lead")
        #expect(drafted.problems.isEmpty, "\(drafted.problems)")
    }

    @Test("a longer wording that breaks the word limit or uses a word to avoid gives way to a shorter one")
    func shorterWording() {
        let guide = StyleGuide.read("Remediation text must be a single sentence. Keep it to 10 words or fewer. Never write \"simply\".")
        #expect(guide.oneSentence && guide.maxWords == 10 && guide.banned == ["simply"])
        let long = "Change \"simply 90 days of retention\" to at most 30 days"
        let drafted = guide.draft([long, "Set it to at most 30 days"], article: 3)
        #expect(drafted.text == "Set it to at most 30 days (Article 3).")
        #expect(guide.problems(in: long + " (Article 3).", article: 3) == ["13 words, more than 10", "uses \"simply\""])
        // Nothing fits: the last wording comes back with what it breaks.
        let tight = StyleGuide.read("- Use at most 3 words.")
        let forced = tight.draft(["Set it to at most 30 days"], article: 3)
        #expect(forced.problems == ["9 words, more than 3"])
    }

    @Test("checks: a missing citation, lead or owner, two sentences; a word to avoid only as a whole word")
    func checks() {
        let guide = StyleGuide.read(bulleted)
        #expect(
            guide.problems(in: "Change it. Then tell us.", article: 2) == [
                "does not end with \"Responsible: compliance lead\"", "does not start with \"Action:\"", "does not cite [Reg. §2]",
            ])
        let sentences = StyleGuide.read("- One sentence per change.")
        #expect(sentences.problems(in: "Change it (Article 2). Then tell us.", article: 2) == ["more than one sentence"])
        let words = StyleGuide.read("- Never say \"easy\".")
        #expect(words.problems(in: "Make the uneasy step explicit (Article 2).", article: 2).isEmpty)
        #expect(words.problems(in: "Make it easy (Article 2).", article: 2) == ["uses \"easy\""])
    }

    @Test("a guide with nothing code can apply applies nothing and lists every rule")
    func nothingToApply() {
        let guide = StyleGuide.read("# Tone\n\nBe friendly. Write for the reader who was not in the meeting.")
        #expect(guide.applied.isEmpty)
        #expect(guide.unapplied == ["Be friendly.", "Write for the reader who was not in the meeting."])
    }
}
