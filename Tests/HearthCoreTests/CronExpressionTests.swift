import Foundation
import HearthCore
import Testing

@Suite("Cron expressions", .timeLimit(.minutes(10)))
struct CronExpressionTests {
    let utc = TimeZone(identifier: "UTC")!
    let newYork = TimeZone(identifier: "America/New_York")!

    func date(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    func iso(_ date: Date?) -> String? {
        guard let date else { return nil }
        return ISO8601DateFormatter().string(from: date)
    }

    @Test("every five minutes fires on the next multiple of five")
    func stepMinutes() throws {
        let cron = try CronExpression("*/5 * * * *")
        #expect(iso(cron.nextFire(after: date("2026-01-10T10:02:30Z"), in: utc)) == "2026-01-10T10:05:00Z")
        #expect(iso(cron.nextFire(after: date("2026-01-10T10:05:00Z"), in: utc)) == "2026-01-10T10:10:00Z")
        #expect(iso(cron.nextFire(after: date("2026-01-10T23:58:00Z"), in: utc)) == "2026-01-11T00:00:00Z")
    }

    @Test("macros expand to their five-field forms")
    func macros() throws {
        let start = date("2026-03-04T13:20:00Z")  // a Wednesday
        #expect(iso(try CronExpression("@hourly").nextFire(after: start, in: utc)) == "2026-03-04T14:00:00Z")
        #expect(iso(try CronExpression("@daily").nextFire(after: start, in: utc)) == "2026-03-05T00:00:00Z")
        #expect(iso(try CronExpression("@weekly").nextFire(after: start, in: utc)) == "2026-03-08T00:00:00Z")
        #expect(iso(try CronExpression("@monthly").nextFire(after: start, in: utc)) == "2026-04-01T00:00:00Z")
        #expect(iso(try CronExpression("@yearly").nextFire(after: start, in: utc)) == "2027-01-01T00:00:00Z")
    }

    @Test("names, ranges, lists and Sunday as 7")
    func namesAndRanges() throws {
        let weekdays = try CronExpression("30 8 * * mon-fri")
        // Friday 2026-03-06 09:00 → next is Monday 08:30.
        #expect(iso(weekdays.nextFire(after: date("2026-03-06T09:00:00Z"), in: utc)) == "2026-03-09T08:30:00Z")
        let sunday = try CronExpression("0 12 * * 7")
        #expect(iso(sunday.nextFire(after: date("2026-03-04T00:00:00Z"), in: utc)) == "2026-03-08T12:00:00Z")
        let quarterly = try CronExpression("0 0 1 jan,apr,jul,oct *")
        #expect(iso(quarterly.nextFire(after: date("2026-02-15T00:00:00Z"), in: utc)) == "2026-04-01T00:00:00Z")
        let offsetStep = try CronExpression("5/20 * * * *")
        #expect(iso(offsetStep.nextFire(after: date("2026-01-01T00:06:00Z"), in: utc)) == "2026-01-01T00:25:00Z")
    }

    @Test("restricted day-of-month and day-of-week match when either does (Vixie rule)")
    func dayOrRule() throws {
        let cron = try CronExpression("0 0 13 * fri")
        // From 2026-03-01: Friday 6 March comes before the 13th.
        #expect(iso(cron.nextFire(after: date("2026-03-01T00:00:00Z"), in: utc)) == "2026-03-06T00:00:00Z")
        let leap = try CronExpression("0 0 29 2 *")
        #expect(iso(leap.nextFire(after: date("2026-03-01T00:00:00Z"), in: utc)) == "2028-02-29T00:00:00Z")
    }

    @Test("the wall clock of the schedule's own time zone decides")
    func timeZones() throws {
        let cron = try CronExpression("0 9 * * *")
        let paris = TimeZone(identifier: "Europe/Paris")!
        #expect(iso(cron.nextFire(after: date("2026-01-10T00:00:00Z"), in: paris)) == "2026-01-10T08:00:00Z")
        #expect(iso(cron.nextFire(after: date("2026-07-10T00:00:00Z"), in: paris)) == "2026-07-10T07:00:00Z")
    }

    @Test("a time skipped by spring-forward fires right after the jump, once")
    func springForward() throws {
        let cron = try CronExpression("30 2 * * *")
        // 2026-03-08 02:00 EST → 03:00 EDT in New York; 02:30 does not exist that day.
        let fire = cron.nextFire(after: date("2026-03-08T05:00:00Z"), in: newYork)
        #expect(iso(fire) == "2026-03-08T07:30:00Z")  // 03:30 EDT
        #expect(iso(cron.nextFire(after: fire!, in: newYork)) == "2026-03-09T06:30:00Z")  // 02:30 EDT next day
        let halfHourly = try CronExpression("*/30 * * * *")
        var fires: [String] = []
        var cursor = date("2026-03-08T06:00:00Z")  // 01:00 EST
        for _ in 0..<4 {
            cursor = halfHourly.nextFire(after: cursor, in: newYork)!
            fires.append(iso(cursor)!)
        }
        #expect(fires == ["2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z", "2026-03-08T08:00:00Z"])
    }

    @Test("a fixed time repeated by fall-back fires once; an hourly-wildcard one fires in both hours")
    func fallBack() throws {
        // 2026-11-01 02:00 EDT → 01:00 EST: 01:xx happens twice (05:xx and 06:xx UTC).
        let fixed = try CronExpression("30 1 * * *")
        let first = fixed.nextFire(after: date("2026-11-01T04:00:00Z"), in: newYork)!
        #expect(iso(first) == "2026-11-01T05:30:00Z")
        #expect(iso(fixed.nextFire(after: first, in: newYork)) == "2026-11-02T06:30:00Z")

        let wildcard = try CronExpression("30 * * * *")
        let a = wildcard.nextFire(after: date("2026-11-01T05:00:00Z"), in: newYork)!
        let b = wildcard.nextFire(after: a, in: newYork)!
        let c = wildcard.nextFire(after: b, in: newYork)!
        #expect([iso(a), iso(b), iso(c)] == ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:30:00Z"])
    }

    @Test("counts missed instants for catch-up reports")
    func missedCount() throws {
        let cron = try CronExpression("@hourly")
        let count = cron.fireCount(after: date("2026-01-01T00:00:00Z"), through: date("2026-01-01T10:00:00Z"), in: utc)
        #expect(count == 10)
        #expect(cron.fireCount(after: date("2026-01-01T00:00:00Z"), through: date("2027-01-01T00:00:00Z"), in: utc, limit: 50) == 50)
    }

    @Test(
        "bad expressions are refused with the field and the problem",
        arguments: [
            ("* * * *", "expected 5 fields"),
            ("61 * * * *", "minute field \"61\": 61 is outside 0-59"),
            ("* 5-2 * * *", "hour field \"5-2\": range 5-2 runs backwards"),
            ("* * * foo *", "month field \"foo\": \"foo\" is not a number or a name"),
            ("*/0 * * * *", "step \"0\" must be a positive number"),
            ("0 0 30 2 *", "never matches a real date"),
            ("@reboot", "unknown macro @reboot"),
            ("1,,2 * * * *", "empty list item"),
        ])
    func refusesBadInput(expression: String, expected: String) {
        #expect {
            try CronExpression(expression)
        } throws: { error in
            String(describing: error).contains(expected)
        }
    }
}
