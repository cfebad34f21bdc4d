import Foundation

/// A standing rule a user set by dismissing a finding: lines that contain a term are not to be
/// flagged (against one article, or any). Stored in the profile as a sentence a person can read
/// and code can apply; the next review applies it, never a model.
public struct ComplianceExemption: Sendable, Hashable {
    /// The text a line must contain (compared without case).
    public var term: String
    /// Nil: the rule holds whatever the article.
    public var article: Int?
    public var reason: String

    public init(term: String, article: Int?, reason: String) {
        self.term = Self.clean(term)
        self.article = article
        self.reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The subject of the profile's rule.
    public static let subject = "compliance review"

    /// The rule for dismissing a finding on `claim` (a spec line) against `article`: a term the
    /// reason quotes ("our internal `svc-` names are not personal data") that the line contains
    /// covers every line with it, whatever the article; without one, only this line's text under
    /// this article is covered.
    public static func dismissing(claim: String, article: Int, reason: String) -> ComplianceExemption {
        let lowered = claim.lowercased()
        for match in reason.matches(of: /[`"“'‘]([^`"”'’]{2,80})[`"”'’]/) {
            let term = clean(String(match.1))
            if !term.isEmpty && lowered.contains(term.lowercased()) {
                return ComplianceExemption(term: term, article: nil, reason: reason)
            }
        }
        return ComplianceExemption(term: claim, article: article, reason: reason)
    }

    /// The rule as the profile shows it: `do not flag lines containing "svc-" (any article): …`.
    public var sentence: String {
        "do not flag lines containing \"\(term)\" " + (article.map { "under Article \($0)" } ?? "(any article)") + ": \(reason)"
    }

    /// Reads a rule back from its sentence; nil for any other text.
    public static func parse(_ sentence: String) -> ComplianceExemption? {
        guard let match = sentence.wholeMatch(of: /do not flag lines containing "(.+)" (?:under Article (\d+)|\(any article\)): (.*)/)
        else { return nil }
        return ComplianceExemption(term: String(match.1), article: match.2.flatMap { Int($0) }, reason: String(match.3))
    }

    /// Whether the rule covers a finding on `claim` against `article`.
    public func covers(claim: String, article: Int) -> Bool {
        guard !term.isEmpty, self.article == nil || self.article == article else { return false }
        return Self.clean(claim).lowercased().contains(term.lowercased())
    }

    /// One line, straight quotes turned single, trimmed: a term that reads back as written.
    static func clean(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ").replacingOccurrences(of: "\"", with: "'")
            .trimmingCharacters(in: .whitespaces)
    }
}
