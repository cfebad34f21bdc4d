import Foundation
import HearthCore

/// A model `scripts/setup` installed, as listed in `<models dir>/catalog.json`.
public struct InstalledModel: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case chat, embedding
    }

    public var name: String
    public var kind: Kind
    public var file: String
    public var sha256: String
    public var source: String
    public var contextTokens: Int?
    public var dimensions: Int?
}

/// The local inference installation: the llama-server binary and the models.
public struct ModelInstallation: Sendable, Hashable {
    public var binary: URL
    public var modelsDirectory: URL
    public var models: [InstalledModel]

    public static let setupHint = "run 'scripts/setup' (it builds llama-server and installs the models)"

    /// Reads the catalog and checks that the binary and every model file exist.
    ///
    /// - Throws: `InstallationError` saying what is missing and that `scripts/setup` installs it.
    public static func load(binary: URL, modelsDirectory: URL) throws(InstallationError) -> ModelInstallation {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw .serverMissing(path: binary.path)
        }
        let catalog = modelsDirectory.appending(path: "catalog.json")
        guard let data = FileManager.default.contents(atPath: catalog.path) else {
            throw .catalogMissing(path: catalog.path)
        }
        let models: [InstalledModel]
        do {
            models = try JSONDecoder().decode([InstalledModel].self, from: data)
        } catch {
            throw .catalogUnreadable(path: catalog.path, reason: String(describing: error))
        }
        for model in models where !FileManager.default.fileExists(atPath: modelsDirectory.appending(path: model.file).path) {
            throw .modelFileMissing(name: model.name, path: modelsDirectory.appending(path: model.file).path)
        }
        return ModelInstallation(binary: binary, modelsDirectory: modelsDirectory, models: models)
    }

    public func model(named name: String, kind: InstalledModel.Kind) throws(InstallationError) -> InstalledModel {
        guard let model = models.first(where: { $0.name == name }) else {
            throw .unknownModel(name: name, known: models.map(\.name))
        }
        guard model.kind == kind else { throw .wrongKind(name: name, expected: kind.rawValue, found: model.kind.rawValue) }
        return model
    }

    public func path(of model: InstalledModel) -> URL { modelsDirectory.appending(path: model.file) }

    /// The size of a model file in bytes (0 if it vanished).
    public func size(of model: InstalledModel) -> Int64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path(of: model).path)
        return (attributes?[.size] as? NSNumber)?.int64Value ?? 0
    }
}

/// What is missing from the local inference installation.
public enum InstallationError: Error, Sendable, Hashable, CustomStringConvertible {
    case serverMissing(path: String)
    case catalogMissing(path: String)
    case catalogUnreadable(path: String, reason: String)
    case modelFileMissing(name: String, path: String)
    case unknownModel(name: String, known: [String])
    case wrongKind(name: String, expected: String, found: String)

    public var description: String {
        switch self {
        case .serverMissing(let path): "llama-server is not installed at \(path); \(ModelInstallation.setupHint)"
        case .catalogMissing(let path): "no models are installed (\(path) is missing); \(ModelInstallation.setupHint)"
        case .catalogUnreadable(let path, let reason): "the model catalog \(path) is unreadable (\(reason)); \(ModelInstallation.setupHint)"
        case .modelFileMissing(let name, let path): "model \(name) is missing (\(path)); \(ModelInstallation.setupHint)"
        case .unknownModel(let name, let known):
            "no installed model is named \"\(name)\" (installed: \(known.joined(separator: ", "))); fix [inference] in config.toml or \(ModelInstallation.setupHint)"
        case .wrongKind(let name, let expected, let found):
            "model \(name) is a \(found) model, not a \(expected) model; fix [inference] in config.toml"
        }
    }
}
