import Foundation
import HearthCore

/// A synthetic but realistic working week for `hearth bench attention`: a small organisation's
/// mail (manager, colleagues, customers, vendors, newsletters, lists, automated notices), commits,
/// bursts of file saves, a cost series with a planted overrun, and urgent items of several shapes,
/// each line labelled `urgent`, `digest` or `noise`.
///
/// Another seed gives another week (other people, days, incidents and wording picked from the
/// same pools), which is how the benchmark checks it was not tuned to one stream.
public struct AttentionWeek: Sendable {
    public var seed: UInt64
    public var days: Int
    public var start: Date
    public var mailsPerDay: Int

    public init(seed: UInt64, days: Int = 5, start: Date = Date(timeIntervalSince1970: 1_794_211_200), mailsPerDay: Int = 120) {
        self.seed = seed
        self.days = days
        self.start = start  // Monday 9 November 2026, 00:00 UTC
        self.mailsPerDay = mailsPerDay
    }

    static let me = "sam.rivera@northwind.test"
    static let firstNames = [
        "Ann", "Bo", "Chen", "Dana", "Eli", "Femi", "Gita", "Hugo", "Ines", "Jon", "Kira", "Luca", "Mia", "Noor", "Omar", "Pia",
    ]
    static let lastNames = ["Lee", "Park", "Novak", "Singh", "Okafor", "Berg", "Costa", "Ito", "Moreau", "Haas", "Kaur", "Reyes"]
    static let projects = ["NextGen", "Atlas", "Beacon", "Harbor", "Orion", "Pilot"]
    static let topics = [
        "the Q3 roadmap", "the hiring plan", "the onboarding doc", "the API migration", "the customer survey", "the release notes",
        "the offsite agenda", "the vendor contract", "the pricing page", "the design review", "the retro notes", "the OKR draft",
    ]
    static let services = ["api-gateway", "payments", "search", "auth", "billing-db", "checkout", "ingest-worker"]

    /// The statements the week's profile file holds, as `hearth memory remember` would take them.
    public func profile(managerName: String) -> [String] {
        [
            "My email is \(Self.me)",
            "\(managerName) is my manager",
            "Tell me at once about anything from legal",
            "The NextGen cloud budget is 5,000 a month",
            "Don't bother me with the cafeteria menu",
        ]
    }

    public struct Output: Sendable {
        public var lines: [String]
        public var profile: [String]
    }

    public func generate() -> Output {
        var random = SplitMix64(seed: seed)
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        func chance(_ p: Double) -> Bool { Double(random.next() % 10_000) / 10_000 < p }
        let people = (0..<10).map { _ in "\(pick(Self.firstNames)) \(pick(Self.lastNames))" }
        let manager = people[0]
        let colleagues = Array(people.dropFirst())
        func address(_ name: String, domain: String = "northwind.test") -> String {
            name.lowercased().replacingOccurrences(of: " ", with: ".") + "@" + domain
        }
        var lines: [(Date, String)] = []
        var counter = 0
        func emit(_ at: Date, _ label: String, _ body: [String: JSONValue]) {
            counter += 1
            var object = body
            object["occurredAt"] = .string(Timestamp.format(at))
            object["label"] = .string(label)
            object["id"] = .string("w\(seed)-\(counter)")
            lines.append((at, JSONValue.object(object).jsonText))
        }
        func mail(
            _ at: Date, _ label: String, from: String, to: String = Self.me, cc: String? = nil, subject: String, body: String,
            headers: [String] = []
        ) {
            var text = "From: \(from)\r\nTo: \(to)\r\n"
            if let cc { text += "Cc: \(cc)\r\n" }
            text += "Subject: \(subject)\r\nDate: \(Self.rfc822(at))\r\nMessage-ID: <\(counter + 1).\(seed)@gen.test>\r\n"
            for header in headers { text += header + "\r\n" }
            text += "Content-Type: text/plain; charset=utf-8\r\n\r\n\(body)\r\n"
            emit(at, label, ["mail": .string(text)])
        }
        var costToDate = 0.0
        for day in 0..<days {
            let dayStart = start.addingTimeInterval(Double(day) * 86_400)
            func time(_ hourFrom: Double, _ hourTo: Double) -> Date {
                dayStart.addingTimeInterval((hourFrom + Double(random.next() % 10_000) / 10_000 * (hourTo - hourFrom)) * 3600)
            }
            for _ in 0..<mailsPerDay {
                let at = time(6, 20)
                let roll = random.next() % 100
                let topic = pick(Self.topics)
                switch roll {
                case 0..<22:
                    let list = pick(["The Weekly Byte", "Cloud Digest", "Product Hunt Daily", "Design Notes", "Rust Weekly", "HR News"])
                    let shout = chance(0.3) ? pick(["URGENT: ", "Last chance: ", "Action required: ", "Don't miss out — "]) : ""
                    mail(
                        at, "noise", from: "\(list) <news@\(list.lowercased().filter(\.isLetter)).test>",
                        subject: "\(shout)\(list): \(pick(["5 ideas for", "what's new in", "the state of", "a deep dive into"])) \(topic)",
                        body: "This week: \(topic), and more. Read online. Unsubscribe any time.",
                        headers: [
                            "List-Id: <\(list.lowercased().filter(\.isLetter)).lists.test>", "List-Unsubscribe: <https://lists.test/u>",
                            "Precedence: bulk",
                        ])
                case 22..<38:
                    let build = random.next() % 9_000 + 1_000
                    let failed = chance(0.25)
                    mail(
                        at, "noise", from: "CI <ci@northwind.test>",
                        subject:
                            "\(failed ? "Failed" : "Passed"): build #\(build) on \(pick(["main", "feature/search", "release-2.4", "fix/login"]))",
                        body: "Build #\(build) \(failed ? "failed at step test" : "passed") in \(random.next() % 20 + 3) minutes.",
                        headers: ["Auto-Submitted: auto-generated"])
                case 38..<46:
                    mail(
                        at, "noise",
                        from:
                            "\(pick(["GitHub", "Jira", "Calendar", "Slack"])) <noreply@\(pick(["github", "atlassian", "calendar", "slack"])).test>",
                        subject: "\(pick(colleagues)) \(pick(["mentioned you in", "commented on", "updated", "shared"])) \(topic)",
                        body: "You are receiving this because you are subscribed. Manage notifications in settings.",
                        headers: chance(0.5) ? ["Auto-Submitted: auto-generated"] : [])
                case 46..<50:
                    mail(
                        at, "noise", from: "Facilities <facilities@northwind.test>", to: "all@northwind.test",
                        subject: "The cafeteria menu for \(pick(["Monday", "this week", "next week"]))",
                        body: "Soup, pasta and a salad bar.",
                        headers: ["List-Id: <all.northwind.test>"])
                case 50..<56:
                    mail(
                        at, "noise", from: "\(pick(["Acme Cloud", "Paperly", "Zoomly"])) <marketing@vendor.test>",
                        subject:
                            "\(pick(["Urgent", "Important", "Final days"])): upgrade your plan \(pick(["today", "now", "before Friday"]))",
                        body: "Act now to save 30%. Click here. Unsubscribe.", headers: ["List-Unsubscribe: <https://vendor.test/u>"])
                case 56..<78:
                    let colleague = pick(colleagues)
                    let direct = chance(0.6)
                    mail(
                        at, "digest", from: "\(colleague) <\(address(colleague))>", to: direct ? Self.me : "team@northwind.test",
                        cc: direct ? nil : Self.me,
                        subject:
                            "\(pick(["Re: ", "", "Fwd: "]))\(pick(["Notes on", "Question about", "Draft of", "Feedback on", "Update on"])) \(topic)",
                        body:
                            "Hi Sam, \(pick(["sharing", "here are my thoughts on", "a quick update on", "can you look at"])) \(topic) when you have a moment. Thanks, \(colleague.split(separator: " ")[0])"
                    )
                case 78..<84:
                    mail(
                        at, "digest", from: "\(manager) <\(address(manager))>",
                        subject: "\(pick(["FYI: ", "Thoughts on ", "Re: ", ""]))\(topic)",
                        body:
                            "Sam, \(pick(["for your reading", "let's discuss on Thursday", "nice work on", "no rush, but a look at"])) \(topic). \(manager.split(separator: " ")[0])"
                    )
                case 84..<90:
                    let vendor = pick(["Paperly", "Acme Cloud", "Officio", "Printworks"])
                    mail(
                        at, "digest", from: "\(vendor) Billing <billing@\(vendor.lowercased().filter(\.isLetter)).test>",
                        subject: "Invoice \(random.next() % 90_000 + 10_000) for \(pick(["October", "November", "your subscription"]))",
                        body: "Your invoice of \(random.next() % 900 + 100).00 EUR is attached. Due in 30 days.")
                default:
                    let customer = pick(["Contoso", "Fabrikam", "Initech", "Globex"])
                    mail(
                        at, "digest", from: "\(pick(Self.firstNames)) at \(customer) <contact@\(customer.lowercased()).test>",
                        subject: "\(pick(["Question about", "Feedback on", "Meeting request:"])) \(topic)",
                        body: "Hello, we would like to know more about \(topic). Best regards.")
                }
            }
            // Commits: a few a day from colleagues, one large, sometimes a revert.
            for _ in 0..<(random.next() % 6 + 4) {
                let author = pick(colleagues)
                let revert = chance(0.08)
                emit(
                    time(8, 23), "digest",
                    [
                        "commit": [
                            "repo": .string(pick(["web", "api"])), "author": .string("\(author) <\(address(author))>"),
                            "message": .string(
                                "\(revert ? "Revert \"" : "")\(pick(["Fix", "Add", "Refactor", "Update"])) \(pick(["login flow", "search index", "billing export", "README", "CI cache"]))\(revert ? "\"" : "")"
                            ),
                            "files": .array(
                                (0..<(random.next() % 5 + 1)).map { _ in
                                    .string(pick(["src/app.ts", "src/api.py", "README.md", "Makefile", "docs/guide.md"]))
                                }),
                        ]
                    ])
            }
            // A burst of saves into one folder.
            let burstAt = time(9, 17)
            let folder = pick(["Drafts", "Slides", "Notes"])
            for index in 0..<(random.next() % 40 + 20) {
                emit(
                    burstAt.addingTimeInterval(Double(index) * 7), index == 0 ? "digest" : "noise",
                    [
                        "file": [
                            "path": .string("\(folder)/\(pick(["plan", "deck", "notes"]))-\(index).md"),
                            "content": .string("Working draft \(index) of \(pick(Self.topics))."),
                        ]
                    ])
            }
            // A new document or two.
            for _ in 0..<(random.next() % 2 + 1) {
                emit(
                    time(9, 18), "digest",
                    [
                        "file": [
                            "path": .string("Docs/\(pick(["whitepaper", "proposal", "spec", "minutes"]))-\(day)-\(random.next() % 100).md"),
                            "content": .string("# \(pick(Self.topics).capitalized)\n\nThis document describes \(pick(Self.topics))."),
                        ]
                    ])
            }
            // Daily cloud cost row: the overrun is planted on a random later day.
            let overrunDay = Int(seed % UInt64(max(1, days - 2))) + 2
            let cost = day == overrunDay ? 2_600.0 + Double(random.next() % 400) : 520.0 + Double(random.next() % 80)
            costToDate += cost
            let crosses = costToDate > 5_000 && costToDate - cost <= 5_000
            emit(
                dayStart.addingTimeInterval(6.5 * 3600), crosses ? "urgent" : "noise",
                [
                    "event": [
                        "source": "metrics", "kind": "metric.row",
                        "payload": ["series": "Budget/cloud-costs.csv", "values": ["cost_usd": .number(cost)]],
                    ]
                ])

            // Urgent items of several shapes, one to three a day.
            var shapes = [0, 1, 2, 3, 4, 5, 6]
            for _ in 0..<(Int(random.next() % 3) + 1) {
                let shape = shapes.remove(at: Int(random.next() % UInt64(shapes.count)))
                let at = time(8, 18)
                switch shape {
                case 0:
                    mail(
                        at, "urgent", from: "\(manager) <\(address(manager))>",
                        subject:
                            "\(pick(["Need", "Can you send me", "Please get me"])) \(pick(Self.topics)) \(pick(["by 3pm", "before the board call today", "by noon", "today"]))",
                        body: "Sam, the board asked for it. \(pick(["Urgent", "Sorry for the short notice", "Please prioritise this"])).")
                case 1:
                    let service = pick(Self.services)
                    let headers = ["Auto-Submitted: auto-generated", "X-Priority: 1"]
                    mail(
                        at, "urgent", from: "Monitoring <alerts@northwind.test>", subject: "CRITICAL: \(service) is down",
                        body: "Health checks failing since \(Self.rfc822(at)). Error rate 100%.", headers: headers)
                    for repeatIndex in 1...3 {
                        mail(
                            at.addingTimeInterval(Double(repeatIndex) * 300), "noise", from: "Monitoring <alerts@northwind.test>",
                            subject: "CRITICAL: \(service) is down",
                            body: "Health checks failing since \(Self.rfc822(at)). Error rate 100%.", headers: headers)
                    }
                    mail(
                        at.addingTimeInterval(1_800), "noise", from: "Monitoring <alerts@northwind.test>",
                        subject: "RESOLVED: \(service) is up", body: "Recovered.", headers: ["Auto-Submitted: auto-generated"])
                case 2:
                    mail(
                        at, "urgent", from: "Legal <legal@northwind.test>",
                        subject:
                            "\(pick(["Contract redlines for", "Signature needed on", "Question on the terms of"])) \(pick(["Contoso", "Globex", "the vendor agreement"]))",
                        body: "Please review the attached terms.")
                case 3:
                    let customer = pick(["Contoso", "Fabrikam", "Initech"])
                    mail(
                        at, "urgent", from: "\(pick(Self.firstNames)) at \(customer) <cto@\(customer.lowercased()).test>",
                        subject:
                            "\(pick(["Escalation", "Urgent", "Outage"])): \(pick(["our checkout has been failing", "we cannot log in", "data missing from reports"]))",
                        body: "This is blocking our team. Please respond as soon as possible.", headers: ["Importance: High"])
                case 4:
                    let colleague = pick(colleagues)
                    mail(
                        at, "urgent", from: "\(colleague) <\(address(colleague))>",
                        subject: "URGENT: \(pick(["release blocked", "deploy blocked", "customer demo broken"])) — need your approval",
                        body: "Sam, we need your sign-off \(pick(["in the next hour", "before 4pm", "today"])) or we miss the window.")
                case 5:
                    mail(
                        at, "urgent", from: "Security <security@northwind.test>",
                        subject:
                            "Security incident: \(pick(["suspicious login to the admin account", "leaked API key detected", "phishing campaign targeting finance"]))",
                        body: "Immediate action required: rotate your credentials.", headers: ["Importance: High"])
                default:
                    emit(
                        at, "urgent",
                        [
                            "event": [
                                "source": "webhook", "kind": "alert.fired",
                                "payload": ["title": .string("\(pick(Self.services)) error budget exhausted"), "severity": "critical"],
                            ]
                        ])
                }
            }
        }
        return Output(lines: lines.sorted { $0.0 < $1.0 }.map(\.1), profile: profile(managerName: manager))
    }

    static func rfc822(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }
}
