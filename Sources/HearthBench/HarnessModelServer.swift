import Foundation
import HearthCore
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The fleet crash harness's model: an OpenAI-compatible server on loopback that answers a
/// harness goal's planner and task agents by rule, so whole daemons run goals with effect steps
/// without a language model's variance (the harness measures crash safety, not plans).
///
/// Goal N's plan has `tasks` independent tasks; task K writes `fleet/goals/gN-tK.txt` holding
/// "harness goal N task K" with `write_file`, then answers. Anything else (a brief, a summary)
/// gets a short plain answer.
final class HarnessModelServer: Sendable {
    let tasks: Int
    private let task = Mutex<Task<Void, any Error>?>(nil)
    private let answered = Atomic<Int>(0)

    init(tasks: Int) {
        self.tasks = tasks
    }

    deinit {
        task.withLock { $0?.cancel() }
    }

    /// Requests answered so far.
    var requests: Int { answered.load(ordering: .relaxed) }

    static func goal(_ index: Int) -> String { "Harness goal \(index): write its status files" }
    static func file(goal: Int, task: Int) -> String { "fleet/goals/g\(goal)-t\(task).txt" }
    static func content(goal: Int, task: Int) -> String { "harness goal \(goal) task \(task)" }

    /// Starts listening on a free loopback port; returns the base URL.
    func start() async throws -> String {
        let router = Router()
        router.post("/v1/chat/completions") { [self] request, _ in
            let bytes = try await request.body.collect(upTo: 16 << 20)
            let body = (try? JSONValue(parsing: Data(bytes.readableBytesView))) ?? .null
            answered.add(1, ordering: .relaxed)
            return Self.response(text: answer(body), streaming: body["stream"] == true)
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "harness-model")
        logger.logLevel = .critical  // its cancellation at the end is logged as an error
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        task.withLock { $0 = Task { try await application.run() } }
        for await port in ports { return "http://127.0.0.1:\(port)" }
        throw CancellationError()
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }

    /// The reply's text: a plan, one tool call, or the task's final answer.
    func answer(_ body: JSONValue) -> String {
        let messages = body["messages"]?.arrayValue ?? []
        let text = body.jsonText
        if messages.first?["content"]?.stringValue?.hasPrefix("You are the planner") == true,
            let match = text.firstMatch(of: /Harness goal (\d+)/), let goal = Int(match.1)
        {
            let planned: [JSONValue] = (0..<tasks).map { index in
                [
                    "id": .string("t\(index)"), "title": .string("Status file \(index)"),
                    "instructions": .string(
                        "Write \(Self.file(goal: goal, task: index)) with the text: \(Self.content(goal: goal, task: index))"),
                    "dependsOn": [], "expectedOutput": "the file", "tools": ["write_file"],
                ]
            }
            return (["tasks": .array(planned)] as JSONValue).jsonText
        }
        if let match = text.firstMatch(of: /Write (fleet\/goals\/g\d+-t\d+\.txt) with the text: (harness goal \d+ task \d+)/) {
            let call: JSONValue =
                messages.count <= 2
                ? [
                    "tool": "write_file",
                    "arguments": ["path": .string(String(match.1)), "content": .string(String(match.2)), "overwrite": true],
                ]
                : ["tool": "final_answer", "arguments": ["text": "written"]]
            return call.jsonText
        }
        return "Nothing to add."
    }

    static func response(text: String, streaming: Bool) -> Response {
        let usage: JSONValue = ["prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50]
        guard streaming else {
            let body: JSONValue = [
                "id": "harness", "object": "chat.completion", "model": "harness",
                "choices": [["index": 0, "message": ["role": "assistant", "content": .string(text)], "finish_reason": "stop"]],
                "usage": usage,
            ]
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body.jsonText)))
        }
        let chunks: [JSONValue] = [
            ["choices": [["index": 0, "delta": ["role": "assistant", "content": .string(text)]]]],
            ["choices": [["index": 0, "delta": [:], "finish_reason": "stop"]], "usage": usage],
        ]
        let stream = chunks.map { "data: \($0.jsonText)\n\n" }.joined() + "data: [DONE]\n\n"
        return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: .init(byteBuffer: ByteBuffer(string: stream)))
    }
}
