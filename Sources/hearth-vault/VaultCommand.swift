import ArgumentParser
import CHearthSystem
import Foundation
import Glibc
import HearthConfig
import HearthVault

/// `hearth-vault`: the credential broker and the commands that change the vault.
///
/// `hearth vault …` runs this program, so the `hearth` process never reads a secret value.
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hearth-vault",
        abstract: "Hearth's credential broker: keeps secrets sealed in vault.enc and injects them into requests the agent makes.",
        discussion: """
            The agent never sees a secret value: it writes {{secret:NAME}} in a request, and this broker checks \
            the secret's allowed hosts and methods, inserts the value, sends the request, and scrubs the value \
            from the response. Values are read from stdin and never printed.

            Key: a 0600 key file ([vault] key_file, default $XDG_CONFIG_HOME/hearth/vault.key, created on \
            the first 'add'), or a passphrase (create with 'add --passphrase'; then give it in \
            HEARTH_VAULT_PASSPHRASE, with --passphrase-file, or at the terminal).
            """,
        subcommands: [AddCommand.self, ListCommand.self, RemoveCommand.self, RotateCommand.self, StatusCommand.self, ServeCommand.self])
}

@main
enum Main {
    static func main() async {
        do {
            var command = try VaultCommand.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = VaultCommand.exitCode(for: error)
            if code == .success {
                print(VaultCommand.fullMessage(for: error))
                Glibc.exit(0)
            }
            let parser = code == .validationFailure || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
            let message = parser ? VaultCommand.message(for: error) + " (see 'hearth vault --help')" : String(describing: error)
            FileHandle.standardError.write(
                Data("hearth vault: \(message.split(whereSeparator: \.isNewline).joined(separator: "; "))\n".utf8))
            exit(parser ? 64 : 1)
        }
    }
}

/// Flags every subcommand takes; the path flags mean what they mean for `hearth`.
struct VaultOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Hearth's data directory (holds vault.enc).", valueName: "dir"))
    var dataDir: String?

    @Option(name: .long, help: ArgumentHelp("Hearth's config file.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Accepted for symmetry with hearth; unused.", valueName: "dir"))
    var workspace: String?

    @Option(name: .long, help: ArgumentHelp("The key file, instead of [vault] key_file.", valueName: "file"))
    var keyFile: String?

    @Option(name: .long, help: ArgumentHelp("Read the passphrase from this file's first line.", valueName: "file"))
    var passphraseFile: String?

    var settings: LoadedSettings {
        get throws {
            var settings = try LoadedSettings.load(
                overrides: PathOverrides(dataDirectory: dataDir, configFile: config, workspace: workspace))
            if let keyFile {
                let environment = Environment.process
                settings.paths.vaultKeyFile = URL(
                    fileURLWithPath: environment.absolutePath(keyFile, relativeTo: environment.currentDirectory))
            }
            return settings
        }
    }

    /// The key source for the vault as it is on disk, or for a new one.
    func keys(_ paths: HearthPaths, newWithPassphrase: Bool = false) throws -> VaultKeySource {
        switch VaultFile.keyKind(at: paths.vaultFile) {
        case "scrypt": return .passphrase(try passphrase(confirm: false, path: paths.vaultFile.path))
        case nil where newWithPassphrase: return .passphrase(try passphrase(confirm: true, path: paths.vaultFile.path))
        default: return .keyFile(paths.vaultKeyFile)
        }
    }

    func store(_ paths: HearthPaths, newWithPassphrase: Bool = false) throws -> VaultStore {
        VaultStore(file: paths.vaultFile, keys: try keys(paths, newWithPassphrase: newWithPassphrase))
    }

    /// The store of the vault on disk; `nil` when there is none yet.
    func existingStore(_ paths: HearthPaths) throws -> VaultStore? {
        VaultFile.keyKind(at: paths.vaultFile) == nil ? nil : try store(paths)
    }

    private func passphrase(confirm: Bool, path: String) throws -> String {
        if let value = ProcessInfo.processInfo.environment["HEARTH_VAULT_PASSPHRASE"], !value.isEmpty { return value }
        if let passphraseFile {
            guard let text = try? String(contentsOfFile: passphraseFile, encoding: .utf8),
                let line = text.split(separator: "\n", omittingEmptySubsequences: false).first, !line.isEmpty
            else { throw VaultError.badKeyFile(path: passphraseFile, reason: "cannot read a passphrase from its first line") }
            return String(line)
        }
        guard let first = Terminal.readHidden(prompt: "Vault passphrase: ") else { throw VaultError.passphraseRequired(path: path) }
        if confirm {
            guard first.count >= 8 else { throw ValidationError("use a passphrase of at least 8 characters") }
            guard Terminal.readHidden(prompt: "Again: ") == first else {
                throw ValidationError("the passphrases differ; nothing was changed")
            }
        }
        return first
    }
}

/// Reading a secret without echoing it.
enum Terminal {
    /// Reads a line from the controlling terminal with echo off; `nil` without a terminal.
    static func readHidden(prompt: String) -> String? {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return nil }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(fd, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(fd, TCSAFLUSH, &saved)
            _ = write(fd, "\n", 1)
        }
        _ = write(fd, prompt, prompt.utf8.count)
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != UInt8(ascii: "\n") { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value to store: stdin (one trailing newline dropped), or a hidden prompt at a terminal.
    static func readValue(name: String) throws -> String {
        if isatty(0) == 1 {
            guard let value = readHidden(prompt: "Value for \(name): ") else { throw VaultError.emptyValue }
            return value
        }
        var data = FileHandle.standardInput.readDataToEndOfFile()
        if data.last == UInt8(ascii: "\n") { data.removeLast() }
        if data.last == UInt8(ascii: "\r") { data.removeLast() }
        guard let value = String(data: data, encoding: .utf8) else {
            throw ValidationError("the value on stdin is not UTF-8 text; base64-encode binary secrets")
        }
        guard !value.contains("\0") else { throw ValidationError("the value contains a NUL byte") }
        return value
    }
}

struct AddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a secret; its value is read from stdin (or asked for at a terminal) and never printed.",
        discussion: "Example: printf %s \"$GITHUB_TOKEN\" | hearth vault add github --host api.github.com --method GET --method POST")

    @OptionGroup var options: VaultOptions
    @Argument(help: "The secret's name; the agent writes {{secret:NAME}}.") var name: String
    @Option(
        name: .long,
        help: ArgumentHelp("A host it may be sent to (repeatable): api.example.com, *.example.com, 127.0.0.1:8080.", valueName: "host"))
    var host: [String] = []
    @Option(name: .long, help: ArgumentHelp("An HTTP method it may be used with (repeatable). Default: GET and HEAD.", valueName: "method"))
    var method: [String] = []
    @Flag(help: "Seal a new vault with a passphrase (scrypt) instead of a key file.") var passphrase = false

    func run() async throws {
        let paths = try options.settings.paths
        if passphrase && VaultFile.keyKind(at: paths.vaultFile) != nil {
            throw ValidationError("--passphrase applies to a new vault only; \(paths.vaultFile.path) exists")
        }
        try Secret.validate(name: name)
        let store = try options.store(paths, newWithPassphrase: passphrase)
        let value = try Terminal.readValue(name: name)
        let secret = try Secret.validated(name: name, value: value, hosts: host, methods: method, at: Date())
        try store.update { (contents: inout VaultContents) throws(VaultError) in
            guard contents.secret(named: secret.name) == nil else { throw .duplicateSecret(secret.name) }
            contents.secrets.append(secret)
        }
        print("added \(name) (hosts: \(secret.hosts.joined(separator: ", ")); methods: \(secret.methods.joined(separator: ", ")))")
    }
}

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Show each secret's name, hosts and methods (never a value).")

    @OptionGroup var options: VaultOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let paths = try options.settings.paths
        let secrets = try options.existingStore(paths)?.load().secrets.map(\.info) ?? []
        if json {
            FileHandle.standardOutput.write(try BrokerWire.encode(["secrets": secrets]))
            return
        }
        if secrets.isEmpty {
            print("no secrets; add one with: printf %s \"$TOKEN\" | hearth vault add NAME --host api.example.com")
            return
        }
        for secret in secrets {
            print("\(secret.name)\thosts: \(secret.hosts.joined(separator: ", "))\tmethods: \(secret.methods.joined(separator: ", "))")
        }
    }
}

struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a secret from the vault.")

    @OptionGroup var options: VaultOptions
    @Argument(help: "The secret's name.") var name: String

    func run() async throws {
        let paths = try options.settings.paths
        guard let store = try options.existingStore(paths) else { throw VaultError.unknownSecret(name) }
        try store.update { (contents: inout VaultContents) throws(VaultError) in
            guard contents.secret(named: name) != nil else { throw .unknownSecret(name) }
            contents.secrets.removeAll { $0.name == name }
        }
        print("removed \(name)")
    }
}

struct RotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Replace a secret's value (read from stdin); its hosts and methods stay.")

    @OptionGroup var options: VaultOptions
    @Argument(help: "The secret's name.") var name: String

    func run() async throws {
        let paths = try options.settings.paths
        guard let store = try options.existingStore(paths) else { throw VaultError.unknownSecret(name) }
        guard try store.load().secret(named: name) != nil else { throw VaultError.unknownSecret(name) }
        let value = try Terminal.readValue(name: name)
        guard !value.isEmpty else { throw VaultError.emptyValue }
        try store.update { (contents: inout VaultContents) throws(VaultError) in
            guard let index = contents.secrets.firstIndex(where: { $0.name == name }) else { throw .unknownSecret(name) }
            contents.secrets[index].value = value
            contents.secrets[index].rotatedAt = Date()
        }
        print("rotated \(name)")
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Whether a vault exists, how it is sealed, and whether the broker is listening.")

    @OptionGroup var options: VaultOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let paths = try options.settings.paths
        let kind = VaultFile.keyKind(at: paths.vaultFile)
        let listening = VaultClient(socket: paths.vaultSocket).isListening
        let sealing = kind == "scrypt" ? "passphrase" : kind == "keyfile" ? "key file \(paths.vaultKeyFile.path)" : "none yet"
        if json {
            let document: [String: String] = [
                "vault": paths.vaultFile.path, "exists": kind == nil ? "false" : "true", "sealed_with": kind ?? "",
                "key_file": paths.vaultKeyFile.path, "socket": paths.vaultSocket.path, "broker": listening ? "listening" : "stopped",
                "audit_log": paths.vaultAuditLog.path,
            ]
            FileHandle.standardOutput.write(try BrokerWire.encode(document))
            return
        }
        print("vault:  \(kind == nil ? "none at \(paths.vaultFile.path)" : paths.vaultFile.path) (sealed with: \(sealing))")
        print(
            "broker: \(listening ? "listening on \(paths.vaultSocket.path)" : "not running (start: hearth daemon starts it for a key-file vault, or hearth vault serve)")"
        )
        print("audit:  \(paths.vaultAuditLog.path)")
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the broker: answer the agent's requests on a Unix socket (0600, same user only) until SIGTERM.",
        discussion: "'hearth daemon' starts it on its own when the vault uses a key file; a passphrase vault needs it started by hand.")

    @OptionGroup var options: VaultOptions
    @Option(name: .long, help: ArgumentHelp("The socket. Default: <data-dir>/runtime/vault.sock.", valueName: "path"))
    var socket: String?
    @Flag(
        name: .long,
        help: "Stop when the process that started this one ends, even if it was killed (the daemon passes this).")
    var exitWithParent = false

    func run() async throws {
        hearth_set_undumpable()
        let paths = try options.settings.paths
        let store = try options.store(paths)
        _ = try store.load()  // a wrong key fails here, not at the first request
        let keySource = VaultFile.keyKind(at: paths.vaultFile) == "scrypt" ? "passphrase" : "key file"
        let broker = Broker(store: store, transport: HTTPTransport(), audit: AuditLog(file: paths.vaultAuditLog), keySource: keySource)
        let server = BrokerServer(path: socket ?? paths.vaultSocket.path, broker: broker)
        let listener = try await server.bind()
        for signalNumber in [SIGTERM, SIGINT, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                server.remove()
                Glibc.exit(0)
            }
            source.resume()
            SignalSources.keep(source)
        }
        FileHandle.standardError.write(Data("hearth-vault: listening on \(server.path) (pid \(getpid()))\n".utf8))
        Task {
            await server.run(listener)
            // Not a crash: the socket is gone, and a broker that cannot be reached is no broker.
            server.remove()
            Glibc.exit(1)
        }
        // A killed daemon sends no SIGTERM: notice the orphaning (a new parent) instead.
        let parent = getppid()
        while true {
            try await Task.sleep(for: .seconds(exitWithParent ? 1 : 3600))
            if exitWithParent && getppid() != parent {
                FileHandle.standardError.write(
                    Data("hearth-vault: the process that started the broker (pid \(parent)) is gone; stopping\n".utf8))
                server.remove()
                Glibc.exit(0)
            }
        }
    }
}

/// Signal sources must stay alive for the process's lifetime.
enum SignalSources {
    nonisolated(unsafe) static var all: [any DispatchSourceSignal] = []
    static func keep(_ source: any DispatchSourceSignal) { all.append(source) }
}
