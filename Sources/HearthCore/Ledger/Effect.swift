import Foundation

/// What an effect knows about the step performing it.
public struct EffectContext: Sendable {
    /// The step's idempotency key; an effect that can detect its own earlier work uses it.
    public var idempotencyKey: String
    public var runID: Int64
    public var stepID: Int64
    public var attempt: Int
    /// The root of the only tree the agent may touch.
    public var workspace: URL

    public init(idempotencyKey: String, runID: Int64, stepID: Int64, attempt: Int, workspace: URL) {
        self.idempotencyKey = idempotencyKey
        self.runID = runID
        self.stepID = stepID
        self.attempt = attempt
        self.workspace = workspace
    }
}

/// A side effect a step can perform.
///
/// An effect declares whether repeating it is safe. The ledger records that declaration with the
/// step, and recovery uses it to decide between re-running and asking a human.
public protocol Effect: Sendable {
    /// The name steps refer to, e.g. `append_line`.
    var name: String { get }
    /// Whether performing the effect again with these arguments (after an interruption) is safe.
    func isIdempotent(_ arguments: JSONValue) -> Bool
    /// Checks the arguments before a run is created, so bad input never reaches the ledger.
    ///
    /// - Throws: an error whose description says which argument is wrong.
    func validate(_ arguments: JSONValue) throws
    /// Performs the effect and returns a small JSON summary of what it did.
    func perform(_ arguments: JSONValue, context: EffectContext) async throws -> JSONValue
}

/// The effects a daemon knows, by name.
public struct EffectRegistry: Sendable {
    private var effects: [String: any Effect]

    public init(_ effects: [any Effect]) {
        self.effects = Dictionary(effects.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
    }

    public subscript(name: String) -> (any Effect)? { effects[name] }

    public var names: [String] { effects.keys.sorted() }

    /// Builds a step request after validating its arguments against the named effect.
    ///
    /// - Throws: `EffectRegistryError.unknownEffect` or the effect's own validation error.
    public func stepRequest(effect name: String, arguments: JSONValue) throws -> RunRequest.StepRequest {
        guard let effect = effects[name] else {
            throw EffectRegistryError.unknownEffect(name, known: names)
        }
        try effect.validate(arguments)
        return RunRequest.StepRequest(effect: name, arguments: arguments, idempotent: effect.isIdempotent(arguments))
    }
}

public enum EffectRegistryError: Error, Sendable, CustomStringConvertible {
    case unknownEffect(String, known: [String])

    public var description: String {
        switch self {
        case .unknownEffect(let name, let known):
            "unknown effect \"\(name)\"; known effects: \(known.joined(separator: ", "))"
        }
    }
}
