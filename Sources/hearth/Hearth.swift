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
            ModelsCommand.self, UsageCommand.self, MemoryCommand.self, VaultCommand.self, BenchCommand.self, BriefCommand.self,
            DashboardCommand.self,
            InboxCommand.self, RoutineCommand.self, ChatCommand.self, FindingCommand.self, PublishCommand.self, MCPCommand.self,
            FleetCommand.self,
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
        } catch let outcome as GoalOutcome {
            FileHandle.standardError.write(Data("hearth: \(outcome.description)\n".utf8))
            exit(outcome.exitCode)
        } catch let code as ExitCode {
            // A child program (hearth-vault) already said what went wrong; pass its status on.
            exit(code.rawValue)
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("hearth: \(error.description)\n".utf8))
            exit(error.usage ? 64 : 1)
        } catch {
            let code = Hearth.exitCode(for: error)
            if code == .success {
                print(Hearth.fullMessage(for: error))
                exit(0)
            }
            if isParserError(error), let suggestion = CommandSuggestion.unknownCommand(in: Array(CommandLine.arguments.dropFirst())) {
                FileHandle.standardError.write(Data("hearth: \(suggestion)\n".utf8))
                exit(64)
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

/// A failure of the command itself, with the message the user sees; a usage error (bad
/// arguments, malformed JSON given on the command line) exits 64.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    let usage: Bool
    init(_ description: String, usage: Bool = false) {
        self.description = description
        self.usage = usage
    }

    static func usage(_ description: String) -> CLIError { CLIError(description, usage: true) }
}

/// "did you mean 'status'?" for a mistyped command.
enum CommandSuggestion {
    /// The message for an unknown (sub)command among `arguments`, or nil when the first word is known.
    static func unknownCommand(in arguments: [String]) -> String? {
        var children: [any ParsableCommand.Type] = Hearth.configuration.subcommands
        var path: [String] = []
        // Only the words before the first option name commands (an option's value is not one).
        for word in arguments.prefix(while: { !$0.hasPrefix("-") }) {
            if children.isEmpty { return nil }
            let names: [String] = children.map { $0._commandName }
            if let index = names.firstIndex(of: word) {
                children = children[index].configuration.subcommands
                path.append(word)
                continue
            }
            let prefix = (["hearth"] + path).joined(separator: " ")
            var best: (name: String, distance: Int)?
            for name in names {
                let d = distance(name, word)
                if d <= max(2, word.count / 3) && d < (best?.distance ?? Int.max) { best = (name, d) }
            }
            if let best {
                return "'\(word)' is not a command; did you mean '\(prefix) \(best.name)'? (see '\(prefix) --help')"
            }
            return "'\(word)' is not a command of '\(prefix)'; its commands are: \(names.joined(separator: ", "))"
        }
        return nil
    }

    /// Edit distance, with a swap of two neighbours counted as one edit ("stauts" → "status").
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
