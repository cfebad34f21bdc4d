import HearthCore
import Testing

/// The agent loop's decisions, driven by hand: no model, no tools, no store.
@Suite("Agent loop: one state machine for goal tasks and chat turns", .timeLimit(.minutes(10)))
struct AgentLoopTests {
    let limits = AgentLoop.Limits(maxSteps: 6, maxRepeats: 3, maxStepsWithoutNews: 2)
    let prompt: [ChatMessage] = [.system("You are Hearth."), .user("Task: read a.md")]

    func call(_ path: String, tool: String = "read_file") -> ToolCall {
        ToolCall(id: "c", name: tool, arguments: ["path": .string(path)])
    }

    /// What `command` asks the model for, or nil.
    func choice(_ command: AgentLoop.Command) -> (messages: [ChatMessage], allowAnswer: Bool)? {
        if case .choose(let messages, let allowAnswer) = command { return (messages, allowAnswer) }
        return nil
    }

    @Test("a task: the model calls a tool, reads the observation, then answers with the call's result")
    func taskPath() {
        var loop = AgentLoop(messages: prompt, limits: limits, hasTools: true, subject: "task \"t\"")
        #expect(loop.start() == .next)
        let first = choice(loop.proceed(frozen: nil))
        #expect(first?.allowAnswer == false, "a task cannot answer before any call")
        #expect(first?.messages == prompt)
        #expect(loop.chose(.call(call("a.md"))) == .run(call("a.md"), position: 0, fresh: true))
        #expect(loop.performed(call("a.md"), .success(ToolOutput(text: "We launch in March.", untrusted: true))) == .next)
        #expect(loop.untrustedTexts == ["We launch in March."])
        let second = choice(loop.proceed(frozen: nil))
        #expect(second?.allowAnswer == true)
        #expect(second?.messages.last?.content.contains("<data>\nWe launch in March.\n</data>") == true)
        let observation = AgentLoop.Observation(
            tool: "read_file", output: ToolOutput(text: "We launch in March.", untrusted: true), calls: 1)
        #expect(loop.chose(.answer("March")) == .finish(.answered("March", after: observation), runaway: nil))
    }

    @Test("a task that answers before any call fails; one that calls its completing tool ends with that call")
    func taskEnds() {
        var early = AgentLoop(messages: prompt, limits: limits, hasTools: true)
        _ = early.proceed(frozen: nil)
        #expect(early.chose(.answer("done")) == .finish(.failed("the task ended without a result"), runaway: nil))

        var completing = AgentLoop(messages: prompt, limits: limits, hasTools: true, completesWith: "write_report")
        _ = completing.proceed(frozen: nil)
        let report = call("Reports/r.md", tool: "write_report")
        _ = completing.chose(.call(report))
        let output = ToolOutput(text: "wrote the report")
        #expect(
            completing.performed(report, .success(output))
                == .finish(.completed(AgentLoop.Observation(tool: "write_report", output: output, calls: 1)), runaway: nil))
    }

    @Test("the plan's determined call is made without the model; then only the answer is asked for, or its failure ends the task")
    func determined() {
        var loop = AgentLoop(
            messages: prompt, limits: limits, hasTools: true, determined: call("a.md"), answerPrompt: "Now answer the task: summarise")
        #expect(loop.proceed(frozen: nil) == .run(call("a.md"), position: 0, fresh: true))
        #expect(loop.performed(call("a.md"), .success(ToolOutput(text: "text"))) == .next)
        guard case .writeAnswer(let messages) = loop.proceed(frozen: nil) else {
            Issue.record("expected writeAnswer")
            return
        }
        #expect(messages.last?.content.hasSuffix("Now answer the task: summarise") == true)

        var failing = AgentLoop(messages: prompt, limits: limits, hasTools: true, determined: call("a.md"))
        _ = failing.proceed(frozen: nil)
        let error = ToolError.failed(tool: "read_file", message: "not UTF-8")
        #expect(failing.performed(call("a.md"), .failure(error)) == .finish(.failed(error.description), runaway: nil))
    }

    @Test("after a crash the journal is replayed first (not gated again); a frozen approval's call is proposed instead of asking the model")
    func replayAndFrozen() {
        var loop = AgentLoop(messages: prompt, limits: limits, hasTools: true, journaled: 1)
        #expect(!loop.wantsFreshCall)
        #expect(loop.proceed(frozen: nil) == .replay(position: 0))
        #expect(loop.propose(call("a.md")) == .run(call("a.md"), position: 0, fresh: false))
        _ = loop.performed(call("a.md"), .success(ToolOutput(text: "a")))
        #expect(loop.wantsFreshCall)
        let send = call("x", tool: "send_mail")
        #expect(loop.proceed(frozen: send) == .run(send, position: 1, fresh: true))
    }

    @Test("runaways: repeating a failed call fails, the same call again and again pauses, steps without news pause")
    func runaways() {
        var failing = AgentLoop(messages: prompt, limits: limits, hasTools: true)
        _ = failing.proceed(frozen: nil)
        _ = failing.chose(.call(call("gone.md")))
        _ = failing.performed(call("gone.md"), .failure(.failed(tool: "read_file", message: "no such file")))
        #expect(choice(failing.proceed(frozen: nil))?.allowAnswer == true, "after a failure the model may answer with what failed")
        guard case .finish(.failed(let reason), let runaway) = failing.chose(.call(call("gone.md"))) else {
            Issue.record("expected a failure")
            return
        }
        #expect(reason == "read_file failed: no such file")
        #expect(runaway?.name == "repeat-of-failure")

        var looping = AgentLoop(
            messages: prompt, limits: AgentLoop.Limits(maxSteps: 9, maxRepeats: 3, maxStepsWithoutNews: 9), hasTools: true,
            subject: "task \"t\"")
        for round in 1...3 {
            _ = looping.proceed(frozen: nil)
            let command = looping.chose(.call(call("a.md")))
            if round < 3 {
                #expect(command == .run(call("a.md"), position: round - 1, fresh: true))
                _ = looping.performed(call("a.md"), .success(ToolOutput(text: "a \(round)")))
            } else {
                guard case .finish(.paused(let reason), let runaway) = command else {
                    Issue.record("expected a pause, got \(command)")
                    return
                }
                #expect(reason.hasPrefix("task \"t\" repeated the same call 3 times"))
                #expect(runaway?.name == "loop")
            }
        }

        var stale = AgentLoop(messages: prompt, limits: limits, hasTools: true, subject: "task \"t\"")
        _ = stale.proceed(frozen: nil)
        _ = stale.chose(.call(call("a.md")))
        #expect(stale.performed(call("a.md"), .success(ToolOutput(text: "same"))) == .next)
        _ = stale.proceed(frozen: nil)
        _ = stale.chose(.call(call("b.md")))
        _ = stale.performed(call("b.md"), .success(ToolOutput(text: "same")))
        _ = stale.proceed(frozen: nil)
        _ = stale.chose(.call(call("c.md")))
        #expect(
            stale.performed(call("c.md"), .success(ToolOutput(text: "same")))
                == .finish(
                    .paused("task \"t\" made 2 steps without new information"),
                    runaway: AgentLoop.Runaway(name: "no-progress", detail: ["steps": 2])))
    }

    @Test("a reply that breaks the schema gets one repair round, the second fails; the step limit ends the loop")
    func repairAndSteps() {
        var loop = AgentLoop(messages: prompt, limits: limits, hasTools: true)
        _ = loop.proceed(frozen: nil)
        #expect(loop.invalidReply(["$.tool: unknown"]) == .next)
        #expect(choice(loop.proceed(frozen: nil))?.messages.last?.content.hasPrefix("Your reply was not a valid action") == true)
        #expect(
            loop.invalidReply(["$.tool: unknown"])
                == .finish(.failed("the model gave no valid action twice: $.tool: unknown"), runaway: nil))

        var long = AgentLoop(messages: prompt, limits: AgentLoop.Limits(maxSteps: 2, maxRepeats: 9, maxStepsWithoutNews: 9), hasTools: true)
        for index in 0..<2 {
            _ = long.proceed(frozen: nil)
            _ = long.chose(.call(call("\(index).md")))
            _ = long.performed(call("\(index).md"), .failure(.failed(tool: "read_file", message: "no")))
        }
        #expect(
            long.proceed(frozen: nil) == .finish(.failed("did not finish within 2 steps; last error: read_file failed: no"), runaway: nil))
    }

    @Test("a refused call is told to the model, which goes on without it; a task without tools only writes the answer")
    func refusedAndToolless() {
        var loop = AgentLoop(messages: prompt, limits: limits, hasTools: true)
        _ = loop.proceed(frozen: nil)
        let send = call("x", tool: "send_mail")
        _ = loop.chose(.call(send))
        #expect(loop.refused(send, reason: "policy: sends outside") == .next)
        #expect(loop.lastError == "send_mail refused: policy: sends outside")
        #expect(choice(loop.proceed(frozen: nil))?.messages.last?.content.hasPrefix("The call was refused: policy: sends outside") == true)

        var synthesis = AgentLoop(messages: prompt, limits: limits, hasTools: false)
        #expect(synthesis.proceed(frozen: nil) == .writeAnswer(messages: prompt))
        #expect(synthesis.answered("All done.") == .finish(.answered("All done.", after: nil), runaway: nil))
    }

    @Test("a chat turn: the model may answer at once, or call a tool and then answer, or start a goal which ends the turn")
    func chatPath() {
        var direct = AgentLoop(messages: prompt, limits: limits, hasTools: true, answerFirst: true)
        #expect(choice(direct.proceed(frozen: nil))?.allowAnswer == true)
        #expect(direct.chose(.answer("Hello.")) == .finish(.answered("Hello.", after: nil), runaway: nil))

        var withTool = AgentLoop(messages: prompt, limits: limits, hasTools: true, completesWith: "start_goal", answerFirst: true)
        _ = withTool.proceed(frozen: nil)
        let recall = ToolCall(id: "r", name: "recall", arguments: ["query": "dog"])
        _ = withTool.chose(.call(recall))
        _ = withTool.performed(recall, .success(ToolOutput(text: "my dog is called Biscuit", untrusted: true)))
        _ = withTool.proceed(frozen: nil)
        let start = ToolCall(id: "g", name: "start_goal", arguments: ["goal": "Summarise each note in Notes/"])
        #expect(withTool.chose(.call(start)) == .run(start, position: 1, fresh: true))
        let started = ToolOutput(text: "started run 4")
        #expect(
            withTool.performed(start, .success(started))
                == .finish(.completed(AgentLoop.Observation(tool: "start_goal", output: started, calls: 2)), runaway: nil))

        var broken = AgentLoop(messages: prompt, limits: limits, hasTools: true, answerFirst: true)
        _ = broken.proceed(frozen: nil)
        _ = broken.invalidReply(["not JSON"])
        #expect(
            choice(broken.proceed(frozen: nil))?.messages.last?.content
                == "Your reply was not valid. Answer with one tool call from the list, or with the answer.")
    }
}
