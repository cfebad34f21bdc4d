import ArgumentParser
import Foundation
import HearthConfig
import HearthDaemon
import Logging

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Set up Hearth: config.toml, data dir, workspace and API token.",
        discussion: """
            Idempotent: run it again any time. An existing config.toml (or systemd unit) is never \
            overwritten, so your edits are safe.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(help: "Also write a systemd user unit for 'hearth daemon' (~/.config/systemd/user/hearth.service).")
    var systemd = false

    func run() async throws {
        let context = try common.load()
        // The unit must name this binary by an absolute path; /proc/self/exe is the real one.
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        let report = try Initializer.run(
            paths: context.paths, configFileExisted: context.configFileExisted, systemd: systemd, executable: executable,
            environment: .process)
        for line in report.lines { print(line) }
        print("next: hearth daemon\(common.dataDir.map { " --data-dir \($0)" } ?? "")")
    }
}

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the daemon in the foreground: triggers, executor and the loopback HTTP API.",
        discussion: """
            Stops gracefully on SIGTERM or SIGINT (in-flight steps get [executor] shutdown_grace_seconds). \
            Logs go to stderr and to <data-dir>/logs/hearth.log. Prints one 'ready' line on stdout \
            once the API is listening. Only one daemon may use a data dir at a time.
            """)

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let context = try common.load()
        try DataDirectory.prepare(context.paths)
        try DaemonLogging.bootstrap(paths: context.paths, configuration: context.configuration)
        try await Daemon.run(
            paths: context.paths, configuration: context.configuration, logger: .init(label: "hearth"))
    }
}
