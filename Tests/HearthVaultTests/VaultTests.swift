import Foundation
import Glibc
import HearthTesting
import Testing

@testable import HearthVault

@Suite("vault file, handles and scrubbing", .timeLimit(.minutes(10)))
struct VaultTests {
    let value = "sk_live_7Hq/9+Zx=Lm&tok"

    func secret(_ name: String = "api", value: String? = nil) throws(VaultError) -> Secret {
        try Secret.validated(name: name, value: value ?? self.value, hosts: ["api.example.com"], methods: [], at: Date())
    }

    @Test("a key-file vault round-trips, holds no form of the value in clear, and a second store sees changes")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        let file = directory.appending("vault.enc")
        let keys = VaultKeySource.keyFile(directory.appending("keys/vault.key"))
        let store = VaultStore(file: file, keys: keys)
        try store.update { [entry = try secret()] in $0.secrets.append(entry) }
        #expect(try VaultStore(file: file, keys: keys).load().secrets.map(\.value) == [value])
        let raw = try String(contentsOf: file, encoding: .utf8)
        for form in SecretScrubber.encodings(of: value) { #expect(!raw.contains(form)) }
        var info = stat()
        stat(directory.appending("keys/vault.key").path, &info)
        #expect(info.st_mode & 0o777 == 0o600)
        stat(file.path, &info)
        #expect(info.st_mode & 0o777 == 0o600)
        try VaultStore(file: file, keys: keys).update { $0.secrets.removeAll() }
        #expect(try store.load().secrets.isEmpty)
    }

    @Test("a changed byte, a changed header, a wrong key or a loose key file is refused with a clear error")
    func tampering() throws {
        let directory = try TemporaryDirectory()
        let file = directory.appending("vault.enc")
        let keyFile = directory.appending("vault.key")
        try VaultStore(file: file, keys: .keyFile(keyFile)).update { [entry = try secret()] in $0.secrets.append(entry) }
        let original = try Data(contentsOf: file)

        var envelope = try JSONDecoder().decode(VaultEnvelope.self, from: original)
        var sealed = Data(base64Encoded: envelope.sealed)!
        sealed[sealed.count / 2] ^= 0x01
        envelope.sealed = sealed.base64EncodedString()
        try JSONEncoder().encode(envelope).write(to: file)
        #expect(throws: VaultError.authenticationFailed(path: file.path)) { try VaultStore(file: file, keys: .keyFile(keyFile)).load() }

        envelope = try JSONDecoder().decode(VaultEnvelope.self, from: original)
        envelope.kdf.salt = "AAAA"
        try JSONEncoder().encode(envelope).write(to: file)
        #expect(throws: VaultError.authenticationFailed(path: file.path)) { try VaultStore(file: file, keys: .keyFile(keyFile)).load() }

        try original.write(to: file)
        let otherKey = directory.appending("other.key")
        _ = try VaultFile.createKeyFile(otherKey)
        #expect(throws: VaultError.authenticationFailed(path: file.path)) { try VaultStore(file: file, keys: .keyFile(otherKey)).load() }

        chmod(keyFile.path, 0o644)
        #expect(throws: VaultError.self) { try VaultStore(file: file, keys: .keyFile(keyFile)).load() }
        chmod(keyFile.path, 0o600)
        #expect(try VaultStore(file: file, keys: .keyFile(keyFile)).load().secrets.count == 1)

        try Data("not a vault".utf8).write(to: file)
        #expect(throws: VaultError.unreadable(path: file.path, reason: "not a vault envelope")) {
            try VaultStore(file: file, keys: .keyFile(keyFile)).load()
        }
    }

    @Test("a passphrase vault opens with the passphrase only, and asks for one when given a key file")
    func passphrase() throws {
        let directory = try TemporaryDirectory()
        let file = directory.appending("vault.enc")
        try VaultStore(file: file, keys: .passphrase("correct horse battery")).update { [entry = try secret()] in $0.secrets.append(entry) }
        #expect(try VaultStore(file: file, keys: .passphrase("correct horse battery")).load().secrets.first?.value == value)
        #expect(throws: VaultError.authenticationFailed(path: file.path)) { try VaultStore(file: file, keys: .passphrase("wrong")).load() }
        #expect(throws: VaultError.passphraseRequired(path: file.path)) {
            try VaultStore(file: file, keys: .keyFile(directory.appending("k"))).load()
        }
        #expect(VaultFile.keyKind(at: file) == "scrypt")
    }

    @Test("names, hosts and methods are checked; host patterns match exactly what they say")
    func rules() throws {
        #expect(throws: VaultError.invalidName("a b")) {
            try Secret.validated(name: "a b", value: "x", hosts: ["h"], methods: [], at: Date())
        }
        #expect(throws: VaultError.emptyValue) { try Secret.validated(name: "a", value: "", hosts: ["h"], methods: [], at: Date()) }
        #expect(throws: VaultError.invalidHost("https://h/x")) {
            try Secret.validated(name: "a", value: "x", hosts: ["https://h/x"], methods: [], at: Date())
        }
        #expect(throws: VaultError.invalidMethod("FETCH")) {
            try Secret.validated(name: "a", value: "x", hosts: ["h"], methods: ["FETCH"], at: Date())
        }
        #expect(try secret().methods == ["GET", "HEAD"])
        let exact = try HostPattern("api.example.com")
        #expect(exact.matches(host: "API.example.com", port: nil, scheme: "https"))
        #expect(exact.matches(host: "api.example.com", port: 443, scheme: "https"))
        #expect(!exact.matches(host: "api.example.com", port: 8443, scheme: "https"))
        #expect(!exact.matches(host: "api.example.com.evil.net", port: nil, scheme: "https"))
        #expect(!exact.matches(host: "evilapi.example.com", port: nil, scheme: "https"))
        let wildcard = try HostPattern("*.example.com")
        #expect(wildcard.matches(host: "a.b.example.com", port: nil, scheme: "https"))
        #expect(!wildcard.matches(host: "example.com", port: nil, scheme: "https"))
        #expect(!wildcard.matches(host: "badexample.com", port: nil, scheme: "https"))
        #expect(try HostPattern("127.0.0.1:8080").matches(host: "127.0.0.1", port: 8080, scheme: "http"))
        #expect(throws: VaultError.self) { try TargetURL("https://api.example.com@evil.net/") }
        #expect(throws: VaultError.self) { try TargetURL("https://{{secret:x}}.example.com/") }
        #expect(throws: VaultError.self) { try TargetURL("file:///etc/passwd") }
        #expect(try TargetURL("https://api.example.com:8443/p?q={{secret:x}}").port == 8443)
    }

    @Test("handles are found and rendered; text that only looks like one is left alone")
    func handles() {
        let text = "Bearer {{secret:github}} and {{ secret:ci.token }} but {{secret:bad name}} and {{other}}"
        #expect(SecretHandles.names(in: text) == ["github", "ci.token"])
        let rendered = SecretHandles.render(text) { $0 == "github" ? "V1" : nil }
        #expect(rendered == "Bearer V1 and {{secret:ci.token}} but {{secret:bad name}} and {{other}}")
        let template = RequestTemplate(
            method: "POST", url: "https://h/{{secret:a}}", headers: [.init(name: "X", value: "{{secret:b}}")], body: "{{secret:a}}")
        #expect(template.secretNames == ["a", "b"])
    }

    @Test("the scrubber removes raw, base64 at every alignment, hex, percent and JSON forms, and counts them")
    func scrubbing() throws {
        let scrubber = SecretScrubber([("api", value)])
        var samples: [String] = [
            value, "Bearer " + value, value.uppercased() == value ? value : value.utf8.map { String(format: "%02X", $0) }.joined(),
            value.utf8.map { String(format: "%02x", $0) }.joined(),
            value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
            value.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+/")))!,
            String(data: try JSONSerialization.data(withJSONObject: [value]), encoding: .utf8)!,
        ]
        for prefix in ["", "u", "us", "user:"] {
            samples.append(Data((prefix + value).utf8).base64EncodedString())
            samples.append(
                Data((prefix + value + "tail").utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_"))
        }
        for sample in samples {
            let (clean, count) = scrubber.scrub("before \(sample) after")
            #expect(count >= 1, "not scrubbed: \(sample)")
            #expect(clean.contains("[secret:api]"))
            #expect(!clean.contains("7Hq"), "left a recognisable piece: \(clean)")
        }
        #expect(scrubber.scrub("nothing to see").count == 0)
        #expect(SecretScrubber([("short", "abc")]).scrub("abc abc").count == 0)
    }
}
