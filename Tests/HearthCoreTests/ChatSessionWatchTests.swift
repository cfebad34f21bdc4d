import Foundation
import HearthCore
import Testing

@Suite("A conversation's live stream: what changed since the last look, without I/O", .timeLimit(.minutes(10)))
struct ChatSessionWatchTests {
    static func approval(_ id: Int64, run: Int64) -> Approval {
        Approval(
            id: id, runID: run, taskID: "t", position: 0, tool: "write_file", risk: .writeWorkspace, arguments: ["path": "a.txt"],
            origins: [:], reason: "a rule asks", state: .pending, createdAt: Date(timeIntervalSince1970: 0),
            expiresAt: Date(timeIntervalSince1970: 3600))
    }

    @Test("the first look reports everything; later looks only changes; other sessions' approvals are not reported")
    func changes() {
        var watch = ChatSessionWatch()
        let running = ChatRunNews(runID: 4, title: "Write a note", state: .running)
        let other = Self.approval(9, run: 77)
        #expect(watch.update(runs: [running], pending: [other]) == [.run(running)])
        #expect(watch.update(runs: [running], pending: [other]).isEmpty)

        let waiting = ChatRunNews(runID: 4, title: "Write a note", state: .awaitingApproval)
        let asked = Self.approval(3, run: 4)
        #expect(watch.update(runs: [waiting], pending: [other, asked]) == [.run(waiting), .approval(asked)])
        #expect(watch.update(runs: [waiting], pending: [asked, other]).isEmpty)

        // Answered: it stops waiting, then the run moves on; a second goal joins the session.
        let done = ChatRunNews(runID: 4, title: "Write a note", state: .succeeded)
        let second = ChatRunNews(runID: 2, title: "Earlier goal", state: .failed)
        #expect(watch.update(runs: [waiting], pending: [other]) == [.approvalClosed(id: 3, runID: 4)])
        #expect(watch.update(runs: [done, second], pending: []) == [.run(second), .run(done)])
        // An approval answered and its run moving on within one look: the answer comes first.
        let again = ChatRunNews(runID: 5, title: "Another", state: .awaitingApproval)
        let ask = Self.approval(8, run: 5)
        #expect(watch.update(runs: [done, second, again], pending: [ask]) == [.run(again), .approval(ask)])
        let finished = ChatRunNews(runID: 5, title: "Another", state: .succeeded)
        #expect(watch.update(runs: [done, second, finished], pending: []) == [.approvalClosed(id: 8, runID: 5), .run(finished)])
        #expect(watch.update(runs: [done, second], pending: []).isEmpty)
    }
}
