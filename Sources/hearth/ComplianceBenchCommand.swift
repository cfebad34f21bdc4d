import ArgumentParser
import Foundation
import HearthAgent
import HearthBench
import HearthConfig
import HearthCore
import HearthDaemon
import HearthModels
import Logging

struct ComplianceBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compliance",
        abstract: "The quantitative compliance review of a fixture, scored against its truth.json, beside two baselines.",
        discussion: """
            Reads DIR in the layout 'hearth demo compliance' writes: Regulation.pdf, Projects/NextGen/*.md, truth.json. \
            The regulation's binding sentences become page-cited records; every spec line stating an amount finds its \
            requirement by retrieval and code compares the amount with the limit. Beside it, in the same run: keyword \
            overlap and plain BM25 finding the requirement, with the same checks. A spec the strict markdown reader refuses \
            is copied and normalised by a vetted script run confined by hearth-sandbox (the copy only, no network), then \
            reviewed ("repairs": the problem, the script's output, the diff); one still unreadable is listed under "failed". \
            A line about a requirement without an amount ("shall only be transmitted over encrypted connections") is \
            judged by the configured chat model with --judge model (a private llama-server is started for a local one, as \
            for 'hearth ask'); with --judge none (the default) it is left undecided and counted apart. "quantitative" and \
            "qualitative" split the scores by whether the spec line states an amount. Retrieval is full text only.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The fixture directory.", valueName: "dir"))
    var fixture: String

    @Option(
        help: ArgumentHelp(
            "Also write Hearth's findings as the review's report (markdown), e.g. DIR/Reports/compliance.md.", valueName: "file"))
    var report: String?

    enum Judging: String, ExpressibleByArgument, CaseIterable {
        case none, model
    }

    @Option(help: "Who judges lines about requirements without an amount: none (left undecided) or model (the configured chat model).")
    var judge = Judging.none

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        for file in ["Regulation.pdf", "truth.json", "Projects/NextGen"] {
            guard FileManager.default.fileExists(atPath: URL(fileURLWithPath: fixture).appending(path: file).path) else {
                throw ValidationError("\(fixture) lacks \(file); 'hearth demo compliance --into DIR' writes a fixture")
            }
        }
    }

    func run() async throws {
        let progress: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-compliance-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var access: InferenceAccess?
        var judging = ComplianceJudge.none
        if judge == .model {
            let context = try common.load()
            let opened = try await InferenceAccess.open(
                paths: context.paths, configuration: context.configuration, logger: Logger(label: "hearth"))
            access = opened
            let agent = LanguageModelAgent(
                model: opened.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds), mode: opened.toolCallMode)
            judging = .model(agent, name: context.configuration.inference.chatModel)
        }
        let result: JSONValue
        do {
            result = try await MemoryBenchmark(embedder: nil, directory: directory).compliance(
                fixture: URL(fileURLWithPath: fixture), report: report.map { URL(fileURLWithPath: $0) }, judge: judging, progress: progress)
        } catch {
            await access?.close()
            throw error
        }
        await access?.close()
        if json {
            print(result.jsonText)
            return
        }
        func line(_ name: String, _ figures: JSONValue?) -> String {
            let violations = figures?["violations"]
            return
                "  \(name): flagged \(violations?["flagged"]?.intValue ?? 0) of \(violations?["truth"]?.intValue ?? 0), precision \(violations?["precision"]?.doubleValue ?? 0), recall \(violations?["recall"]?.doubleValue ?? 0), pages correct \(figures?["pages_correct"]?.doubleValue ?? 0)"
        }
        print(
            "compliance: \(result["specs"]?.intValue ?? 0) specs against \(result["pages"]?.intValue ?? 0) pages (\(result["requirements"]?.intValue ?? 0) binding sentences), \(result["seconds"]?.doubleValue ?? 0) s"
        )
        print(line("hearth", result))
        print(line("  with an amount (code)", result["quantitative"]))
        print(line("  without an amount (\(result["judge"]?.stringValue ?? "?"))", result["qualitative"]))
        if let undecided = result["undecided"]?.intValue, undecided > 0 { print("  \(undecided) line(s) left undecided") }
        print(line("keywords", result["baselines"]?["keywords"]))
        print(line("bm25", result["baselines"]?["bm25"]))
        for failure in result["failed"]?.arrayValue ?? [] {
            print("  not read: \(failure["spec"]?.stringValue ?? "?"): \(failure["reason"]?.stringValue ?? "")")
        }
    }
}
