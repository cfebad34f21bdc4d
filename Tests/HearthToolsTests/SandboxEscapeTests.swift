import Foundation
import Glibc
import HearthCore
import HearthSandbox
import HearthTesting
import HearthTools
import Synchronization
import Testing

/// A workspace with an outside world around it: `outside.txt` and `ws_evil/secret.txt` beside
/// `ws/`, and links inside `ws/` that point out of it.
struct EscapeFixture {
    let root: TemporaryDirectory
    var workspace: URL { root.appending("ws") }

    init() throws {
        root = try TemporaryDirectory(prefix: "escape")
        let manager = FileManager.default
        try manager.createDirectory(at: root.appending("ws/sub"), withIntermediateDirectories: true)
        try manager.createDirectory(at: root.appending("ws_evil"), withIntermediateDirectories: true)
        try Data("SECRET outside".utf8).write(to: root.appending("outside.txt"))
        try Data("SECRET prefix".utf8).write(to: root.appending("ws_evil/secret.txt"))
        try Data("inside".utf8).write(to: root.appending("ws/sub/inside.txt"))
        try manager.createSymbolicLink(atPath: root.appending("ws/abs").path, withDestinationPath: root.appending("outside.txt").path)
        try manager.createSymbolicLink(atPath: root.appending("ws/rel").path, withDestinationPath: "../outside.txt")
        try manager.createSymbolicLink(atPath: root.appending("ws/up").path, withDestinationPath: "..")
        try manager.createSymbolicLink(atPath: root.appending("ws/proc").path, withDestinationPath: "/proc/self/root")
        try manager.createSymbolicLink(atPath: root.appending("ws/sub/inner").path, withDestinationPath: "inside.txt")
        guard link(root.appending("outside.txt").path, root.appending("ws/hard.txt").path) == 0 else {
            throw CocoaError(.fileWriteUnknown)
        }
    }
}

@Suite("Sandbox escapes: every path out of the workspace is refused", .timeLimit(.minutes(2)))
struct SandboxEscapeTests {
    static let escapes = [
        "../outside.txt", "/etc/passwd", "sub/../../outside.txt", "../ws_evil/secret.txt", "abs", "rel", "up/outside.txt",
        "up/ws_evil/secret.txt", "proc/etc/passwd", "proc/self/root/etc/passwd", "hard.txt", "sub/inner", "./../outside.txt",
        "sub/./../../outside.txt",
    ]

    @Test("reads through .., absolute paths, prefix confusion, symlinks, /proc/self/root and hard links are refused", arguments: escapes)
    func readEscapes(path: String) async throws {
        let fixture = try EscapeFixture()
        let context = ToolContext(workspace: fixture.workspace, idempotencyKey: "escape")
        await #expect {
            try await BuiltinTools.all().invoke("read_file", arguments: ["path": .string(path)], context: context)
        } throws: { error in
            guard case .refused(let tool, _) = error as? ToolError else { return false }
            return tool == "read_file"
        }
    }

    @Test("writes and moves out of the workspace are refused, and nothing appears outside", arguments: escapes)
    func writeEscapes(path: String) async throws {
        let fixture = try EscapeFixture()
        let context = ToolContext(workspace: fixture.workspace, idempotencyKey: "escape")
        let tools = BuiltinTools.all()
        await #expect(throws: ToolError.self) {
            try await tools.invoke(
                "write_file", arguments: ["path": .string(path), "content": "pwned", "overwrite": true], context: context)
        }
        await #expect(throws: ToolError.self) {
            try await tools.invoke("move_file", arguments: ["from": "sub/inside.txt", "to": .string(path)], context: context)
        }
        #expect(try String(contentsOf: fixture.root.appending("outside.txt"), encoding: .utf8) == "SECRET outside")
        #expect(try String(contentsOf: fixture.root.appending("ws_evil/secret.txt"), encoding: .utf8) == "SECRET prefix")
        #expect(!FileManager.default.fileExists(atPath: "/etc/pwned"))
        #expect(try String(contentsOf: fixture.root.appending("ws/sub/inside.txt"), encoding: .utf8) == "inside")
    }

    @Test("10,000 reads while a directory is swapped for a link to the outside: 0 escapes")
    func renameRace() throws {
        let fixture = try EscapeFixture()
        let outsideDirectory = fixture.root.appending("evil_dir")
        try FileManager.default.createDirectory(at: outsideDirectory, withIntermediateDirectories: true)
        try Data("SECRET raced".utf8).write(to: outsideDirectory.appending(path: "target.txt"))
        let real = fixture.root.appending("ws/race_real")
        try FileManager.default.createDirectory(at: real, withIntermediateDirectories: true)
        try Data("inside".utf8).write(to: real.appending(path: "target.txt"))
        try FileManager.default.createSymbolicLink(
            atPath: fixture.root.appending("ws/race_evil").path, withDestinationPath: outsideDirectory.path)

        let stop = Atomic(false)
        let swaps = Atomic(0)
        let race = fixture.root.appending("ws/race").path
        let realPath = real.path
        let evilPath = fixture.root.appending("ws/race_evil").path
        let swapper = Thread {
            while !stop.load(ordering: .relaxed) {
                rename(realPath, race)
                rename(race, realPath)
                rename(evilPath, race)
                rename(race, evilPath)
                swaps.add(1, ordering: .relaxed)
            }
        }
        swapper.start()
        var escapes = 0
        var insideReads = 0
        for _ in 0..<10_000 {
            guard let data = try? WorkspaceFiles.read("race/target.txt", in: fixture.workspace) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            if text.contains("SECRET") { escapes += 1 } else { insideReads += 1 }
        }
        stop.store(true, ordering: .relaxed)
        while !swapper.isFinished { usleep(1000) }
        #expect(escapes == 0)
        // The race was real: the swapper ran, and some reads landed while the real directory was in place.
        #expect(swaps.load(ordering: .relaxed) > 100)
        #expect(insideReads > 0)
    }
}

@Suite("Mounts: extra directories, read-only unless writable", .timeLimit(.minutes(2)))
struct MountTests {
    func fixture() throws -> (EscapeFixture, ToolContext) {
        let fixture = try EscapeFixture()
        let manager = FileManager.default
        try manager.createDirectory(at: fixture.root.appending("docs"), withIntermediateDirectories: true)
        try manager.createDirectory(at: fixture.root.appending("shared"), withIntermediateDirectories: true)
        try Data("policy text".utf8).write(to: fixture.root.appending("docs/policy.md"))
        let context = ToolContext(
            workspace: fixture.workspace, idempotencyKey: "mount",
            mounts: [
                WorkspaceMount(name: "docs", url: fixture.root.appending("docs"), writable: false),
                WorkspaceMount(name: "shared", url: fixture.root.appending("shared"), writable: true),
            ])
        return (fixture, context)
    }

    @Test("a read-only mount can be read and listed, never changed; a writable one can be written; nothing escapes either")
    func readOnlyAndWritable() async throws {
        let (fixture, context) = try fixture()
        let tools = BuiltinTools.all()
        let read = try await tools.invoke("read_file", arguments: ["path": "@docs/policy.md"], context: context)
        #expect(read.data["text"] == "policy text")
        let listed = try await tools.invoke("list_files", arguments: ["path": "@docs"], context: context)
        #expect(listed.data["files"] == ["@docs/policy.md"])
        for (tool, arguments) in [
            ("write_file", ["path": "@docs/new.md", "content": "x"] as JSONValue),
            ("move_file", ["from": "@docs/policy.md", "to": "@docs/p.md"]),
            ("normalize_markdown", ["path": "@docs/policy.md", "write": true]), ("read_file", ["path": "@nowhere/x"]),
            ("read_file", ["path": "@docs/../outside.txt"]), ("move_file", ["from": "@shared/a", "to": "b"]),
        ] {
            await #expect {
                try await tools.invoke(tool, arguments: arguments, context: context)
            } throws: { error in
                guard case .refused = error as? ToolError else { return false }
                return true
            }
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.root.appending("docs/new.md").path))
        let written = try await tools.invoke("write_file", arguments: ["path": "@shared/out.md", "content": "ok"], context: context)
        #expect(written.data["written"] == true)
        #expect(try String(contentsOf: fixture.root.appending("shared/out.md"), encoding: .utf8) == "ok")
    }

    @Test("shell commands see a read-only mount read-only and a writable one writable")
    func shellMounts() async throws {
        let (fixture, context) = try fixture()
        let docs = fixture.root.appending("docs").path
        let shared = fixture.root.appending("shared").path
        let output = try await ShellTool().invoke(
            ["command": .string("cat \(docs)/policy.md; echo x > \(docs)/new.md || echo denied; echo y > \(shared)/new.md && echo wrote")],
            context: context)
        let stdout = output.data["stdout"]?.stringValue ?? ""
        #expect(stdout.contains("policy text") && stdout.contains("denied") && stdout.contains("wrote"))
        #expect(!FileManager.default.fileExists(atPath: "\(docs)/new.md"))
    }
}
