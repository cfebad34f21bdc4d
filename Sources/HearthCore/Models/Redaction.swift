import Foundation

/// Private data replaced by stable placeholders before text leaves for a model on another host,
/// and put back in what comes back: people's names the profile knows, e-mail addresses, phone
/// numbers, IBANs, card numbers (Luhn-checked), workspace paths and configured terms.
///
/// The same value always gets the same placeholder (`[EMAIL_2]`), in every request of a process,
/// so a conversation stays coherent and a prompt's stable prefix stays cacheable. Only counts are
/// reported, never values.
public struct Redaction: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case person, email, phone, iban, card, path, term
    }

    /// Literal values to hide, longest first (paths and terms before the names inside them).
    let literals: [(value: String, kind: Kind)]
    private var placeholderOf: [String: String] = [:]
    private var valueOf: [String: String] = [:]
    private var next: [Kind: Int] = [:]

    /// - Parameters:
    ///   - names: people's names (from the profile's facts).
    ///   - terms: configured terms (`[inference] redact_terms`).
    ///   - paths: absolute paths whose mention would say where and who the user is (the workspace, home).
    public init(names: [String] = [], terms: [String] = [], paths: [String] = []) {
        var literals: [(String, Kind)] = []
        for path in paths where path.count > 1 { literals.append((path, .path)) }
        for term in terms where term.count > 1 { literals.append((term, .term)) }
        for name in names where name.count > 1 { literals.append((name, .person)) }
        self.literals = literals.sorted { $0.0.count > $1.0.count }
    }

    static let email = try! NSRegularExpression(pattern: #"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#)
    static let iban = try! NSRegularExpression(pattern: #"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"#)
    static let card = try! NSRegularExpression(pattern: #"\b\d(?:[ -]?\d){12,18}\b"#)
    static let phone = try! NSRegularExpression(pattern: #"(?<![\w])\+?\d[\d ()./-]{6,18}\d(?![\w])"#)

    /// `text` with every private value replaced; `counts` says how many of each kind.
    public mutating func redact(_ text: String, counts: inout [Kind: Int]) -> String {
        var result = text
        for (value, kind) in literals {
            var searchRange = result.startIndex..<result.endIndex
            while let found = result.range(of: value, options: [.caseInsensitive], range: searchRange) {
                // Names and terms only as whole words.
                if kind != .path, !Self.isWordBoundary(result, found) {
                    searchRange = found.upperBound..<result.endIndex
                    continue
                }
                let placeholder = self.placeholder(for: String(result[found]), kind: kind)
                result.replaceSubrange(found, with: placeholder)
                counts[kind, default: 0] += 1
                searchRange = result.index(found.lowerBound, offsetBy: placeholder.count)..<result.endIndex
            }
        }
        result = replace(Self.email, in: result, kind: .email, counts: &counts)
        result = replace(Self.iban, in: result, kind: .iban, counts: &counts) { $0.filter { !$0.isWhitespace }.count >= 15 }
        result = replace(Self.card, in: result, kind: .card, counts: &counts) { Self.luhn($0) }
        result = replace(Self.phone, in: result, kind: .phone, counts: &counts) { match in
            let digits = match.filter(\.isNumber).count
            // A date, a time span or a plain amount is not a phone number.
            let date = match.wholeMatch(of: /\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[-\/]\d{1,2}[-\/]\d{2,4}/) != nil
            return digits >= 8 && digits <= 15 && !date && match.contains(where: { " +-()".contains($0) }) && !match.contains(".")
        }
        return result
    }

    /// `text` with every placeholder this redaction made put back.
    public func restore(_ text: String) -> String {
        guard text.contains("[") else { return text }
        var result = text
        for (placeholder, value) in valueOf where result.contains(placeholder) {
            result = result.replacingOccurrences(of: placeholder, with: value)
        }
        return result
    }

    /// Whether `text` ends inside what may be a placeholder (a stream holds that part back).
    public static func endsInsidePlaceholder(_ text: String) -> Bool {
        guard let open = text.lastIndex(of: "[") else { return false }
        let tail = text[open...]
        return !tail.contains("]") && tail.count <= 16
    }

    mutating func placeholder(for value: String, kind: Kind) -> String {
        let key = kind == .person || kind == .term ? value.lowercased() : value
        if let known = placeholderOf[key] { return known }
        let number = next[kind, default: 0] + 1
        next[kind] = number
        let placeholder = "[\(kind.rawValue.uppercased())_\(number)]"
        placeholderOf[key] = placeholder
        valueOf[placeholder] = value
        return placeholder
    }

    mutating func replace(
        _ pattern: NSRegularExpression, in text: String, kind: Kind, counts: inout [Kind: Int], accept: (String) -> Bool = { _ in true }
    ) -> String {
        var result = text
        let matches = pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).reversed()
        for match in matches {
            guard let range = Range(match.range, in: result) else { continue }
            let value = String(result[range])
            guard !value.hasPrefix("["), accept(value) else { continue }
            result.replaceSubrange(range, with: placeholder(for: value, kind: kind))
            counts[kind, default: 0] += 1
        }
        return result
    }

    static func isWordBoundary(_ text: String, _ range: Range<String.Index>) -> Bool {
        let before = range.lowerBound > text.startIndex ? text[text.index(before: range.lowerBound)] : " "
        let after = range.upperBound < text.endIndex ? text[range.upperBound] : " "
        return !before.isLetter && !before.isNumber && !after.isLetter && !after.isNumber
    }

    /// The Luhn check every payment card number passes.
    static func luhn(_ text: String) -> Bool {
        let digits = text.compactMap(\.wholeNumberValue)
        guard (13...19).contains(digits.count) else { return false }
        var sum = 0
        for (index, digit) in digits.reversed().enumerated() {
            if index % 2 == 1 {
                let doubled = digit * 2
                sum += doubled > 9 ? doubled - 9 : doubled
            } else {
                sum += digit
            }
        }
        return sum % 10 == 0
    }
}
