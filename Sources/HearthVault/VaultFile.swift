import Crypto
import Foundation
import Glibc
import HearthCore
import _CryptoExtras

/// What the vault holds once opened.
public struct VaultContents: Codable, Sendable, Equatable {
    public var secrets: [Secret] = []

    public init(secrets: [Secret] = []) { self.secrets = secrets }

    public func secret(named name: String) -> Secret? { secrets.first { $0.name == name } }
}

/// Where the vault key comes from.
public enum VaultKeySource: Sendable {
    /// 32 random bytes (base64) in a file only its owner may read. Unattended starts use this.
    case keyFile(URL)
    /// scrypt over a passphrase; the key then exists only in the broker's memory.
    case passphrase(String)
}

/// How a vault file's key is derived; stored in the clear and authenticated with the contents.
struct KeyDerivation: Codable, Equatable {
    var kind: String
    var salt: String?
    var n: Int?
    var r: Int?
    var p: Int?

    static let keyFile = KeyDerivation(kind: "keyfile")

    static func scrypt() -> KeyDerivation {
        KeyDerivation(
            kind: "scrypt", salt: Data(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }).base64EncodedString(),
            n: 1 << 15, r: 8, p: 1)
    }
}

/// The sealed file: a small JSON envelope around a ChaChaPoly box; the key derivation header is
/// the box's authenticated data, so editing either is detected.
struct VaultEnvelope: Codable {
    static let currentFormat = "hearth-vault/1"
    var format: String
    var kdf: KeyDerivation
    var sealed: String
}

/// Seals and opens vault files. Pure apart from reading a key file.
public enum VaultFile {
    /// Opens sealed bytes; returns the contents and the key to seal them again.
    ///
    /// - Parameter reuse: a key already derived for this file's header (scrypt is slow on purpose,
    ///   so a changed file with the same header is opened without deriving again).
    static func open(_ data: Data, path: String, keys: VaultKeySource, reuse: (KeyDerivation, SymmetricKey)? = nil) throws(VaultError) -> (
        VaultContents, SymmetricKey, KeyDerivation
    ) {
        let envelope: VaultEnvelope
        do {
            envelope = try JSONDecoder().decode(VaultEnvelope.self, from: data)
        } catch {
            throw .unreadable(path: path, reason: "not a vault envelope")
        }
        guard envelope.format == VaultEnvelope.currentFormat else {
            throw .unreadable(path: path, reason: "format '\(envelope.format)' is not \(VaultEnvelope.currentFormat)")
        }
        let key: SymmetricKey
        if let reuse, reuse.0 == envelope.kdf {
            key = reuse.1
        } else {
            key = try deriveKey(envelope.kdf, keys: keys, path: path)
        }
        guard let combined = Data(base64Encoded: envelope.sealed) else { throw .authenticationFailed(path: path) }
        do {
            let box = try ChaChaPoly.SealedBox(combined: combined)
            let plain = try ChaChaPoly.open(box, using: key, authenticating: try authenticatedData(envelope.kdf))
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return (try decoder.decode(VaultContents.self, from: plain), key, envelope.kdf)
        } catch {
            throw .authenticationFailed(path: path)
        }
    }

    static func seal(_ contents: VaultContents, key: SymmetricKey, kdf: KeyDerivation) throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let plain = try encoder.encode(contents)
        let box = try ChaChaPoly.seal(plain, using: key, authenticating: try authenticatedData(kdf))
        let envelope = VaultEnvelope(format: VaultEnvelope.currentFormat, kdf: kdf, sealed: box.combined.base64EncodedString())
        let out = JSONEncoder()
        out.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try out.encode(envelope) + Data("\n".utf8)
    }

    static func authenticatedData(_ kdf: KeyDerivation) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Data(VaultEnvelope.currentFormat.utf8) + (try encoder.encode(kdf))
    }

    static func deriveKey(_ kdf: KeyDerivation, keys: VaultKeySource, path: String) throws(VaultError) -> SymmetricKey {
        switch (kdf.kind, keys) {
        case ("keyfile", .keyFile(let url)):
            return try readKeyFile(url)
        case ("keyfile", .passphrase):
            throw .unreadable(path: path, reason: "it is sealed with a key file, not a passphrase; pass --key-file")
        case ("scrypt", .passphrase(let passphrase)):
            guard let saltText = kdf.salt, let salt = Data(base64Encoded: saltText), let n = kdf.n, let r = kdf.r, let p = kdf.p,
                n >= 1024, n <= 1 << 20, n & (n - 1) == 0, (1...32).contains(r), (1...16).contains(p)
            else { throw .unreadable(path: path, reason: "its scrypt parameters are invalid") }
            do {
                return try KDF.Scrypt.deriveKey(
                    from: Data(passphrase.utf8), salt: salt, outputByteCount: 32, rounds: n, blockSize: r, parallelism: p)
            } catch {
                throw .unreadable(path: path, reason: "scrypt failed: \(error)")
            }
        case ("scrypt", .keyFile):
            throw .passphraseRequired(path: path)
        default:
            throw .unreadable(path: path, reason: "unknown key derivation '\(kdf.kind)'")
        }
    }

    /// Reads a key file, refusing one that others may read or that another user owns.
    public static func readKeyFile(_ url: URL) throws(VaultError) -> SymmetricKey {
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            throw .badKeyFile(path: url.path, reason: "it does not exist (\(String(cString: strerror(errno))))")
        }
        guard info.st_uid == getuid() else { throw .badKeyFile(path: url.path, reason: "another user owns it") }
        guard info.st_mode & 0o077 == 0 else {
            throw .badKeyFile(
                path: url.path, reason: "others may read it (mode \(String(info.st_mode & 0o777, radix: 8))); run 'chmod 600 \(url.path)'")
        }
        guard let text = try? String(contentsOf: url, encoding: .utf8),
            let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32
        else { throw .badKeyFile(path: url.path, reason: "it does not hold 32 base64-encoded bytes") }
        return SymmetricKey(data: bytes)
    }

    /// Creates a new key file (mode 0600, never replacing one) and returns its key.
    public static func createKeyFile(_ url: URL) throws(VaultError) -> SymmetricKey {
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
        try? FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let created: Bool
        do {
            created = try DurableFile.create(url, with: Data(text.utf8), mode: 0o600)
        } catch {
            throw .writeFailed(path: url.path, reason: error.reason)
        }
        guard created else { throw .writeFailed(path: url.path, reason: String(cString: strerror(EEXIST))) }
        return key
    }
}

/// The vault on disk: reads it (cached until the file changes) and applies changes under an
/// exclusive lock with an atomic replace, so a crash or a full disk leaves the old file intact.
public final class VaultStore: @unchecked Sendable {
    public let file: URL
    private let keys: VaultKeySource
    private let lock = NSLock()
    private var cached: (identity: FileIdentity, contents: VaultContents, key: SymmetricKey, kdf: KeyDerivation)?

    public init(file: URL, keys: VaultKeySource) {
        self.file = file
        self.keys = keys
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: file.path) }

    /// The current contents; an absent vault is empty.
    public func load() throws(VaultError) -> VaultContents {
        lock.lock()
        defer { lock.unlock() }
        return try loadLocked()?.contents ?? VaultContents()
    }

    /// Applies `change` to the contents and saves them; creates the vault (and a key file, when
    /// that is the key source) on first use.
    @discardableResult
    public func update<T>(_ change: (inout VaultContents) throws(VaultError) -> T) throws(VaultError) -> T {
        lock.lock()
        defer { lock.unlock() }
        let lockFD = try acquireFileLock()
        defer { close(lockFD) }
        var contents: VaultContents
        let key: SymmetricKey
        let kdf: KeyDerivation
        if let current = try loadLocked() {
            (contents, key, kdf) = (current.contents, current.key, current.kdf)
        } else {
            contents = VaultContents()
            switch keys {
            case .keyFile(let url):
                kdf = .keyFile
                key = FileManager.default.fileExists(atPath: url.path) ? try VaultFile.readKeyFile(url) : try VaultFile.createKeyFile(url)
            case .passphrase(let passphrase):
                guard !passphrase.isEmpty else { throw .passphraseRequired(path: file.path) }
                kdf = .scrypt()
                key = try VaultFile.deriveKey(kdf, keys: keys, path: file.path)
            }
        }
        let result = try change(&contents)
        let data: Data
        do {
            data = try VaultFile.seal(contents, key: key, kdf: kdf)
        } catch {
            throw .writeFailed(path: file.path, reason: "sealing failed: \(error)")
        }
        do {
            try DurableFile.replace(file, with: data, mode: 0o600)
        } catch {
            throw .writeFailed(path: file.path, reason: error.reason)
        }
        cached = FileIdentity(file).map { ($0, contents, key, kdf) }
        return result
    }

    private func loadLocked() throws(VaultError) -> (contents: VaultContents, key: SymmetricKey, kdf: KeyDerivation)? {
        guard let identity = FileIdentity(file) else {
            if errno == ENOENT { return nil }
            throw .unreadable(path: file.path, reason: String(cString: strerror(errno)))
        }
        if let cached, cached.identity == identity { return (cached.contents, cached.key, cached.kdf) }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw .unreadable(path: file.path, reason: "cannot read it")
        }
        let opened = try VaultFile.open(data, path: file.path, keys: keys, reuse: cached.map { ($0.kdf, $0.key) })
        cached = (identity, opened.0, opened.1, opened.2)
        return opened
    }

    private func acquireFileLock() throws(VaultError) -> Int32 {
        let path = file.path + ".lock"
        try? FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX) == 0 else {
            close(fd)
            throw .writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
        return fd
    }
}

/// Identifies one version of a file (a rename-replace changes the inode).
struct FileIdentity: Equatable {
    var device: UInt
    var inode: UInt
    var size: Int
    var modified: Int

    init?(_ url: URL) {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        device = UInt(info.st_dev)
        inode = UInt(info.st_ino)
        size = Int(info.st_size)
        modified = Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec)
    }
}

extension VaultFile {
    /// How the vault at `url` is sealed ("keyfile" or "scrypt"), read from its clear header;
    /// `nil` when there is no vault there.
    public static func keyKind(at url: URL) -> String? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return (try? JSONDecoder().decode(VaultEnvelope.self, from: data))?.kdf.kind ?? "unreadable"
    }
}
