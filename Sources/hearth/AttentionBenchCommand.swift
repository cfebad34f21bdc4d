import ArgumentParser
import Foundation
import HearthBench
import HearthCore

struct AttentionBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract:
            "Replays a labelled event stream through parsing, ingestion, scoring and routing: what interrupted, what waited, what was suppressed.",
        discussion: """
            Each JSONL line has occurredAt, label (urgent, digest or noise; hidden from the scorer), an optional id, and one of \
            "mail" (raw RFC 822 text), "file" ({path, content}), "commit" ({repo, author, message, files}) or "event" \
            ({source, kind, payload}). --profile loads statements, one a line, as 'hearth memory remember' would \
            ("Ann Lee is my manager"). No model is called. A keyword rule runs beside it as the baseline.

            'hearth bench attention --generate week.jsonl --seed 1' writes a working week (and week.profile.txt) to replay.
            """)

    @Option(help: "The JSONL stream to replay.")
    var stream: String?

    @Option(help: "A text file of statements about the user, one a line.")
    var profile: String?

    @Option(help: "Write a generated working week to this file (and its profile beside it) instead of replaying.")
    var generate: String?

    @Option(help: "The generated week's seed.")
    var seed: UInt64 = 1

    @Option(help: "Days in the generated week.")
    var days = 5

    @Option(help: "Mails per generated day (other events scale with the week).")
    var mailsPerDay = 120

    @Option(help: "Instead of replaying: measure the daemon's idle CPU for this many seconds, attention on versus off.")
    var idle: Int?

    @Flag(help: "Print the figures and every decision as JSON.")
    var json = false

    func validate() throws {
        if let idle, idle < 5 || idle > 3_600 { throw ValidationError("--idle must be 5…3600 seconds") }
        if generate == nil && stream == nil && idle == nil {
            throw ValidationError("give --stream FILE to replay, --generate FILE to write a week, or --idle SECONDS")
        }
        if generate != nil && stream != nil { throw ValidationError("--generate and --stream do not go together") }
        if days < 1 || days > 366 { throw ValidationError("--days must be 1…366") }
    }

    func run() async throws {
        if let idle {
            let report = try await IdleBenchmark.run(seconds: idle) { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8))
            }
            if json {
                print(report.jsonText)
            } else {
                for (name, figures) in (report.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    print(
                        "\(name): \(figures["cpu_percent"]?.doubleValue ?? 0) % CPU (\(figures["cpu_seconds"]?.doubleValue ?? 0) s over \(figures["wall_seconds"]?.doubleValue ?? 0) s)"
                    )
                }
            }
            return
        }
        if let generate {
            let week = AttentionWeek(seed: seed, days: days, mailsPerDay: mailsPerDay).generate()
            let url = URL(fileURLWithPath: generate)
            let profileURL = url.deletingPathExtension().appendingPathExtension("profile.txt")
            try (week.lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            try (week.profile.joined(separator: "\n") + "\n").write(to: profileURL, atomically: true, encoding: .utf8)
            print("wrote \(week.lines.count) events to \(url.path) and the profile to \(profileURL.path)")
            return
        }
        let workspace = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "hearth-bench-attention-\(getpid())")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workspace) }
        let options = AttentionBenchmark.Options(
            stream: URL(fileURLWithPath: stream!), profile: profile.map { URL(fileURLWithPath: $0) }, workspace: workspace)
        let report: JSONValue
        do {
            report = try await AttentionBenchmark(options: options).run { line in
                FileHandle.standardError.write(Data("bench: \(line)\n".utf8))
            }
        } catch let error as AttentionBenchmark.BenchError {
            throw CLIError.usage(error.description)
        }
        if json {
            print(report.jsonText)
            return
        }
        func number(_ value: JSONValue?) -> String { value?.doubleValue.map { $0 == $0.rounded() ? String(Int64($0)) : String($0) } ?? "?" }
        print(
            "events: \(number(report["events"])), model calls: 0, \(number(report["events_per_second"])) events/s through scoring and routing"
        )
        print(
            "urgent: \(number(report["urgent"]?["total"])) — interrupted \(number(report["urgent"]?["interrupted"])), in the digest \(number(report["urgent"]?["in_digest"])), missed \(number(report["urgent"]?["missed"]))"
        )
        print(
            "noise: \(number(report["noise"]?["total"])) — suppressed \(number(report["noise"]?["suppressed"])), interrupted \(number(report["noise"]?["interrupted"]))"
        )
        print("interruptions per day: \(number(report["interrupts_per_day"]))")
        print(
            "baseline (subject says urgent/asap/critical/down): missed \(number(report["baseline_keyword_rule"]?["missed"])), noise interrupted \(number(report["baseline_keyword_rule"]?["noise_interrupted"])), \(number(report["baseline_keyword_rule"]?["interrupts_per_day"])) per day"
        )
        print("brief over the busiest day (\(number(report["brief"]?["events"])) events): \(number(report["brief"]?["seconds"])) s")
        for miss in report["missed"]?.arrayValue ?? [] {
            print(
                "  missed: \(miss["id"]?.stringValue ?? "?") \(miss["headline"]?.stringValue ?? "") (\(miss["level"]?.stringValue ?? ""))")
        }
    }
}
