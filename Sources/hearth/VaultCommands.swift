import ArgumentParser
import Foundation
import Glibc
import HearthCore

/// `hearth vault …` hands over to `hearth-vault`, so a secret value typed or piped in is read by
/// the broker's program, never by `hearth`.
struct VaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "Manage secrets: add, list, remove, rotate, status, serve (runs hearth-vault).",
        discussion: """
            Values come from stdin and are never printed: printf %s "$TOKEN" | hearth vault add github --host api.github.com. \
            The agent refers to a secret as {{secret:NAME}} in http_request; the broker inserts it only for the secret's hosts \
            and methods and scrubs it from responses. 'hearth vault --help' lists everything.
            """)

    @Argument(parsing: .captureForPassthrough, help: "A hearth-vault command and its options.")
    var arguments: [String] = []

    func run() throws {
        guard let program = CompanionProgram.locate("hearth-vault") else {
            throw CLIError("hearth-vault is not installed beside hearth; build it with 'swift build -c release --product hearth-vault'")
        }
        let argv = ["hearth-vault"] + (arguments.isEmpty ? ["--help"] : arguments)
        var pointers: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        execv(program.path, &pointers)
        let reason = String(cString: strerror(errno))
        for pointer in pointers { free(pointer) }
        throw CLIError("cannot run \(program.path): \(reason)")
    }
}
