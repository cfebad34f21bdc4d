import Foundation

/// A measured amount in a text — "90 days", "a 128-bit key", "12 characters", "72 hours" — in a
/// base unit of its dimension, so "2 weeks" and "14 days" compare.
public struct Quantity: Sendable, Hashable, CustomStringConvertible {
    public enum Dimension: String, Sendable, Hashable, Codable {
        /// In hours.
        case duration
        case bits
        case characters
    }

    public var value: Double
    public var dimension: Dimension
    /// As written ("90 days").
    public var text: String

    public var description: String { text }

    /// Unit words and their dimension and factor to the base unit.
    public static let units: [String: (Dimension, Double)] = [
        "minute": (.duration, 1.0 / 60), "minutes": (.duration, 1.0 / 60), "min": (.duration, 1.0 / 60), "mins": (.duration, 1.0 / 60),
        "hour": (.duration, 1), "hours": (.duration, 1), "hr": (.duration, 1), "hrs": (.duration, 1), "h": (.duration, 1),
        "day": (.duration, 24), "days": (.duration, 24), "week": (.duration, 24 * 7), "weeks": (.duration, 24 * 7),
        "month": (.duration, 24 * 30.44), "months": (.duration, 24 * 30.44), "year": (.duration, 24 * 365.25),
        "years": (.duration, 24 * 365.25), "bit": (.bits, 1), "bits": (.bits, 1), "character": (.characters, 1),
        "characters": (.characters, 1), "chars": (.characters, 1),
    ]

    static let numberWords: [String: Double] = [
        "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
        "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty-five": 45, "sixty": 60, "ninety": 90,
    ]

    /// Every quantity in `text`, in order: a number (digits or a word) followed by a unit, also
    /// when joined by a hyphen ("128-bit").
    public static func all(in text: String) -> [Quantity] {
        let tokens = tokenize(text)
        var found: [Quantity] = []
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            // "128-bit", "30-day"
            if let hyphen = token.firstIndex(of: "-"), let number = Double(token[..<hyphen]),
                let unit = units[String(token[token.index(after: hyphen)...])]
            {
                found.append(Quantity(value: number * unit.1, dimension: unit.0, text: token))
                index += 1
                continue
            }
            if let number = Double(token.replacingOccurrences(of: ",", with: "")) ?? numberWords[token], index + 1 < tokens.count,
                let unit = units[tokens[index + 1]]
            {
                found.append(Quantity(value: number * unit.1, dimension: unit.0, text: "\(token) \(tokens[index + 1])"))
                index += 2
                continue
            }
            index += 1
        }
        return found
    }

    static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        for character in text.lowercased() {
            if character.isLetter || character.isNumber || character == "-" || (character == "." && current.last?.isNumber == true)
                || (character == "," && current.last?.isNumber == true)
            {
                current.append(character)
            } else if !current.isEmpty {
                tokens.append(current.trimmingCharacters(in: CharacterSet(charactersIn: ".,-")))
                current = ""
            }
        }
        if !current.isEmpty { tokens.append(current.trimmingCharacters(in: CharacterSet(charactersIn: ".,-"))) }
        return tokens.filter { !$0.isEmpty }
    }
}

/// A measurable requirement read from a regulation's sentence: what it limits, which way, and
/// where it stands.
///
///     Limit.read("Access rights shall be reviewed at least every 90 days.")
///     // Limit(bound: .atMost, quantity: 90 days)  — an interval: at least every N = at most N apart
public struct Limit: Sendable, Hashable {
    public enum Bound: String, Sendable, Hashable, Codable {
        case atMost = "at most"
        case atLeast = "at least"
    }

    public var bound: Bound
    public var quantity: Quantity

    /// The limit a binding sentence sets ("shall", "must", "is required to"), or nil when it
    /// sets none this code can check.
    public static func read(_ sentence: String) -> Limit? {
        guard isBinding(sentence) else { return nil }
        let lower = " " + sentence.lowercased().replacingOccurrences(of: "\n", with: " ") + " "
        let quantities = Quantity.all(in: sentence)
        guard quantities.count == 1, let quantity = quantities.first else { return nil }
        guard let numberRange = lower.range(of: quantity.text.lowercased()) else { return nil }
        // The words just before the amount decide its direction.
        let before = String(lower[..<numberRange.lowerBound].suffix(60))
        let atMost = [
            "longer than", "more than", "exceed", "exceeding", "later than", "within", "up to", "maximum of", "at most",
            "after no more than",
            "at least every", "at least once every", "every",
        ]
        let atLeast = [
            "at least", "no less than", "not less than", "no fewer than", "not fewer than", "minimum of", "minimum length of", "a minimum",
        ]
        func last(_ phrases: [String]) -> String.Index? {
            phrases.compactMap { before.range(of: $0, options: .backwards)?.upperBound }.max()
        }
        let most = last(atMost)
        let least = last(atLeast)
        switch (most, least) {
        case (let most?, let least?): return Limit(bound: most >= least ? .atMost : .atLeast, quantity: quantity)
        case (.some, nil): return Limit(bound: .atMost, quantity: quantity)
        case (nil, .some): return Limit(bound: .atLeast, quantity: quantity)
        case (nil, nil):
            // "keys of 256 bits or more", "for 12 months or longer"
            let after = String(lower[numberRange.upperBound...].prefix(20))
            if after.contains("or more") || after.contains("or longer") || after.contains("or higher") {
                return Limit(bound: .atLeast, quantity: quantity)
            }
            if after.contains("or less") || after.contains("or fewer") || after.contains("or shorter") {
                return Limit(bound: .atMost, quantity: quantity)
            }
            return nil
        }
    }

    /// Whether a sentence obliges ("shall", "must", "is required to"), as opposed to "may" or "should".
    public static func isBinding(_ sentence: String) -> Bool {
        let lower = " " + sentence.lowercased().replacingOccurrences(of: "\n", with: " ") + " "
        return [" shall ", " must ", " is required to ", " are required to "].contains(where: lower.contains)
    }

    /// Whether `claim` breaks this limit; nil when they measure different things.
    public func isBroken(by claim: Quantity) -> Bool? {
        guard claim.dimension == quantity.dimension else { return nil }
        // A hair of tolerance for unit conversions (1 month = 30.44 days).
        let tolerance = max(abs(quantity.value), 1) * 1e-3
        switch bound {
        case .atMost: return claim.value > quantity.value + tolerance
        case .atLeast: return claim.value < quantity.value - tolerance
        }
    }
}
