import Foundation

/// How much the agent may do on its own.
public enum AutonomyLevel: String, Sendable, Hashable, Codable, CaseIterable {
    /// Read only; every effect is refused.
    case observe
    /// Read; every effect waits for approval.
    case suggest
    /// Read and change the workspace; anything beyond waits for approval.
    case ask
    /// Read, change the workspace and run programs (all confined); anything that leaves the
    /// machine, spends or destroys waits for approval.
    case actWithinSandbox
}

/// What the policy says about one call.
public enum PolicyVerdict: String, Sendable, Hashable, Codable {
    case allow, ask, deny
}

/// A rule from the config: `<verdict> <tool glob> [argument=glob …]`, e.g.
/// `deny send_email to=*@competitor.com` or `allow write_file path=Reports/**`.
public struct PolicyRule: Sendable, Hashable, Codable, CustomStringConvertible {
    public var verdict: PolicyVerdict
    public var tool: String
    /// Argument name → glob its string value must match (all must match).
    public var arguments: [String: String]

    public init(verdict: PolicyVerdict, tool: String, arguments: [String: String] = [:]) {
        self.verdict = verdict
        self.tool = tool
        self.arguments = arguments
    }

    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case invalid(rule: String, reason: String)
        public var description: String {
            switch self {
            case .invalid(let rule, let reason):
                "policy rule \"\(rule)\": \(reason); write it as \"allow|ask|deny TOOL [argument=glob …]\", e.g. \"deny send_email to=*@example.com\""
            }
        }
    }

    public static func parse(_ text: String) throws(ParseError) -> PolicyRule {
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard words.count >= 2 else { throw .invalid(rule: text, reason: "it needs a verdict and a tool") }
        guard let verdict = PolicyVerdict(rawValue: words[0]) else {
            throw .invalid(rule: text, reason: "\"\(words[0])\" is not allow, ask or deny")
        }
        var arguments: [String: String] = [:]
        for word in words.dropFirst(2) {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw .invalid(rule: text, reason: "\"\(word)\" is not argument=glob")
            }
            arguments[parts[0]] = parts[1]
        }
        return PolicyRule(verdict: verdict, tool: words[1], arguments: arguments)
    }

    public var description: String {
        ([verdict.rawValue, tool] + arguments.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
    }

    func matches(tool name: String, arguments values: JSONValue) -> Bool {
        guard PolicyGlob.matches(name, tool) else { return false }
        return arguments.allSatisfy { key, glob in
            guard let value = values[key] else { return false }
            let text = value.stringValue ?? value.jsonText
            return PolicyGlob.matches(text, glob)
        }
    }
}

/// Where an argument's value came from.
public enum ArgumentOrigin: String, Sendable, Hashable, Codable {
    /// The user's goal, the plan, or the agent's own reasoning over trusted input.
    case trusted
    /// Text that appeared in untrusted content (a file, a mail, a web page, a tool's output).
    case untrusted
}

/// The decision and why, as traced and shown to the user.
public struct PolicyDecision: Sendable, Hashable, Codable {
    public var verdict: PolicyVerdict
    public var reason: String
    /// The config rule that decided, if one did.
    public var rule: String?
    /// Arguments whose values came from untrusted content.
    public var untrustedArguments: [String]

    public init(verdict: PolicyVerdict, reason: String, rule: String? = nil, untrustedArguments: [String] = []) {
        self.verdict = verdict
        self.reason = reason
        self.rule = rule
        self.untrustedArguments = untrustedArguments
    }
}

/// Decides, without the model, whether a call runs, waits for a human, or is refused: from the
/// tool's declared risk, the autonomy level, the config's rules and the provenance of the
/// arguments.
///
/// Order: a matching `deny` rule refuses; an untrusted value reaching a tool that leaves the
/// machine, spends, destroys or talks to the network must be approved, whatever else says;
/// then the first matching rule; then the autonomy level's default for the risk.
public struct PolicyEngine: Sendable, Hashable {
    public var autonomy: AutonomyLevel
    public var rules: [PolicyRule]

    public init(autonomy: AutonomyLevel = .ask, rules: [PolicyRule] = []) {
        self.autonomy = autonomy
        self.rules = rules
    }

    /// Risks where a value an attacker could have written must never act without a human.
    public static let provenanceSensitive: Set<ToolRisk> = [.sendExternal, .spend, .destructive, .network]

    public func decide(tool: String, risk: ToolRisk, arguments: JSONValue, origins: [String: ArgumentOrigin]) -> PolicyDecision {
        let untrusted = origins.filter { $0.value == .untrusted }.map(\.key).sorted()
        if let rule = rules.first(where: { $0.verdict == .deny && $0.matches(tool: tool, arguments: arguments) }) {
            return PolicyDecision(
                verdict: .deny, reason: "refused by the rule \"\(rule)\"", rule: rule.description, untrustedArguments: untrusted)
        }
        let rule = rules.first { $0.matches(tool: tool, arguments: arguments) }
        let base = rule?.verdict ?? Self.defaultVerdict(autonomy: autonomy, risk: risk)
        let why =
            rule.map { "the rule \"\($0)\"" }
            ?? "autonomy \(autonomy.rawValue) \(base == .allow ? "allows" : base == .ask ? "asks for" : "refuses") \(risk.rawValue)"
        if base != .deny && Self.provenanceSensitive.contains(risk) && !untrusted.isEmpty {
            return PolicyDecision(
                verdict: .ask,
                reason: "\(untrusted.joined(separator: ", ")) came from untrusted content and would reach a \(risk.rawValue) tool",
                untrustedArguments: untrusted)
        }
        return PolicyDecision(verdict: base, reason: why, rule: rule?.description, untrustedArguments: untrusted)
    }

    public static func defaultVerdict(autonomy: AutonomyLevel, risk: ToolRisk) -> PolicyVerdict {
        if risk == .read { return .allow }
        switch autonomy {
        case .observe: return .deny
        case .suggest: return .ask
        case .ask: return risk == .writeWorkspace ? .allow : .ask
        case .actWithinSandbox: return [.writeWorkspace, .execute].contains(risk) ? .allow : .ask
        }
    }
}

/// Which argument values came from untrusted content: a value (or an address, link or long
/// token in it) that appears in text the agent read from an untrusted source and not in the
/// user's own words (the goal and the plan's instructions).
///
/// Conservative by design: a value of 6 or more characters found verbatim in untrusted text is
/// untrusted unless the user wrote it; a shorter one counts when it appears there as a whole word,
/// even if the user's words hold it too (an id "12" and "12:00" coincide; "26" is not even in
/// "May 26th"). Once
/// the agent has read untrusted content, a single token the user never wrote (an id, a name, an
/// address, a number) is untrusted too, wherever it came from: a hijacked model invents
/// "the id of the mail you just sent" without copying it from anywhere.
public enum ProvenanceTracker {
    public static func origins(of arguments: JSONValue, untrustedTexts: [String], trustedTexts: [String] = []) -> [String: ArgumentOrigin] {
        guard case .object(let members) = arguments else { return [:] }
        let haystack = untrustedTexts.joined(separator: "\n").lowercased()
        let trusted = trustedTexts.joined(separator: "\n").lowercased()
        var origins: [String: ArgumentOrigin] = [:]
        for (key, value) in members {
            origins[key] = isUntrusted(value, in: haystack, trusted: trusted) ? .untrusted : .trusted
        }
        return origins
    }

    static func isUntrusted(_ value: JSONValue, in haystack: String, trusted: String) -> Bool {
        switch value {
        case .string(let text):
            let needle = text.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
            guard !needle.isEmpty, !haystack.isEmpty else { return false }
            if needle.count < 6 {
                // Short values coincide easily ("12" in "12:00", an id in a listing): one the
                // untrusted text holds is untrusted even when the user's words hold it too.
                if containsWord(needle, in: haystack) { return true }
                if containsWord(needle, in: trusted) { return false }
            } else {
                if trusted.contains(needle) { return false }
                if haystack.contains(needle) { return true }
            }
            // A single token the user never wrote, chosen after reading untrusted content.
            if needle.count <= 64 && !needle.contains(where: \.isWhitespace) { return true }
            // Pieces: addresses, links and long words copied out of the content.
            let pieces = needle.split(whereSeparator: { $0.isWhitespace || $0 == "," || $0 == ";" || $0 == "<" || $0 == ">" })
            return pieces.contains { piece in
                (piece.contains("@") || piece.contains("://") || piece.contains("www.") || piece.count >= 12) && haystack.contains(piece)
                    && !trusted.contains(piece)
            }
        case .array(let values): return values.contains { isUntrusted($0, in: haystack, trusted: trusted) }
        case .object(let members): return members.values.contains { isUntrusted($0, in: haystack, trusted: trusted) }
        case .number(let number):
            let text = number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            return isUntrusted(.string(text), in: haystack, trusted: trusted)
        case .bool, .null: return false
        }
    }

    /// `word` as a whole word (letters and digits around it do not continue it).
    static func containsWord(_ word: String, in text: String) -> Bool {
        var searchRange = text.startIndex..<text.endIndex
        while let found = text.range(of: word, range: searchRange) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            let isBoundary: (Character?) -> Bool = { $0.map { !$0.isLetter && !$0.isNumber } ?? true }
            if isBoundary(before) && isBoundary(after) { return true }
            searchRange = found.upperBound..<text.endIndex
        }
        return false
    }
}

/// `*` matches any run of characters (including `/`), `?` one character; case-insensitive.
enum PolicyGlob {
    static func matches(_ text: String, _ glob: String) -> Bool {
        let t = Array(text.lowercased())
        let p = Array(glob.lowercased())
        var ti = 0
        var pi = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                ti += 1
                pi += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
