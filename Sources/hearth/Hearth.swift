import ArgumentParser
import Foundation
import HearthCore

/// The `hearth` command.
struct Hearth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hearth",
        abstract: "A local-first, always-on AI agent daemon.",
        discussion: """
            Start with 'hearth init' (writes config.toml, creates the data dir, workspace and API token), \
            then 'hearth daemon'. Every command accepts --data-dir, --config and --workspace.
            """,
        version: HearthVersion.current,
        subcommands: [
            InitCommand.self, DaemonCommand.self, StatusCommand.self, EventCommand.self, EventsCommand.self,
            ScheduleCommand.self, EffectCommand.self, RunsCommand.self, RunCommand.self, CancelCommand.self,
            ResumeCommand.self, DoctorCommand.self, GoalCommand.self, ApprovalsCommand.self, ApproveCommand.self, DenyCommand.self,
            TraceCommand.self,
            DemoCommand.self, ToolCommand.self, AskCommand.self,
            ModelsCommand.self, UsageCommand.self, MemoryCommand.self, VaultCommand.self, BenchCommand.self,
        ])
}

/// Runs the command line with one rule for failures: one line on stderr saying what to do, and a
/// non-zero exit (64 for usage errors, 1 for everything else).
@main
enum Main {
    static func main() async {
        do {
            var command = try Hearth.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = Hearth.exitCode(for: error)
            if code == .success {
                print(Hearth.fullMessage(for: error))
                exit(0)
            }
            let message =
                isParserError(error) ? Hearth.message(for: error) + " (see 'hearth --help')" : String(describing: error)
            let line = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: "; ")
            FileHandle.standardError.write(Data("hearth: \(line)\n".utf8))
            exit(code == .validationFailure ? 64 : (code.rawValue == 0 ? 1 : code.rawValue))
        }
    }

    /// ArgumentParser's own errors (unknown flag, missing value) are reported through its
    /// message, which names the flag; everything else describes itself.
    private static func isParserError(_ error: any Error) -> Bool {
        Hearth.exitCode(for: error) == .validationFailure || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }
}

/// A failure of the command itself, with the message the user sees.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
