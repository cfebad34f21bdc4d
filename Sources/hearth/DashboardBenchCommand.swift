import ArgumentParser
import Foundation
import HearthBench
import HearthCore

struct DashboardBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Times every dashboard page against a real daemon over a full store, beside the same pages over a store of one goal.",
        discussion: """
            The store is filled with --runs finished goal runs (each with a three-task plan, traces and usage), --records \
            memory records and --approvals waiting approvals, in a temporary data directory that is removed afterwards. \
            Each page is requested --samples times (after two warm-ups) on loopback with a signed-in session; the figures are \
            the wall time of each request as the client sees it, so they include the server's work. Transfer is the sum of \
            every page's HTML plus the stylesheet, script and icon. Targets: p95 ≤ 150 ms per page, transfer ≤ 200 KB.
            """)

    @Option(help: "Finished goal runs in the full store.")
    var runs = 10_000

    @Option(help: "Memory records in the full store.")
    var records = 100_000

    @Option(help: "Waiting approvals in the full store.")
    var approvals = 1_000

    @Option(help: "Timed requests per page.")
    var samples = 40

    @Flag(help: "Print the figures as JSON.")
    var json = false

    func validate() throws {
        if runs < 1 || runs > 1_000_000 { throw ValidationError("--runs must be 1…1000000") }
        if records < 0 || records > 5_000_000 { throw ValidationError("--records must be 0…5000000") }
        if approvals < 0 || approvals > 100_000 { throw ValidationError("--approvals must be 0…100000") }
        if samples < 5 || samples > 10_000 { throw ValidationError("--samples must be 5…10000") }
    }

    func run() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-dashboard-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = DashboardBenchmark.Options()
        options.runs = runs
        options.records = records
        options.approvals = approvals
        options.samples = samples
        let report = try await DashboardBenchmark.run(options, in: directory) { line in
            FileHandle.standardError.write(Data("bench: \(line)\n".utf8))
        }
        if json {
            print(report.jsonText)
            return
        }
        let baseline = Dictionary(
            (report["baseline_pages"]?.arrayValue ?? []).map { ($0["path"]?.stringValue ?? "", $0) },
            uniquingKeysWith: { first, _ in first })
        print("page                          p50 ms   p95 ms   bytes  | one goal: p50 ms  p95 ms")
        for page in report["pages"]?.arrayValue ?? [] {
            let path = page["path"]?.stringValue ?? ""
            let base = baseline[path.replacingOccurrences(of: #"/goals/\d+"#, with: "/goals/1", options: .regularExpression)]
            print(
                path.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + String(
                        format: "%8.1f %8.1f %8d  | %15.1f %7.1f", page["p50_ms"]?.doubleValue ?? 0, page["p95_ms"]?.doubleValue ?? 0,
                        page["bytes"]?.intValue ?? 0, base?["p50_ms"]?.doubleValue ?? 0, base?["p95_ms"]?.doubleValue ?? 0))
        }
        print(
            String(
                format: "worst p95 %.1f ms (target 150; one goal %.1f ms; /v1/health p95 %.1f ms); transfer %d bytes (target 200000)",
                report["worst_p95_ms"]?.doubleValue ?? 0, report["baseline_worst_p95_ms"]?.doubleValue ?? 0,
                report["floor"]?["p95_ms"]?.doubleValue ?? 0, report["transfer_bytes"]?.intValue ?? 0))
    }
}
