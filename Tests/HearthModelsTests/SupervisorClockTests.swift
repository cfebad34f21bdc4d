import Foundation
import HearthCore
import HearthModels
import HearthTesting
import Logging
import Testing

/// The model server supervisor's restart backoff, paced by a manual clock: a "llama-server" that
/// dies at once is restarted after 1 s, then 2 s, then 4 s of clock time — never sooner.
@Suite("Model server restarts on the injected clock", .timeLimit(.minutes(2)))
struct SupervisorClockTests {
    @Test("a server that keeps dying is restarted with doubling backoff, counted in the status")
    func backoff() async throws {
        let directory = try TemporaryDirectory(prefix: "supervisor")
        let binary = directory.appending("llama-server")
        try Data("#!/bin/sh\nexit 3\n".utf8).write(to: binary)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary.path)
        let models = directory.appending("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try Data("chat".utf8).write(to: models.appending(path: "chat.gguf"))
        try Data("embed".utf8).write(to: models.appending(path: "embed.gguf"))
        try Data(
            """
            [{"name": "chat", "kind": "chat", "file": "chat.gguf", "sha256": "", "source": "test"},
             {"name": "embed", "kind": "embedding", "file": "embed.gguf", "sha256": "", "source": "test"}]
            """.utf8
        ).write(to: models.appending(path: "catalog.json"))
        let installation = try ModelInstallation.load(binary: binary, modelsDirectory: models)
        let clock = ManualWallClock(now: Date(timeIntervalSince1970: 1_800_000_000))
        let status = InferenceStatus()
        let supervisor = LlamaServerSupervisor(
            options: .init(
                installation: installation, chatModel: "chat", embeddingModel: "embed", runtimeDirectory: directory.url,
                logFile: directory.appending("llama.log"), threads: 1, contextTokens: 512),
            status: status, logger: Logger(label: "test"), clock: clock)
        let task = Task { try await supervisor.run() }
        defer { task.cancel() }

        /// Waits until the server died `count` times and the supervisor sleeps out its backoff;
        /// readiness probes (the server may not be dead yet) are let through 100 ms at a time.
        func died(_ count: Int) async throws {
            try await waitUntil("failure \(count)") {
                if status.restarts == count && status.phase == .restarting && clock.sleeperCount == 1 { return true }
                if status.restarts < count && clock.sleeperCount == 1 { clock.advance(by: 0.1) }
                return false
            }
        }
        try await died(1)
        for (restarts, backoff) in [(1, 1.0), (2, 2.0), (3, 4.0)] {
            let sleeping = clock.now()
            clock.advance(to: sleeping.addingTimeInterval(backoff - 0.01))
            try await Task.sleep(for: .milliseconds(50))
            #expect(status.restarts == restarts, "restarted before its \(backoff) s backoff")
            clock.advance(to: sleeping.addingTimeInterval(backoff))
            try await died(restarts + 1)
        }
        task.cancel()
        _ = await task.result
        #expect(status.phase == .stopped)
    }
}
