import Foundation
import HearthAgent
import HearthConfig
import HearthCore
import HearthMemory
import HearthModels
import HearthProcess
import HearthTools
import HearthVault
import Logging
import ServiceLifecycle

extension HearthPaths {
    /// Every tool a goal may use, the same for the daemon's goals and the CLI's: the built-in
    /// ones, the broker's, publishing to `[publish]`, the compliance review's and other programs' (MCP).
    /// `external`: the tools of `[[mcp.servers]]` (deferred: `find_tools` loads their schemas).
    /// `model`: the goal's model; when it is not a small one, it writes the scripts that repair a
    /// spec the compliance review's reader refuses (the vetted recipe stands behind it) and judges
    /// spec lines against requirements without an amount.
    public func goalTools(
        configuration: Configuration, memory: MemoryEngine, journal: any EventJournal, goals: any GoalStore,
        external: [any Tool] = [], model: (any AgentModel)? = nil
    ) -> ToolBox {
        let name = configuration.inference.chatModel
        let writer = model.flatMap { model in
            ModelScale(name: name).map { !$0.isSmall } == true ? SpecRepair.ScriptWriter.model(model, name: name) : nil
        }
        return BuiltinTools.all(
            memory: memory, journal: journal, broker: vaultClient, publish: publishTarget(configuration),
            extra: ComplianceTools.all(
                memory: memory, goals: goals, scriptWriter: writer, judge: .forChatModel(model, name: name)) + external
        ).withToolIndex()
    }

    /// Where approved reports go, from `[publish]`.
    public func publishTarget(_ configuration: Configuration) -> PublishTarget {
        PublishTarget(
            portal: portal, folder: configuration.publish.folder, remote: configuration.publish.remote,
            channel: configuration.publish.channel)
    }

    /// The broker client for the agent's `http_request` tool; `nil` while there is no vault.
    public var vaultClient: VaultClient? {
        FileManager.default.fileExists(atPath: vaultFile.path) ? VaultClient(socket: vaultSocket) : nil
    }
}

/// Runs the credential broker (`hearth-vault serve`) beside the daemon while a key-file vault
/// exists: starts it (also when the vault appears later), restarts it if it dies, stops it at
/// shutdown. A passphrase vault needs its broker started by hand — the daemon never holds the
/// passphrase — and one already listening is left alone.
struct VaultBrokerService: Service {
    let paths: HearthPaths
    let logger: Logger
    /// Woken when `hearth vault add` created or changed the vault: the broker starts at once
    /// instead of at the next look.
    var wake = WakeSignal()
    var clock: any WallClock = SystemWallClock()
    var pollInterval: Duration = .seconds(30)

    func run() async throws {
        // A service that returns would stop the whole daemon; without a broker the daemon goes on
        // (http_request then reports that the broker is not running).
        var failures = 0
        var told = false
        while !(Task.isCancelled || Task.isShuttingDownGracefully) {
            let kind = VaultFile.keyKind(at: paths.vaultFile)
            let listening = VaultClient(socket: paths.vaultSocket).isListening
            guard kind == "keyfile", !listening, let program = CompanionProgram.locate("hearth-vault") else {
                if !told {
                    told = true
                    if kind == "scrypt" && !listening {
                        logger.notice("the vault is sealed with a passphrase: start its broker with 'hearth vault serve'")
                    } else if kind == "keyfile" && !listening {
                        logger.warning("hearth-vault is not installed beside hearth; http_request cannot use secrets")
                    }
                }
                // Another broker for a key-file vault (one a killed daemon left, about to stop on
                // its own): look again soon, to take over when it is gone.
                let pause = kind == "keyfile" && listening ? Duration.seconds(2) : pollInterval
                await withGracefulShutdownHandler {
                    await wake.wait(until: clock.now().addingTimeInterval(pause.inSeconds), clock: clock)
                } onGracefulShutdown: {
                    wake.wake()
                }
                continue
            }
            var arguments = ["serve", "--exit-with-parent", "--data-dir", paths.dataDirectory.path, "--key-file", paths.vaultKeyFile.path]
            if FileManager.default.fileExists(atPath: paths.configFile.path) { arguments += ["--config", paths.configFile.path] }
            let broker: LaunchedProcess
            do {
                broker = try await LaunchedProcess.start(
                    program, arguments: arguments, logFile: paths.logDirectory.appending(path: "vault.log"))
            } catch {
                logger.error("cannot start hearth-vault: \(error)")
                break
            }
            logger.info("credential broker started (pid \(broker.pid)) on \(paths.vaultSocket.path)")
            let status = await withGracefulShutdownHandler {
                await broker.waitForExit()
            } onGracefulShutdown: {
                broker.signal(SIGTERM)
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            failures += 1
            logger.error("the credential broker exited with status \(status); see \(paths.logDirectory.path)/vault.log")
            guard failures < 5 else {
                logger.error("the credential broker failed 5 times; not restarting it (fix the cause, then restart the daemon)")
                break
            }
            let pause = Duration.seconds(failures * 2)
            try? await cancelWhenGracefulShutdown { try await clock.sleep(for: pause) }
        }
        try? await gracefulShutdown()
    }
}
