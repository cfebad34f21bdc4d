import Foundation

/// A span of time a question names relative to when it is asked: "two weeks ago", "last
/// Saturday", "in March", "the past month".
///
/// Retrieval uses it to lift what happened then: "what did I buy last Saturday?" should find the
/// Saturday's purchase before a purchase from a year ago that shares every word. Words that only
/// look like time ("the Sunday mass", "I may go") are not read as time: a weekday needs "on",
/// "last" or "this past" before it, and a month needs a preposition or a day or year beside it.
///
///     TimeMention.find(in: "what did I cook two weeks ago?", now: date)
///     // [TimeMention(phrase: "two weeks ago", interval: <12 to 16 days before `date`>)]
public struct TimeMention: Sendable, Hashable {
    /// The words that named the time, as written in lower case.
    public var phrase: String
    /// Start inclusive, end exclusive.
    public var interval: DateInterval

    public init(phrase: String, interval: DateInterval) {
        self.phrase = phrase
        self.interval = interval
    }

    /// Every span of time `text` names, in the order written; none when it names no time.
    public static func find(in text: String, now: Date, calendar: Calendar = .utcGregorian) -> [TimeMention] {
        var reader = Reader(words: words(text), now: now, calendar: calendar)
        return reader.mentions()
    }

    /// Lower-case words and numbers; "2023/05/04" and "2023-05-04" stay one word.
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for character in text.lowercased() {
            if character.isLetter || character.isNumber || ((character == "/" || character == "-") && current.first?.isNumber == true) {
                current.append(character)
            } else if character == "'" || character == "’" {
                continue
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}

extension Calendar {
    /// Gregorian in UTC: what the benchmarks' dates are written in.
    public static let utcGregorian: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        calendar.firstWeekday = 2
        return calendar
    }()

    /// Gregorian in the machine's time zone, weeks from Monday: what "last week" means to the user.
    public static var localGregorian: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        calendar.firstWeekday = 2
        return calendar
    }
}

/// Reads time phrases off a list of words, left to right.
private struct Reader {
    let words: [String]
    let now: Date
    let calendar: Calendar
    var position = 0

    init(words: [String], now: Date, calendar: Calendar) {
        self.words = words
        self.now = now
        self.calendar = calendar
    }

    static let numbers: [String: Int] = [
        "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
        "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "few": 3, "several": 3, "couple": 2,
    ]
    static let units: [String: Calendar.Component] = [
        "day": .day, "days": .day, "week": .weekOfYear, "weeks": .weekOfYear, "month": .month, "months": .month, "year": .year,
        "years": .year,
    ]
    /// Days in a day, week, month or year (a mean month and year).
    static func days(in unit: Calendar.Component) -> Double {
        switch unit {
        case .day: 1
        case .weekOfYear: 7
        case .month: 30.44
        default: 365.25
        }
    }

    static let weekdays = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    static let months = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
    ]
    static let monthAbbreviations = ["jan": 1, "feb": 2, "sept": 9, "oct": 10, "nov": 11, "dec": 12]
    /// Words after which a month name is a month ("in May", not "I may").
    static let monthLeads: Set<String> = [
        "in", "during", "since", "early", "late", "mid", "of", "throughout", "until", "till", "before", "after", "by", "from", "last",
        "this", "past",
    ]

    func word(_ offset: Int) -> String? {
        let index = position + offset
        return words.indices.contains(index) ? words[index] : nil
    }

    var day: TimeInterval { 86_400 }

    var today: Date { calendar.startOfDay(for: now) }

    func days(_ count: Double, from date: Date) -> Date { date.addingTimeInterval(count * day) }

    func mention(_ length: Int, _ start: Date, _ end: Date) -> TimeMention {
        let phrase = words[position..<min(words.count, position + length)].joined(separator: " ")
        return TimeMention(phrase: phrase, interval: DateInterval(start: min(start, end), end: max(start, end)))
    }

    mutating func mentions() -> [TimeMention] {
        var found: [TimeMention] = []
        while position < words.count {
            if let (mention, length) = read() {
                found.append(mention)
                position += length
            } else {
                position += 1
            }
        }
        return found
    }

    /// A phrase starting at `position`, with the number of words it took.
    func read() -> (TimeMention, Int)? {
        guard let first = word(0) else { return nil }
        switch first {
        case "yesterday":
            return (mention(1, days(-1, from: today), today), 1)
        case "today", "tonight":
            return (mention(1, today, days(1, from: today)), 1)
        case "last", "past", "previous", "this":
            return lastOrThis()
        case "the" where word(1) == "past" || word(1) == "last":
            // "the past two weeks", "the last month"
            return span(from: 2)
        case "on":
            if let weekday = word(1).flatMap({ Self.weekdays.firstIndex(of: $0) }) {
                return (weekdayMention(weekday, length: 2), 2)
            }
            return dayOfMonth(from: 1).map { ($0.0, $0.1 + 1) }
        default:
            if let ago = ago() { return ago }
            if let date = isoDate(first) { return (mention(1, date, days(1, from: date)), 1) }
            if Self.monthLeads.contains(first) { return dayOfMonth(from: 1).map { ($0.0, $0.1 + 1) } ?? month(from: 1, lead: first) }
            return dayOfMonth(from: 0)
        }
    }

    /// "two weeks ago", "a couple of days ago", "3 months ago": the point then, give or take a
    /// third of the distance (at least half a unit; a day for days).
    func ago() -> (TimeMention, Int)? {
        var index = 0
        if word(0) == "a" && (word(1) == "couple" || word(1) == "few") { index = 1 }
        guard let count = word(index).flatMap({ Int($0) ?? Self.numbers[$0] }), count > 0, count < 200 else { return nil }
        index += 1
        if word(index) == "of" { index += 1 }
        guard let unit = word(index).flatMap({ Self.units[$0] }), word(index + 1) == "ago" else { return nil }
        let unitDays = Self.days(in: unit)
        let distance = Double(count) * unitDays
        let slack = unit == .day ? max(1, distance / 3) : max(unitDays / 2, distance / 3)
        let centre = days(-distance, from: today)
        return (mention(index + 2, days(-slack, from: centre), days(slack + 1, from: centre)), index + 2)
    }

    /// "last week", "last Saturday", "last weekend", "past month", "this year", "last March",
    /// "the past three days".
    func lastOrThis() -> (TimeMention, Int)? {
        guard let lead = word(0) else { return nil }
        let offset = lead == "this" && word(1) == "past" ? 2 : 1
        let sinceNow = lead == "past" || offset == 2
        guard let next = word(offset) else { return nil }
        if lead == "this" && offset == 1 {
            // "this morning" is today; "this Saturday", "this weekend" are ahead, not remembered.
            if ["morning", "afternoon", "evening"].contains(next) { return (mention(2, today, days(1, from: today)), 2) }
            if next == "weekend" || Self.weekdays.contains(next) { return nil }
        }
        if let weekday = Self.weekdays.firstIndex(of: next) {
            return (weekdayMention(weekday, length: offset + 1), offset + 1)
        }
        if next == "weekend" {
            // The latest Saturday before today, and its Sunday.
            let saturday = latest(weekday: 6)
            return (mention(offset + 1, saturday, days(2, from: saturday)), offset + 1)
        }
        if next == "night" && lead == "last" {
            return (mention(2, days(-1, from: today), days(1, from: today)), 2)
        }
        if let number = month(named: next), !sinceNow {
            return month(number, year: nil, length: offset + 1, lead: lead)
        }
        if let unit = Self.units[next], ["week", "month", "year"].contains(next), !sinceNow {
            if lead == "this" {
                let start = calendar.dateInterval(of: unit, for: now)?.start ?? today
                return (mention(2, start, days(1, from: today)), 2)
            }
            // The calendar period before this one, a day either side.
            guard let current = calendar.dateInterval(of: unit, for: now),
                let previous = calendar.dateInterval(of: unit, for: current.start.addingTimeInterval(-day / 2))
            else { return nil }
            return (mention(2, days(-1, from: previous.start), days(1, from: previous.end)), 2)
        }
        // "past two weeks", "last three days", "this past month": a span ending today.
        guard lead != "this" || sinceNow else { return nil }
        return span(from: offset)
    }

    /// "two weeks", "month", "few days" after "the past"/"the last": the span ending now.
    func span(from offset: Int) -> (TimeMention, Int)? {
        var index = offset
        var count = 1
        if word(index) == "few" || word(index) == "couple" {
            count = Self.numbers[word(index) ?? ""] ?? 1
            index += 1
            if word(index) == "of" { index += 1 }
        } else if let number = word(index).flatMap({ Int($0) ?? Self.numbers[$0] }) {
            count = number
            index += 1
        }
        guard count > 0, count < 200, let unit = word(index).flatMap({ Self.units[$0] }) else { return nil }
        let unitDays = Self.days(in: unit)
        let start = days(-(Double(count) * unitDays).rounded(.up), from: today)
        return (mention(index + 1, start, days(1, from: today)), index + 1)
    }

    /// The latest day before today that is `weekday` (0 Sunday … 6 Saturday).
    func latest(weekday: Int) -> Date {
        let todayIndex = calendar.component(.weekday, from: now) - 1
        var back = (todayIndex - weekday + 7) % 7
        if back == 0 { back = 7 }
        return days(-Double(back), from: today)
    }

    func weekdayMention(_ weekday: Int, length: Int) -> TimeMention {
        let date = latest(weekday: weekday)
        return mention(length, date, days(1, from: date))
    }

    func month(named word: String) -> Int? {
        if let index = Self.months.firstIndex(of: word) { return index + 1 }
        return Self.monthAbbreviations[word]
    }

    /// "in March", "since May 2023", "during June": the month (the latest one begun by now when
    /// no year is given); "since" runs to today.
    func month(from offset: Int, lead: String) -> (TimeMention, Int)? {
        guard let name = word(offset), let number = month(named: name) else { return nil }
        if let year = word(offset + 1).flatMap({ Int($0) }), (1900...2200).contains(year) {
            return month(number, year: year, length: offset + 2, lead: lead)
        }
        return month(number, year: nil, length: offset + 1, lead: lead)
    }

    func month(_ number: Int, year: Int?, length: Int, lead: String) -> (TimeMention, Int)? {
        let thisYear = calendar.component(.year, from: now)
        var chosen = year ?? thisYear
        if year == nil {
            let thisMonth = calendar.component(.month, from: now)
            // "last March" in March is a year ago; "in March" in March is this one.
            if number > thisMonth || (lead == "last" && number == thisMonth) { chosen -= 1 }
        }
        guard let start = calendar.date(from: DateComponents(year: chosen, month: number, day: 1)),
            let end = calendar.date(byAdding: .month, value: 1, to: start)
        else { return nil }
        if lead == "since" || lead == "after" || lead == "from" {
            return (mention(length, start, max(end, days(1, from: today))), length)
        }
        if lead == "before" || lead == "until" || lead == "till" || lead == "by" { return nil }
        return (mention(length, start, end), length)
    }

    /// "May 5", "May 5th, 2023", "5 May", "the 5th of May": that day, a day either side.
    func dayOfMonth(from offset: Int) -> (TimeMention, Int)? {
        var index = offset
        if word(index) == "the" { index += 1 }
        var monthNumber: Int?
        var dayNumber: Int?
        if let name = word(index), let number = month(named: name), let dayWord = word(index + 1), let value = Self.ordinal(dayWord) {
            monthNumber = number
            dayNumber = value
            index += 2
        } else if let dayWord = word(index), let value = Self.ordinal(dayWord) {
            var next = index + 1
            if word(next) == "of" { next += 1 }
            if let name = word(next), let number = month(named: name) {
                monthNumber = number
                dayNumber = value
                index = next + 1
            }
        }
        guard let monthNumber, let dayNumber else { return nil }
        var year: Int?
        if let value = word(index).flatMap({ Int($0) }), (1900...2200).contains(value) {
            year = value
            index += 1
        }
        let thisYear = calendar.component(.year, from: now)
        guard var date = calendar.date(from: DateComponents(year: year ?? thisYear, month: monthNumber, day: dayNumber)) else {
            return nil
        }
        if year == nil && date > now, let earlier = calendar.date(byAdding: .year, value: -1, to: date) { date = earlier }
        return (mention(index, days(-1, from: date), days(2, from: date)), index)
    }

    /// "5", "5th", "21st", "22nd", "23rd" → a day of the month.
    static func ordinal(_ word: String) -> Int? {
        var digits = word
        for suffix in ["st", "nd", "rd", "th"] where digits.hasSuffix(suffix) {
            digits.removeLast(2)
            break
        }
        guard let value = Int(digits), (1...31).contains(value) else { return nil }
        return value
    }

    /// "2023/05/04", "2023-05-04".
    func isoDate(_ word: String) -> Date? {
        let parts = word.split(whereSeparator: { $0 == "/" || $0 == "-" }).compactMap { Int($0) }
        guard parts.count == 3, (1900...2200).contains(parts[0]), (1...12).contains(parts[1]), (1...31).contains(parts[2]) else {
            return nil
        }
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))
    }
}
