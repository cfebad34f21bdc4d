import Crypto
import Foundation
import Glibc
import HearthCore

/// This daemon's identity in a fleet: its name, role and Ed25519 key pair. The private key is a
/// file only its owner may read (0600) in the data dir; a key file others can read is refused.
public struct AgentIdentity: Sendable {
    public let name: String
    public let role: String
    let privateKey: Curve25519.Signing.PrivateKey

    public init(name: String, role: String, privateKey: Curve25519.Signing.PrivateKey) {
        self.name = name
        self.role = role
        self.privateKey = privateKey
    }

    /// The public key, base64, as the fleet's store and messages carry it.
    public var publicKey: String { privateKey.publicKey.rawRepresentation.base64EncodedString() }

    /// A message to `agent`, signed, with a fresh nonce.
    public func sign(to agent: String, kind: AgentMessage.Kind, body: JSONValue, at date: Date = Date()) throws -> AgentMessage {
        var nonce = [UInt8](repeating: 0, count: 16)
        for index in nonce.indices { nonce[index] = UInt8.random(in: 0...255) }
        // Whole milliseconds: the time survives any JSON round trip exactly as signed.
        let sentAt = Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1_000).rounded(.down) / 1_000)
        var message = AgentMessage(
            from: name, to: agent, kind: kind, body: body, key: publicKey, nonce: Data(nonce).base64EncodedString(), sentAt: sentAt)
        message.signature = try privateKey.signature(for: Data(message.signedText.utf8)).base64EncodedString()
        return message
    }

    /// Whether `signature` (base64) is `publicKey`'s (base64) over `text`.
    public static func verify(publicKey: String, text: String, signature: String) -> Bool {
        guard let keyData = Data(base64Encoded: publicKey), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: keyData),
            let signatureData = Data(base64Encoded: signature)
        else { return false }
        return key.isValidSignature(signatureData, for: Data(text.utf8))
    }
}

/// Why an identity's key file cannot be used.
public enum AgentKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case loosePermissions(path: String, mode: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .loosePermissions(let path, let mode):
            "the agent key \(path) can be read by others (mode \(mode)); run 'chmod 600 \(path)' and start again"
        case .unreadable(let path, let reason): "the agent key \(path) cannot be used: \(reason)"
        }
    }
}

/// The private key file: base64 of the 32-byte Ed25519 seed, mode 0600.
public enum AgentKeyFile {
    /// Reads the key at `url`, or creates one (0600) when none exists.
    public static func loadOrCreate(_ url: URL) throws(AgentKeyError) -> Curve25519.Signing.PrivateKey {
        if !FileManager.default.fileExists(atPath: url.path) {
            let key = Curve25519.Signing.PrivateKey()
            do {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                _ = try DurableFile.create(url, with: Data(key.rawRepresentation.base64EncodedString().utf8), mode: 0o600)
            } catch {
                throw .unreadable(path: url.path, reason: "could not write it: \(error)")
            }
            return key
        }
        return try load(url)
    }

    public static func load(_ url: URL) throws(AgentKeyError) -> Curve25519.Signing.PrivateKey {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue ?? 0
        guard mode & 0o077 == 0 else { throw .loosePermissions(path: url.path, mode: String(mode, radix: 8)) }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .unreadable(path: url.path, reason: "it cannot be read")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let seed = Data(base64Encoded: text), let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw .unreadable(path: url.path, reason: "it is not a base64 Ed25519 key (32 bytes)")
        }
        return key
    }
}

extension AgentKeyFile {
    /// Rotates the key in `url`. The new key is written beside it first (0600, synced), then
    /// `record` tells the store its public half (the rotation), and only then does it take the old
    /// file's place: a store that refuses or cannot be reached leaves the agent with its old key,
    /// as registered.
    public static func rotate(_ url: URL, record: (_ publicKey: String) async throws -> Void) async throws
        -> Curve25519.Signing.PrivateKey
    {
        let key = Curve25519.Signing.PrivateKey()
        let staging = url.deletingLastPathComponent().appending(path: ".\(url.lastPathComponent).new")
        do {
            try DurableFile.replace(staging, with: Data(key.rawRepresentation.base64EncodedString().utf8), mode: 0o600)
        } catch {
            throw AgentKeyError.unreadable(path: staging.path, reason: "could not write the new key: \(error.reason)")
        }
        do {
            try await record(key.publicKey.rawRepresentation.base64EncodedString())
        } catch {
            unlink(staging.path)
            throw error
        }
        guard rename(staging.path, url.path) == 0 else {
            throw AgentKeyError.unreadable(
                path: url.path,
                reason:
                    "the store has the new key but the file could not be replaced (\(String(cString: strerror(errno)))); move \(staging.path) over it"
            )
        }
        return key
    }
}
