import Foundation

/// A cron schedule: five fields (`minute hour day-of-month month day-of-week`) or a macro.
///
/// Supports `*`, lists (`1,15`), ranges (`9-17`), steps (`*/5`, `10-50/20`, `5/15`), month and
/// weekday names (`jan`, `mon-fri`), `7` as Sunday, and the macros `@hourly`, `@daily`
/// (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`). As in Vixie cron, when both
/// day fields are restricted a day matches if *either* does.
///
/// ```swift
/// let weekdays = try CronExpression("30 8 * * mon-fri")
/// weekdays.nextFire(after: now, in: TimeZone(identifier: "Europe/Paris")!)
/// ```
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The text as the user wrote it.
    public let source: String
    let minutes: UInt64
    let hours: UInt32
    let daysOfMonth: UInt32
    let months: UInt16
    let daysOfWeek: UInt8
    let dayOfMonthIsWildcard: Bool
    let dayOfWeekIsWildcard: Bool

    public var description: String { source }

    /// Parses an expression.
    ///
    /// - Throws: `CronError` naming the field and the problem.
    public init(_ text: String) throws(CronError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        source = trimmed
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            switch trimmed.lowercased() {
            case "@hourly": expanded = "0 * * * *"
            case "@daily", "@midnight": expanded = "0 0 * * *"
            case "@weekly": expanded = "0 0 * * 0"
            case "@monthly": expanded = "0 0 1 * *"
            case "@yearly", "@annually": expanded = "0 0 1 1 *"
            default:
                throw CronError(
                    expression: trimmed,
                    problem: "unknown macro \(trimmed); use @hourly, @daily, @weekly, @monthly or @yearly")
            }
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw CronError(
                expression: trimmed,
                problem: "expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        let minuteField = try Self.parseField(fields[0], name: "minute", range: 0...59, names: [:], expression: trimmed)
        let hourField = try Self.parseField(fields[1], name: "hour", range: 0...23, names: [:], expression: trimmed)
        let domField = try Self.parseField(fields[2], name: "day-of-month", range: 1...31, names: [:], expression: trimmed)
        let monthField = try Self.parseField(
            fields[3], name: "month", range: 1...12, names: Self.monthNames, expression: trimmed)
        var dowField = try Self.parseField(
            fields[4], name: "day-of-week", range: 0...7, names: Self.weekdayNames, expression: trimmed)
        if dowField.bits & (1 << 7) != 0 { dowField.bits = (dowField.bits | 1) & ~(1 << 7) }  // 7 is Sunday

        minutes = minuteField.bits
        hours = UInt32(hourField.bits)
        daysOfMonth = UInt32(domField.bits)
        months = UInt16(monthField.bits)
        daysOfWeek = UInt8(dowField.bits)
        dayOfMonthIsWildcard = domField.isWildcard
        dayOfWeekIsWildcard = dowField.isWildcard
        guard nextFire(after: Date(timeIntervalSince1970: 0), in: TimeZone(identifier: "UTC")!) != nil else {
            throw CronError(expression: trimmed, problem: "it never matches a real date (e.g. 30 February)")
        }
    }

    /// The first instant strictly after `date` at which the schedule fires, in `timeZone`'s wall clock.
    ///
    /// Daylight-saving rules: a wall-clock time skipped by a spring-forward jump fires right after
    /// the jump (as cronie does); a time repeated by a fall-back jump fires once, unless the hour
    /// field is `*`, in which case the repeated hour is a real hour like any other.
    ///
    /// - Returns: `nil` only if nothing matches within eight years (impossible for a validated
    ///   expression).
    public func nextFire(after date: Date, in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // Work from the next whole minute (time-zone offsets are whole minutes).
        let seconds = date.timeIntervalSince1970
        let firstDate = Date(timeIntervalSince1970: (seconds / 60).rounded(.down) * 60 + 60)
        let wall = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: firstDate)
        guard let year = wall.year, let month = wall.month, let day = wall.day, let hour = wall.hour
        else { return nil }

        var civil = CivilDay(year: year, month: month, day: day)
        let hourIsWildcard = hours == (1 << 24) - 1
        for dayOffset in 0..<(366 * 8) {
            if dayOffset > 0 { civil = civil.next() }
            guard matchesDay(civil) else { continue }
            for candidateHour in 0..<24 where hours & (1 << UInt32(candidateHour)) != 0 {
                // One hour of slack on the first day: a time skipped by a spring-forward jump
                // still fires just after it.
                if dayOffset == 0 && candidateHour < hour - 1 { continue }
                for candidateMinute in 0..<60 where minutes & (1 << UInt64(candidateMinute)) != 0 {
                    let components = DateComponents(
                        year: civil.year, month: civil.month, day: civil.day, hour: candidateHour, minute: candidateMinute)
                    guard let instant = calendar.date(from: components) else { continue }
                    if instant > date { return instant }
                    // The repeated hour after a fall-back jump: the same wall time, one offset later.
                    if hourIsWildcard {
                        let shift = timeZone.daylightSavingTimeOffset(for: instant)
                        if shift > 0 {
                            let second = instant.addingTimeInterval(shift)
                            let again = calendar.dateComponents([.hour, .minute], from: second)
                            if second > date && again.hour == candidateHour && again.minute == candidateMinute {
                                return second
                            }
                        }
                    }
                }
            }
        }
        return nil
    }

    /// How many scheduled instants fall in `(from, through]`, counting at most `limit`.
    public func fireCount(after from: Date, through: Date, in timeZone: TimeZone, limit: Int = 10_000) -> Int {
        var count = 0
        var cursor = from
        while count < limit, let next = nextFire(after: cursor, in: timeZone), next <= through {
            count += 1
            cursor = next
        }
        return count
    }

    private func matchesDay(_ day: CivilDay) -> Bool {
        guard months & (1 << UInt16(day.month)) != 0 else { return false }
        let domMatch = daysOfMonth & (1 << UInt32(day.day)) != 0
        let dowMatch = daysOfWeek & (1 << UInt8(day.weekday)) != 0
        switch (dayOfMonthIsWildcard, dayOfWeekIsWildcard) {
        case (true, true): return true
        case (true, false): return dowMatch
        case (false, true): return domMatch
        case (false, false): return domMatch || dowMatch
        }
    }

    private struct Field {
        var bits: UInt64
        var isWildcard: Bool
    }

    private static let monthNames: [String: Int] = [
        "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
        "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
    ]
    private static let weekdayNames: [String: Int] = [
        "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
    ]

    private static func parseField(
        _ text: String, name: String, range: ClosedRange<Int>, names: [String: Int], expression: String
    ) throws(CronError) -> Field {
        func fail(_ problem: String) -> CronError {
            CronError(expression: expression, problem: "\(name) field \"\(text)\": \(problem)")
        }
        func value(_ token: Substring) throws(CronError) -> Int {
            if let number = Int(token) {
                guard range.contains(number) else {
                    throw fail("\(number) is outside \(range.lowerBound)-\(range.upperBound)")
                }
                return number
            }
            if let named = names[token.lowercased()] { return named }
            throw fail("\"\(token)\" is not a number\(names.isEmpty ? "" : " or a name")")
        }
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw fail("empty list item") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw fail("more than one '/'") }
            var step = 1
            if parts.count == 2 {
                guard let parsed = Int(parts[1]), parsed > 0 else { throw fail("step \"\(parts[1])\" must be a positive number") }
                step = parsed
            }
            let base = parts[0]
            let lower: Int
            let upper: Int
            if base == "*" {
                lower = range.lowerBound
                upper = range.upperBound
            } else if let dash = base.firstIndex(of: "-") {
                lower = try value(base[..<dash])
                upper = try value(base[base.index(after: dash)...])
                guard lower <= upper else { throw fail("range \(lower)-\(upper) runs backwards") }
            } else {
                lower = try value(base)
                upper = parts.count == 2 ? range.upperBound : lower
            }
            for bit in stride(from: lower, through: upper, by: step) { bits |= 1 << UInt64(bit) }
        }
        // Vixie cron treats any field starting with '*' as unrestricted for the day-of-month/day-of-week rule.
        return Field(bits: bits, isWildcard: text.hasPrefix("*"))
    }
}

/// Why a cron expression was refused.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    public let expression: String
    public let problem: String
    public var description: String { "invalid cron expression \"\(expression)\": \(problem)" }
}

/// A calendar day without a time zone, stepped with plain arithmetic (no Calendar calls).
struct CivilDay: Equatable {
    var year: Int
    var month: Int
    var day: Int

    /// 0 = Sunday … 6 = Saturday (Sakamoto's method).
    var weekday: Int {
        let offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let y = month < 3 ? year - 1 : year
        return (y + y / 4 - y / 100 + y / 400 + offsets[month - 1] + day) % 7
    }

    func next() -> CivilDay {
        if day < Self.daysIn(month: month, year: year) { return CivilDay(year: year, month: month, day: day + 1) }
        if month < 12 { return CivilDay(year: year, month: month + 1, day: 1) }
        return CivilDay(year: year + 1, month: 1, day: 1)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
