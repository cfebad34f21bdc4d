import Foundation
import HearthConfig
import HearthCore
import HearthModels
import HearthStore

/// The redaction for a model endpoint, from the config and what the profile knows.
public enum RedactionSetup {
    /// Nil when `[inference] redact` does not apply to `endpoint`.
    public static func redaction(configuration: Configuration, paths: HearthPaths, endpoint: ModelEndpoint) -> Redaction? {
        guard RedactingModel.applies(configuration.inference.redact, to: endpoint) else { return nil }
        let names = (try? personNames(paths: paths)) ?? []
        return Redaction(
            names: names, terms: configuration.inference.redactTerms,
            paths: [paths.workspace.path, NSHomeDirectory()].filter { $0.count > 1 })
    }

    /// People's names the fact graph holds: subjects and objects of active facts that read like a
    /// name (one to three capitalised words).
    static func personNames(paths: HearthPaths) throws -> [String] {
        guard FileManager.default.fileExists(atPath: paths.database.path) else { return [] }
        let facts = try MemorySQLStore(database: try HearthDatabase.open(at: paths.database)).activeFactTermsNow()
        var names: Set<String> = []
        for text in facts where Self.isName(text) { names.insert(text) }
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
