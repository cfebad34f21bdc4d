import Foundation

/// What an agent's tools and prompts need from memory: store a note, recall what is relevant,
/// and the user's standing preferences and rules (the profile every prompt carries).
public protocol AgentMemory: Sendable {
    /// Stores a note the agent wrote while working; `untrusted` when it may derive from files,
    /// mail or the web (facts learned from it then wait for the user's confirmation).
    func remember(_ text: String, untrusted: Bool, runID: Int64?) async throws -> Int64
    /// The most relevant memories, best first, as text; unrelated records are left out, so the
    /// list may be shorter than `limit` or empty.
    func recall(_ query: String, limit: Int) async throws -> [String]
    /// Preferences and standing rules, one line each, the most relevant to `task` first, within
    /// `budget` tokens.
    func profileLines(for task: String, budget: Int) async throws -> [String]
}
