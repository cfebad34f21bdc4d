import Foundation
import HearthBench
import HearthCore
import HearthTesting
import Testing

@Suite("hearth memory: bad input gets a clear error", .timeLimit(.minutes(2)))
struct MemoryCLITests {
    @Test("unknown kinds, missing records, unknown settings and files of the wrong format are refused with what to do")
    func badInput() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.workspace, withIntermediateDirectories: true)
        try Data("[inference]\nenabled = false\n".utf8).write(to: sandbox.root.appending("config.toml"))
        let config = ["--config", sandbox.root.appending("config.toml").path]

        let kind = try await sandbox.hearth(["memory", "search", "lunch", "--kind", "gossip"] + config)
        #expect(kind.status == 64 && kind.stderr.contains("--kind: unknown kind 'gossip'; use one of turn, event"))

        let missing = try await sandbox.hearth(["memory", "forget", "--id", "4242", "--yes"] + config)
        #expect(missing.status == 1 && missing.stderr.contains("4242"))

        let provenance = try await sandbox.hearth(["memory", "search", "x", "--provenance", "maybe"] + config)
        #expect(provenance.status == 64 && provenance.stderr.contains("--provenance takes trusted or untrusted"))

        let notLoCoMo = sandbox.root.appending("notes.json")
        try Data("{\"hello\": 1}".utf8).write(to: notLoCoMo)
        let format = try await sandbox.hearth(["bench", "memory", "--locomo", notLoCoMo.path, "--no-embeddings"] + config)
        #expect(format.status != 0 && format.stderr.contains("expected a JSON array of conversations"))

        let setting = try await sandbox.hearth(["bench", "memory", "--scale", "100", "--set", "warp=9", "--no-embeddings"] + config)
        #expect(setting.status != 0 && setting.stderr.contains("--set takes name=number with a known name; got 'warp=9'"))

        let threads = try await sandbox.hearth(["bench", "memory", "--scale", "100", "--threads", "0"] + config)
        #expect(threads.status == 64 && threads.stderr.contains("--threads must be between 1 and 256"))

        let unreadable = try await sandbox.hearth(["bench", "memory", "--longmemeval", "/nonexistent.json"] + config)
        #expect(unreadable.status == 64 && unreadable.stderr.contains("cannot read /nonexistent.json"))

        let cap = try await sandbox.hearth(["memory", "consolidate", "--max-records", "0"] + config)
        #expect(cap.status == 64 && cap.stderr.contains("--max-records must be at least 1"))
        let days = try await sandbox.hearth(["memory", "consolidate", "--summarise-after-days", "0"] + config)
        #expect(days.status == 64 && days.stderr.contains("--summarise-after-days must be more than 0"))
    }
}
