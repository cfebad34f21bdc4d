import Foundation
import HearthCore
import HearthSandbox

/// The compliance review's fixture: a regulation of 300-odd pages rendered to PDF by groff,
/// fifty feature specs with compliant lines and planted violations (of limits with an amount, and
/// of practices stated in words), a style guide, two specs
/// whose markdown a strict parser rejects, and `truth.json` — every planted violation with the
/// article and the PDF page of the requirement it breaks.
///
/// Everything is drawn from a seeded generator, so a seed gives the same fixture on every
/// machine. The wording of specs differs from the regulation's on purpose ("purged 90 days after
/// closing" against "shall not be retained for longer than 30 days"): a reviewer that matches
/// phrases finds little.
public enum ComplianceFixture {
    /// One planted violation: the spec line (1-based) and the requirement it breaks.
    public struct Violation: Codable, Sendable, Hashable {
        public var spec: String
        public var line: Int
        public var article: Int
        public var page: Int
    }

    public struct Summary: Sendable {
        public var specs: Int
        public var violations: Int
        public var pages: Int
        public var articles: Int
    }

    public enum FixtureError: Error, Sendable, CustomStringConvertible {
        case groffMissing
        case renderFailed(String)
        case pageMissing(article: Int)

        public var description: String {
            switch self {
            case .groffMissing:
                "rendering the regulation needs groff with its PDF driver (gropdf); run 'scripts/setup' or 'apt-get install groff'"
            case .renderFailed(let detail): "groff could not render the regulation: \(detail)"
            case .pageMissing(let article): "groff reported no page for article \(article); the fixture would be wrong, so none was written"
            }
        }
    }

    /// Writes the fixture into `directory`: `Regulation.pdf`, `Projects/NextGen/*.md`,
    /// `StyleGuide.md`, `truth.json`. Files of the same names are replaced.
    @discardableResult
    public static func write(to directory: URL, seed: UInt64 = 2_026, specs specCount: Int = 50) async throws -> Summary {
        var random = SplitMix64(seed: seed)
        let requirements = Requirement.draw(using: &random)
        let practices = PracticeRequirement.draw(using: &random)
        let regulation = Regulation.compose(
            rules: Dictionary(uniqueKeysWithValues: requirements.map { ($0.article, $0.text) } + practices.map { ($0.article, $0.text) }),
            using: &random)
        let manager = FileManager.default
        let projects = directory.appending(path: "Projects/NextGen")
        try manager.createDirectory(at: projects, withIntermediateDirectories: true)
        let (pages, pageCount) = try await render(regulation.groff, to: directory.appending(path: "Regulation.pdf"))

        var truth: [Violation] = []
        if let old = try? manager.contentsOfDirectory(atPath: projects.path) {
            for name in old where name.hasSuffix(".md") { try manager.removeItem(at: projects.appending(path: name)) }
        }
        for index in 0..<specCount {
            let spec = Spec.compose(
                number: index + 1, requirements: requirements, practices: practices, broken: Spec.Breakage(index: index), using: &random)
            try spec.bytes.write(to: projects.appending(path: spec.name))
            for (line, article) in spec.violations {
                guard let page = pages[article] else { throw FixtureError.pageMissing(article: article) }
                truth.append(Violation(spec: "Projects/NextGen/\(spec.name)", line: line, article: article, page: page))
            }
        }
        try Data(StyleGuide.text.utf8).write(to: directory.appending(path: "StyleGuide.md"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(truth).write(to: directory.appending(path: "truth.json"))
        return Summary(specs: specCount, violations: truth.count, pages: pageCount, articles: regulation.articles)
    }

    /// Renders groff `ms` source to PDF; the page of each requirement is what groff reported
    /// while setting it (`.tm` after the requirement's paragraph, kept on one page by `.ne`).
    static func render(_ source: String, to pdf: URL) async throws -> (pages: [Int: Int], count: Int) {
        guard let groff = ["/usr/bin/groff", "/usr/local/bin/groff"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw FixtureError.groffMissing
        }
        let scratch = FileManager.default.temporaryDirectory.appending(path: "hearth-groff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = scratch.appending(path: "regulation.ms")
        try Data(source.utf8).write(to: input)
        let output = try await ProgramRunner.run(
            executable: URL(fileURLWithPath: groff), arguments: ["-ms", "-Tpdf", "-P-pa4", input.path], timeout: .seconds(600),
            maxOutput: 64 << 20)
        let pdfData = output.stdout
        let messages = output.stderr
        guard output.status == 0, pdfData.starts(with: Data("%PDF".utf8)) else {
            if messages.contains("gropdf") || messages.contains("not found") { throw FixtureError.groffMissing }
            throw FixtureError.renderFailed(String(messages.prefix(300)))
        }
        try pdfData.write(to: pdf)
        var pages: [Int: Int] = [:]
        var last = 0
        for line in messages.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 3, parts[0] == "REQUIREMENT", let article = Int(parts[1]), let page = Int(parts[2]) { pages[article] = page }
            if parts.count == 2, parts[0] == "LASTPAGE", let page = Int(parts[1]) { last = page }
        }
        return (pages, last)
    }
}

extension ComplianceFixture {
    /// What a requirement measures and which way it binds.
    struct Measure {
        var name: String
        var unit: String
        /// true: the spec's value must be at most the limit; false: at least.
        var atMost: Bool
        var limits: [Int]
        /// Regulation wording, `{scope}` and `{n}` filled in.
        var rules: [String]
        /// Spec wording of a value for a scope.
        var claims: [String]
    }

    static let measures: [Measure] = [
        Measure(
            name: "retention", unit: "days", atMost: true, limits: [30, 45, 60, 90],
            rules: [
                "{Scope} shall not be retained for longer than {n} days after the purpose of processing has ended.",
                "The retention period for {scope} shall not exceed {n} days.",
            ],
            claims: [
                "{Scope} are kept for {v} days after the account is closed.", "We purge {scope} {v} days after the customer leaves.",
                "Retention: {scope} stay in the warehouse for {v} days.",
            ]),
        Measure(
            name: "log retention", unit: "months", atMost: false, limits: [6, 12, 18, 24],
            rules: [
                "{Scope} shall be preserved for a period of no less than {n} months.",
                "The operator shall retain {scope} for at least {n} months.",
            ],
            claims: ["{Scope} are rotated out after {v} months.", "We keep {scope} for {v} months, then delete them."]),
        Measure(
            name: "key length", unit: "bits", atMost: false, limits: [128, 256],
            rules: [
                "{Scope} shall be encrypted at rest with keys of at least {n} bits.",
                "Encryption protecting {scope} shall use a key length of no fewer than {n} bits.",
            ],
            claims: ["{Scope} are encrypted with a {v}-bit key.", "Storage for {scope} uses AES with {v} bit keys."]),
        Measure(
            name: "breach notification", unit: "hours", atMost: true, limits: [24, 48, 72],
            rules: [
                "A breach affecting {scope} shall be notified to the supervisory authority within {n} hours of its discovery.",
                "The controller shall report any incident involving {scope} no later than {n} hours after becoming aware of it.",
            ],
            claims: [
                "Incidents involving {scope} are reported to the regulator within {v} hours.",
                "If {scope} leak, the on-call lead informs the authority after {v} hours.",
            ]),
        Measure(
            name: "access review", unit: "days", atMost: true, limits: [30, 90, 180],
            rules: [
                "Access rights to {scope} shall be reviewed at least every {n} days.",
                "Permissions granting access to {scope} shall be recertified at intervals not exceeding {n} days.",
            ],
            claims: ["Access to {scope} is reviewed every {v} days.", "Team leads recertify who can open {scope} every {v} days."]),
        Measure(
            name: "password length", unit: "characters", atMost: false, limits: [10, 12, 14],
            rules: [
                "Passwords protecting {scope} shall be at least {n} characters long.",
                "Credentials giving access to {scope} shall have a minimum length of {n} characters.",
            ],
            claims: [
                "Passwords for {scope} need {v} characters or more.", "The login form for {scope} accepts passwords from {v} characters.",
            ]),
        Measure(
            name: "session timeout", unit: "minutes", atMost: true, limits: [15, 30],
            rules: [
                "Sessions giving access to {scope} shall expire after no more than {n} minutes of inactivity.",
                "Idle sessions on systems holding {scope} shall be terminated within {n} minutes.",
            ],
            claims: [
                "Sessions that show {scope} time out after {v} minutes idle.", "An idle session with {scope} open ends after {v} minutes.",
            ]),
        Measure(
            name: "backup interval", unit: "hours", atMost: true, limits: [24, 12],
            rules: [
                "Backups of {scope} shall be taken at intervals not exceeding {n} hours.",
                "{Scope} shall be backed up at least every {n} hours.",
            ],
            claims: ["{Scope} are backed up every {v} hours.", "A snapshot of {scope} runs every {v} hours."]),
    ]

    static let scopes = [
        "customer support tickets", "payment card records", "application access logs", "employee personnel files",
        "marketing contact lists", "patient health records", "device location traces", "authentication audit trails",
        "voice call recordings", "identity document scans", "billing statements", "security camera footage",
    ]

    /// A requirement without an amount: a practice a spec line keeps or breaks in words ("sent
    /// over plain HTTP" against "shall only be transmitted over encrypted connections"), which a
    /// model judges.
    struct Practice {
        var name: String
        var rules: [String]
        var breaking: [String]
        var keeping: [String]
    }

    static let practiceKinds: [Practice] = [
        Practice(
            name: "transport encryption",
            rules: [
                "{Scope} shall only be transmitted over encrypted connections.",
                "{Scope} shall not be sent across any network without transport encryption.",
            ],
            breaking: [
                "{Scope} are sent to the partner API over plain HTTP.", "A nightly job copies {scope} to the vendor by unencrypted FTP.",
            ],
            keeping: ["{Scope} travel to the partner API over TLS only.", "{Scope} are exchanged with the vendor over an SFTP channel."]),
        Practice(
            name: "data residency",
            rules: [
                "{Scope} shall be stored only on servers located within the European Union.",
                "{Scope} shall not be stored or replicated outside the territory of the Union.",
            ],
            breaking: [
                "{Scope} are replicated to a data centre in Virginia.", "A copy of {scope} is kept in the Oregon region of our cloud.",
            ],
            keeping: ["{Scope} are stored in the Frankfurt region only.", "{Scope} stay on servers in Dublin."]),
        Practice(
            name: "consent",
            rules: [
                "{Scope} shall not be used for marketing without the prior consent of the person concerned.",
                "The use of {scope} for promotional purposes shall require the explicit consent of the person concerned.",
            ],
            breaking: [
                "{Scope} are added to the newsletter audience by default, without asking.",
                "Sales may use {scope} for promotional campaigns without an opt-in.",
            ],
            keeping: [
                "{Scope} reach the newsletter audience only after an explicit opt-in.",
                "Promotions use {scope} only with recorded consent.",
            ]),
        Practice(
            name: "audit logging",
            rules: [
                "Every access to {scope} shall be recorded in an audit log.", "Each read or change of {scope} shall leave an audit record.",
            ],
            breaking: ["Reads of {scope} are not logged.", "Support staff can browse {scope} without leaving any trace in the logs."],
            keeping: ["Every read of {scope} is written to the audit log.", "Each change to {scope} leaves an entry in the audit trail."]),
        Practice(
            name: "multi-factor authentication",
            rules: [
                "Administrative access to {scope} shall require multi-factor authentication.",
                "Administrators shall authenticate with a second factor before they can open {scope}.",
            ],
            breaking: [
                "Admins open {scope} with a password alone.",
                "The admin console shows {scope} after a password login, with no second factor.",
            ],
            keeping: [
                "Admin access to {scope} requires a second factor.", "Administrators confirm a one-time code before they see {scope}.",
            ]),
    ]

    /// A practice required of one scope, in its own article.
    struct PracticeRequirement {
        var article: Int
        var practice: Practice
        var scope: String
        var text: String

        /// Practices for two scopes in three, in the articles between the amounts' (17, 33, …).
        static func draw(using random: inout SplitMix64) -> [Self] {
            var result: [Self] = []
            for (index, scope) in ComplianceFixture.scopes.enumerated() where index % 3 != 2 {
                let practice = ComplianceFixture.practiceKinds[index % ComplianceFixture.practiceKinds.count]
                let rule = practice.rules[Int(random.next() % UInt64(practice.rules.count))]
                result.append(
                    Self(article: 17 + index * 16, practice: practice, scope: scope, text: Requirement.fill(rule, scope: scope, value: 0)))
            }
            return result
        }
    }

    struct Requirement {
        var article: Int
        var measure: Measure
        var scope: String
        var limit: Int
        var text: String
    }

    /// Sentences that sound like a regulation and bind nothing.
    static let fillerSubjects = [
        "The supervisory authority", "Each Member State", "The competent body", "A controller established in the Union",
        "The data protection officer", "Any processor acting on behalf of a controller", "The Board", "A certification body",
    ]
    static let fillerVerbs = [
        "may issue guidelines on", "should take into account", "is encouraged to cooperate regarding", "may consult stakeholders on",
        "should document its reasoning concerning", "may publish an annual report on", "should have regard to",
    ]
    static let fillerObjects = [
        "the state of the art and the costs of implementation", "the nature, scope, context and purposes of processing",
        "codes of conduct drawn up by associations", "the risks of varying likelihood and severity",
        "the principles of data minimisation and purpose limitation", "mechanisms for cross-border cooperation",
        "the transparency of automated decision-making", "the training of staff involved in processing operations",
    ]
    static let fillerTails = [
        "", ", without prejudice to the provisions of national law",
        ", in accordance with the procedure referred to in the preceding Article",
        ", where appropriate", ", taking into account the opinion of the Board", ", having regard to the needs of micro-enterprises",
    ]
    /// Binding sentences with amounts about things no spec states: retrieval must not match a
    /// spec line to them by the amount alone.
    static let distractors = [
        "The Board shall meet at least {n} times per year.", "Member States shall notify the Commission of their rules within {n} months.",
        "The supervisory authority shall reply to a request for consultation within {n} weeks.",
        "The chair of the Board shall be elected for a term of no more than {n} years.",
        "An appeal against a decision of the authority shall be lodged within {n} days of its notification.",
        "The controller shall maintain a record of processing activities in writing.",
        "Each authority shall publish its annual report within {n} months of the end of the year.",
        "The processor shall not engage another processor without prior written authorisation of the controller.",
    ]
    static let titles = [
        "Definitions", "Scope of application", "Principles of processing", "Lawfulness of processing", "Tasks of the authority",
        "Cooperation between authorities", "Codes of conduct", "Certification", "Remedies", "Penalties", "Transitional provisions",
        "Records of processing activities", "Security of processing", "Data protection by design", "Transfers to third countries",
    ]
}

extension ComplianceFixture.Requirement {
    /// One requirement per scope, each measuring one thing, in articles spread over the regulation.
    static func draw(using random: inout SplitMix64) -> [Self] {
        var result: [Self] = []
        let measures = ComplianceFixture.measures
        for (index, scope) in ComplianceFixture.scopes.enumerated() {
            let measure = measures[index % measures.count]
            let limit = measure.limits[Int(random.next() % UInt64(measure.limits.count))]
            let rule = measure.rules[Int(random.next() % UInt64(measure.rules.count))]
            // Articles 9, 25, 41, …: one requirement every sixteen articles.
            let article = 9 + index * 16
            result.append(
                Self(article: article, measure: measure, scope: scope, limit: limit, text: fill(rule, scope: scope, value: limit)))
        }
        return result
    }

    static func fill(_ template: String, scope: String, value: Int) -> String {
        let capitalised = scope.prefix(1).uppercased() + scope.dropFirst()
        return template.replacingOccurrences(of: "{Scope}", with: capitalised).replacingOccurrences(of: "{scope}", with: scope)
            .replacingOccurrences(of: "{n}", with: "\(value)").replacingOccurrences(of: "{v}", with: "\(value)")
    }
}

extension ComplianceFixture {
    struct Regulation {
        var groff: String
        var articles: Int

        /// Two hundred articles of filler with the requirements among them: 300-odd A4 pages.
        /// `rules`: article → its requirement's sentence.
        static func compose(rules byArticle: [Int: String], using random: inout SplitMix64) -> Self {
            var source = ".nr PS 10\n.nr VS 12\n.ds CH - % -\n.TL\nRegulation on the Protection of Data in Digital Services\n.PP\n"
            let count = 210
            func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
            for article in 1...count {
                source += ".SH\nArticle \(article) \\(em \(pick(ComplianceFixture.titles))\n"
                let paragraphs = 8 + Int(random.next() % 4)
                for paragraph in 1...paragraphs {
                    if paragraph == 3, let rule = byArticle[article] {
                        // Kept on one page, and its page reported.
                        source += ".ne 4v\n.PP\n\(paragraph). \(rule)\n.br\n.tm REQUIREMENT \(article) \\n%\n"
                        continue
                    }
                    if paragraph == 5 && article % 3 == 0 {
                        let value = [3, 4, 6, 8, 12, 30][Int(random.next() % 6)]
                        source +=
                            ".PP\n\(paragraph). " + pick(ComplianceFixture.distractors).replacingOccurrences(of: "{n}", with: "\(value)")
                            + "\n"
                        continue
                    }
                    let sentences = (0..<(4 + Int(random.next() % 4))).map { _ in
                        "\(pick(ComplianceFixture.fillerSubjects)) \(pick(ComplianceFixture.fillerVerbs)) \(pick(ComplianceFixture.fillerObjects))\(pick(ComplianceFixture.fillerTails))."
                    }
                    source += ".PP\n\(paragraph). " + sentences.joined(separator: " ") + "\n"
                }
            }
            source += ".br\n.tm LASTPAGE \\n%\n"
            return Self(groff: source, articles: count)
        }
    }

    struct Spec {
        enum Breakage {
            case none
            /// A code fence opened and never closed.
            case unclosedFence
            /// Latin-1 bytes in a UTF-8 file, and a table whose rows disagree on their columns.
            case mixedEncodingAndTable

            init(index: Int) {
                self = index == 17 ? .unclosedFence : index == 38 ? .mixedEncodingAndTable : .none
            }
        }

        var name: String
        var bytes: Data
        /// 1-based line numbers of planted violations, with the article of the requirement each breaks.
        var violations: [(Int, Int)]

        static let features = [
            "Offline sync", "Family sharing", "Smart reminders", "Voice notes", "Receipt scanning", "Team inbox", "Guest checkout",
            "Usage analytics", "Single sign-on", "Data export", "Live chat", "Photo backup", "Referral rewards", "Dark mode",
            "Calendar integration", "Two-step login", "Invoice reminders", "Location check-in", "Call transcripts", "ID verification",
        ]

        static func compose(
            number: Int, requirements: [Requirement], practices: [PracticeRequirement], broken: Breakage, using random: inout SplitMix64
        ) -> Self {
            func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
            let feature = features[(number - 1) % features.count]
            let name = String(format: "NG-%03d-%@.md", number, feature.lowercased().replacingOccurrences(of: " ", with: "-"))
            var lines = [
                "# NG-\(String(format: "%03d", number)): \(feature)", "",
                "Owner: platform team. Status: draft for review.", "",
                "## Summary", "",
                "\(feature) lets customers do more without leaving the app. This spec covers behaviour, data handling and rollout.", "",
                "## Behaviour", "",
                "- The feature is behind the `ng_\(feature.lowercased().replacingOccurrences(of: " ", with: "_"))` flag.",
                "- The button is \(40 + Int(random.next() % 12)) px tall on phones.",
                "- Up to \(2 + Int(random.next() % 8)) devices can be linked per account.", "",
                "## Data handling", "",
            ]
            var violations: [(Int, Int)] = []
            // Three to five claims about regulated data; about one in three breaks its limit.
            var chosen = Set<Int>()
            while chosen.count < 3 + Int(random.next() % 3) { chosen.insert(Int(random.next() % UInt64(requirements.count))) }
            for index in chosen.sorted() {
                let requirement = requirements[index]
                let violates = random.next() % 3 == 0
                let value = violates ? breaking(requirement, using: &random) : keeping(requirement, using: &random)
                lines.append("- " + Requirement.fill(pick(requirement.measure.claims), scope: requirement.scope, value: value))
                if violates { violations.append((lines.count, requirement.article)) }
            }
            // One or two practices, kept or (about one in three) broken in words.
            var practised = Set<Int>()
            while !practices.isEmpty, practised.count < min(practices.count, 1 + Int(random.next() % 2)) {
                practised.insert(Int(random.next() % UInt64(practices.count)))
            }
            for index in practised.sorted() {
                let required = practices[index]
                let violates = random.next() % 3 == 0
                let wording = violates ? required.practice.breaking : required.practice.keeping
                lines.append("- " + Requirement.fill(pick(wording), scope: required.scope, value: 0))
                if violates { violations.append((lines.count, required.article)) }
            }
            lines += [
                "- Exports are offered as CSV and JSON.", "", "## Rollout", "",
                "Rollout starts with \(5 + Int(random.next() % 20)) % of users in week \(1 + Int(random.next() % 8)).", "",
            ]
            switch broken {
            case .none: break
            case .unclosedFence:
                lines += ["## Example payload", "", "```json", "{\"feature\": \"\(feature)\", \"enabled\": true}"]
            case .mixedEncodingAndTable:
                lines += ["## Limits", "", "| Limit | Value |", "|---|---|", "| Devices | 5 | extra |", "| Exports per day |", ""]
            }
            var bytes = Data((lines.joined(separator: "\n") + "\n").utf8)
            if case .mixedEncodingAndTable = broken {
                // "Café" and "naïve" in Latin-1 after the UTF-8 text.
                bytes.append(
                    contentsOf: Array("Notes from the caf".utf8) + [0xE9] + Array(" review: a na".utf8) + [0xEF]
                        + Array("ve estimate.\n".utf8))
            }
            return Self(name: name, bytes: bytes, violations: violations)
        }

        /// A value on the wrong side of the limit, by a clear margin.
        static func breaking(_ requirement: Requirement, using random: inout SplitMix64) -> Int {
            let factor = [2.0, 3.0, 1.5][Int(random.next() % 3)]
            return requirement.measure.atMost
                ? Int((Double(requirement.limit) * factor).rounded()) : max(1, Int((Double(requirement.limit) / factor).rounded(.down)))
        }

        /// A value within the limit (sometimes exactly at it).
        static func keeping(_ requirement: Requirement, using random: inout SplitMix64) -> Int {
            if random.next() % 4 == 0 { return requirement.limit }
            return requirement.measure.atMost ? max(1, requirement.limit / 2) : requirement.limit * 2
        }
    }

    enum StyleGuide {
        static let text = """
            # Engineering style guide for remediation text

            1. Lead with the change, in the imperative: "Delete support tickets 30 days after the account closes."
            2. Name the rule it satisfies by article: "(Regulation, Article 9)".
            3. One sentence per change; no more than 30 words.
            4. Use numerals and units for every limit: "30 days", "256-bit", "15 minutes".
            5. No blame and no marketing words ("simply", "seamless", "best-in-class").
            6. Say who owns the change: "Owner: the team named in the spec."

            """
    }
}
