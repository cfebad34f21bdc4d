import ArgumentParser
import Foundation
import Glibc
import HearthConfig
import HearthCore
import HearthDaemon
import HearthProcess
import HearthVault

/// `hearth vault …` hands over to `hearth-vault`, so a secret value typed or piped in is read by
/// the broker's program, never by `hearth` (stdin goes to it untouched).
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "Manage secrets: add, list, remove, rotate, status, serve (runs hearth-vault).",
        discussion: """
            Values come from stdin and are never printed: printf %s "$TOKEN" | hearth vault add github --host api.github.com. \
            The agent refers to a secret as {{secret:NAME}} in http_request; the broker inserts it only for the secret's hosts \
            and methods and scrubs it from responses. A running daemon starts its broker as soon as a vault exists. \
            'hearth vault --help' lists everything.
            """)

    @Argument(parsing: .captureForPassthrough, help: "A hearth-vault command and its options.")
    var arguments: [String] = []

    func run() async throws {
        guard let program = CompanionProgram.locate("hearth-vault") else {
            throw CLIError("hearth-vault is not installed beside hearth; build it with 'swift build -c release --product hearth-vault'")
        }
        let changes = arguments.first.map { ["add", "rotate", "remove"].contains($0) } ?? false
        guard changes else {
            // Everything else (serve, status, list) becomes hearth-vault itself: signals and the
            // terminal go straight to it.
            let argv = ["hearth-vault"] + (arguments.isEmpty ? ["--help"] : arguments)
            var pointers: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
            execv(program.path, &pointers)
            let reason = String(cString: strerror(errno))
            for pointer in pointers { free(pointer) }
            throw CLIError("cannot run \(program.path): \(reason)")
        }
        // A change to the vault runs as a child, so a running daemon can be told afterwards.
        let process: LaunchedProcess
        do {
            process = try await LaunchedProcess.start(program, arguments: arguments, input: .inherit, output: .inherit, error: .inherit)
        } catch {
            throw CLIError("cannot run \(program.path): \(error)")
        }
        let status = await process.waitForExit()
        if status != 0 { throw ExitCode(status) }
        await Self.startBrokerNow(arguments)
    }

    /// Tells a running daemon that the vault changed, so it starts (or keeps) its broker now,
    /// and waits briefly until the broker listens.
    static func startBrokerNow(_ arguments: [String]) async {
        var overrides: [String] = []
        var index = 0
        while index < arguments.count {
            if ["--data-dir", "--config", "--workspace"].contains(arguments[index]), index + 1 < arguments.count {
                overrides += [arguments[index], arguments[index + 1]]
                index += 1
            }
            index += 1
        }
        guard let common = try? CommonOptions.parse(overrides), let context = try? common.load() else { return }
        guard await context.nudgeDaemon(["vault"]) else { return }
        let client = VaultClient(socket: context.paths.vaultSocket)
        for _ in 0..<50 where !client.isListening { try? await Task.sleep(for: .milliseconds(100)) }
        if client.isListening { FileHandle.standardError.write(Data("the daemon's credential broker is listening\n".utf8)) }
    }
}
