import Foundation
import HearthBench
import HearthCore
import HearthServer
import HearthStore
import HearthTesting
import Testing

/// The routes of the JSON API that had no test at the HTTP level: status, goals, approvals and the
/// dashboard link, with the bearer token and without.
@Suite("The JSON API, route by route", .timeLimit(.minutes(2)))
struct APIRouteTests {
    @Test("status, goals, approvals and the dashboard link answer over HTTP, with clear errors for bad input")
    func routes() async throws {
        let sandbox = try Sandbox()
        try sandbox.prepareDaemon()
        let daemon = try await sandbox.startDaemon()
        let api = daemon.client

        let status = try await api.get("/v1/status")
        #expect(status.status == 200)
        #expect(status.body["live"] != nil, "\(status.body)")

        let goal = try await api.post("/v1/goals", ["goal": "Summarise each note in Notes/"])
        #expect(goal.status == 201, "\(goal.body)")
        let runID = try #require(goal.body["id"]?.intValue ?? goal.body["run"]?["id"]?.intValue, "\(goal.body)")
        // With a key, a retry gets the goal the first request made.
        let keyed = try await api.post("/v1/goals", ["goal": "Summarise each note in Notes/", "key": "notes-1"])
        let retried = try await api.post("/v1/goals", ["goal": "Summarise each note in Notes/", "key": "notes-1"])
        #expect(keyed.status == 201 && retried.status == 200, "\(keyed.body) \(retried.body)")
        #expect(keyed.body["id"] != nil && retried.body["id"] == keyed.body["id"] && keyed.body["id"] != goal.body["id"])
        #expect(try await api.post("/v1/goals", ["goal": "x", "key": ""]).status == 400)
        let empty = try await api.post("/v1/goals", ["goal": "  "])
        #expect(empty.status == 400)
        #expect(empty.body["error"]?.stringValue?.contains("\"goal\" must be a non-empty string") == true)
        let unknown = try await api.post("/v1/goals", ["goal": "x", "when": "now"])
        #expect(unknown.status == 400)
        #expect(unknown.body["error"]?.stringValue?.contains("unknown field \"when\"") == true)

        let book = ApprovalSQLStore(database: try HearthDatabase.open(at: sandbox.data.appending(path: "hearth.sqlite")))
        let waiting = try await book.request(
            Approval(
                runID: Int64(runID), taskID: "t", position: 0, tool: "send_mail", risk: .sendExternal, arguments: ["to": "a@b.test"],
                origins: ["to": .untrusted], reason: "to came from untrusted content", expiresAt: Date().addingTimeInterval(3600)))
        let other = try await book.request(
            Approval(
                runID: Int64(runID), taskID: "t", position: 1, tool: "http_request", risk: .network, arguments: ["url": "https://x.test"],
                origins: [:], reason: "network", expiresAt: Date().addingTimeInterval(3600)))
        let list = try await api.get("/v1/approvals")
        #expect(list.status == 200)
        #expect(Set((list.body.arrayValue ?? []).compactMap { $0["id"]?.intValue }) == [Int(waiting.id), Int(other.id)])
        let approved = try await api.post("/v1/approvals/\(waiting.id)/approve", ["note": "fine"])
        #expect(approved.status == 200)
        #expect(approved.body["state"] == "approved")
        let again = try await api.post("/v1/approvals/\(waiting.id)/deny", ["reason": "late"])
        #expect(again.status == 409)
        #expect(again.body["error"]?.stringValue?.contains("already approved") == true)
        let denied = try await api.post("/v1/approvals/\(other.id)/deny", ["reason": "not this site"])
        #expect(denied.status == 200 && denied.body["state"] == "denied")
        #expect(try await api.post("/v1/approvals/999/approve", nil).status == 404)
        #expect(try await api.get("/v1/approvals").body.arrayValue?.isEmpty == true)
        #expect(try await api.get("/v1/approvals?all=1").body.arrayValue?.count == 2)

        let link = try await api.post("/v1/dashboard/link", nil)
        #expect(link.status == 200)
        #expect(link.body["token"]?.stringValue?.count == 64)
        let stranger = DaemonClient(port: daemon.port, token: "wrong")
        #expect(try await stranger.post("/v1/dashboard/link", nil).status == 401)
        #expect(try await stranger.get("/v1/status").status == 401)
        _ = await daemon.stop()
    }

    @Test("bad input to the new commands: no daemon for a dashboard link, an unreadable file or bad slots for bench embed")
    func commandErrors() async throws {
        let sandbox = try Sandbox()
        let noDaemon = try await sandbox.hearth(["dashboard", "--print-url"])
        #expect(noDaemon.status == 1)
        #expect(noDaemon.stderr.contains("no daemon is running: start it with 'hearth daemon', then run 'hearth dashboard' again"))
        let missing = try await sandbox.hearth(["bench", "embed", "--longmemeval", "/nonexistent.json"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("cannot read /nonexistent.json (a LongMemEval-S JSON file)"), "\(missing.stderr)")
        let file = sandbox.root.appending("lme.json")
        try Data("[]".utf8).write(to: file)
        let slots = try await sandbox.hearth(["bench", "embed", "--longmemeval", file.path, "--slots", "0,4"])
        #expect(slots.status == 64)
        #expect(slots.stderr.contains("--slots takes counts from 1 to 64, e.g. 1,4"), "\(slots.stderr)")
    }
}
