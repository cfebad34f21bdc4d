import AsyncHTTPClient
import Foundation
import HearthAgent
import HearthCore
import HearthServer
import HearthStore
import HearthTesting
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import Testing

/// A real API server on a free loopback port, over a real database.
final class ServerHarness: Sendable {
    let directory: TemporaryDirectory
    let journal: JournalStore
    let ledger: LedgerStore
    let wakes = Mutex<[String]>([])
    let token = "test-token-0123456789"

    init() throws {
        directory = try TemporaryDirectory()
        let database = try HearthDatabase.open(at: directory.appending("hearth.sqlite"))
        journal = JournalStore(database: database)
        ledger = LedgerStore(database: database)
    }

    func run<T: Sendable>(maxBody: Int = 1 << 20, _ body: @escaping @Sendable (DaemonClient) async throws -> T) async throws -> T {
        let listening = Notifications<Int>()
        let dependencies = APIDependencies(
            journal: journal, ledger: ledger, effects: EffectRegistry([AppendLineEffect()]),
            status: { ["ok": true] },
            runsChanged: { [self] in wakes.withLock { $0.append("runs") } },
            schedulesChanged: { [self] in wakes.withLock { $0.append("schedules") } },
            eventsAppended: { [self] in wakes.withLock { $0.append("events") } })
        let server = APIServer(port: 0, token: token, maxBodyBytes: maxBody, dependencies: dependencies, logger: Logger(label: "test"))
        let service = server.service { port in listening.send(port) }
        let task = Task { try await service.run() }
        defer { task.cancel() }
        let port = try await withTimeout(30, "the server to listen") { await listening.next()! }
        return try await body(DaemonClient(port: port, token: token))
    }

    /// A raw request, to control headers and bodies exactly.
    static func raw(port: Int, method: HTTPMethod, path: String, token: String?, body: String?) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: bytes))
    }
}

@Suite("HTTP API", .timeLimit(.minutes(2)))
struct APIServerTests {
    @Test("health needs no token; everything else does")
    func auth() async throws {
        let harness = try ServerHarness()
        try await harness.run { client in
            #expect(try await client.get("/v1/health").body == ["status": "ok"])
            let (status, body) = try await ServerHarness.raw(
                port: client.port, method: .GET, path: "/v1/events", token: "wrong", body: nil)
            #expect(status == 401)
            #expect(body.contains("missing or wrong bearer token"))
            let (noToken, _) = try await ServerHarness.raw(port: client.port, method: .POST, path: "/v1/events", token: nil, body: "{}")
            #expect(noToken == 401)
        }
        #expect(try await harness.journal.events(EventQuery()).isEmpty)
    }

    @Test("POST /v1/events journals durably: 201 when new, 200 and the same id when the key repeats")
    func postEvents() async throws {
        let harness = try ServerHarness()
        try await harness.run { client in
            let first = try await client.post(
                "/v1/events", ["source": "webhook", "kind": "invoice.paid", "key": "inv-1", "payload": ["amount": 120]])
            #expect(first.status == 201)
            #expect(first.body["duplicate"] == false)
            let again = try await client.post("/v1/events", ["source": "webhook", "kind": "invoice.paid", "key": "inv-1"])
            #expect(again.status == 200)
            #expect(again.body["duplicate"] == true)
            #expect(again.body["id"] == first.body["id"])
            let batch = try await client.post("/v1/events", [["kind": "a"], ["kind": "b", "key": "inv-1"]])
            #expect(batch.body["results"]?.arrayValue?.map { $0["duplicate"] } == [false, true])
            let listed = try await client.get("/v1/events?after=0&limit=10")
            #expect(listed.body.arrayValue?.count == 2)
            #expect(listed.body.arrayValue?.first?["payload"] == ["amount": 120])
            #expect(listed.body.arrayValue?.first?["provenance"] == "untrusted")
        }
        let stored = try await harness.journal.events(EventQuery())
        #expect(stored.map(\.kind) == ["invoice.paid", "a"])
        #expect(stored[1].source == "http")
        #expect(harness.wakes.withLock { $0 }.filter { $0 == "events" }.count == 2)
    }

    @Test("bad bodies get a 400 that says what is wrong, and nothing is stored")
    func badBodies() async throws {
        let harness = try ServerHarness()
        let cases: [(String, String)] = [
            (#"{"kind": "x", "payload": {"a": }"#, "invalid JSON at line 1, column 32"),
            (#"{"kind": "x", "paylod": {}}"#, "unknown field \"paylod\""),
            (#"{"source": "s"}"#, "\"kind\" is required"),
            (#"{"kind": "has space"}"#, "event kind \"has space\" may contain only"),
            (#"{"kind": "x", "occurredAt": "yesterday"}"#, "\"occurredAt\" must be an RFC 3339 date-time"),
            (#"{"kind": "x", "provenance": "mostly"}"#, "\"provenance\" must be"),
            (#"[{"kind": "ok"}, {"nokind": 1}]"#, "event 1: unknown field \"nokind\""),
            (#"[]"#, "the batch is empty"),
            (#"42"#, "must be an event object or an array"),
            ("", "the body is empty"),
        ]
        try await harness.run { client in
            for (body, expected) in cases {
                let (status, text) = try await ServerHarness.raw(
                    port: client.port, method: .POST, path: "/v1/events", token: harness.token, body: body)
                #expect(status == 400, "\(body)")
                let message = try JSONValue(parsing: text)["error"]?.stringValue ?? ""
                #expect(message.contains(expected), "\(body) → \(message)")
            }
        }
        #expect(try await harness.journal.events(EventQuery()).isEmpty)
    }

    @Test("a body over the limit is refused with 413")
    func tooLarge() async throws {
        let harness = try ServerHarness()
        try await harness.run(maxBody: 2048) { client in
            let big = #"{"kind": "x", "payload": ""# + String(repeating: "y", count: 4096) + #""}"#
            let (status, text) = try await ServerHarness.raw(
                port: client.port, method: .POST, path: "/v1/events", token: harness.token, body: big)
            #expect(status == 413)
            #expect(text.contains("larger than 2048 bytes"))
        }
    }

    @Test("runs: create (idempotent by key), read, cancel; bad steps and unknown runs are clear errors")
    func runs() async throws {
        let harness = try ServerHarness()
        try await harness.run { client in
            let request: JSONValue = ["key": "r1", "steps": [["effect": "append_line", "arguments": ["path": "a.txt", "text": "hi"]]]]
            let created = try await client.post("/v1/runs", request)
            #expect(created.status == 201)
            #expect(created.body["created"] == true)
            let again = try await client.post("/v1/runs", request)
            #expect(again.status == 200)
            #expect(again.body["id"] == created.body["id"])
            let id = created.body["id"]!.intValue!
            let detail = try await client.get("/v1/runs/\(id)")
            #expect(detail.body["steps"]?.arrayValue?.first?["effect"] == "append_line")
            #expect(try await client.post("/v1/runs/\(id)/cancel", nil).body["run"]?["state"] == "cancelled")
            let missing = try await client.get("/v1/runs/999")
            #expect(missing.status == 404)
            #expect(missing.body["error"]?.stringValue?.contains("no run with id 999") == true)
            let unknown = try await client.post("/v1/runs", ["steps": [["effect": "rm_rf", "arguments": [:]]]])
            #expect(unknown.status == 400)
            #expect(unknown.body["error"]?.stringValue?.contains("unknown effect \"rm_rf\"") == true)
            let escaping = try await client.post(
                "/v1/runs", ["steps": [["effect": "append_line", "arguments": ["path": "../x", "text": "t"]]]])
            #expect(escaping.status == 400)
            #expect(escaping.body["error"]?.stringValue?.contains("\"..\" is not allowed") == true)
            let resumeDone = try await client.post("/v1/runs/\(id)/resume", nil)
            #expect(resumeDone.status == 409)
        }
        #expect(harness.wakes.withLock { $0 }.filter { $0 == "runs" }.count == 1)
    }

    @Test("POST /v1/wake reaches the named parts only")
    func wake() async throws {
        let harness = try ServerHarness()
        try await harness.run { client in
            try await client.wake(["schedules"])
            await #expect(throws: DaemonClientError.self) { try await client.wake(["everything"]) }
        }
        #expect(harness.wakes.withLock { $0 } == ["schedules"])
    }
}
