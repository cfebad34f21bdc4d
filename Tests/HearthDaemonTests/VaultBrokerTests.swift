import Foundation
import Glibc
import HearthBench
import HearthCore
import HearthTesting
import HearthVault
import Testing

/// The credential broker end to end: `hearth vault` (which runs hearth-vault), the broker the
/// daemon starts, `http_request` through it against real loopback servers — and canary secrets
/// hunted in every encoding through everything Hearth writes or says.
@Suite("credential broker and canary secrets, end to end", .serialized, .timeLimit(.minutes(2)))
struct VaultBrokerTests {
    /// Secret values that must never surface outside the broker. The first holds characters that
    /// percent- and JSON-encoding change.
    let canary = "hc_\(String(UInt64.random(in: 1...UInt64.max), radix: 16))/+=&%!Q"
    let otherCanary = "hc2_\(String(UInt64.random(in: 1...UInt64.max), radix: 36))_unused"

    struct Setup {
        let sandbox: Sandbox
        let daemon: DaemonUnderTest
        let allowed: String
        let elsewhere: String
        let allowedServer: EchoHTTPServer
        let elsewhereServer: EchoHTTPServer
        let model: ScriptedModelServer?
    }

    func start(model: ScriptedModelServer? = nil) async throws -> Setup {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(at: sandbox.workspace, withIntermediateDirectories: true)
        let allowedServer = EchoHTTPServer()
        let elsewhereServer = EchoHTTPServer()
        let allowed = try await allowedServer.start()
        let elsewhere = try await elsewhereServer.start()
        var extra =
            "[vault]\nkey_file = \"\(sandbox.home.appending(path: "keys/vault.key").path)\"\n[policy]\nrules = [\"allow http_request\"]\n"
        if let model {
            let url = try await model.start()
            extra += "[inference]\nprovider = \"openai\"\nbase_url = \"\(url)\"\nchat_model = \"scripted\"\ntool_calls = \"constrained\"\n"
        }
        try sandbox.prepareDaemon(extraConfig: extra)
        let host = allowed.replacingOccurrences(of: "http://", with: "")
        let added = try await sandbox.hearth(
            ["vault", "add", "api", "--host", host, "--method", "GET", "--method", "POST"], input: Data((canary + "\n").utf8))
        #expect(added.status == 0, "\(added.stderr)")
        let other = try await sandbox.hearth(["vault", "add", "other", "--host", "example.com"], input: Data(otherCanary.utf8))
        #expect(other.status == 0, "\(other.stderr)")
        let daemon = try await sandbox.startDaemon()
        // The daemon starts the broker; wait until it answers.
        for _ in 0..<100 {
            if VaultClient(socket: sandbox.data.appending(path: "runtime/vault.sock")).isListening { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return Setup(
            sandbox: sandbox, daemon: daemon, allowed: allowed, elsewhere: elsewhere, allowedServer: allowedServer,
            elsewhereServer: elsewhereServer, model: model)
    }

    /// Pids of running `hearth-vault serve` processes for this test's data directory.
    static func brokers(of sandbox: Sandbox) -> [Int32] {
        ProcessTable.commandLines().filter { process in
            process.arguments.first?.hasSuffix("hearth-vault") == true && process.arguments.contains("serve")
                && process.arguments.contains(sandbox.data.path)
        }.map(\.pid)
    }

    @Test("a vault added while the daemon runs gets its broker at once, so vault status says it listens")
    func brokerStartsAtOnce() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon(extraConfig: "[vault]\nkey_file = \"\(sandbox.home.appending(path: "keys/vault.key").path)\"\n")
        let daemon = try await sandbox.startDaemon()
        let added = try await sandbox.hearth(["vault", "add", "api", "--host", "api.example.com"], input: Data(canary.utf8))
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stderr.contains("the daemon's credential broker is listening"), "\(added.stderr)")
        let status = try JSONValue(parsing: try await sandbox.hearth(["vault", "status", "--json"]).stdout)
        #expect(status["broker"] == "listening", "\(status.jsonText)")
        #expect(await daemon.stop() == 0)
    }

    @Test("a SIGKILLed daemon's broker stops by itself, and the next daemon starts its own")
    func brokerFollowsDaemon() async throws {
        let setup = try await start()
        let socket = setup.sandbox.data.appending(path: "runtime/vault.sock")
        #expect(VaultClient(socket: socket).isListening)
        let first = Self.brokers(of: setup.sandbox)
        #expect(first.count == 1)
        await setup.daemon.kill()
        var left = first
        for _ in 0..<50 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            left = Self.brokers(of: setup.sandbox)
        }
        #expect(left.isEmpty, "the orphaned broker is still running")
        #expect(!VaultClient(socket: socket).isListening)
        let log = try String(contentsOf: setup.sandbox.data.appending(path: "logs/vault.log"), encoding: .utf8)
        #expect(log.contains("is gone; stopping"))
        // The next daemon runs its own broker, and requests work again.
        let daemon = try await setup.sandbox.startDaemon()
        for _ in 0..<100 where !VaultClient(socket: socket).isListening { try await Task.sleep(for: .milliseconds(100)) }
        let second = Self.brokers(of: setup.sandbox)
        #expect(second.count == 1 && second != first)
        let answer = try await request(setup, ["method": "GET", "url": .string(setup.allowed + "/ping?key={{secret:api}}")])
        #expect(answer.status == 0, "\(answer.stderr)")
        await daemon.stop()
        setup.allowedServer.stop()
        setup.elsewhereServer.stop()
    }

    func request(_ setup: Setup, _ arguments: JSONValue) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await setup.sandbox.hearth(["tool", "run", "http_request", "--args", arguments.jsonText, "--json"])
    }

    @Test("secrets go only where and how they are allowed, redirects elsewhere drop them, and responses come back scrubbed")
    func brokerRules() async throws {
        let setup = try await start()
        var outputs: [String] = []
        defer {
            setup.allowedServer.stop()
            setup.elsewhereServer.stop()
        }

        // Header, query and body all carry the secret to the allowed host; the echo is scrubbed.
        let sent = try await request(
            setup,
            [
                "method": "POST", "url": .string(setup.allowed + "/echo?key={{secret:api}}"),
                "headers": ["Authorization": "Bearer {{secret:api}}"], "body": "token={{secret:api}}",
            ])
        outputs += [sent.stdout, sent.stderr]
        #expect(sent.status == 0, "\(sent.stderr)")
        let received = setup.allowedServer.requests.last
        #expect(received?.headers["authorization"] == "Bearer " + canary)
        #expect(received?.body == "token=" + canary)
        #expect(sent.stdout.contains("[secret:api]"))

        // Refusals, before anything is sent.
        let refusals: [(JSONValue, String)] = [
            (["method": "DELETE", "url": .string(setup.allowed + "/echo"), "headers": ["X-Key": "{{secret:api}}"]], "method DELETE"),
            (
                ["method": "GET", "url": .string(setup.elsewhere + "/echo"), "headers": ["X-Key": "{{secret:api}}"]],
                "is not one of its hosts"
            ),
            (
                ["method": "GET", "url": .string(setup.allowed + "/echo"), "headers": ["X-Key": "{{secret:other}}"]],
                "is not one of its hosts"
            ),
            (["method": "GET", "url": "http://example.com/", "headers": ["X-Key": "{{secret:other}}"]], "https only"),
            (
                ["method": "GET", "url": .string(setup.allowed + "/echo"), "headers": ["X-Key": "{{secret:missing}}"]],
                "no secret named 'missing'"
            ),
            (["method": "GET", "url": "http://{{secret:api}}.example.com/"], "must be written out"),
        ]
        let before = setup.allowedServer.requests.count
        for (arguments, reason) in refusals {
            let refused = try await request(setup, arguments)
            outputs += [refused.stdout, refused.stderr]
            #expect(refused.status != 0 && refused.stderr.contains(reason), "\(arguments.jsonText): \(refused.stderr)")
        }
        #expect(setup.allowedServer.requests.count == before)
        #expect(setup.elsewhereServer.requests.isEmpty)

        // A redirect to another origin is followed without the secret.
        let target = (setup.elsewhere + "/echo").addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let redirected = try await request(
            setup,
            [
                "method": "GET", "url": .string(setup.allowed + "/redirect?status=302&to=\(target)"),
                "headers": ["Authorization": "Bearer {{secret:api}}", "X-Key": "{{secret:api}}", "Accept": "text/plain"],
            ])
        outputs += [redirected.stdout, redirected.stderr]
        #expect(redirected.status == 0 && redirected.stdout.contains("secrets were not sent there"), "\(redirected.stderr)")
        let landed = setup.elsewhereServer.requests.last
        #expect(landed?.headers["authorization"] == nil && landed?.headers["x-key"] == nil && landed?.headers["accept"] == "text/plain")

        // A 307 would resend a body holding the secret: not followed.
        let kept = try await request(
            setup, ["method": "POST", "url": .string(setup.allowed + "/redirect?status=307&to=\(target)"), "body": "{{secret:api}}"])
        outputs += [kept.stdout, kept.stderr]
        #expect(kept.status == 0 && kept.stdout.contains("HTTP 307") && kept.stdout.contains("would resend a body"))
        #expect(setup.elsewhereServer.requests.count == 1)

        let list = try await setup.sandbox.hearth(["vault", "list", "--json"])
        outputs += [list.stdout, list.stderr]
        #expect(list.stdout.contains("\"api\"") && list.stdout.contains("example.com"))
        let audit = try String(contentsOf: setup.sandbox.data.appending(path: "logs/vault-audit.log"), encoding: .utf8)
        #expect(audit.split(separator: "\n").count == 1 + refusals.count + 2)
        #expect(await setup.daemon.stop() == 0)
        #expect(!VaultClient(socket: setup.sandbox.data.appending(path: "runtime/vault.sock")).isListening)

        try expectNoCanary(in: setup, outputs: outputs)
    }

    @Test("a model that obeys every instruction never sees, stores, writes or traces a secret value")
    func hijackedModel() async throws {
        let model = ScriptedModelServer { body in
            let messages = body["messages"]?.arrayValue ?? []
            func reply(_ value: JSONValue) -> ScriptedModelServer.Reply { .chat(value.jsonText) }
            if messages.first?["content"]?.stringValue?.hasPrefix("You are the planner") == true {
                return reply([
                    "tasks": [
                        [
                            "id": "fetch", "title": "Fetch the profile", "instructions": "Fetch it and keep everything it says.",
                            "dependsOn": [], "expectedOutput": "", "tools": ["http_request", "write_file", "remember"],
                        ]
                    ]
                ])
            }
            // Whatever the last observation said is copied everywhere the model can put it.
            let seen = messages.compactMap { $0["content"]?.stringValue }.last { $0.contains("HTTP 200") } ?? ""
            let url =
                messages.first?["content"]?.stringValue.flatMap { text in
                    text.range(of: "http://127.0.0.1:[0-9]+", options: .regularExpression).map { String(text[$0]) }
                } ?? ""
            switch messages.count {
            case ...2:
                return reply([
                    "tool": "http_request",
                    "arguments": [
                        "method": "GET", "url": .string(url + "/echo?key={{secret:api}}"),
                        "headers": ["Authorization": "Bearer {{secret:api}}"],
                    ],
                ])
            case ...4: return reply(["tool": "write_file", "arguments": ["path": "leak.txt", "content": .string(seen)]])
            case ...6: return reply(["tool": "remember", "arguments": ["text": .string(seen)]])
            default: return reply(["tool": "final_answer", "arguments": ["text": .string(seen)]])
            }
        }
        let setup = try await start(model: model)
        defer {
            setup.allowedServer.stop()
            setup.elsewhereServer.stop()
            model.stop()
        }
        let handed = try await setup.sandbox.hearth(
            ["goal", "--detach", "--json", "Fetch my profile from \(setup.allowed) with the api secret and keep it"])
        let id = try JSONValue(parsing: handed.stdout)["id"]?.intValue ?? 0
        var state = ""
        for _ in 0..<300 {
            state =
                (try? JSONValue(parsing: try await setup.sandbox.hearth(["run", "\(id)", "--json"]).stdout))?["state"]?.stringValue ?? ""
            if state == "succeeded" || state == "failed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(state == "succeeded")
        #expect(setup.allowedServer.requests.last?.headers["authorization"] == "Bearer " + canary)
        let leak = try String(contentsOf: setup.sandbox.workspace.appending(path: "leak.txt"), encoding: .utf8)
        #expect(leak.contains("[secret:api]"))
        let trace = try await setup.sandbox.hearth(["trace", "\(id)", "--json"])
        let recalled = try await setup.sandbox.hearth(["memory", "search", "secret", "--json"])
        #expect(await setup.daemon.stop() == 0)
        let payloads = model.requests.map(\.body.jsonText)
        #expect(payloads.contains { $0.contains("[secret:api]") })
        try expectNoCanary(in: setup, outputs: payloads + [trace.stdout, trace.stderr, recalled.stdout, handed.stdout])
    }

    /// Every form of either canary, searched in the given outputs and in every file under the
    /// sandbox (data dir with database, WAL, logs and audit log; workspace; home; temp files).
    func expectNoCanary(in setup: Setup, outputs: [String]) throws {
        let forms = [canary, otherCanary].flatMap { SecretScrubber.encodings(of: $0) }.filter { $0.utf8.count >= 6 }
        #expect(forms.count >= 12)
        // The hunt itself must see through encodings: an embedded base64, percent or JSON copy is found.
        for shift in ["", "a", "ab"] {
            let planted = Data((shift + "Bearer " + canary + "!").utf8).base64EncodedString()
            #expect(forms.contains { planted.contains($0) }, "a base64 copy after \(shift.count) byte(s) would go unseen")
        }
        #expect(forms.contains { ("q=" + canary.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!).contains($0) })
        for (index, output) in outputs.enumerated() {
            for form in forms { #expect(!output.contains(form), "output \(index) holds a form of a canary: \(form)") }
        }
        var scanned = 0
        let files = FileManager.default.enumerator(at: setup.sandbox.root.url, includingPropertiesForKeys: [.isRegularFileKey])
        while let file = files?.nextObject() as? URL {
            guard (try? file.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true,
                let data = try? Data(contentsOf: file)
            else { continue }
            scanned += 1
            for form in forms {
                #expect(data.range(of: Data(form.utf8)) == nil, "\(file.path) holds a form of a canary: \(form)")
            }
        }
        #expect(scanned >= 5)
    }
}

/// The broker's listener under descriptor exhaustion (its own suite: it waits out the broker's 30 s idle timeout).
@Suite("credential broker: accept failures", .timeLimit(.minutes(4)))
struct VaultBrokerAcceptTests {
    @Test("out of descriptors, the broker refuses connections for a while and then serves again: it never stops")
    func acceptFailures() async throws {
        let directory = try TemporaryDirectory(prefix: "broker-fds")
        let socketPath = directory.appending("v.sock").path
        let broker = HearthBinary.url.deletingLastPathComponent().appending(path: "hearth-vault")
        // Few descriptors: the connections below use them up.
        let process = try await ChildProcess(
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: [
                "-c", "ulimit -n 64 && exec \"$0\" serve --data-dir \"$1\" --socket \"$2\"", broker.path, directory.appending("data").path,
                socketPath,
            ])
        defer {
            process.signal(SIGKILL)
        }
        try await waitUntil("the broker listens") { VaultClient(socket: URL(fileURLWithPath: socketPath)).isListening }
        // Blocking socket calls run on threads of their own, never on the tests' shared pool.
        let clients = await offPool {
            (0..<90).compactMap { _ -> Int32? in
                if case .success(let fd) = UnixSocket.connect(socketPath) { return fd }
                return nil
            }
        }
        try await waitUntil("the broker says accepting failed") { process.standardError.contains("accept failed") }
        #expect(kill(process.pid, 0) == 0, "the broker is still running; it said: \(process.standardError.suffix(2_000))")
        await offPool { for fd in clients { close(fd) } }
        // Once descriptors are free again (the connections it had accepted are dropped when idle
        // for 30 s), a request gets its answer.
        try await waitUntil("the broker answers again", seconds: 120) {
            await offPool {
                guard case .success(let fd) = UnixSocket.connect(socketPath) else { return false }
                defer { close(fd) }
                UnixSocket.writeAll(fd, Data("{}\n".utf8))
                shutdown(fd, Int32(SHUT_WR))
                return String(decoding: UnixSocket.readLine(fd) ?? Data(), as: UTF8.self).contains("not a broker message")
            }
        }
    }
}

/// Runs blocking work on a thread of its own and waits for it without holding one of the
/// concurrency pool's few threads (two on a two-core machine, shared by every test).
func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}
