import Foundation
import HearthCore
import HearthModels
import Logging

/// `hearth bench loops`: how often the local chat model's answers degenerate into loops, with the
/// server's plain sampling (the baseline) and with Hearth's repetition controls, in one run over
/// the same fixed prompts.
///
/// Each answer runs to its end (no early stop), so the figure is the model's own loop rate; a
/// loop is decided by `Repetition.isDegenerate`, the check every surface applies. Prompts with a
/// known answer also score whether it is there, so penalties that break answers show up too.
public struct LoopBenchmark: Sendable {
    /// A prompt, and a word the answer must contain when it has one right answer.
    public struct Prompt: Sendable, Hashable {
        public var text: String
        public var expect: String?

        public init(_ text: String, expect: String? = nil) {
            self.text = text
            self.expect = expect
        }
    }

    /// The 30 prompts BENCHMARKS.md reports on: the README's own `ask` examples first, then
    /// short questions and small writing tasks of the kind people try first.
    public static let prompts: [Prompt] = [
        Prompt("Summarise the expense policy in one sentence."), Prompt("2+2?", expect: "4"),
        Prompt("What is the capital of France?", expect: "Paris"), Prompt("Say hello."),
        Prompt("Write a haiku about autumn."), Prompt("List three fruits."), Prompt("Explain what a database index is."),
        Prompt("Translate 'good morning' into French.", expect: "bonjour"),
        Prompt("What is the boiling point of water in Celsius?", expect: "100"),
        Prompt("Give me a name for a grey cat."), Prompt("Summarise this note: the team met on Monday and agreed to ship on Friday."),
        Prompt("What day comes after Monday?", expect: "Tuesday"), Prompt("Write one sentence about the sea."),
        Prompt("How many legs does a spider have?", expect: "8"), Prompt("Suggest a title for a report on Q2 travel expenses."),
        Prompt("What is 10 times 3?", expect: "30"), Prompt("Describe a good morning routine in two sentences."),
        Prompt("Rewrite politely: send me the file now."), Prompt("What colour is the sky on a clear day?", expect: "blue"),
        Prompt("Name the largest planet in the solar system.", expect: "Jupiter"), Prompt("Give two tips for writing clear emails."),
        Prompt("What is the opposite of hot?", expect: "cold"), Prompt("Summarise: invoices over 100 need a manager's approval."),
        Prompt("Write a short reminder to pay the rent."), Prompt("What language is spoken in Spain?", expect: "Spanish"),
        Prompt("Explain recursion to a child."), Prompt("List the days of the weekend.", expect: "Saturday"),
        Prompt("What is the chemical symbol for water?", expect: "H2O"), Prompt("Write a tagline for a coffee shop."),
        Prompt("Tell me a fun fact about octopuses."),
    ]

    /// Tuning prompts, kept apart from the reported ones so the settings are not fitted to them.
    public static let tuningPrompts: [Prompt] = [
        Prompt("What is the capital of Italy?", expect: "Rome"), Prompt("Summarise the travel policy in one sentence."),
        Prompt("3+5?", expect: "8"), Prompt("Write a limerick about a dog."), Prompt("List three colours."),
        Prompt("Explain what an API is."), Prompt("Translate 'thank you' into German.", expect: "danke"),
        Prompt("How many days are in a week?", expect: "7"), Prompt("Give me a name for a fast horse."),
        Prompt("Summarise this note: the server was down for an hour and is back now."),
        Prompt("What month comes after May?", expect: "June"),
        Prompt("Write one sentence about mountains."), Prompt("Suggest a subject line for a meeting invite."),
        Prompt("What is 6 times 7?", expect: "42"), Prompt("Describe a quiet evening in two sentences."),
        Prompt("Rewrite politely: fix this bug."), Prompt("What do bees make?", expect: "honey"),
        Prompt("Name a planet close to the Sun.", expect: "Mercury"),
        Prompt("Give two tips for a good presentation."), Prompt("What is the opposite of up?", expect: "down"),
        Prompt("Summarise: meals over 50 need a receipt."), Prompt("Write a short note to thank a colleague."),
        Prompt("What language is spoken in Brazil?", expect: "Portuguese"), Prompt("Explain gravity to a child."),
        Prompt("List the primary colours.", expect: "red"), Prompt("What gas do plants take in?", expect: "carbon"),
        Prompt("Write a slogan for a bakery."), Prompt("Tell me a fact about penguins."),
        Prompt("Summarise the vacation rules in one sentence."),
        Prompt("What is the freezing point of water in Celsius?", expect: "0"),
    ]

    /// Candidates tried on the tuning prompts (`hearth bench loops --tune`).
    public static let candidates: [(name: String, control: RepetitionControl)] = [
        ("off", .off),
        (
            "rp1.1",
            RepetitionControl(repeatPenalty: 1.1, repeatLastN: 64, dryMultiplier: 0, dryBase: 1.75, dryAllowedLength: 2, dryLastN: 0)
        ),
        (
            "dry0.8",
            RepetitionControl(repeatPenalty: 1, repeatLastN: 0, dryMultiplier: 0.8, dryBase: 1.75, dryAllowedLength: 2, dryLastN: 1024)
        ),
        (
            "rp1.1+dry0.8",
            RepetitionControl(repeatPenalty: 1.1, repeatLastN: 128, dryMultiplier: 0.8, dryBase: 1.75, dryAllowedLength: 2, dryLastN: 1024)
        ),
        (
            "rp1.15+dry0.8",
            RepetitionControl(repeatPenalty: 1.15, repeatLastN: 128, dryMultiplier: 0.8, dryBase: 1.75, dryAllowedLength: 2, dryLastN: 1024)
        ),
        (
            "rp1.3+dry0.8",
            RepetitionControl(repeatPenalty: 1.3, repeatLastN: 128, dryMultiplier: 0.8, dryBase: 1.75, dryAllowedLength: 2, dryLastN: 1024)
        ),
        (
            "rp1.15+dry1.5",
            RepetitionControl(repeatPenalty: 1.15, repeatLastN: 128, dryMultiplier: 1.5, dryBase: 1.75, dryAllowedLength: 2, dryLastN: 1024)
        ),
    ]

    /// Settings compared: the server's plain sampling, and what Hearth sends for free text.
    public static let settings: [(name: String, control: RepetitionControl)] = [("off", .off), ("hearth", .text)]

    public struct Options: Sendable {
        public var installation: ModelInstallation
        public var directory: URL
        public var maxTokens = 256
        public var temperature = 0.2
        public var seed = 42
        public var threads = 1
        public var prompts = LoopBenchmark.prompts
        public var settings = LoopBenchmark.settings.map { Setting(name: $0.name, control: $0.control) }

        public init(installation: ModelInstallation, directory: URL) {
            self.installation = installation
            self.directory = directory
        }
    }

    public struct Setting: Sendable {
        public var name: String
        public var control: RepetitionControl

        public init(name: String, control: RepetitionControl) {
            self.name = name
            self.control = control
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> JSONValue {
        let server = try await BenchModelServer.start(
            installation: options.installation, directory: options.directory, threads: options.threads, progress: progress)
        defer { server.cancel() }
        let client = server.client
        var results: [JSONValue] = []
        // Settings alternate per prompt, so drift in the machine's speed hits both alike.
        var answers: [String: [JSONValue]] = [:]
        for (index, prompt) in options.prompts.enumerated() {
            for setting in options.settings {
                let request = ChatRequest(
                    messages: [.user(prompt.text)], temperature: options.temperature, maxTokens: options.maxTokens, seed: options.seed,
                    repetition: setting.control)
                let response = try await client.complete(request)
                let degenerate = Repetition.isDegenerate(response.content)
                let correct = prompt.expect.map { response.content.lowercased().contains($0.lowercased()) }
                answers[setting.name, default: []].append([
                    "prompt": .string(prompt.text), "answer": .string(response.content), "degenerate": .bool(degenerate),
                    "correct": correct.map(JSONValue.bool) ?? .null, "hitLimit": .bool(response.finishReason == "length"),
                    "tokens": .number(Double(response.usage.completionTokens)), "seconds": .number(response.usage.latencySeconds),
                ])
            }
            progress("prompt \(index + 1)/\(options.prompts.count)")
        }
        await server.stop()
        for setting in options.settings {
            let rows = answers[setting.name] ?? []
            let degenerate = rows.filter { $0["degenerate"] == true }.count
            let limit = rows.filter { $0["hitLimit"] == true }.count
            let graded = rows.filter { $0["correct"] != .null }
            let correct = graded.filter { $0["correct"] == true }.count
            let tokens = rows.reduce(0.0) { $0 + ($1["tokens"]?.doubleValue ?? 0) }
            let seconds = rows.reduce(0.0) { $0 + ($1["seconds"]?.doubleValue ?? 0) }
            let control = setting.control
            results.append([
                "setting": .string(setting.name),
                "repeatPenalty": .number(control.repeatPenalty), "repeatLastN": .number(Double(control.repeatLastN)),
                "dryMultiplier": .number(control.dryMultiplier), "dryAllowedLength": .number(Double(control.dryAllowedLength)),
                "prompts": .number(Double(rows.count)), "degenerate": .number(Double(degenerate)),
                "loopRate": .number(rows.isEmpty ? 0 : Double(degenerate) / Double(rows.count)),
                "ranToLimit": .number(Double(limit)), "graded": .number(Double(graded.count)), "correct": .number(Double(correct)),
                "meanTokens": .number(rows.isEmpty ? 0 : (tokens / Double(rows.count) * 10).rounded() / 10),
                "seconds": .number((seconds * 10).rounded() / 10), "answers": .array(rows),
            ])
        }
        return [
            "benchmark": "loops", "model": "smollm2-135m (Q4_1)", "threads": .number(Double(options.threads)),
            "maxTokens": .number(Double(options.maxTokens)), "temperature": .number(options.temperature),
            "seed": .number(Double(options.seed)),
            "results": .array(results),
        ]
    }

    /// The figures as a table, one line per setting.
    public static func render(_ report: JSONValue) -> String {
        var lines = [
            "loops: \(report["model"]?.stringValue ?? "?"), -t \(report["threads"]?.intValue ?? 1), temperature \(report["temperature"]?.doubleValue ?? 0), seed \(report["seed"]?.intValue ?? 0), at most \(report["maxTokens"]?.intValue ?? 0) tokens",
            "setting   repeat      DRY   degenerate    ran to limit   correct   mean tokens   model time",
        ]
        for result in report["results"]?.arrayValue ?? [] {
            let prompts = result["prompts"]?.intValue ?? 0
            lines.append(
                String(
                    format: "%-8@  %4.2f/%-4d  %4.2f   %2d/%d (%4.1f%%)   %2d              %d/%d      %6.1f        %6.1f s",
                    (result["setting"]?.stringValue ?? "?") as NSString, result["repeatPenalty"]?.doubleValue ?? 0,
                    result["repeatLastN"]?.intValue ?? 0, result["dryMultiplier"]?.doubleValue ?? 0, result["degenerate"]?.intValue ?? 0,
                    prompts,
                    (result["loopRate"]?.doubleValue ?? 0) * 100, result["ranToLimit"]?.intValue ?? 0, result["correct"]?.intValue ?? 0,
                    result["graded"]?.intValue ?? 0, result["meanTokens"]?.doubleValue ?? 0, result["seconds"]?.doubleValue ?? 0))
        }
        return lines.joined(separator: "\n")
    }
}
