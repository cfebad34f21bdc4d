import ArgumentParser
import Foundation
import Glibc
import HearthConfig
import HearthCore
import HearthDaemon
import HearthModels
import HearthSandbox
import HearthTools
import HearthVault

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract:
            "What works on this machine: sandbox mechanisms, document tools, the model server, the vault — and what to do about what does not."
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON: {checks: [{name, ok, detail, remedy}], ok}.")
    var json = false

    func run() async throws {
        let context = try common.load()
        var checks = SandboxProbe.run(workspace: context.paths.workspace).checks.map {
            (name: $0.name, ok: $0.available, detail: $0.detail, remedy: $0.remedy)
        }
        // The shell tool: its helper, and the mechanisms it can confine a command with.
        let helper = ShellTool.defaultHelper()
        let landlock = checks.first { $0.name == "landlock" }?.ok ?? false
        let isolation = (checks.first { $0.name == "user namespaces" }?.ok ?? false) || getuid() == 0
        let bubblewrap = checks.first { $0.name == "bubblewrap" }?.ok ?? false
        if let helper, landlock && isolation {
            checks.append(("shell", true, "commands run through \(helper.path): Landlock, a network namespace, limits", ""))
        } else if let helper, bubblewrap {
            checks.append(
                (
                    "shell", true,
                    "commands run through \(helper.path) under bubblewrap: only the workspace, mounts and system directories, no network, limits"
                        + (landlock ? ", Landlock" : ""), ""
                ))
        } else {
            checks.append(
                (
                    "shell", false,
                    helper == nil
                        ? "hearth-sandbox is not beside hearth"
                        : "the helper would refuse: neither Landlock with a network namespace nor bubblewrap works",
                    helper == nil
                        ? "build it: swift build -c release --product hearth-sandbox"
                        : "see the landlock, user namespaces and bubblewrap lines; the shell tool is refused until one works"
                ))
        }
        // The model server.
        let inference = context.configuration.inference
        if !inference.enabled {
            checks.append(("model server", false, "inference is disabled in the config", "set [inference] enabled = true"))
        } else if let url = inference.baseURL {
            checks.append(("model server", true, "external \(inference.provider.rawValue) at \(url)", ""))
        } else {
            do {
                let installation = try ModelInstallation.load(
                    binary: context.paths.llamaServer, modelsDirectory: context.paths.modelsDirectory)
                checks.append(
                    (
                        "model server", true,
                        "llama-server at \(installation.binary.path), models: \(installation.models.map(\.name).joined(separator: ", "))",
                        ""
                    ))
            } catch {
                checks.append(("model server", false, "\(error)", "run scripts/setup"))
            }
        }
        // The chat model's size, and better models already running on this machine.
        var offers: [String] = []
        if inference.enabled {
            let scale = ModelScale(name: inference.chatModel)
            if let scale, scale.isSmall {
                checks.append(
                    (
                        "chat model", true,
                        "\(inference.chatModel) (\(scale)): fast, runs recipe plans (the demo, summaries, questions, search, compare); too small to plan other goals or answer freely",
                        ""
                    ))
            }
            let servers = await ModelServerDiscovery.discover().filter { server in
                server.bestChatModel != nil && server.baseURL != inference.baseURL?.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            }
            if servers.isEmpty {
                checks.append(
                    (
                        "other servers", true,
                        "no Ollama or OpenAI-compatible server answers on \(ModelServerDiscovery.candidates().map { $0.replacingOccurrences(of: "http://", with: "") }.joined(separator: ", "))",
                        ""
                    ))
            } else {
                for server in servers {
                    checks.append(("other servers", true, "found \(server.summary)", ""))
                    offers.append(
                        "to use \(server.baseURL): hearth init --use-server \(server.baseURL) (a new config), or in config.toml: "
                            + server.configurationLines().dropFirst().joined(separator: "; "))
                }
            }
        }
        // The vault and its broker.
        let paths = context.paths
        let broker = CompanionProgram.locate("hearth-vault")
        let listening = VaultClient(socket: paths.vaultSocket).isListening
        switch (VaultFile.keyKind(at: paths.vaultFile), broker) {
        case (_, nil):
            checks.append(("vault", false, "hearth-vault is not beside hearth", "build it: swift build -c release --product hearth-vault"))
        case (nil, _):
            checks.append(
                (
                    "vault", true, "no vault yet (\(paths.vaultFile.path)); http_request works without secrets only when one exists",
                    "add a secret: printf %s \"$TOKEN\" | hearth vault add NAME --host api.example.com"
                ))
        case (let kind?, _):
            let sealing = kind == "scrypt" ? "a passphrase" : "the key file \(paths.vaultKeyFile.path)"
            checks.append(
                (
                    "vault", listening,
                    "\(paths.vaultFile.path), sealed with \(sealing); broker \(listening ? "listening on \(paths.vaultSocket.path)" : "not running")",
                    listening
                        ? ""
                        : kind == "scrypt"
                            ? "start it: hearth vault serve (asks for the passphrase)"
                            : "start 'hearth daemon' (it starts the broker) or 'hearth vault serve'"
                ))
        }
        let policy = context.configuration.policy
        checks.append(
            (
                "policy", true,
                "autonomy \(policy.autonomy.rawValue), \(policy.rules.count) rule(s), approvals expire after \(policy.approvalHours) h", ""
            ))

        // Alternatives: the shell needs one way to confine commands, not every one.
        let shellWorks = checks.contains { $0.name == "shell" && $0.ok }
        let alternatives: Set<String> = shellWorks ? ["bubblewrap", "landlock", "user namespaces"] : ["bubblewrap"]
        if json {
            printJSON([
                "ok": .bool(checks.allSatisfy { $0.ok || alternatives.contains($0.name) }),
                "checks": .array(
                    checks.map {
                        ["name": .string($0.name), "ok": .bool($0.ok), "detail": .string($0.detail), "remedy": .string($0.remedy)]
                    }),
                "offers": .array(offers.map(JSONValue.string)),
            ])
            return
        }
        let width = checks.map(\.name.count).max() ?? 0
        for check in checks {
            print("\(check.ok ? "ok  " : "MISS") \(check.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.detail)")
            if !check.ok && !check.remedy.isEmpty { print("     \(String(repeating: " ", count: width))  → \(check.remedy)") }
        }
        for offer in offers { print("     → \(offer)") }
    }
}
