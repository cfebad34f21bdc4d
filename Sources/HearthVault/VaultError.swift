import Foundation

/// Why a vault operation or a brokered request did not happen — each says what to do.
public enum VaultError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The vault file failed authentication: wrong key or passphrase, or the file was modified.
    case authenticationFailed(path: String)
    /// The vault file is not a Hearth vault, or a newer format.
    case unreadable(path: String, reason: String)
    /// The key file is missing, malformed or readable by others.
    case badKeyFile(path: String, reason: String)
    /// The vault is sealed with a passphrase and none was given.
    case passphraseRequired(path: String)
    /// Writing the vault (or its key) failed; the previous file is untouched.
    case writeFailed(path: String, reason: String)
    case invalidName(String)
    case invalidHost(String)
    case invalidMethod(String)
    case emptyValue
    case unknownSecret(String)
    case duplicateSecret(String)
    /// A request used a secret outside what the secret allows.
    case notAllowed(secret: String, reason: String)
    /// The request template itself is unusable (bad URL, a handle where none may be).
    case badRequest(String)
    /// The remote end failed or timed out.
    case transport(String)
    /// The broker is not listening, or talking to it failed.
    case brokerUnavailable(socket: String, reason: String)
    /// The broker answered with an error of its own.
    case brokerRefused(code: String, message: String)

    public var description: String {
        switch self {
        case .authenticationFailed(let path):
            "\(path) failed authentication: the key or passphrase is wrong, or the file was modified. Nothing was changed; restore it from a backup or check the key file / HEARTH_VAULT_PASSPHRASE"
        case .unreadable(let path, let reason):
            "\(path) is not a readable Hearth vault (\(reason)); move it aside to start a new one"
        case .badKeyFile(let path, let reason):
            "the vault key file \(path) is unusable: \(reason)"
        case .passphraseRequired(let path):
            "\(path) is sealed with a passphrase: set HEARTH_VAULT_PASSPHRASE, pass --passphrase-file, or run this in a terminal to be asked"
        case .writeFailed(let path, let reason):
            "could not save \(path) (\(reason)); the previous vault is unchanged — free space or fix permissions and try again"
        case .invalidName(let name):
            "'\(name)' is not a valid secret name: use 1–64 letters, digits, '_', '-' or '.'"
        case .invalidHost(let host):
            "'\(host)' is not a valid host: use a name like api.example.com, *.example.com or 127.0.0.1:8080 (no scheme, no path)"
        case .invalidMethod(let method):
            "'\(method)' is not an HTTP method: use GET, HEAD, POST, PUT, PATCH or DELETE"
        case .emptyValue:
            "the secret's value is empty: pipe it on stdin, e.g. 'printf %s \"$TOKEN\" | hearth vault add NAME --host api.example.com'"
        case .unknownSecret(let name):
            "no secret named '\(name)' in the vault; 'hearth vault list' shows the names"
        case .duplicateSecret(let name):
            "a secret named '\(name)' exists already; use 'hearth vault rotate \(name)' to change its value"
        case .notAllowed(let secret, let reason):
            "the secret '\(secret)' may not be used here: \(reason)"
        case .badRequest(let reason):
            "the request cannot be sent: \(reason)"
        case .transport(let reason):
            "the request failed: \(reason)"
        case .brokerUnavailable(let socket, let reason):
            "the credential broker is not reachable at \(socket) (\(reason)); start it with 'hearth vault serve' or run 'hearth daemon', which starts it"
        case .brokerRefused(let code, let message):
            "the credential broker refused (\(code)): \(message)"
        }
    }

    /// A short, stable code for the wire protocol.
    public var code: String {
        switch self {
        case .authenticationFailed: "authentication-failed"
        case .unreadable: "unreadable"
        case .badKeyFile: "bad-key-file"
        case .passphraseRequired: "passphrase-required"
        case .writeFailed: "write-failed"
        case .invalidName, .invalidHost, .invalidMethod, .emptyValue: "invalid"
        case .unknownSecret: "unknown-secret"
        case .duplicateSecret: "duplicate-secret"
        case .notAllowed: "not-allowed"
        case .badRequest: "bad-request"
        case .transport: "transport"
        case .brokerUnavailable: "unavailable"
        case .brokerRefused(let code, _): code
        }
    }
}
