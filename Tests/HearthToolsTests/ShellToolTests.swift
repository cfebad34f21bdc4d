import Foundation
import HearthCore
import HearthTesting
import HearthTools
import Testing

@Suite("The shell tool runs commands confined, or not at all", .timeLimit(.minutes(1)))
struct ShellToolTests {
    func run(_ command: String, timeout: Int = 20, in fixture: EscapeFixture) async throws -> ToolOutput {
        try await ShellTool().invoke(
            ["command": .string(command), "timeout_seconds": .number(Double(timeout))],
            context: ToolContext(workspace: fixture.workspace, idempotencyKey: "shell"))
    }

    @Test("inside the workspace it works; outside, the kernel says no")
    func confinedFiles() async throws {
        let fixture = try EscapeFixture()
        #expect(ShellTool.defaultHelper() != nil)
        let inside = try await run("echo made > made.txt && cat made.txt sub/inside.txt", in: fixture)
        #expect(inside.data["status"] == 0)
        #expect(inside.data["stdout"] == "made\ninside")
        let outside = try await run(
            "echo pwned > ../outside.txt; echo pwned > ../ws_evil/new.txt; cat ../ws_evil/secret.txt; cat /proc/self/root\(fixture.root.path)/outside.txt",
            in: fixture)
        #expect(outside.data["status"] != 0)
        #expect(outside.data["stdout"]?.stringValue?.contains("SECRET") == false)
        #expect(try String(contentsOf: fixture.root.appending("outside.txt"), encoding: .utf8) == "SECRET outside")
        #expect(!FileManager.default.fileExists(atPath: fixture.root.appending("ws_evil/new.txt").path))
        // Following a link does not help: Landlock judges the file it reaches.
        let linked = try await run("cat abs; echo pwned > rel", in: fixture)
        #expect(linked.data["stdout"]?.stringValue?.contains("SECRET") == false)
        #expect(try String(contentsOf: fixture.root.appending("outside.txt"), encoding: .utf8) == "SECRET outside")
    }

    @Test("no network, and a command past its time is stopped")
    func networkAndTime() async throws {
        let fixture = try EscapeFixture()
        let network = try await run("exec 3<>/dev/tcp/127.0.0.1/22 && echo connected || echo refused", in: fixture)
        #expect(network.data["stdout"]?.stringValue?.contains("connected") == false)
        await #expect {
            try await run("sleep 30", timeout: 1, in: fixture)
        } throws: { error in
            String(describing: error).contains("did not finish within 1 s")
        }
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
