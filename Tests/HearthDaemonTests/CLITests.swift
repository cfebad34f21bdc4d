import Foundation
import HearthBench
import HearthCore
import HearthServer
import HearthStore
import HearthTesting
import Testing

@Suite("hearth CLI, end to end", .timeLimit(.minutes(3)))
struct CLITests {
    @Test("init writes a commented config, a 0600 token and the workspace; a second init changes nothing")
    func initIsIdempotent() async throws {
        let sandbox = try Sandbox()
        let first = try await sandbox.hearth(["init"])
        #expect(first.status == 0, "\(first.stderr)")
        let config = sandbox.data.appending(path: "config.toml")
        let text = try String(contentsOf: config, encoding: .utf8)
        #expect(text.contains("# Hearth configuration, written by `hearth init`."))
        #expect(text.contains("data_dir = \"\(sandbox.data.path)\""))
        let token = sandbox.data.appending(path: "api-token")
        let attributes = try FileManager.default.attributesOfItem(atPath: token.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(FileManager.default.fileExists(atPath: sandbox.workspace.path))
        let tokenText = try String(contentsOf: token, encoding: .utf8)

        let edited = text.replacingOccurrences(of: "settle_ms = 300", with: "settle_ms = 900  # mine")
        try Data(edited.utf8).write(to: config)
        let second = try await sandbox.hearth(["init"])
        #expect(second.status == 0)
        #expect(second.stdout.contains("exists, left as it is"))
        #expect(try String(contentsOf: config, encoding: .utf8) == edited)
        #expect(try String(contentsOf: token, encoding: .utf8) == tokenText)
    }

    @Test("init without flags uses the XDG locations; --systemd writes a user unit")
    func xdgAndSystemd() async throws {
        let sandbox = try Sandbox()
        let result = try await sandbox.hearth(["init", "--systemd"], isolated: false)
        #expect(result.status == 0, "\(result.stderr)")
        let home = sandbox.home.path
        #expect(FileManager.default.fileExists(atPath: "\(home)/.config/hearth/config.toml"))
        #expect(FileManager.default.fileExists(atPath: "\(home)/.local/share/hearth/api-token"))
        #expect(FileManager.default.fileExists(atPath: "\(home)/HearthWorkspace"))
        let unit = try String(contentsOfFile: "\(home)/.config/systemd/user/hearth.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/"))
        #expect(unit.contains(" daemon --config \(home)/.config/hearth/config.toml"))
        #expect(unit.contains("WantedBy=default.target"))
    }

    @Test(
        "a malformed config is one line naming file, line and key; nothing starts",
        arguments: [
            ("[server]\nport = \"eighty\"\n", ":2: server.port: expected an integer from 0 to 65535, found a string"),
            ("[watcher]\nsetle_ms = 5\n", ":2: watcher.setle_ms: unknown key (did you mean \"settle_ms\"?)"),
            ("[log\n", ":1:5: expected ']' to close the table header"),
        ])
    func malformedConfig(config: String, expected: String) async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.data, withIntermediateDirectories: true)
        try Data(config.utf8).write(to: sandbox.data.appending(path: "config.toml"))
        for command in [["daemon"], ["status"], ["event", "add", "--kind", "x"]] {
            let result = try await sandbox.hearth(command)
            #expect(result.status == 1)
            #expect(result.stderr.lines.count == 1, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("hearth: \(sandbox.data.path)/config.toml"), "\(result.stderr)")
            #expect(result.stderr.contains(expected), "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: sandbox.data.appending(path: "hearth.sqlite").path))
    }

    @Test("unknown flags and bad values exit 64 with one line")
    func usageErrors() async throws {
        let sandbox = try Sandbox()
        for (arguments, expected) in [
            (["events", "--frobnicate"], "Unknown option '--frobnicate'"),
            (["events", "--limit", "0"], "--limit must be between 1 and 100000"),
            (["schedule", "add", "bad name!", "@daily"], "schedule name \"bad name!\" may contain only"),
            (["no-such-command"], "'no-such-command' is not a command of 'hearth'; its commands are: init, daemon, status"),
            (["stauts"], "'stauts' is not a command; did you mean 'hearth status'?"),
            (["memory", "serch", "x"], "did you mean 'hearth memory search'?"),
        ] {
            let result = try await sandbox.hearth(arguments, isolated: arguments.first != "no-such-command" && arguments.first != "stauts")
            #expect(result.status == 64, "\(arguments)")
            #expect(result.stderr.lines.count == 1, "\(result.stderr)")
            #expect(result.stderr.contains(expected), "\(result.stderr)")
        }
    }

    @Test("bad input to commands is one actionable line and stores nothing")
    func badCommandInput() async throws {
        let sandbox = try Sandbox()
        let cases: [([String], String)] = [
            (["event", "add", "--kind", "x", "--payload", "{\"a\": }"], "--payload: invalid JSON at line 1, column 7"),
            (["event", "add", "--kind", "x", "--payload", "@/nonexistent.json"], "--payload: cannot read /nonexistent.json"),
            (["event", "add", "--kind", "has space"], "event kind \"has space\" may contain only"),
            (["event", "add", "--kind", "x", "--occurred-at", "tuesday"], "--occurred-at: \"tuesday\" is not an RFC 3339"),
            (["schedule", "add", "s", "61 * * * *"], "minute field \"61\": 61 is outside 0-59"),
            (["schedule", "add", "s", "@daily", "--tz", "Mars/Base"], "unknown time zone \"Mars/Base\""),
            (["effect", "append-line", "--file", "../../etc/passwd", "--text", "x"], "\"..\" is not allowed"),
            (["effect", "append-line", "--file", "a.txt", "--text", "two\nlines"], "single line"),
            (["run", "42"], "no run with id 42"),
            (["runs", "--state", "sleeping"], "unknown state \"sleeping\""),
            (["schedule", "remove", "ghost"], "no schedule named \"ghost\""),
            (["status", "--config", "/nonexistent/hearth.toml"], "config file /nonexistent/hearth.toml does not exist"),
        ]
        for (arguments, expected) in cases {
            let result = try await sandbox.hearth(arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.lines.count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        let events = try await sandbox.hearth(["events", "--json"])
        #expect(try JSONValue(parsing: events.stdout) == [])
    }

    @Test("an unusable data dir is a one-line error")
    func unusableDataDirectory() async throws {
        let sandbox = try Sandbox()
        let file = sandbox.root.appending("a-file")
        try Data("x".utf8).write(to: file)
        let notADirectory = try await ChildProcess.run(
            HearthBinary.url, ["event", "add", "--kind", "x", "--data-dir", file.path], environment: sandbox.environment)
        #expect(notADirectory.status == 1)
        #expect(notADirectory.stderr == "hearth: \(file.path) exists but is not a directory; move it aside or choose another location\n")
        let underAFile = try await ChildProcess.run(
            HearthBinary.url, ["daemon", "--data-dir", file.path + "/data"], environment: sandbox.environment)
        #expect(underAFile.status == 1)
        #expect(underAFile.stderr.lines.count == 1)
        #expect(underAFile.stderr.contains("cannot write to \(file.path)/data"))
    }

    @Test("event add works without a daemon; events --json has the documented shape")
    func eventsWithoutDaemon() async throws {
        let sandbox = try Sandbox()
        let added = try await sandbox.hearth(
            ["event", "add", "--source", "shell", "--kind", "note.added", "--key", "n-1", "--payload", #"{"text": "call Ann"}"#, "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try JSONValue(parsing: added.stdout) == ["id": 1, "duplicate": false])
        let again = try await sandbox.hearth(["event", "add", "--source", "shell", "--kind", "note.added", "--key", "n-1"])
        #expect(again.stdout.contains("already recorded"))
        let fromStdin = try await sandbox.hearth(
            ["event", "add", "--kind", "note.added", "--payload", "@-", "--untrusted"], input: Data(#"{"from": "stdin"}"#.utf8))
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
        let listed = try JSONValue(parsing: try await sandbox.hearth(["events", "--json"]).stdout)
        let events = try #require(listed.arrayValue)
        #expect(events.count == 2)
        #expect(Set(events[0].objectValue!.keys).isSuperset(of: ["id", "source", "kind", "key", "payload", "occurredAt"]))
        #expect(events[0]["payload"] == ["text": "call Ann"])
        #expect(events[1]["payload"] == ["from": "stdin"])
        #expect(events[1]["provenance"] == "untrusted")
        #expect(events[1]["key"] == .null)
    }
}
