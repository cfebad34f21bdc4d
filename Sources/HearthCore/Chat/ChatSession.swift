import Foundation

/// A conversation that survives restarts: its turns are memory records with this session id.
public struct ChatSession: Sendable, Hashable, Codable {
    public var id: String
    public var title: String
    public var createdAt: Date
    public var updatedAt: Date
    public var turns: Int

    public init(id: String, title: String, createdAt: Date, updatedAt: Date, turns: Int = 0) {
        self.id = id
        self.title = title
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.turns = turns
    }
}

/// Why a chat turn could not be taken.
public enum ChatError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownSession(String)
    case emptyMessage
    case tooLong(tokens: Int, limit: Int)
    /// The model's part of a turn failed: its reply broke the tool schema after a repair round, or it ran away.
    case modelFailed(String)

    public var description: String {
        switch self {
        case .unknownSession(let id): "no chat session \"\(id)\"; 'hearth chat --sessions' lists them, --new starts one"
        case .emptyMessage: "the message is empty; say something, e.g. hearth chat \"What do you know about me?\""
        case .tooLong(let tokens, let limit):
            "the message is about \(tokens) tokens; the model's context holds \(limit) — shorten it, or hand a long text to a goal ('hearth goal \"Summarise notes.md\"'); nothing was stored"
        case .modelFailed(let reason): "the model failed this turn: \(reason)"
        }
    }
}

/// A goal started from a conversation whose state changed since the session was last told.
public struct ChatRunNews: Sendable, Hashable {
    public var runID: Int64
    public var title: String
    public var state: RunState

    public init(runID: Int64, title: String, state: RunState) {
        self.runID = runID
        self.title = title
        self.state = state
    }

    /// How the conversation says it.
    public var sentence: String {
        switch state {
        case .succeeded: "Run \(runID) (\(title)) succeeded — the report is Reports/run-\(runID).md."
        case .failed: "Run \(runID) (\(title)) failed — 'hearth run \(runID)' says why; the report is Reports/run-\(runID).md."
        case .cancelled: "Run \(runID) (\(title)) was cancelled."
        case .needsReview: "Run \(runID) (\(title)) needs your review: 'hearth run \(runID)'."
        case .awaitingApproval: "Run \(runID) (\(title)) waits for your approval (see below)."
        case .pending, .running: "Run \(runID) (\(title)) is \(state.rawValue)."
        }
    }
}

public protocol ChatSessionStore: Sendable {
    func createSession(title: String, at: Date) async throws -> ChatSession
    func session(_ id: String) async throws -> ChatSession?
    func sessions(limit: Int) async throws -> [ChatSession]
    func touch(_ id: String, at: Date) async throws
    /// Remembers that `run` was started from `session`.
    func link(run: Int64, session: String) async throws
    /// The session's runs that finished, failed, or wait for a human since it was last told, marked told.
    func takeRunNews(session: String) async throws -> [ChatRunNews]
    /// Every goal started from the session, with its state now (nothing is marked told).
    func runs(session: String) async throws -> [ChatRunNews]
    /// The session's model-written summary of its older turns, if it has one.
    func summary(session: String) async throws -> ChatSummary?
    /// Keeps `summary` unless the session's summary already covers as much or more (two writers
    /// race: the one that covers more wins). Returns whether it was kept.
    @discardableResult func setSummary(_ summary: ChatSummary, session: String) async throws -> Bool
}
