import Foundation

/// What the scorer knows about the user: their addresses, the people who matter to them and how,
/// what they asked to hear about at once (or never), budgets, and their feedback on past items.
///
/// Built from active facts and rules in memory (`from(facts:…)`) plus `[attention]` settings, so
/// "Ann Lee is my manager" or "tell me at once about anything from legal" change scoring without
/// a model reading anything.
public struct AttentionProfile: Sendable, Hashable {
    public struct Person: Sendable, Hashable {
        /// Lower-cased name or address as the user wrote it.
        public var key: String
        public var role: String
        public var weight: Double
    }

    /// Terms the user asked to hear about at once (`weight` > 0) or never to be interrupted for (< 0).
    public struct Watch: Sendable, Hashable {
        /// Lower-cased content words; all must occur in the item.
        public var words: [String]
        public var weight: Double
        public var rule: String
    }

    public struct Bound: Sendable, Hashable {
        /// Lower-cased words naming the series ("nextgen cloud").
        public var words: [String]
        public var limit: Double
        /// "month", "week", "day", "year", or nil for a plain ceiling.
        public var period: String?
        public var statement: String
        /// The exact series (file) it bounds, when configured as such; else matched by words.
        public var series: String? = nil
    }

    /// The user's own addresses, lower-cased (mail to them is direct).
    public var addresses: Set<String>
    public var people: [Person]
    public var watches: [Watch]
    public var bounds: [Bound]
    /// Score adjustments from `hearth inbox feedback`, by `sender:ADDRESS` or `kind:KIND`.
    public var feedback: [String: Double]

    public init(
        addresses: Set<String> = [], people: [Person] = [], watches: [Watch] = [], bounds: [Bound] = [], feedback: [String: Double] = [:]
    ) {
        self.addresses = Set(addresses.map { $0.lowercased() })
        self.people = people
        self.watches = watches
        self.bounds = bounds
        self.feedback = feedback
    }

    /// Roles that outrank a colleague: their mail is read first.
    static let seniorRoles = ["manager", "boss", "ceo", "cto", "cfo", "director", "lead", "head", "supervisor", "founder", "vp"]

    /// The profile from memory's active facts and the configured addresses and VIPs.
    public static func from(facts: [Fact], addresses: [String] = [], vips: [String] = []) -> AttentionProfile {
        var profile = AttentionProfile(addresses: Set(addresses))
        for vip in vips where !vip.isEmpty {
            profile.people.append(Person(key: vip.lowercased(), role: "VIP", weight: 0.3))
        }
        for fact in facts where fact.status == .active && fact.invalidatedAt == nil {
            let predicate = fact.predicate.lowercased()
            if fact.subject.lowercased() == "user", ["email is", "e-mail is", "email address is", "mail address is"].contains(predicate) {
                profile.addresses.insert(fact.object.lowercased())
            } else if fact.kind == .fact && fact.subject.lowercased() == "user"
                && (predicate.hasSuffix(" is") || predicate.hasSuffix(" are"))
            {
                let role = String(predicate.dropLast(predicate.hasSuffix(" is") ? 3 : 4))
                let senior = seniorRoles.contains { role.split(separator: " ").contains(Substring($0)) }
                profile.people.append(Person(key: fact.object.lowercased(), role: role, weight: senior ? 0.25 : 0.15))
            } else if fact.kind == .fact && predicate == "budget is", let bound = Self.bound(subject: fact.subject, amount: fact.object) {
                profile.bounds.append(bound)
            } else if fact.kind == .rule, let watch = Self.watch(fromRule: fact.object) {
                profile.watches.append(watch)
            } else if predicate == "feedback" {
                profile.feedback[fact.subject.lowercased()] = fact.object == "urgent" ? 0.3 : -0.3
            }
        }
        return profile
    }

    /// "tell me at once about anything from legal" → watch "legal" (+); "don't bother me with
    /// newsletters" → watch "newsletters" (−); nil for rules about something else.
    public static func watch(fromRule rule: String) -> Watch? {
        let lower = rule.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: " .!"))
        let negative = [
            "don't bother me", "do not bother me", "don't interrupt me", "do not interrupt me", "never interrupt me", "never alert me",
        ]
        let positive = ["tell me", "alert me", "interrupt me", "notify me", "ping me", "let me know", "wake me"]
        let isNegative = negative.contains { lower.contains($0) }
        guard isNegative || positive.contains(where: { lower.contains($0) }) else { return nil }
        var rest = lower
        for marker in [" about ", " with ", " for ", " when ", " if ", " on ", " from "] {
            if let range = rest.range(of: marker) {
                rest = String(rest[range.upperBound...])
                break
            }
        }
        let filler: Set<String> = [
            "anything", "everything", "any", "all", "mail", "mails", "email", "emails", "message", "messages", "from", "about", "the", "a",
            "an", "at", "once", "immediately", "right", "away", "asap", "me", "with", "for", "of", "to", "is", "are", "that", "which",
            "something", "things", "new", "again", "please", "urgently",
        ]
        let words = rest.split { !$0.isLetter && !$0.isNumber && $0 != "@" && $0 != "." && $0 != "-" }.map(String.init)
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ".-")) }.filter { $0.count >= 2 && !filler.contains($0) }
        guard !words.isEmpty else { return nil }
        return Watch(words: Array(words.prefix(4)), weight: isNegative ? -0.3 : 0.5, rule: rule)
    }

    /// "NextGen cloud" + "5,000 a month" → a monthly bound of 5000 on series named like it.
    public static func bound(subject: String, amount: String) -> Bound? {
        let lower = amount.lowercased()
        var digits = ""
        var seenDigit = false
        var multiplier = 1.0
        for (index, character) in lower.enumerated() {
            if character.isNumber || (character == "." && seenDigit) {
                digits.append(character)
                seenDigit = true
            } else if character == "," && seenDigit {
                continue
            } else if seenDigit {
                let rest = lower.dropFirst(index)
                if rest.hasPrefix("k") { multiplier = 1_000 } else if rest.hasPrefix("m ") || rest == "m" { multiplier = 1_000_000 }
                break
            }
        }
        guard let value = Double(digits), value > 0 else { return nil }
        let period = ["month", "week", "day", "year"].first {
            lower.contains("a \($0)") || lower.contains("per \($0)") || lower.contains("\($0)ly")
        }
        let words = subject.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init).filter { $0.count >= 2 && $0 != "the" }
        guard !words.isEmpty else { return nil }
        return Bound(words: words, limit: value * multiplier, period: period, statement: "\(subject) budget is \(amount)")
    }

    /// The person `address`/`name` is to the user, if any.
    func person(address: String?, name: String?) -> Person? {
        let address = address?.lowercased()
        let name = name?.lowercased()
        return people.first { person in
            if let address, person.key == address { return true }
            if let name, !name.isEmpty, person.key == name { return true }
            // "Ann" matches "Ann Lee" only as a whole first word.
            if let name, person.key.split(separator: " ").count >= 2, name.hasPrefix(person.key) { return true }
            return false
        }
    }
}

/// The `[attention]` section: thresholds, limits, quiet hours. Defaults are what the benchmark's
/// working weeks were measured with.
public struct AttentionSettings: Sendable, Hashable {
    /// At or above: interrupt.
    public var interruptAt: Double = 0.75
    /// At or above (and below `interruptAt`): the digest.
    public var digestAt: Double = 0.3
    /// More interruptions than this within an hour go to the digest instead.
    public var maxInterruptsPerHour = 3
    /// Quiet hours as minutes after local midnight, e.g. 22:00–07:00; nil for none.
    public var quietStart: Int? = nil
    public var quietEnd: Int? = nil
    /// During quiet hours only items with one of these signals still interrupt: an incident, a
    /// rule of yours, a bound crossed.
    public var quietBreakers: Set<String> = ["urgency.incident", "watch", "metric.bound"]
    public var timeZone: TimeZone = .current
    /// How long a duplicate keeps being folded into its first item.
    public var duplicateWindow: Duration = .seconds(24 * 3600)
    /// File changes in one folder within this window are one burst…
    public var burstWindow: Duration = .seconds(600)
    /// …after this many, which stand alone.
    public var burstAllowance = 3
    /// Urgency words beyond the built-in list.
    public var urgentWords: [String] = []
    /// Workspace paths another source follows (git repositories, metric files): their file
    /// changes are logged, not shown — the commits and rows are the news.
    public var coveredPaths: [String] = []
    /// A commit touching more lines than this is marked large.
    public var largeCommitLines = 500

    public init() {}

    func isQuiet(_ date: Date) -> Bool {
        guard let quietStart, let quietEnd, quietStart != quietEnd else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        return quietStart < quietEnd ? (quietStart..<quietEnd).contains(minute) : (minute >= quietStart || minute < quietEnd)
    }
}
