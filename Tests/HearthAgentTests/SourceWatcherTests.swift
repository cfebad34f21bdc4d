import Foundation
import HearthAgent
import HearthCore
import HearthSandbox
import HearthStore
import HearthTesting
import Logging
import Testing

@Suite("Git and metric sources", .timeLimit(.minutes(2)))
struct SourceWatcherTests {
    func git(_ arguments: [String], in directory: URL, author: String = "Ann Lee <ann@nw.test>") async throws {
        let parts = author.split(separator: "<")
        let name = parts[0].trimmingCharacters(in: .whitespaces)
        let email = String(parts[1].dropLast())
        let result = try await ProgramRunner.run(
            executable: URL(fileURLWithPath: "/usr/bin/git"), arguments: ["-C", directory.path] + arguments,
            environment: [
                "PATH": "/usr/bin:/bin", "HOME": directory.path, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": name,
                "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
            ], timeout: .seconds(30))
        #expect(result.status == 0, "git \(arguments): \(result.stderr)")
    }

    func commit(_ message: String, file: String, in repository: URL, author: String = "Ann Lee <ann@nw.test>") async throws {
        try Data("\(message)\n".utf8).write(to: repository.appending(path: file))
        try await git(["add", "."], in: repository, author: author)
        try await git(["commit", "-q", "-m", message], in: repository, author: author)
    }

    @Test(
        "commits made while the service was down are journaled at start, once each, with author, files and size; history before first sight is not"
    )
    func gitCatchUp() async throws {
        let directory = try TemporaryDirectory()
        let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        let repository = directory.appending("repo")
        try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
        try await git(["init", "-q", "-b", "main"], in: repository)
        try await commit("Old history", file: "a.txt", in: repository)
        let store = SourceStateTable(database: database)
        let opened = try await GitRepository.open(repository, name: "repo")
        let service = GitWatcherService(sources: [.init(name: "repo", path: repository)], store: store, logger: Logger(label: "test"))
        #expect(await service.scan(opened) == 0)
        // "Down": two commits on main, one on a new branch that shares them.
        try await commit("Add the parser", file: "parser.swift", in: repository)
        try await commit("Fix the parser", file: "parser.swift", in: repository, author: "Bo Park <bo@nw.test>")
        try await git(["checkout", "-q", "-b", "topic"], in: repository)
        try await commit("Try a cache", file: "cache.swift", in: repository)
        #expect(await service.scan(opened) == 3)
        #expect(await service.scan(opened) == 0)
        let events = try await JournalStore(database: database).events(EventQuery(source: "git"))
        #expect(events.map { $0.payload["message"]?.stringValue } == ["Add the parser", "Fix the parser", "Try a cache"])
        #expect(events[1].payload["author"] == "Bo Park <bo@nw.test>")
        #expect(events[0].payload["files"] == ["parser.swift"])
        #expect(events[0].payload["insertions"] == 1)
        #expect(events.allSatisfy { $0.provenance == .untrusted && $0.kind == "commit" })
    }

    @Test("a path that is not a repository fails with one clear error naming it")
    func notARepository() async throws {
        let directory = try TemporaryDirectory()
        await #expect(throws: GitSourceError.self) { try await GitRepository.open(directory.appending("missing"), name: "missing") }
        do {
            _ = try await GitRepository.open(directory.url, name: "plain")
            Issue.record("a plain folder opened as a repository")
        } catch let error as GitSourceError {
            #expect(error.description.hasPrefix("git source plain: not a git repository"), "\(error)")
        }
    }

    @Test("metric rows: numbers per column, dates, quoted cells; a malformed row is reported and the rest go on")
    func metricRows() {
        let csv = "date,service,cost_usd\n2026-11-01,compute,\"1,200.50\"\n2026-11-02,compute\n2026-11-03,storage,$80\n"
        let rows = MetricRows.parse(csv, jsonLines: false)
        #expect(rows.count == 3)
        guard case .row(let first) = rows[0], case .malformed(let line, let reason) = rows[1], case .row(let third) = rows[2] else {
            Issue.record("unexpected rows: \(rows)")
            return
        }
        #expect(first.values == ["cost_usd": 1200.5])
        #expect(first.labels["service"] == "compute")
        #expect(first.date == Timestamp.parse("2026-11-01T00:00:00Z"))
        #expect(line == 3)
        #expect(reason == "2 fields where the header has 3")
        #expect(third.values["cost_usd"] == 80)
        let jsonl = MetricRows.parse("{\"at\": \"2026-11-05T10:00:00Z\", \"latency_ms\": 41}\nnot json\n", jsonLines: true)
        #expect(jsonl.count == 2)
        if case .malformed(_, let why) = jsonl[1] { #expect(why == "not a JSON object") } else { Issue.record("\(jsonl)") }
    }

    @Test("a metric stream journals only new rows, survives a rewrite of the file, and reports a malformed row")
    func metricStream() async throws {
        let directory = try TemporaryDirectory()
        let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        let workspace = directory.appending("ws")
        try FileManager.default.createDirectory(at: workspace.appending(path: "Budget"), withIntermediateDirectories: true)
        let file = workspace.appending(path: "Budget/costs.csv")
        try Data("date,cost\n2026-11-01,10\n2026-11-02,12\n".utf8).write(to: file)
        let service = MetricStreamService(
            workspace: workspace, streams: ["Budget/costs.csv"], store: SourceStateTable(database: database), logger: Logger(label: "test"))
        await service.read("Budget/costs.csv")
        try Data("date,cost\n2026-11-01,10\n2026-11-02,12\n2026-11-03,oops,1\n2026-11-04,15\n".utf8).write(to: file)
        await service.read("Budget/costs.csv")
        await service.read("Budget/costs.csv")
        let events = try await JournalStore(database: database).events(EventQuery(source: "metrics"))
        #expect(events.map(\.kind) == ["metric.row", "metric.row", "metric.malformed", "metric.row"])
        #expect(events.last?.payload["values"] == ["cost": 15])
        #expect(events[2].payload["line"] == 4)
    }
}
