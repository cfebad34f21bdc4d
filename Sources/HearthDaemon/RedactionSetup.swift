import Foundation
import HearthConfig
import HearthCore
import HearthModels
import HearthStore

/// The redaction for a model endpoint, from the config and what the profile knows.
public enum RedactionSetup {
    /// Nil when `[inference] redact` does not apply to `endpoint`. The names come from `memory`
    /// (the configured store), or without it from the data directory's database.
    public static func redaction(
        configuration: Configuration, paths: HearthPaths, endpoint: ModelEndpoint, memory: (any MemoryStore)? = nil
    ) async -> Redaction? {
        guard RedactingModel.applies(configuration.inference.redact, to: endpoint) else { return nil }
        var store = memory
        if store == nil, configuration.store.url == nil, FileManager.default.fileExists(atPath: paths.database.path) {
            store = try? MemorySQLStore(database: HearthDatabase.open(at: paths.database))
        }
        var names: [String] = []
        if let store { names = (try? await personNames(store)) ?? [] }
        return Redaction(
            names: names, terms: configuration.inference.redactTerms,
            paths: [paths.workspace.path, NSHomeDirectory()].filter { $0.count > 1 })
    }

    /// People's names the fact graph holds: subjects and objects of active facts that read like a
    /// name (one to three capitalised words).
    static func personNames(_ memory: any MemoryStore) async throws -> [String] {
        var names: Set<String> = []
        for fact in try await memory.facts(FactQuery()) {
            for text in [fact.subject, fact.object] where Self.isName(text) { names.insert(text) }
        }
        return names.sorted()
    }

    static func isName(_ text: String) -> Bool {
        let words = text.split(separator: " ")
        guard (1...3).contains(words.count), text.lowercased() != "user" else { return false }
        return words.allSatisfy { word in
            guard let first = word.first, first.isUppercase, word.count >= 2 else { return false }
            return word.allSatisfy { $0.isLetter || $0 == "-" || $0 == "'" }
        }
    }
}
