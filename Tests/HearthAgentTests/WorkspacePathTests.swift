import Foundation
import Glibc
import HearthAgent
import HearthCore
import HearthSandbox
import HearthTesting
import Testing

@Suite("Workspace confinement and the append_line effect", .timeLimit(.minutes(10)))
struct WorkspacePathTests {
    let workspace: TemporaryDirectory
    let outside: TemporaryDirectory

    init() throws {
        workspace = try TemporaryDirectory(prefix: "ws")
        outside = try TemporaryDirectory(prefix: "outside")
    }

    func context(_ key: String = "key-1") -> EffectContext {
        EffectContext(idempotencyKey: key, runID: 1, stepID: 1, attempt: 1, workspace: workspace.url)
    }

    func lines(_ path: String) throws -> [String] {
        try String(contentsOf: workspace.appending(path), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test("appends a tagged line, creating parent directories")
    func appends() async throws {
        let effect = AppendLineEffect()
        let output = try await effect.perform(["path": "notes/deep/log.txt", "text": "hello"], context: context())
        #expect(output["appended"] == true)
        #expect(try lines("notes/deep/log.txt") == ["hello [hearth:key-1]"])
    }

    @Test("idempotent mode never writes the same key twice; blind mode does")
    func idempotency() async throws {
        let effect = AppendLineEffect()
        _ = try await effect.perform(["path": "log.txt", "text": "a"], context: context())
        let again = try await effect.perform(["path": "log.txt", "text": "a"], context: context())
        #expect(again["appended"] == false)
        #expect(try lines("log.txt").count == 1)
        #expect(effect.isIdempotent(["path": "x", "text": "y"]))
        #expect(!effect.isIdempotent(["path": "x", "text": "y", "idempotent": false]))
        _ = try await effect.perform(["path": "log.txt", "text": "a", "idempotent": false], context: context())
        #expect(try lines("log.txt").count == 2)
    }

    static let badArguments: [(JSONValue, String)] = [
        (.string("x"), "must be an object"),
        (["path": "a.txt"], "\"text\" must be a string"),
        (["path": "/etc/passwd", "text": "x"], "must be relative to the workspace"),
        (["path": "a/../../etc/passwd", "text": "x"], "\"..\" is not allowed"),
        (["path": "a.txt", "text": "two\nlines"], "single line"),
        (["path": "a.txt", "text": "x", "mode": 1], "unknown argument \"mode\""),
        (["path": "", "text": "x"], "it is empty"),
        (["path": "a.txt", "text": "x", "idempotent": "yes"], "must be true or false"),
    ]

    @Test("arguments are checked before anything runs", arguments: badArguments)
    func refusesBadArguments(arguments: JSONValue, expected: String) {
        #expect {
            try AppendLineEffect().validate(arguments)
        } throws: { error in
            String(describing: error).contains(expected)
        }
    }

    @Test("a symlinked directory or file pointing outside is refused, and nothing is written outside")
    func symlinks() async throws {
        try FileManager.default.createSymbolicLink(at: workspace.appending("escape"), withDestinationURL: outside.url)
        await #expect {
            try await AppendLineEffect().perform(["path": "escape/pwned.txt", "text": "x"], context: context())
        } throws: { error in
            String(describing: error).contains("symbolic link")
        }
        let target = outside.appending("target.txt")
        try Data("original\n".utf8).write(to: target)
        try FileManager.default.createSymbolicLink(at: workspace.appending("link.txt"), withDestinationURL: target)
        await #expect {
            try await AppendLineEffect().perform(["path": "link.txt", "text": "x"], context: context())
        } throws: { error in
            String(describing: error).contains("symbolic link")
        }
        #expect(try String(contentsOf: target, encoding: .utf8) == "original\n")
        #expect(!FileManager.default.fileExists(atPath: outside.appending("pwned.txt").path))
    }

    @Test("a hard link to an outside file and a FIFO are refused")
    func hardLinksAndFifos() async throws {
        let target = outside.appending("secret.txt")
        try Data("secret\n".utf8).write(to: target)
        #expect(link(target.path, workspace.appending("alias.txt").path) == 0)
        await #expect {
            try await AppendLineEffect().perform(["path": "alias.txt", "text": "x"], context: context())
        } throws: { error in
            String(describing: error).contains("other hard links")
        }
        #expect(try String(contentsOf: target, encoding: .utf8) == "secret\n")
        #expect(mkfifo(workspace.appending("pipe").path, 0o644) == 0)
        await #expect {
            try await AppendLineEffect().perform(["path": "pipe", "text": "x"], context: context())
        } throws: { error in
            String(describing: error).contains("not a regular file")
        }
    }
}
