import Foundation
import HearthCore
import Testing

@Suite("Time named in a question", .timeLimit(.minutes(10)))
struct TimeMentionTests {
    /// Saturday 25 March 2023, 17:18 UTC.
    let now = Date(timeIntervalSince1970: 1_679_764_680)

    func day(_ text: String) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.date(from: text) ?? .distantPast
    }

    func only(_ text: String) -> TimeMention? {
        let found = TimeMention.find(in: text, now: now)
        return found.count == 1 ? found[0] : nil
    }

    @Test("relative days and weeks are read against when the question is asked")
    func agoAndYesterday() throws {
        let yesterday = try #require(only("What did I eat yesterday?"))
        #expect(yesterday.interval == DateInterval(start: day("2023-03-24"), end: day("2023-03-25")))
        #expect(yesterday.phrase == "yesterday")

        let twoWeeks = try #require(only("Where did I go two weeks ago?"))
        #expect(twoWeeks.phrase == "two weeks ago")
        #expect(twoWeeks.interval.contains(day("2023-03-11")))
        #expect(!twoWeeks.interval.contains(day("2023-03-01")))
        #expect(!twoWeeks.interval.contains(day("2023-03-20")))

        let couple = try #require(only("I bought it a couple of days ago"))
        #expect(couple.interval.contains(day("2023-03-23")))
        #expect(!couple.interval.contains(day("2023-03-10")))

        let months = try #require(only("I mentioned visiting a museum 2 months ago. With whom?"))
        #expect(months.interval.contains(day("2023-01-20")))
        #expect(!months.interval.contains(day("2022-11-01")))
        #expect(!months.interval.contains(day("2023-03-10")))
    }

    @Test("weekdays, weekends and calendar periods")
    func weekdaysAndPeriods() throws {
        // The latest Saturday before Saturday the 25th is the 18th.
        let saturday = try #require(only("What did I cook last Saturday?"))
        #expect(saturday.interval == DateInterval(start: day("2023-03-18"), end: day("2023-03-19")))
        let onTuesday = try #require(only("Who called me on Tuesday?"))
        #expect(onTuesday.interval == DateInterval(start: day("2023-03-21"), end: day("2023-03-22")))
        let weekend = try #require(only("the hike last weekend"))
        #expect(weekend.interval == DateInterval(start: day("2023-03-18"), end: day("2023-03-20")))

        // Weeks start on Monday: last week is 13–19 March, a day either side.
        let lastWeek = try #require(only("What did I read last week?"))
        #expect(lastWeek.interval == DateInterval(start: day("2023-03-12"), end: day("2023-03-21")))
        let lastMonth = try #require(only("my spending last month"))
        #expect(lastMonth.interval.contains(day("2023-02-14")))
        #expect(!lastMonth.interval.contains(day("2023-03-10")))
        let past = try #require(only("the trips I took in the past three weeks"))
        #expect(past.interval.start == day("2023-03-04"))
        #expect(past.interval.contains(now))
        let thisYear = try #require(only("books I read this year"))
        #expect(thisYear.interval.start == day("2023-01-01"))
    }

    @Test("months and dates: the latest one begun, and 'since' runs to today")
    func monthsAndDates() throws {
        let march = try #require(only("How many doctor's appointments did I go to in March?"))
        #expect(march.interval == DateInterval(start: day("2023-03-01"), end: day("2023-04-01")))
        // June has not come yet this year: the June meant is last year's.
        let june = try #require(only("the concert during June"))
        #expect(june.interval.start == day("2022-06-01"))
        let since = try #require(only("everything since February"))
        #expect(since.interval.start == day("2023-02-01"))
        #expect(since.interval.contains(now))
        let dated = try #require(only("What happened on March 3rd?"))
        #expect(dated.interval.contains(day("2023-03-03")))
        #expect(!dated.interval.contains(day("2023-03-10")))
        let european = try #require(only("the 14th of February 2022"))
        #expect(european.interval.contains(day("2022-02-14")))
        let iso = try #require(only("the log of 2023/01/09"))
        #expect(iso.interval == DateInterval(start: day("2023-01-09"), end: day("2023-01-10")))
    }

    @Test("words that only look like time are not time")
    func notTime() {
        for text in [
            "How many days had passed between the Sunday mass at St. Mary's Church and the Ash Wednesday service?",
            "I may go to the gym", "What should I serve for dinner this weekend?", "When did I last visit a museum?",
            "a week in Rome", "the last time I saw her", "How long have I been collecting vintage cameras?", "March of the penguins",
        ] {
            #expect(TimeMention.find(in: text, now: now).isEmpty, "\(text)")
        }
    }
}
