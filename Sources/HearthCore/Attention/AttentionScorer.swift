import Foundation

/// Decides, with code and no model, how much attention each event deserves.
///
/// A pure state machine: `decide(_:now:)` reads one subject and the scorer's memory of recent
/// items (for duplicates, bursts, metric history and the interruption cap) and returns a decision
/// with every signal that moved it. Nothing here does I/O, so the daemon, the benchmark and the
/// tests run the same code; the daemon rebuilds the recent memory from stored decisions at start.
public struct AttentionScorer: Sendable {
    public var settings: AttentionSettings
    public var profile: AttentionProfile

    struct Recent: Sendable {
        var id: Int64
        var hash: SimHash
        var sender: String
        var at: Date
        var level: AttentionLevel
        var cluster: String
    }

    struct Burst: Sendable {
        var firstID: Int64
        var last: Date
        var count: Int
    }

    struct SeriesPoint: Sendable {
        var at: Date
        var value: Double
    }

    private var recent: [Recent] = []
    private var recentStart = 0
    private var bands: [UInt64: [Int]] = [:]
    private var bursts: [String: Burst] = [:]
    private var series: [String: [SeriesPoint]] = [:]
    private var interrupts: [Date] = []

    public init(settings: AttentionSettings = AttentionSettings(), profile: AttentionProfile = AttentionProfile()) {
        self.settings = settings
        self.profile = profile
    }

    // MARK: - Deciding

    /// The decision for one subject at `now` (the time it is routed), remembered for the next ones.
    public mutating func decide(_ subject: AttentionSubject, now: Date) -> AttentionDecision {
        var reasons: [AttentionReason] = []
        var score = base(subject, reasons: &reasons)
        var cluster = "\(subject.category.rawValue):\(subject.eventID)"
        switch subject.category {
        case .mail: score += mailSignals(subject, reasons: &reasons)
        case .file: score += fileSignals(subject, reasons: &reasons)
        case .commit: score += commitSignals(subject, reasons: &reasons)
        case .metric:
            score += metricSignals(subject, reasons: &reasons)
            cluster = "metric:\(subject.metricSeries ?? "")"
        case .webhook, .other: score += payloadSignals(subject, reasons: &reasons)
        case .schedule, .malformed: break
        }
        if subject.category != .metric && subject.category != .schedule {
            score += urgencySignals(subject, reasons: &reasons)
        }
        score += watchSignals(subject, reasons: &reasons)
        score += feedbackSignals(subject, reasons: &reasons)
        score = min(1, max(0, score))
        var level = level(for: score)
        var suppressedBy: String?
        var duplicateOf: Int64?

        // One incident is one item; a burst of saves is one item.
        if subject.category != .metric && subject.category != .schedule, let first = duplicate(of: subject, now: now),
            level <= first.level || first.level == .interrupt
        {
            duplicateOf = first.id
            cluster = first.cluster
            if level > .log {
                reasons.append(
                    AttentionReason(signal: "duplicate", weight: 0, detail: "repeats event \(first.id) (\(first.level.rawValue))"))
                suppressedBy = "duplicate"
            }
            level = .log
        } else if subject.category == .file, let burst = burst(subject, now: now) {
            // The first few files of a folder stand alone (two whitepapers dropped together are
            // two documents); beyond them the folder's changes are one burst.
            if burst.count > settings.burstAllowance {
                cluster = burst.cluster
                duplicateOf = burst.firstID
                if level > .log {
                    reasons.append(
                        AttentionReason(
                            signal: "burst", weight: 0, detail: "change \(burst.count) in \(burst.folder) within the burst window"))
                    suppressedBy = "burst"
                }
                level = .log
            }
        }
        if level == .interrupt && settings.isQuiet(now) && !reasons.contains(where: { settings.quietBreakers.contains($0.signal) }) {
            level = .digest
            suppressedBy = "quiet hours"
            reasons.append(AttentionReason(signal: "quiet", weight: 0, detail: "quiet hours: kept for the brief"))
        }
        if level == .interrupt {
            interrupts.removeAll { now.timeIntervalSince($0) >= 3600 }
            if interrupts.count >= settings.maxInterruptsPerHour {
                level = .digest
                suppressedBy = "interruption cap"
                reasons.append(
                    AttentionReason(
                        signal: "cap", weight: 0,
                        detail: "\(interrupts.count) interruptions in the last hour (cap \(settings.maxInterruptsPerHour))")
                )
            } else {
                interrupts.append(now)
            }
        }
        let decision = AttentionDecision(
            level: level, score: score, confidence: confidence(score), reasons: reasons, cluster: cluster, duplicateOf: duplicateOf,
            headline: Self.headline(subject, reasons: reasons), category: subject.category, suppressedBy: suppressedBy)
        remember(subject, decision: decision, now: now)
        return decision
    }

    func level(for score: Double) -> AttentionLevel {
        score >= settings.interruptAt ? .interrupt : score >= settings.digestAt ? .digest : .log
    }

    func confidence(_ score: Double) -> Double {
        let distance = min(abs(score - settings.interruptAt), abs(score - settings.digestAt))
        return ((0.5 + min(0.5, distance * 2)) * 1000).rounded() / 1000
    }

    // MARK: - Signals

    private func base(_ subject: AttentionSubject, reasons: inout [AttentionReason]) -> Double {
        let (weight, detail): (Double, String) =
            switch subject.category {
            case .mail: (0.3, "a mail")
            case .file:
                subject.kind == "file.created"
                    ? (0.35, "a new file") : subject.kind == "file.deleted" ? (0.15, "a file deleted") : (0.1, "a file changed")
            case .commit: (0.35, "a commit")
            case .metric: (0.1, "a metric row")
            case .webhook: (0.3, "a webhook")
            case .schedule: (0.05, "a schedule fired")
            case .malformed: (0.35, "input that could not be read")
            case .other: (0.3, "an event")
            }
        reasons.append(AttentionReason(signal: "base.\(subject.category.rawValue)", weight: weight, detail: detail))
        return weight
    }

    private func mailSignals(_ subject: AttentionSubject, reasons: inout [AttentionReason]) -> Double {
        var score = 0.0
        func add(_ signal: String, _ weight: Double, _ detail: String) {
            score += weight
            reasons.append(AttentionReason(signal: signal, weight: weight, detail: detail))
        }
        if let person = profile.person(address: subject.senderAddress, name: subject.senderName) {
            add("sender.role", person.weight, "from \(subject.senderName ?? person.key), your \(person.role)")
        } else if let address = subject.senderAddress, !Self.isMachineSender(address), let domain = Self.domain(address),
            profile.addresses.contains(where: { Self.domain($0) == domain })
        {
            add("sender.colleague", 0.05, "from your organisation (\(domain))")
        }
        if !profile.addresses.isEmpty {
            if subject.to.contains(where: profile.addresses.contains) {
                add("recipient.direct", 0.1, "sent to you directly")
            } else if subject.cc.contains(where: profile.addresses.contains) {
                add("recipient.copied", -0.1, "you are only copied")
            } else {
                add("recipient.indirect", -0.05, "not addressed to you (a list or a blind copy)")
            }
        }
        var bulk: [String] = []
        if subject.headers["list-id"] != nil { bulk.append("List-Id") }
        if let precedence = subject.headers["precedence"]?.lowercased(), ["bulk", "list", "junk"].contains(precedence) {
            bulk.append("Precedence: \(precedence)")
        }
        if subject.headers["list-unsubscribe"] != nil { bulk.append("List-Unsubscribe") }
        if !bulk.isEmpty { add("mail.bulk", -0.35, "bulk or list mail (\(bulk.joined(separator: ", ")))") }
        if let auto = subject.headers["auto-submitted"]?.lowercased(), auto != "no" {
            add("mail.automated", -0.25, "sent by a machine (Auto-Submitted: \(auto))")
        } else if let address = subject.senderAddress, Self.isMachineSender(address) {
            add("mail.automated", -0.25, "sent by a machine (\(address))")
        }
        let importance = (subject.headers["importance"] ?? "").lowercased()
        let priority = (subject.headers["priority"] ?? "").lowercased()
        let xPriority = subject.headers["x-priority"].flatMap { $0.first?.wholeNumberValue }
        if importance == "high" || priority == "urgent" || xPriority == 1 || xPriority == 2 {
            add("mail.priority", bulk.isEmpty ? 0.25 : 0.05, "marked high priority")
        } else if importance == "low" || priority == "non-urgent" || xPriority == 5 || xPriority == 4 {
            add("mail.priority", -0.1, "marked low priority")
        }
        return score
    }

    private func fileSignals(_ subject: AttentionSubject, reasons: inout [AttentionReason]) -> Double {
        guard let path = subject.path else { return 0 }
        if RoutineEngine.hearthWrittenPrefixes.contains(where: path.hasPrefix) {
            reasons.append(AttentionReason(signal: "file.own", weight: -0.3, detail: "written by Hearth (\(path))"))
            return -0.3
        }
        if let covered = settings.coveredPaths.first(where: { path == $0 || path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) {
            reasons.append(AttentionReason(signal: "file.covered", weight: -0.5, detail: "followed as its own source (\(covered))"))
            return -0.5
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if name.hasPrefix(".") || name.hasSuffix("~") || name.hasSuffix(".swp") || name.hasSuffix(".tmp") {
            reasons.append(AttentionReason(signal: "file.temporary", weight: -0.3, detail: "a temporary or hidden file"))
            return -0.3
        }
        return 0
    }

    private func commitSignals(_ subject: AttentionSubject, reasons: inout [AttentionReason]) -> Double {
        var score = 0.0
        if let lines = subject.changedLines, lines > settings.largeCommitLines {
            score += 0.1
            reasons.append(AttentionReason(signal: "commit.large", weight: 0.1, detail: "large: \(lines) lines changed"))
        }
        if subject.title.lowercased().hasPrefix("revert") {
            score += 0.1
            reasons.append(AttentionReason(signal: "commit.revert", weight: 0.1, detail: "a revert"))
        }
        if let person = profile.person(address: subject.senderAddress, name: subject.senderName) {
            score += 0.05
            reasons.append(AttentionReason(signal: "sender.role", weight: 0.05, detail: "by your \(person.role)"))
        }
        return score
    }

    private func payloadSignals(_ subject: AttentionSubject, reasons: inout [AttentionReason]) -> Double {
        let text = subject.body.lowercased()
        for (field, weight) in [("severity", 1.0), ("priority", 1.0), ("level", 0.8), ("status", 0.6)] {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("\(field): ") || $0.contains(".\(field): ") }) else {
                continue
            }
            let value = line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if ["critical", "fatal", "emergency", "p0", "p1", "sev1", "urgent", "down", "firing"].contains(value) {
                reasons.append(AttentionReason(signal: "payload.severity", weight: 0.4 * weight, detail: "\(field): \(value)"))
                return 0.4 * weight
            }
            if ["high", "error", "major", "p2", "sev2", "failed", "failure"].contains(value) {
                reasons.append(AttentionReason(signal: "payload.severity", weight: 0.2 * weight, detail: "\(field): \(value)"))
                return 0.2 * weight
            }
            if ["low", "info", "debug", "ok", "resolved", "success", "passed"].contains(value) {
                reasons.append(AttentionReason(signal: "payload.severity", weight: -0.15, detail: "\(field): \(value)"))
                return -0.15
            }
        }
        return 0
    }

    static let incidentWords = [
        "outage", "is down", "are down", "went down", "is offline", "sev1", "sev-1", "sev 1", "p0", "critical", "emergency",
        "security incident", "breach", "compromised", "data loss", "ransomware", "production down", "site down", "not responding",
    ]
    static let urgentWords = [
        "urgent", "asap", "as soon as possible", "immediately", "right away", "action required", "action needed", "time-sensitive",
        "time sensitive", "overdue", "final notice", "escalat", "blocker", "blocking", "please respond", "respond by", "reply by",
    ]
    /// A person asking the user for something: weighs only in mail from people, not machines or lists.
    static let requestWords = [
        "need your approval", "needs your approval", "your sign-off", "sign off on", "please approve", "can you", "could you",
        "please send",
        "please review", "need you to", "waiting on you", "waiting for you", "your decision", "need your input",
    ]
    static let deadlineWords = [
        "today", "tonight", "this morning", "this afternoon", "by noon", "by eod", "end of day", "end of the day", "within the hour",
        "in an hour", "within an hour", "next hour", "in 30 minutes", "before the meeting", "tomorrow morning", "first thing tomorrow",
        "by tonight", "in two hours", "in a few hours",
    ]

    private func urgencySignals(_ subject: AttentionSubject, reasons: inout [AttentionReason]) -> Double {
        let bulk = reasons.contains { $0.signal == "mail.bulk" }
        let automated = reasons.contains { $0.signal == "mail.automated" }
        // Marketing mail shouts "urgent" and "last chance": urgency in bulk mail counts little.
        let damp = bulk ? 0.3 : 1.0
        var score = 0.0
        let title = LowerText(" " + subject.title + " ")
        let body = LowerText(" " + subject.body.prefix(1_500) + " ")
        if let word = Self.incidentNeedles.first(where: { title.contains($0.bytes) }) {
            score += 0.4 * damp
            reasons.append(AttentionReason(signal: "urgency.incident", weight: 0.4 * damp, detail: "\"\(word.text)\" in the subject"))
        } else if let word = Self.incidentNeedles.first(where: { body.contains($0.bytes) }) {
            score += 0.15 * damp
            reasons.append(AttentionReason(signal: "urgency.incident", weight: 0.15 * damp, detail: "\"\(word.text)\" in the text"))
        }
        let urgent = settings.urgentWords.isEmpty ? Self.urgentNeedles : Self.urgentNeedles + settings.urgentWords.map(Needle.init)
        // A machine's "action required" is routine (renewals, verifications); a person's is not.
        let urgentWeight = (automated ? 0.1 : 0.25) * damp
        if let word = urgent.first(where: { title.contains($0.bytes) }) {
            score += urgentWeight
            reasons.append(AttentionReason(signal: "urgency.subject", weight: urgentWeight, detail: "\"\(word.text)\" in the subject"))
        } else if let word = urgent.first(where: { body.contains($0.bytes) }) {
            score += urgentWeight / 2
            reasons.append(AttentionReason(signal: "urgency.text", weight: urgentWeight / 2, detail: "\"\(word.text)\" in the text"))
        }
        if !bulk && !automated, let word = Self.requestNeedles.first(where: { title.contains($0.bytes) || body.contains($0.bytes) }) {
            score += 0.1
            reasons.append(AttentionReason(signal: "request", weight: 0.1, detail: "asks you for something (\"\(word.text)\")"))
        }
        if let word = Self.deadlineNeedles.first(where: { title.contains($0.bytes) || body.contains($0.bytes) })?.text
            ?? Self.clockDeadline(in: title.bytes) ?? Self.clockDeadline(in: body.bytes)
        {
            let weight = 0.15 * damp * (automated ? 0.5 : 1)
            score += weight
            reasons.append(AttentionReason(signal: "deadline.near", weight: weight, detail: "a deadline soon (\"\(word)\")"))
        }
        return score
    }

    /// A word list entry as text and as lower-cased UTF-8, searched with `memmem`.
    struct Needle: Sendable {
        var text: String
        var bytes: [UInt8]
        init(_ text: String) {
            self.text = text.lowercased()
            self.bytes = Array(self.text.utf8)
        }
    }

    static let incidentNeedles = incidentWords.map(Needle.init)
    static let urgentNeedles = urgentWords.map(Needle.init)
    static let requestNeedles = requestWords.map(Needle.init)
    static let deadlineNeedles = deadlineWords.map(Needle.init)

    /// "by 3pm", "by 15:00", "before 9 am": a deadline on the clock, which means today. A bare
    /// number ("by 2025") is not a time.
    static func clockDeadline(in text: [UInt8]) -> String? {
        func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
        for keyword in [Array("by ".utf8), Array("before ".utf8), Array("until ".utf8)] {
            var start = 0
            while let found = LowerText.find(keyword, in: text, from: start) {
                start = found + 1
                guard found == 0 || !(text[found - 1] >= 97 && text[found - 1] <= 122) else { continue }
                var index = found + keyword.count
                let digitsStart = index
                while index < text.count && isDigit(text[index]) && index - digitsStart < 2 { index += 1 }
                guard index > digitsStart else { continue }
                var isTime = false
                if index + 2 < text.count && text[index] == 58 && isDigit(text[index + 1]) && isDigit(text[index + 2]) {
                    index += 3
                    isTime = true
                }
                var suffix = index
                if suffix < text.count && text[suffix] == 32 { suffix += 1 }
                if suffix + 1 < text.count && (text[suffix] == 97 || text[suffix] == 112) && text[suffix + 1] == 109 {
                    index = suffix + 2
                    isTime = true
                }
                if isTime { return String(decoding: text[found..<index], as: UTF8.self) }
            }
        }
        return nil
    }

    private func watchSignals(_ subject: AttentionSubject, reasons: inout [AttentionReason]) -> Double {
        guard !profile.watches.isEmpty else { return 0 }
        let haystack = LowerText(
            [subject.senderName, subject.senderAddress, subject.title, subject.path, subject.repository, subject.metricSeries]
                .compactMap { $0 }.joined(separator: " ") + " " + subject.body.prefix(2_000))
        var score = 0.0
        for watch in profile.watches where watch.words.allSatisfy({ haystack.contains(Array($0.utf8)) }) {
            score += watch.weight
            reasons.append(
                AttentionReason(signal: watch.weight > 0 ? "watch" : "mute", weight: watch.weight, detail: "your rule: \(watch.rule)"))
        }
        return score
    }

    private func feedbackSignals(_ subject: AttentionSubject, reasons: inout [AttentionReason]) -> Double {
        var score = 0.0
        for key in [subject.senderAddress.map { "sender:\($0)" }, "kind:\(subject.kind)"].compactMap({ $0 }) {
            if let weight = profile.feedback[key] {
                score += weight
                reasons.append(
                    AttentionReason(signal: "feedback", weight: weight, detail: "you marked \(key) \(weight > 0 ? "urgent" : "not urgent")")
                )
            }
        }
        return score
    }

    // MARK: - Metrics

    private mutating func metricSignals(_ subject: AttentionSubject, reasons: inout [AttentionReason]) -> Double {
        guard let name = subject.metricSeries, let (column, value) = Self.mainValue(subject.numbers) else { return 0 }
        let key = "\(name)#\(column)"
        let history = series[key, default: []]
        series[key, default: []].append(SeriesPoint(at: subject.occurredAt, value: value))
        if series[key]!.count > 400 { series[key]!.removeFirst(series[key]!.count - 400) }
        var score = 0.0
        if let z = RobustStatistics.zScore(value, in: history.suffix(60).map(\.value)), abs(z) >= 3.5 {
            score += 0.4
            reasons.append(
                AttentionReason(
                    signal: "metric.anomaly", weight: 0.4,
                    detail: "\(column) \(AttentionSubject.number(value)) is \(String(format: "%.1f", z)) robust deviations from its median")
            )
        }
        guard let bound = bound(for: name) else { return score }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = settings.timeZone
        let cumulative = Self.isCumulative(column)
        var current = value
        var periodText = ""
        if let period = bound.period, !cumulative, let component = Self.component(period) {
            // Rows are amounts per row: the period so far is their sum.
            current = series[key]!.filter { calendar.isDate($0.at, equalTo: subject.occurredAt, toGranularity: component) }.map(\.value)
                .reduce(0, +)
            periodText = " this \(period)"
        } else if let period = bound.period {
            periodText = " this \(period)"
        }
        let limit = AttentionSubject.number(bound.limit)
        if current > bound.limit {
            score += 0.7
            reasons.append(
                AttentionReason(
                    signal: "metric.bound", weight: 0.7,
                    detail: "\(AttentionSubject.number(current))\(periodText) is over the bound of \(limit) (\(bound.statement))"))
        } else if bound.period == "month", let days = calendar.range(of: .day, in: .month, for: subject.occurredAt)?.count {
            let day = Double(calendar.component(.day, from: subject.occurredAt))
            let projected = current / day * Double(days)
            if projected > bound.limit && day >= 3 {
                score += 0.35
                reasons.append(
                    AttentionReason(
                        signal: "metric.projected", weight: 0.35,
                        detail:
                            "\(AttentionSubject.number(current)) so far this month; at this rate \(AttentionSubject.number(projected.rounded())), over the bound of \(limit)"
                    ))
            }
        }
        return score
    }

    func bound(for series: String) -> AttentionProfile.Bound? {
        if let exact = profile.bounds.first(where: { $0.series == series }) { return exact }
        let words = Set(series.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init))
        let generic: Set<String> = ["budget", "cost", "costs", "total", "spend", "csv", "jsonl", "monthly"]
        return profile.bounds.map { bound in (bound, bound.words.filter { words.contains($0) && !generic.contains($0) }.count) }
            .filter { $0.1 > 0 }.max { $0.1 < $1.1 }?.0
    }

    /// The column that carries the row's main figure: a cost, amount, total or value column, else
    /// the only number.
    static func mainValue(_ numbers: [String: Double]) -> (String, Double)? {
        let preferred = ["cost", "amount", "spend", "total", "value", "usd", "eur", "price", "count"]
        for word in preferred {
            if let match = numbers.filter({ $0.key.lowercased().contains(word) }).min(by: { $0.key < $1.key }) {
                return (match.key, match.value)
            }
        }
        return numbers.count == 1 ? numbers.first.map { ($0.key, $0.value) } : numbers.min { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    static func isCumulative(_ column: String) -> Bool {
        let lower = column.lowercased()
        return ["cumulative", "to_date", "to-date", "todate", "mtd", "ytd", "running"].contains { lower.contains($0) }
    }

    static func component(_ period: String) -> Calendar.Component? {
        switch period {
        case "month": .month
        case "week": .weekOfYear
        case "day": .day
        case "year": .year
        default: nil
        }
    }

    // MARK: - Memory of recent items

    private func duplicate(of subject: AttentionSubject, now: Date) -> Recent? {
        let hash = Self.hash(subject)
        guard hash.value != 0 else { return nil }
        let sender = subject.senderAddress ?? subject.path.map { "path:\($0)" } ?? subject.source
        var best: Recent?
        for band in hash.bands {
            for index in bands[band] ?? [] where index >= recentStart {
                let candidate = recent[index]
                guard candidate.sender == sender, now.timeIntervalSince(candidate.at) < settings.duplicateWindow.inSeconds,
                    candidate.hash.distance(to: hash) <= 3
                else { continue }
                if best == nil || candidate.id < best!.id { best = candidate }
            }
        }
        return best
    }

    private mutating func burst(_ subject: AttentionSubject, now: Date) -> (cluster: String, folder: String, firstID: Int64, count: Int)? {
        guard let path = subject.path else { return nil }
        let folder = path.split(separator: "/").dropLast().joined(separator: "/")
        let key = folder.isEmpty ? "." : folder
        if var burst = bursts[key], now.timeIntervalSince(burst.last) < settings.burstWindow.inSeconds {
            burst.count += 1
            burst.last = now
            bursts[key] = burst
            return ("burst:\(key):\(burst.firstID)", key.isEmpty ? "the workspace" : key, burst.firstID, burst.count)
        }
        bursts[key] = Burst(firstID: subject.eventID, last: now, count: 1)
        return ("burst:\(key):\(subject.eventID)", key, subject.eventID, 1)
    }

    static func hash(_ subject: AttentionSubject) -> SimHash {
        SimHash(AttentionSubject.threadTitle(subject.title) + " " + subject.body.prefix(400) + " " + (subject.path ?? ""))
    }

    private mutating func remember(_ subject: AttentionSubject, decision: AttentionDecision, now: Date) {
        let hash = Self.hash(subject)
        let item = Recent(
            id: subject.eventID, hash: hash, sender: subject.senderAddress ?? subject.path.map { "path:\($0)" } ?? subject.source, at: now,
            level: decision.level, cluster: decision.cluster)
        if decision.duplicateOf == nil && hash.value != 0 {
            for band in hash.bands { bands[band, default: []].append(recent.count) }
            recent.append(item)
        }
        // Expire what left the window, compacting now and then so memory stays bounded.
        let window = settings.duplicateWindow.inSeconds
        while recentStart < recent.count && now.timeIntervalSince(recent[recentStart].at) >= window { recentStart += 1 }
        if recentStart > 4_096 && recentStart * 2 > recent.count {
            recent.removeFirst(recentStart)
            recentStart = 0
            bands = [:]
            for (index, item) in recent.enumerated() { for band in item.hash.bands { bands[band, default: []].append(index) } }
        }
        if bursts.count > 10_000 { bursts = bursts.filter { now.timeIntervalSince($0.value.last) < settings.burstWindow.inSeconds } }
    }

    // MARK: - Headlines

    static func headline(_ subject: AttentionSubject, reasons: [AttentionReason]) -> String {
        func clip(_ text: String, _ limit: Int = 120) -> String {
            let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
            return line.count > limit ? String(line.prefix(limit - 1)) + "…" : line
        }
        switch subject.category {
        case .mail: return clip("\(subject.senderName ?? subject.senderAddress ?? "unknown sender"): \(subject.title)")
        case .file:
            let verb =
                switch subject.kind {
                case "file.created": "New file"
                case "file.deleted": "Deleted"
                case "file.moved": "Moved"
                default: "Changed"
                }
            return clip("\(verb): \(subject.path ?? "?")")
        case .commit:
            return clip(
                "\(subject.repository ?? "repository"): \(subject.author.map(AttentionSubject.displayName) ?? "?") — \(subject.title)")
        case .metric:
            let crossing = ["metric.bound", "metric.projected", "metric.anomaly"].lazy.compactMap { signal in
                reasons.first { $0.signal == signal }
            }.first
            return clip("\(subject.metricSeries ?? "metric"): \(crossing?.detail ?? subject.body)", 200)
        default: return clip(subject.title)
        }
    }

    static func domain(_ address: String) -> String? {
        address.split(separator: "@").last.map { String($0).lowercased() }
    }

    static func isMachineSender(_ address: String) -> Bool {
        let local = address.split(separator: "@").first.map { $0.lowercased() } ?? ""
        return [
            "noreply", "no-reply", "donotreply", "do-not-reply", "notifications", "notification", "mailer-daemon", "bounce", "alerts",
            "news",
            "newsletter", "marketing", "info", "updates", "digest", "builds", "ci",
        ].contains { local == $0 || local.hasPrefix($0 + "+") || local.hasPrefix($0 + "-") }
    }
}

/// Lower-cased UTF-8 of a text, searched byte-wise: the scorer's word lists run over every event,
/// and byte search is what keeps scoring at tens of thousands of events a second.
struct LowerText {
    let bytes: [UInt8]

    init(_ text: some StringProtocol) {
        // ASCII folds byte-wise; anything else goes through Unicode lower-casing.
        let utf8 = Array(text.utf8)
        bytes = utf8.allSatisfy { $0 < 128 } ? utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 } : Array(text.lowercased().utf8)
    }

    func contains(_ needle: [UInt8]) -> Bool { Self.find(needle, in: bytes, from: 0) != nil }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, start >= 0, haystack.count - start >= needle.count else { return nil }
        return haystack.withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { pin in
                let first = pin[0]
                let last = hay.count - pin.count
                var index = start
                while index <= last {
                    if hay[index] == first {
                        var matched = 1
                        while matched < pin.count && hay[index + matched] == pin[matched] { matched += 1 }
                        if matched == pin.count { return index }
                    }
                    index += 1
                }
                return nil
            }
        }
    }
}
