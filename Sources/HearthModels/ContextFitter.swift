import HearthCore

/// What fitting a conversation into the context window did.
public struct ContextFit: Sendable, Hashable {
    public var messages: [ChatMessage]
    /// How many of the oldest messages were left out.
    public var droppedMessages: Int
    public var estimatedPromptTokens: Int

    /// One line for logs and `--json` output; `nil` when nothing was dropped.
    public var report: String? {
        droppedMessages == 0 ? nil : "left out the \(droppedMessages) oldest message(s) to fit the context window"
    }
}

/// Fits a conversation into a model's context window by a stated policy.
///
/// The policy: system messages and the last message are always kept, whole. Older messages are
/// left out oldest first until the prompt fits, with room kept for the answer; how many were
/// left out is reported. Nothing is ever cut mid-message. If the kept messages alone do not fit,
/// that is `ModelError.contextOverflow` with the numbers, for the caller to shorten its input.
public enum ContextFitter {
    public static func fit(_ messages: [ChatMessage], contextTokens: Int, reserveForAnswer: Int) throws(ModelError) -> ContextFit {
        let budget = contextTokens - reserveForAnswer
        func cost(_ message: ChatMessage) -> Int { AccountedModel.estimateTokens(message.content) + 8 }
        var kept = messages
        var dropped = 0
        var total = kept.reduce(0) { $0 + cost($1) }
        while total > budget {
            // The oldest message that is neither a system message nor the last one.
            guard let index = kept.indices.dropLast().first(where: { kept[$0].role != .system }) else {
                throw ModelError.contextOverflow(
                    promptTokens: total, contextTokens: contextTokens,
                    detail:
                        "the system prompt and the last message alone need about \(total) tokens, and \(reserveForAnswer) are kept for the answer; shorten the input or raise [inference] context_tokens"
                )
            }
            total -= cost(kept[index])
            kept.remove(at: index)
            dropped += 1
        }
        return ContextFit(messages: kept, droppedMessages: dropped, estimatedPromptTokens: total)
    }
}
