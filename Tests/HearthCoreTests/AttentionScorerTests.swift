import Foundation
import HearthCore
import Testing

@Suite("Attention scoring, without a model or I/O", .timeLimit(.minutes(10)))
struct AttentionScorerTests {
    let start = Date(timeIntervalSince1970: 1_790_000_000)  // a weekday morning, UTC
    var nextID: Int64 = 0

    func mail(
        _ id: Int64, from: String, to: String = "me@acme.test", cc: String? = nil, subject: String, body: String = "",
        headers: [String: String] = [:], at offset: TimeInterval = 0
    ) -> AttentionSubject {
        var payload: [String: JSONValue] = [
            "from": .string(from), "to": .string(to), "subject": .string(subject), "body": .string(body),
        ]
        if let cc { payload["cc"] = .string(cc) }
        if !headers.isEmpty { payload["headers"] = .object(headers.mapValues(JSONValue.string)) }
        let event = Event(
            id: id, source: "maildir", kind: "mail.received", key: nil, payload: .object(payload), occurredAt: start + offset,
            receivedAt: start + offset, provenance: .untrusted)
        return AttentionSubject.from(event)
    }

    func makeScorer(_ facts: [Fact] = [], settings: AttentionSettings = AttentionSettings()) -> AttentionScorer {
        AttentionScorer(settings: settings, profile: AttentionProfile.from(facts: facts, addresses: ["me@acme.test"]))
    }

    let manager = Fact(subject: "user", predicate: "manager is", object: "Ann Lee", provenance: .trusted)

    @Test("the manager's urgent mail interrupts; their routine mail waits for the digest, with the reasons")
    func managerMail() {
        var scorer = makeScorer([manager])
        let urgent = scorer.decide(
            mail(1, from: "Ann Lee <ann@acme.test>", subject: "Urgent: board deck numbers by noon"), now: start)
        #expect(urgent.level == .interrupt)
        #expect(urgent.reasons.map(\.signal).contains("sender.role"))
        #expect(urgent.reasons.contains { $0.signal == "urgency.subject" && $0.weight > 0 })
        #expect(urgent.headline == "Ann Lee: Urgent: board deck numbers by noon")
        let routine = scorer.decide(mail(2, from: "Ann Lee <ann@acme.test>", subject: "Notes from Thursday", at: 60), now: start + 60)
        #expect(routine.level == .digest)
        #expect(routine.confidence >= 0.5 && routine.confidence <= 1)
    }

    @Test("list and bulk mail never interrupts, even when it shouts urgent")
    func bulkMail() {
        var scorer = makeScorer()
        let newsletter = scorer.decide(
            mail(
                1, from: "Deals <news@shop.test>", subject: "URGENT: last chance, 50% off ends today!",
                headers: ["List-Unsubscribe": "<mailto:u@shop.test>", "Precedence": "bulk"]), now: start)
        #expect(newsletter.level == .log)
        #expect(newsletter.reasons.contains { $0.signal == "mail.bulk" && $0.weight < 0 })
    }

    @Test("an automated alert with an incident in its subject and high priority interrupts; a passing build is noise")
    func automatedAlerts() {
        var scorer = makeScorer()
        let alert = scorer.decide(
            mail(
                1, from: "alerts@monitor.test", subject: "CRITICAL: api-gateway is down",
                headers: ["X-Priority": "1", "Auto-Submitted": "auto-generated"]),
            now: start)
        #expect(alert.level == .interrupt)
        let build = scorer.decide(
            mail(2, from: "ci@acme.test", subject: "Build #4411 passed on main", headers: ["Auto-Submitted": "auto-generated"], at: 10),
            now: start + 10)
        #expect(build.level == .log)
    }

    @Test("the same alert again is one item: the repeats are logged as duplicates of the first")
    func duplicates() {
        var scorer = makeScorer()
        let headers = ["X-Priority": "1", "Auto-Submitted": "auto-generated"]
        let first = scorer.decide(
            mail(1, from: "alerts@monitor.test", subject: "CRITICAL: db-1 is down (check 1812)", headers: headers), now: start)
        let again = scorer.decide(
            mail(2, from: "alerts@monitor.test", subject: "CRITICAL: db-1 is down (check 1813)", headers: headers, at: 300),
            now: start + 300)
        #expect(first.level == .interrupt)
        #expect(again.level == .log)
        #expect(again.duplicateOf == 1)
        #expect(again.cluster == first.cluster)
        #expect(again.suppressedBy == "duplicate")
        let other = scorer.decide(
            mail(3, from: "alerts@monitor.test", subject: "CRITICAL: payments queue is down", headers: headers, at: 600), now: start + 600)
        #expect(other.duplicateOf == nil)
    }

    @Test("a hundred saves in one folder are one burst after the first three, which stand alone")
    func bursts() {
        var scorer = makeScorer()
        var levels: [AttentionLevel] = []
        for index in 0..<100 {
            let event = Event(
                id: Int64(index + 1), source: "watcher", kind: "file.created", key: nil,
                payload: ["path": .string("Drafts/part-\(index).md")],
                occurredAt: start + Double(index), receivedAt: start + Double(index), provenance: .untrusted)
            levels.append(scorer.decide(AttentionSubject.from(event, content: "draft \(index)"), now: start + Double(index)).level)
        }
        #expect(levels.prefix(3).allSatisfy { $0 == .digest })
        #expect(levels.dropFirst(3).allSatisfy { $0 == .log })
    }

    @Test("a standing rule makes anything from legal interrupt; a mute rule keeps newsletters down")
    func rules() {
        let watch = Fact(
            kind: .rule, subject: "user", predicate: "rule", object: "tell me at once about anything from legal", provenance: .trusted)
        let mute = Fact(
            kind: .rule, subject: "user", predicate: "rule", object: "don't bother me with the cafeteria menu", provenance: .trusted)
        var scorer = makeScorer([watch, mute])
        #expect(scorer.profile.watches.count == 2)
        let legal = scorer.decide(mail(1, from: "Legal Team <legal@acme.test>", subject: "Contract redlines"), now: start)
        #expect(legal.level == .interrupt)
        #expect(legal.reasons.contains { $0.signal == "watch" })
        let menu = scorer.decide(mail(2, from: "facilities@acme.test", subject: "The cafeteria menu for next week", at: 5), now: start + 5)
        #expect(menu.level == .log)
    }

    @Test("more interruptions than the hourly cap go to the digest, saying why; quiet hours hold all but the gravest")
    func capAndQuietHours() {
        var settings = AttentionSettings()
        settings.maxInterruptsPerHour = 2
        var scorer = makeScorer([manager], settings: settings)
        let levels = (1...4).map { index in
            scorer.decide(
                mail(
                    Int64(index), from: "Ann Lee <ann@acme.test>",
                    subject: "Urgent: topic \(["alpha", "budget", "hiring", "offsite"][index - 1]) today",
                    body: "Different matter \(index): " + String(repeating: "word\(index) ", count: index * 3), at: Double(index)),
                now: start + Double(index)
            )
        }
        #expect(levels.map(\.level) == [.interrupt, .interrupt, .digest, .digest])
        #expect(levels[2].suppressedBy == "interruption cap")

        var quiet = AttentionSettings()
        quiet.timeZone = TimeZone(identifier: "UTC")!
        let minute = Calendar(identifier: .gregorian).dateComponents(in: quiet.timeZone, from: start)
        quiet.quietStart = ((minute.hour ?? 0) * 60 + 1440 - 60) % 1440
        quiet.quietEnd = ((minute.hour ?? 0) * 60 + 120) % 1440
        var night = makeScorer([manager], settings: quiet)
        let held = night.decide(mail(1, from: "Ann Lee <ann@acme.test>", subject: "Urgent: can you call me today?"), now: start)
        #expect(held.level == .digest)
        #expect(held.suppressedBy == "quiet hours")
    }

    @Test("a cost row that takes the month over the budget from memory interrupts with the figures; an odd value is an anomaly")
    func metrics() {
        let budget = Fact(subject: "NextGen cloud", predicate: "budget is", object: "5,000 a month", provenance: .trusted)
        var scorer = makeScorer([budget])
        #expect(scorer.profile.bounds.first?.limit == 5_000)
        var decisions: [AttentionDecision] = []
        let calendar = Calendar(identifier: .gregorian)
        let monthStart = calendar.date(from: DateComponents(timeZone: .gmt, year: 2026, month: 11, day: 1, hour: 6))!
        for day in 0..<12 {
            let cost = day == 11 ? 1_900.0 : 300.0 + Double(day % 3) * 10
            let event = Event(
                id: Int64(day + 1), source: "metrics", kind: "metric.row", key: nil,
                payload: ["series": "Budget/cloud-costs.csv", "values": ["cost_usd": .number(cost)]],
                occurredAt: monthStart + Double(day) * 86_400, receivedAt: monthStart, provenance: .untrusted)
            decisions.append(scorer.decide(AttentionSubject.from(event), now: event.occurredAt))
        }
        #expect(decisions.prefix(10).allSatisfy { $0.level < .interrupt })
        let last = decisions.last!
        #expect(last.level == .interrupt)
        #expect(last.reasons.contains { $0.signal == "metric.bound" && $0.detail.contains("5300") && $0.detail.contains("5000") })
        #expect(last.reasons.contains { $0.signal == "metric.anomaly" })
    }

    @Test("feedback on a sender moves that sender's next items, and says so")
    func feedback() {
        let quiet = Fact(subject: "sender:ann@acme.test", predicate: "feedback", object: "not-urgent", provenance: .trusted)
        var scorer = makeScorer([manager, quiet])
        let decision = scorer.decide(mail(1, from: "Ann Lee <ann@acme.test>", subject: "Urgent: numbers by noon"), now: start)
        #expect(
            decision.reasons.contains {
                $0.signal == "feedback" && $0.weight == -0.3 && $0.detail == "you marked sender:ann@acme.test not urgent"
            })
        var plain = makeScorer([manager])
        #expect(
            plain.decide(mail(1, from: "Ann Lee <ann@acme.test>", subject: "Urgent: numbers by noon"), now: start).score > decision.score)
    }

    @Test("a configured bound applies to its exact series, even one named only by generic words")
    func configuredBound() {
        var bound = AttentionProfile.bound(subject: "Budget costs", amount: "100 a day")!
        bound.series = "Budget/costs.csv"
        var scorer = AttentionScorer(profile: AttentionProfile(bounds: [bound]))
        let event = Event(
            id: 1, source: "metrics", kind: "metric.row", key: nil, payload: ["series": "Budget/costs.csv", "values": ["cost": 150]],
            occurredAt: start, receivedAt: start, provenance: .untrusted)
        let decision = scorer.decide(AttentionSubject.from(event), now: start)
        #expect(decision.level == .interrupt)
        #expect(decision.reasons.contains { $0.signal == "metric.bound" && $0.detail.contains("150 this day is over the bound of 100") })
    }

    @Test("profile facts come from plain sentences: roles, budgets, watches")
    func profileFromFacts() {
        #expect(
            AttentionProfile.watch(fromRule: "Alert me immediately when the payments service fails")?.words == [
                "payments", "service", "fails",
            ])
        #expect(AttentionProfile.watch(fromRule: "always use EUR in spreadsheets") == nil)
        #expect(AttentionProfile.bound(subject: "Marketing", amount: "12k per month")?.limit == 12_000)
        #expect(AttentionProfile.bound(subject: "Marketing", amount: "12k per month")?.period == "month")
    }

    @Test("SimHash: near-identical texts are close, unrelated ones far; robust z ignores one wild value")
    func primitives() {
        let a = SimHash("Disk usage on build-agent-7 reached 91 percent at 03:12")
        let b = SimHash("Disk usage on build-agent-7 reached 94 percent at 03:17")
        let c = SimHash("Lunch on Friday? The new ramen place opened next to the office")
        #expect(a.distance(to: b) <= 3)
        #expect(c.distance(to: a) > 10)
        #expect(RobustStatistics.zScore(100, in: [10, 11, 9, 10, 12, 10, 500]) ?? 0 > 10)
        #expect(abs(RobustStatistics.zScore(11, in: [10, 11, 9, 10, 12, 10, 500]) ?? 9) < 2)
    }
}

@Suite("Brief schedule and building, without I/O", .timeLimit(.minutes(10)))
struct BriefScheduleTests {
    let utc = TimeZone(identifier: "UTC")!

    @Test("after a weekend of downtime one brief covers the gap: the latest slot, not one per missed slot")
    func gap() throws {
        let schedule = BriefSchedule(
            morning: try CronExpression("30 7 * * mon-fri"), evening: try CronExpression("0 18 * * mon-fri"), timeZone: utc)
        let friday = Timestamp.parse("2026-11-27T12:00:00Z")!
        let mondayNoon = Timestamp.parse("2026-11-30T12:00:00Z")!
        let slot = try #require(schedule.latestSlot(after: friday, upTo: mondayNoon))
        #expect(slot.kind == "morning")
        #expect(slot.at == Timestamp.parse("2026-11-30T07:30:00Z"))
        #expect(schedule.latestSlot(after: mondayNoon, upTo: mondayNoon.addingTimeInterval(3_600)) == nil)
        #expect(schedule.next(after: mondayNoon) == Timestamp.parse("2026-11-30T18:00:00Z"))
    }

    @Test("a brief sorts items into its sections, collapses noise into counts and counts what it held back")
    func sections() {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        func item(
            _ id: Int64, _ level: AttentionLevel, category: AttentionSubject.Category, kind: String, headline: String,
            signals: [String] = [], suppressed: String? = nil
        )
            -> AttentionItem
        {
            AttentionItem(
                eventID: id, source: "x", kind: kind, occurredAt: now, decidedAt: now,
                decision: AttentionDecision(
                    level: level, score: level == .interrupt ? 0.9 : level == .digest ? 0.5 : 0.1, confidence: 0.8,
                    reasons: signals.map { AttentionReason(signal: $0, weight: -0.3, detail: $0) }, cluster: "c\(id)", headline: headline,
                    category: category, suppressedBy: suppressed))
        }
        let items = [
            item(1, .interrupt, category: .mail, kind: "mail.received", headline: "Ann Lee: Need the deck by noon"),
            item(2, .digest, category: .mail, kind: "mail.received", headline: "Bo: Notes on the roadmap"),
            item(3, .log, category: .mail, kind: "mail.received", headline: "Weekly Byte", signals: ["mail.bulk"]),
            item(4, .log, category: .mail, kind: "mail.received", headline: "Deals", signals: ["mail.bulk"]),
            item(5, .log, category: .mail, kind: "mail.received", headline: "CI passed", signals: ["mail.automated"]),
            item(6, .digest, category: .commit, kind: "commit", headline: "web: Ann Lee — Fix login"),
            item(7, .digest, category: .file, kind: "file.created", headline: "New file: Docs/spec.md"),
            item(8, .log, category: .file, kind: "file.created", headline: "New file: Drafts/x-9.md", suppressed: "burst"),
        ]
        let brief = BriefBuilder(timeZone: utc).build(
            kind: "morning", from: now.addingTimeInterval(-86_400), to: now,
            inputs: BriefInputs(
                items: items,
                approvals: [.init(id: 4, runID: 9, tool: "send_mail", reason: "sends outside", expiresAt: now.addingTimeInterval(3_600))],
                goals: [
                    .init(runID: 8, goal: "Summarise Notes/", state: "succeeded", report: "Reports/run-8.md", tokens: 1_200, cost: nil)
                ],
                documentLines: [7: "# Spec"]))
        #expect(BriefBuilder.sectionTitles == brief.sections.map(\.title))
        #expect(brief.section("Needs you")?.items.map(\.text).first?.hasPrefix("Approval 4 waits: send_mail in run 9") == true)
        #expect(brief.section("Needs you")?.items.contains { $0.text == "Ann Lee: Need the deck by noon" } == true)
        #expect(brief.section("Done for you")?.items.first?.links == ["Reports/run-8.md"])
        #expect(
            brief.section("Arrived")?.items.map(\.text) == [
                "Bo: Notes on the roadmap", "Also: 2 newsletters and list mails, 1 automated notices",
            ])
        #expect(brief.section("Commits")?.items.first?.text == "web — Ann Lee (1 commit): Fix login")
        #expect(brief.section("New documents")?.items.first?.text == "New file: Docs/spec.md — # Spec")
        #expect(brief.section("Suppressed")?.items.first?.text == "1 held back: burst")
        let markdown = BriefBuilder(timeZone: utc).markdown(brief)
        #expect(markdown.contains("- Bo: Notes on the roadmap"))
        #expect(markdown.contains("[Reports/run-8.md](../Reports/run-8.md)"))
    }
}
