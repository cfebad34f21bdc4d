import Foundation

/// The decisions of one agent loop — a goal's task or a chat turn — made without I/O.
///
/// The driver asks `next` what to do, does it (asks the model, runs the gate, performs a call),
/// and reports back; the loop keeps the conversation, notices runaways (a repeated call, a call
/// that already failed, steps without new information, replies that break the action schema) and
/// says when and how the work ends.
///
/// ```swift
/// var loop = AgentLoop(messages: prompt, limits: limits, hasTools: true)
/// var command = loop.proceed(frozen: nil)   // .choose(messages:allowAnswer:)
/// command = loop.chose(.call(call))         // .run(call, position: 0, fresh: true)
/// command = loop.performed(call, .success(output))  // .next
/// ```
public struct AgentLoop: Sendable, Hashable {
    public struct Limits: Sendable, Hashable {
        public var maxSteps: Int
        /// The same call this many times pauses the loop.
        public var maxRepeats: Int
        public var maxStepsWithoutNews: Int
        /// Replies that break the action schema before the loop fails (each but the last gets a repair round).
        public var maxInvalidReplies: Int

        public init(maxSteps: Int, maxRepeats: Int, maxStepsWithoutNews: Int, maxInvalidReplies: Int = 2) {
            self.maxSteps = maxSteps
            self.maxRepeats = maxRepeats
            self.maxStepsWithoutNews = maxStepsWithoutNews
            self.maxInvalidReplies = maxInvalidReplies
        }
    }

    /// A call's result, as the loop saw it.
    public struct Observation: Sendable, Hashable {
        public var tool: String
        public var output: ToolOutput
        /// Calls made so far, this one included.
        public var calls: Int

        public init(tool: String, output: ToolOutput, calls: Int) {
            self.tool = tool
            self.output = output
            self.calls = calls
        }
    }

    /// How the loop ended.
    public enum Ending: Sendable, Hashable {
        /// The model answered; `after` is the last successful call, if any.
        case answered(String, after: Observation?)
        /// The call that completes the work succeeded; its output is the result.
        case completed(Observation)
        case failed(String)
        /// The work must stop (a runaway); it may be resumed.
        case paused(String)
    }

    /// Why a runaway check stopped the loop, for the trace.
    public struct Runaway: Sendable, Hashable {
        /// `loop`, `no-progress` or `repeat-of-failure`.
        public var name: String
        public var detail: JSONValue

        public init(name: String, detail: JSONValue) {
            self.name = name
            self.detail = detail
        }
    }

    /// What the driver must do next.
    public enum Command: Sendable, Hashable {
        /// Check cancellation and budgets, then call `proceed(frozen:)`.
        case next
        /// Take the call at `position` from the journal and `propose` it.
        case replay(position: Int)
        /// Ask the model for a call, or an answer when `allowAnswer`; report with `chose` or `invalidReply`.
        case choose(messages: [ChatMessage], allowAnswer: Bool)
        /// Ask the model for the final answer only; report with `answered`.
        case writeAnswer(messages: [ChatMessage])
        /// Gate the call when `fresh` (a replayed call was gated before), then perform it; report with
        /// `refused` or `performed`.
        case run(ToolCall, position: Int, fresh: Bool)
        case finish(Ending, runaway: Runaway?)
    }

    public private(set) var messages: [ChatMessage]
    public let limits: Limits
    /// Text from outside the user's own words, which call arguments are checked against.
    public private(set) var untrustedTexts: [String]
    /// Index of the next call.
    public private(set) var position = 0
    public private(set) var steps = 0
    public private(set) var lastError: String?
    private let hasTools: Bool
    private let journaled: Int
    private let determined: ToolCall?
    private let completesWith: String?
    private let answerFirst: Bool
    private let subject: String
    private let answerPrompt: String
    /// The last call that succeeded.
    public private(set) var lastObservation: Observation?
    private var seenCalls: [String: Int] = [:]
    private var failedCalls: [String: String] = [:]
    private var seenOutputs: Set<String> = []
    private var stepsWithoutNews = 0
    private var invalidReplies = 0

    /// - Parameters:
    ///   - journaled: calls already journaled (after a crash): replayed before anything new.
    ///   - determined: the call the plan fully fixes, made without asking the model.
    ///   - completesWith: the tool whose success is the result.
    ///   - answerFirst: the model may answer before any call (a conversation); otherwise an
    ///     answer needs a call's result first (a task).
    ///   - subject: how pause reasons name the work (`task "x"`).
    ///   - answerPrompt: what follows an observation when only the answer is left.
    public init(
        messages: [ChatMessage], limits: Limits, hasTools: Bool, untrustedTexts: [String] = [], journaled: Int = 0,
        determined: ToolCall? = nil, completesWith: String? = nil, answerFirst: Bool = false, subject: String = "the work",
        answerPrompt: String = "Now give the final answer."
    ) {
        self.messages = messages
        self.limits = limits
        self.hasTools = hasTools
        self.untrustedTexts = untrustedTexts
        self.journaled = journaled
        self.determined = determined
        self.completesWith = completesWith
        self.answerFirst = answerFirst
        self.subject = subject
        self.answerPrompt = answerPrompt
    }

    /// Whether the next call is new (not replayed from the journal): only then can a frozen approval hold it.
    public var wantsFreshCall: Bool { position >= journaled }

    /// The first command.
    public func start() -> Command { .next }

    /// The next step, after the driver found no reason to stop. `frozen`: the call a pending or
    /// answered approval holds for this position (the model is not asked again).
    public mutating func proceed(frozen: ToolCall?) -> Command {
        steps += 1
        if steps > limits.maxSteps {
            return .finish(
                .failed("did not finish within \(limits.maxSteps) steps" + (lastError.map { "; last error: \($0)" } ?? "")), runaway: nil)
        }
        if position < journaled { return .replay(position: position) }
        if let frozen { return propose(frozen) }
        if let determined, position == 0 { return propose(determined) }
        if determined != nil, lastObservation != nil { return .writeAnswer(messages: messages) }
        if !hasTools { return .writeAnswer(messages: messages) }
        return .choose(messages: messages, allowAnswer: answerFirst || lastObservation != nil || lastError != nil)
    }

    /// A call to make (from the journal, an approval, the plan or the model): checked for runaways.
    public mutating func propose(_ call: ToolCall) -> Command {
        let signature = call.name + " " + call.arguments.jsonText
        let fresh = position >= journaled
        if fresh, let failed = failedCalls[signature] {
            return .finish(.failed(failed), runaway: Runaway(name: "repeat-of-failure", detail: ["call": .string(Self.preview(signature))]))
        }
        seenCalls[signature, default: 0] += 1
        if seenCalls[signature]! >= limits.maxRepeats {
            return .finish(
                .paused("\(subject) repeated the same call \(seenCalls[signature]!) times: \(Self.preview(signature))"),
                runaway: Runaway(name: "loop", detail: ["call": .string(Self.preview(signature))]))
        }
        return .run(call, position: position, fresh: fresh)
    }

    /// The model's valid reply to `choose`.
    public mutating func chose(_ action: AgentChoice.Action) -> Command {
        switch action {
        case .call(let call): return propose(call)
        case .answer(let text):
            if !answerFirst && lastObservation == nil {
                return .finish(.failed(lastError ?? "the task ended without a result"), runaway: nil)
            }
            return .finish(.answered(text, after: lastObservation), runaway: nil)
        }
    }

    /// The model's reply broke the action schema: one more round with a reminder, or the end.
    public mutating func invalidReply(_ problems: [String]) -> Command {
        invalidReplies += 1
        if invalidReplies >= limits.maxInvalidReplies {
            let times = [1: "once", 2: "twice"][invalidReplies] ?? "\(invalidReplies) times"
            return .finish(.failed("the model gave no valid action \(times): \(problems.prefix(3).joined(separator: "; "))"), runaway: nil)
        }
        messages.append(
            .user(
                answerFirst
                    ? "Your reply was not valid. Answer with one tool call from the list, or with the answer."
                    : "Your reply was not a valid action. Answer with one tool call from the list."))
        return .next
    }

    /// The answer the driver got for `writeAnswer`.
    public func answered(_ text: String) -> Command {
        .finish(.answered(text, after: lastObservation), runaway: nil)
    }

    /// The gate refused the call; the model is told and goes on without it.
    public mutating func refused(_ call: ToolCall, reason: String) -> Command {
        let refusal = ToolError.refused(tool: call.name, reason: reason).description
        position += 1
        lastError = refusal
        failedCalls[call.name + " " + call.arguments.jsonText] = refusal
        messages.append(.assistant(Self.callText(call)))
        messages.append(.user("The call was refused: \(reason)\nDo not try it again; continue without it, or give the final answer."))
        return .next
    }

    /// The call ran (or was replayed).
    public mutating func performed(_ call: ToolCall, _ result: Result<ToolOutput, ToolError>) -> Command {
        position += 1
        switch result {
        case .success(let output):
            if output.untrusted { untrustedTexts.append(output.text) }
            let observation = Observation(tool: call.name, output: output, calls: position)
            if call.name == completesWith { return .finish(.completed(observation), runaway: nil) }
            lastObservation = observation
            lastError = nil
            stepsWithoutNews = seenOutputs.insert(output.text).inserted ? 0 : stepsWithoutNews + 1
            messages.append(.assistant(Self.callText(call)))
            messages.append(
                .user(
                    Self.observation(call.name, output)
                        + (determined != nil ? "\n" + answerPrompt : "\nCall another tool, or give the final answer.")))
        case .failure(let error):
            // The plan's one call failed: asking the model cannot change its arguments.
            if determined != nil { return .finish(.failed(error.description), runaway: nil) }
            lastError = error.description
            failedCalls[call.name + " " + call.arguments.jsonText] = error.description
            stepsWithoutNews += 1
            messages.append(.assistant(Self.callText(call)))
            messages.append(
                .user("The call failed: \(error.description)\nTry something else, or give the final answer saying what failed."))
        }
        if stepsWithoutNews >= limits.maxStepsWithoutNews {
            return .finish(
                .paused("\(subject) made \(stepsWithoutNews) steps without new information"),
                runaway: Runaway(name: "no-progress", detail: ["steps": .number(Double(stepsWithoutNews))]))
        }
        return .next
    }

    // MARK: Wording

    /// A tool's result as the model reads it: fenced as data when it came from outside.
    public static func observation(_ tool: String, _ output: ToolOutput) -> String {
        let body = output.text.count > 2000 ? String(output.text.prefix(2000)) + "\n… [cut]" : output.text
        return output.untrusted ? "Result of \(tool):\n<data>\n\(body)\n</data>" : "Result of \(tool):\n\(body)"
    }

    public static func callText(_ call: ToolCall) -> String {
        (["tool": .string(call.name), "arguments": call.arguments] as JSONValue).jsonText
    }

    public static func preview(_ text: String, _ limit: Int = 200) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > limit ? String(flat.prefix(limit)) + "…" : flat
    }
}
