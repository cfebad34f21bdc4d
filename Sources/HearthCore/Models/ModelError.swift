/// Why a model call failed, typed so callers can route each case (retry, ask the user, replan).
public enum ModelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing answered at `url`; `hint` says how to start the server.
    case unreachable(url: String, reason: String, hint: String)
    /// The server does not have the model; `hint` says how to install it.
    case modelNotFound(model: String, url: String, hint: String)
    /// A status the client does not retry (4xx), or a 5xx after the retries.
    case httpStatus(code: Int, url: String, message: String)
    /// The server answered something that is not the expected JSON.
    case malformedResponse(url: String, detail: String)
    /// No complete answer within the time allowed.
    case timedOut(url: String, seconds: Double)
    /// A stream ended before it said it was done (connection dropped, server crashed).
    case truncatedStream(url: String, receivedCharacters: Int)
    /// The prompt does not fit the model's context even after the truncation policy.
    case contextOverflow(promptTokens: Int, contextTokens: Int, detail: String)
    /// The answer is not valid for the requested schema, even after one repair round.
    case schemaViolation(errors: [String], output: String)
    /// A budget (tokens, calls, time, cost) for a run, goal or day is used up.
    case budgetExhausted(scope: String, limit: String, used: String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason, let hint):
            "no model server answers at \(url) (\(reason)); \(hint)"
        case .modelNotFound(let model, let url, let hint):
            "the model server at \(url) has no model \"\(model)\"; \(hint)"
        case .httpStatus(let code, let url, let message):
            "the model server at \(url) answered \(code): \(message)"
        case .malformedResponse(let url, let detail):
            "the model server at \(url) sent a malformed response: \(detail)"
        case .timedOut(let url, let seconds):
            "the model server at \(url) did not finish within \(Int(seconds)) s; raise [inference] request_timeout_seconds or ask for less"
        case .truncatedStream(let url, let received):
            "the stream from \(url) ended early after \(received) characters (the connection dropped or the server stopped)"
        case .contextOverflow(let prompt, let context, let detail):
            prompt == 0 && context == 0
                ? "the request does not fit the model's context: \(detail)"
                : "the prompt needs \(prompt) tokens but the model's context holds \(context): \(detail)"
        case .schemaViolation(let errors, _):
            "the model's answer does not match the schema after a repair round: \(errors.prefix(3).joined(separator: "; "))"
        case .budgetExhausted(let scope, let limit, let used):
            "budget exhausted for \(scope): limit \(limit), used \(used); raise it in [budgets] or wait for the next period"
        }
    }

    /// Whether retrying the same call later could succeed.
    public var isTransient: Bool {
        switch self {
        case .unreachable, .timedOut, .truncatedStream: true
        case .httpStatus(let code, _, _): code == 429 || code >= 500
        default: false
        }
    }
}
