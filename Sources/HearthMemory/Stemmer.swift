/// English inflection folding for keyword retrieval: Porter's steps 1a–1c (plurals, -ed, -ing,
/// final y) and a final silent e, so "activities"/"activity", "painted"/"painting"/"paints" and
/// "loved"/"loving"/"love" meet on one term; the common irregular verbs' past forms fold into
/// their verb first ("grown"/"grew" meet "grow" and "growing", "bought" meets "buy"). Words with
/// anything but ASCII letters, and words of three letters or fewer, are left alone.
public enum Stemmer {
    public static func stem(_ word: String) -> String {
        let word = irregular[word] ?? word
        var w = Array(word.utf8)
        guard w.count > 3, w.allSatisfy({ $0 >= 97 && $0 <= 122 }) else { return word }
        step1a(&w)
        step1b(&w)
        step1c(&w)
        // A final silent e ("love" meets "lov" from "loved"/"loving").
        if w.count > 3, w.last == e, measure(w[..<(w.count - 1)]) >= 1 { w.removeLast() }
        return String(decoding: w, as: UTF8.self)
    }

    private static let e = UInt8(ascii: "e")

    private static func isConsonant(_ w: ArraySlice<UInt8>, _ i: Int) -> Bool {
        switch w[i] {
        case UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "o"), UInt8(ascii: "u"): return false
        case UInt8(ascii: "y"): return i == w.startIndex || !isConsonant(w, i - 1)
        default: return true
        }
    }

    /// Porter's m: the number of vowel–consonant sequences.
    private static func measure(_ w: ArraySlice<UInt8>) -> Int {
        var count = 0
        var i = w.startIndex
        while i < w.endIndex && isConsonant(w, i) { i += 1 }
        while i < w.endIndex {
            while i < w.endIndex && !isConsonant(w, i) { i += 1 }
            guard i < w.endIndex else { break }
            count += 1
            while i < w.endIndex && isConsonant(w, i) { i += 1 }
        }
        return count
    }

    private static func hasVowel(_ w: ArraySlice<UInt8>) -> Bool {
        w.indices.contains { !isConsonant(w, $0) }
    }

    private static func ends(_ w: [UInt8], _ suffix: String) -> Bool {
        let s = Array(suffix.utf8)
        return w.count > s.count && Array(w[(w.count - s.count)...]) == s
    }

    private static func replace(_ w: inout [UInt8], _ suffix: String, with replacement: String) {
        w.removeLast(suffix.utf8.count)
        w.append(contentsOf: replacement.utf8)
    }

    private static func step1a(_ w: inout [UInt8]) {
        if ends(w, "sses") {
            replace(&w, "sses", with: "ss")
        } else if ends(w, "ies") {
            replace(&w, "ies", with: "i")
        } else if ends(w, "ss") || ends(w, "us") || ends(w, "is") {
            return
        } else if ends(w, "s") {
            w.removeLast()
        }
    }

    private static func step1b(_ w: inout [UInt8]) {
        if ends(w, "eed") {
            if measure(w[..<(w.count - 3)]) > 0 { w.removeLast() }
            return
        }
        var stripped = false
        for suffix in ["ed", "ing"] where ends(w, suffix) && hasVowel(w[..<(w.count - suffix.utf8.count)]) {
            w.removeLast(suffix.utf8.count)
            stripped = true
            break
        }
        guard stripped else { return }
        if ends(w, "at") || ends(w, "bl") || ends(w, "iz") {
            w.append(e)
        } else if w.count >= 2, w[w.count - 1] == w[w.count - 2], isConsonant(w[...], w.count - 1),
            ![UInt8(ascii: "l"), UInt8(ascii: "s"), UInt8(ascii: "z")].contains(w[w.count - 1])
        {
            w.removeLast()
        } else if measure(w[...]) == 1 && endsConsonantVowelConsonant(w) {
            w.append(e)
        }
    }

    private static func endsConsonantVowelConsonant(_ w: [UInt8]) -> Bool {
        let n = w.count
        guard n >= 3 else { return false }
        let slice = w[...]
        return isConsonant(slice, n - 3) && !isConsonant(slice, n - 2) && isConsonant(slice, n - 1)
            && ![UInt8(ascii: "w"), UInt8(ascii: "x"), UInt8(ascii: "y")].contains(w[n - 1])
    }

    private static func step1c(_ w: inout [UInt8]) {
        if w.last == UInt8(ascii: "y"), hasVowel(w[..<(w.count - 1)]) { w[w.count - 1] = UInt8(ascii: "i") }
    }

    /// Past forms of irregular verbs → the verb. Forms that are as often another word ("left",
    /// "ground", "rose", "saw", "shot", "Lent") are not listed: folding them would match the wrong word.
    static let irregular: [String: String] = {
        let table = """
            arise arose arisen|awake awoke awoken|become became|begin began begun|bend bent|bite bitten|blow blew blown|\
            break broke broken|breed bred|bring brought|build built|burn burnt|buy bought|catch caught|choose chose chosen|\
            cling clung|come came|creep crept|deal dealt|draw drew drawn|dream dreamt|drink drank drunk|drive drove driven|\
            eat eaten|fall fallen|feel felt|fight fought|find found|fly flew flown|forget forgot forgotten|forgive forgave forgiven|\
            freeze froze frozen|get gotten|give gave given|go went gone|grow grew grown|hang hung|hear heard|hide hidden|hold held|\
            keep kept|kneel knelt|know knew known|lay laid|learn learnt|lose lost|make made|mean meant|pay paid|\
            ride rode ridden|ring rang rung|rise risen|sell sold|send sent|shake shook shaken|show shown|shrink shrank|\
            sing sang sung|sink sank sunk|sleep slept|slide slid|speak spoke spoken|spend spent|spin spun|stand stood|\
            steal stole stolen|stick stuck|sting stung|strike struck|swear swore sworn|sweep swept|swim swam swum|\
            take took taken|teach taught|tell told|think thought|throw threw thrown|understand understood|wake woke woken|\
            wear wore worn|weave wove woven|write wrote written
            """
        var forms: [String: String] = [:]
        for entry in table.split(separator: "|") {
            let words = entry.split(separator: " ").map(String.init)
            for form in words.dropFirst() { forms[form] = words[0] }
        }
        return forms
    }()
}
