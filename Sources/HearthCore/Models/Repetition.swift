import Foundation

/// Finds model text that has fallen into a loop ("The policy is: The policy is: …",
/// "1+1.11111…", "20:30:52.128:1:1:1:…"), so no surface shows it as if it were an answer.
///
/// Two signs, both decided by code: the text *ends* in a stretch that repeats one short unit
/// (a loop a small model never leaves until the token limit), or the whole text is made of few
/// distinct pieces for its length.
public enum Repetition {
    /// Where a looping tail starts.
    public struct Loop: Sendable, Hashable {
        /// Characters before the loop (the part worth keeping).
        public var prefixLength: Int
        /// The repeated unit.
        public var unit: String
        /// How many times it repeats.
        public var repeats: Int
    }

    /// Longest unit looked for; a loop of whole sentences fits.
    static let maxUnit = 240
    /// Shortest looping stretch that counts (shorter repetitions are ordinary text: "ha ha ha").
    static let minLoopCharacters = 40

    /// The looping tail of `text`, if it ends in one.
    public static func loop(in text: String) -> Loop? {
        let characters = Array(text)
        let count = characters.count
        guard count >= minLoopCharacters else { return nil }
        var best: Loop?
        for unit in 1...min(maxUnit, count / 3) {
            // The longest suffix with period `unit`: walk back while each character equals the one a unit later.
            var start = count - unit
            while start > 0 && characters[start - 1] == characters[start - 1 + unit] { start -= 1 }
            let length = count - start
            let repeats = length / unit
            guard repeats >= 3, length >= minLoopCharacters else { continue }
            let piece = characters[(count - unit)..<count]
            // Rules, indentation and dashes repeat by design; a loop repeats words or digits.
            guard piece.contains(where: { $0.isLetter || $0.isNumber }) else { continue }
            if best == nil || start < best!.prefixLength {
                best = Loop(prefixLength: start, unit: String(characters[start..<(start + unit)]), repeats: repeats)
            }
        }
        return best
    }

    /// Text that mostly repeats itself: a looping tail covering at least a third of it, or few
    /// distinct 4-character pieces for its length.
    public static func isDegenerate(_ text: String) -> Bool {
        if let loop = loop(in: text), text.count - loop.prefixLength >= text.count / 3 { return true }
        return lowVariety(text)
    }

    /// Text that should read as prose (a summary, an answer in sentences) but does not: it loops,
    /// or it is mostly digits and punctuation ("2018-12-25 20:30:52.123-0000-00-00:00…"), or a
    /// third of it is pieces repeated three times or more. A small model that is kept out of exact
    /// loops by repetition penalties can still produce such text.
    ///
    /// Only for prose: a list of numbers is a fine answer to "list the primes under 50".
    public static func isUnreadable(_ text: String) -> Bool {
        if isDegenerate(text) { return true }
        // Counting is a loop too in prose: "the Q1 Q1 Q2 Q2 Q3 …" (digits compared as one shape).
        var shapes = ""
        for character in text where !(character.isNumber && shapes.last == "#") { shapes.append(character.isNumber ? "#" : character) }
        if let loop = loop(in: shapes), shapes.count - loop.prefixLength >= max(minLoopCharacters, shapes.count / 4) { return true }
        let visible = text.filter { !$0.isWhitespace }
        guard visible.count >= 40 else { return false }
        if Double(visible.filter(\.isLetter).count) / Double(visible.count) < 0.2 { return true }
        return repeatedShare(text, piece: 8, times: 3) >= 0.35
    }

    /// The share of `piece`-character windows whose text occurs at least `times` times.
    static func repeatedShare(_ text: String, piece: Int, times: Int) -> Double {
        let characters = Array(text)
        guard characters.count >= 80 else { return 0 }
        var counts: [String: Int] = [:]
        for index in 0...(characters.count - piece) { counts[String(characters[index..<index + piece]), default: 0] += 1 }
        let windows = characters.count - piece + 1
        return Double(counts.values.filter { $0 >= times }.reduce(0, +)) / Double(windows)
    }

    /// The text without its looping tail (one copy of the unit is kept), and whether anything was cut.
    ///
    /// Nothing useful is left when the loop starts in the first few characters; then the result is empty.
    public static func trimmed(_ text: String) -> (text: String, cut: Bool) {
        guard let loop = loop(in: text) else { return (text, false) }
        let characters = Array(text)
        let kept = String(characters[0..<min(characters.count, loop.prefixLength + loop.unit.count)])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (kept.count < 8 ? "" : kept, true)
    }

    /// Few distinct 4-character pieces for the text's length (a loop with small variations).
    static func lowVariety(_ text: String) -> Bool {
        let characters = Array(text)
        guard characters.count >= 80 else { return false }
        var pieces = Set<String>()
        for index in 0...(characters.count - 4) { pieces.insert(String(characters[index..<index + 4])) }
        return Double(pieces.count) / Double(characters.count - 3) < 0.25
    }
}

/// Watches streamed text and says when it has started looping, so a caller can stop the stream
/// (and stop paying for tokens) instead of showing the loop to the end of the token limit.
public struct RepetitionWatch: Sendable {
    public private(set) var text = ""
    private var checkedAt = 0

    public init() {}

    /// Adds a piece of streamed text; returns the loop once the text has fallen into one.
    ///
    /// Checks every 32 characters, so the cost stays linear in practice.
    public mutating func add(_ piece: String) -> Repetition.Loop? {
        text += piece
        guard text.count - checkedAt >= 32 else { return nil }
        checkedAt = text.count
        guard let loop = Repetition.loop(in: text), loop.repeats >= 4 else { return nil }
        return loop
    }
}
