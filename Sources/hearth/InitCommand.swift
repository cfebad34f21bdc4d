import ArgumentParser
import Foundation
import Glibc
import HearthConfig
import HearthDaemon
import HearthModels
import Logging

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Set up Hearth: config.toml, data dir, workspace and API token.",
        discussion: """
            Idempotent: run it again any time. An existing config.toml (or systemd unit) is never \
            overwritten, so your edits are safe. 'hearth init --config FILE' creates FILE. \
            It also looks for model servers already running on this machine (Ollama on port 11434, \
            OpenAI-compatible servers on 8080, 1234, 8000, 5001) and offers the best chat model found: \
            --use-server URL (or auto) writes it into a new config.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(help: "Also write a systemd user unit for 'hearth daemon' (~/.config/systemd/user/hearth.service).")
    var systemd = false

    @Option(
        help: ArgumentHelp(
            "Write this running model server (URL, or 'auto' for the first one found) into [inference] of the new config.",
            valueName: "url"))
    var useServer: String?

    func run() async throws {
        let context = try common.load(creating: true)
        // The unit must name this binary by an absolute path; /proc/self/exe is the real one.
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        let found: [DiscoveredServer]
        if let url = useServer, url != "auto" {
            found = await ModelServerDiscovery.probe(url).map { [$0] } ?? []
        } else {
            found = await ModelServerDiscovery.discover()
        }
        var chosen: DiscoveredServer?
        if let useServer {
            guard let server = found.first, server.bestChatModel != nil else {
                throw CLIError.usage(
                    useServer == "auto"
                        ? "--use-server auto: no model server with a chat model answers on this machine (tried \(ModelServerDiscovery.candidates().joined(separator: ", ")))"
                        : "--use-server: \(useServer) does not answer as an Ollama or OpenAI-compatible server with a chat model; is it running?"
                )
            }
            chosen = server
        } else if !context.configFileExisted, let server = found.first(where: { $0.bestChatModel != nil }), isatty(0) == 1 && isatty(1) == 1
        {
            print("found \(server.summary)")
            print("use it instead of the small built-in model (\(context.configuration.inference.chatModel))? [y/N] ", terminator: "")
            if let answer = readLine(), answer.lowercased().hasPrefix("y") { chosen = server }
        }
        let server = chosen.flatMap { found -> ConfigurationTemplate.Server? in
            guard let chat = found.bestChatModel else { return nil }
            return ConfigurationTemplate.Server(
                provider: found.provider, baseURL: found.baseURL, chatModel: chat.name, embeddingModel: found.embeddingModel?.name)
        }
        let report = try Initializer.run(
            paths: context.paths, configFileExisted: context.configFileExisted, systemd: systemd, executable: executable,
            environment: .process, server: server)
        for line in report.lines { print(line) }
        if let chosen, context.configFileExisted {
            print("config.toml exists and is left as it is; to use \(chosen.baseURL), put this in it:")
            for line in chosen.configurationLines() { print("    \(line)") }
        } else if chosen == nil, let other = found.first(where: { $0.bestChatModel != nil }) {
            print("found      \(other.summary)")
            print(
                "           to use it: hearth init --use-server \(other.baseURL) (new config), or in config.toml: \(other.configurationLines().dropFirst().joined(separator: "; "))"
            )
        }
        let flags = [common.dataDir.map { "--data-dir \($0)" }, common.config.map { "--config \($0)" }].compactMap { $0 }
        print("next: hearth daemon\(flags.isEmpty ? "" : " " + flags.joined(separator: " "))")
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
