import Foundation
import HearthCore
import HearthSandbox
import HearthTesting
import HearthTools
import Testing

/// Both ways the helper confines a command: its own (Landlock and a network namespace) and
/// bubblewrap, its fallback where those are missing (`scripts/setup` installs bubblewrap; CI runs both).
/// In CI both always run: a missing bubblewrap fails there instead of dropping its cases.
let isolations: [ShellTool.Isolation] =
    Preconditions.run(if: ProgramRunner.locate("bwrap") != nil) ? [.native, .bubblewrap] : [.native]

@Suite("The shell tool runs commands confined, or not at all", .timeLimit(.minutes(2)))
struct ShellToolTests {
    func run(
        _ command: String, timeout: Int = 20, isolation: ShellTool.Isolation = .auto, in fixture: EscapeFixture
    ) async throws -> ToolOutput {
        try await ShellTool(isolation: isolation).invoke(
            ["command": .string(command), "timeout_seconds": .number(Double(timeout))],
            context: ToolContext(workspace: fixture.workspace, idempotencyKey: "shell"))
    }

    @Test("both mechanisms can run here: bubblewrap is installed where CI runs, the kernel has what the native one needs")
    func mechanismsAvailable() throws {
        if Preconditions.requiredInCI { #expect(ProgramRunner.locate("bwrap") != nil, "scripts/setup installs bubblewrap") }
        let fixture = try EscapeFixture()
        let probe = SandboxProbe.run(workspace: fixture.workspace)
        for name in ["landlock", "user namespaces"] {
            let check = probe.checks.first { $0.name == name }
            #expect(check?.available == true, "\(name): \(check?.detail ?? "not probed") — \(check?.remedy ?? "")")
        }
    }

    @Test("inside the workspace it works; outside, the kernel says no", arguments: isolations)
    func confinedFiles(isolation: ShellTool.Isolation) async throws {
        let fixture = try EscapeFixture()
        #expect(ShellTool.defaultHelper() != nil)
        let inside = try await run(
            "echo made > made.txt && cat made.txt sub/inside.txt && echo \"$HEARTH_SANDBOX\"", isolation: isolation, in: fixture)
        #expect(inside.data["status"] == 0)
        let expected = isolation == .bubblewrap ? "bubblewrap+landlock" : "landlock+netns"
        #expect(inside.data["stdout"] == .string("made\ninside\(expected)\n"))
        let outside = try await run(
            "echo pwned > ../outside.txt; echo pwned > ../ws_evil/new.txt; cat ../ws_evil/secret.txt; cat /proc/self/root\(fixture.root.path)/outside.txt",
            isolation: isolation, in: fixture)
        #expect(outside.data["status"] != 0)
        #expect(outside.data["stdout"]?.stringValue?.contains("SECRET") == false)
        #expect(try String(contentsOf: fixture.root.appending("outside.txt"), encoding: .utf8) == "SECRET outside")
        #expect(!FileManager.default.fileExists(atPath: fixture.root.appending("ws_evil/new.txt").path))
        // Following a link does not help: Landlock judges the file it reaches.
        let linked = try await run("cat abs; echo pwned > rel", isolation: isolation, in: fixture)
        #expect(linked.data["stdout"]?.stringValue?.contains("SECRET") == false)
        #expect(try String(contentsOf: fixture.root.appending("outside.txt"), encoding: .utf8) == "SECRET outside")
        if isolation == .bubblewrap {
            // Under bubblewrap the outside is not even there: the mount layer hides it by itself,
            // so it confines where the kernel has no Landlock.
            let hidden = try await run("ls \(fixture.root.path)/outside.txt; ls /home /root /var 2>&1", isolation: isolation, in: fixture)
            let text = (hidden.data["stderr"]?.stringValue ?? "") + (hidden.data["stdout"]?.stringValue ?? "")
            #expect(text.contains("\(fixture.root.path)/outside.txt': No such file or directory"), "\(text)")
            #expect(text.contains("/var': No such file or directory"), "\(text)")
        }
    }

    @Test("no network: a server listening on the host's loopback is out of reach", arguments: isolations)
    func network(isolation: ShellTool.Isolation) async throws {
        let fixture = try EscapeFixture()
        let server = EchoHTTPServer()
        let url = try await server.start()
        defer { server.stop() }
        let port = URL(string: url)?.port ?? 0
        let probe = "bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(port) && echo connected' 2>&1 || echo unreachable"
        // The same probe outside the sandbox connects, so the test can tell.
        let unconfined = try await ProgramRunner.run(
            executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", probe], timeout: .seconds(10), maxOutput: 4096)
        #expect(String(decoding: unconfined.stdout, as: UTF8.self).contains("connected"))
        let confined = try await run(probe, isolation: isolation, in: fixture)
        let text = confined.data["stdout"]?.stringValue ?? ""
        #expect(!text.contains("connected") && text.contains("unreachable"), "\(text)")
    }

    @Test("a command past its time is stopped, with everything it started", arguments: isolations)
    func timeout(isolation: ShellTool.Isolation) async throws {
        let fixture = try EscapeFixture()
        // A length no other run uses: sleeps left by an earlier run killed mid-test are not ours.
        let marker = "\(Int.random(in: 3000...8999) * 2 + (isolation == .bubblewrap ? 1 : 0))"
        await #expect {
            try await run("sleep \(marker) & sleep \(marker)", timeout: 1, isolation: isolation, in: fixture)
        } throws: { error in
            String(describing: error).contains("did not finish within 1 s")
        }
        // Neither sleep survives (the background one included).
        var survivors = Self.processes(running: ["sleep", marker])
        for _ in 0..<50 where !survivors.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            survivors = Self.processes(running: ["sleep", marker])
        }
        #expect(survivors.isEmpty)
    }

    /// Pids of the processes whose command line is exactly `arguments`.
    static func processes(running arguments: [String]) -> [Int32] {
        ProcessTable.commandLines().filter { $0.arguments == arguments }.map(\.pid)
    }

    @Test("the helper refuses arguments it does not understand, without running anything")
    func helperUsage() async throws {
        let fixture = try EscapeFixture()
        let helper = try #require(ShellTool.defaultHelper())
        let target = fixture.workspace.appending(path: "ran").path
        for arguments in [
            ["--workspace", fixture.workspace.path, "--isolation", "none", "--", "/usr/bin/touch", target],
            ["--isolation", "native", "--", "/usr/bin/touch", target],
        ] {
            let output = try await ProgramRunner.run(executable: helper, arguments: arguments, timeout: .seconds(10))
            #expect(output.status == 64)
            #expect(output.stderr.contains("usage: hearth-sandbox"))
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace.appending(path: "ran").path))
    }

    @Test("without the helper the command is refused, never run unconfined")
    func missingHelper() async throws {
        let fixture = try EscapeFixture()
        await #expect {
            try await ShellTool(helper: nil).invoke(
                ["command": "touch ran"], context: ToolContext(workspace: fixture.workspace, idempotencyKey: "x"))
        } throws: { error in
            guard case .refused = error as? ToolError else { return false }
            return true
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace.appending(path: "ran").path))
    }
}
