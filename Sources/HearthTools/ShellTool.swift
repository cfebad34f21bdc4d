import Foundation
import HearthCore
import HearthSandbox

/// Runs a shell command inside the workspace through `hearth-sandbox` (Landlock: read-write in
/// the workspace, read-only system directories; no network; CPU, memory and file-size limits;
/// a wall-clock timeout). Where Landlock or user namespaces are missing the helper uses
/// bubblewrap (a private root with only the system directories, the workspace and the mounts; no
/// network). Where no mechanism works, the command is refused — never run unconfined.
public struct ShellTool: Tool {
    /// How the helper isolates a command: `auto` takes Landlock and a network namespace when the
    /// kernel allows, bubblewrap otherwise.
    public enum Isolation: String, Sendable, CaseIterable {
        case auto, native, bubblewrap
    }

    public let spec = ToolSpec(
        name: "shell",
        description:
            "Run a shell command in the workspace: it can change files only there, can read the system's program and library directories (/usr, /etc, /opt …) but not the user's home or other files, and has no network; returns its output and exit status.",
        parameters: objectSchema(
            [
                ("command", stringProperty("a /bin/sh command line, run in the workspace")),
                ("timeout_seconds", ["type": "integer", "minimum": 1, "maximum": 600]),
            ], required: ["command"]))
    public let risk = ToolRisk.execute
    public let idempotent = false
    let helper: URL?
    let isolation: Isolation

    /// - Parameter helper: the `hearth-sandbox` executable; by default the one beside this program.
    public init(helper: URL? = ShellTool.defaultHelper(), isolation: Isolation = .auto) {
        self.helper = helper
        self.isolation = isolation
    }

    public static func defaultHelper() -> URL? { CompanionProgram.locate("hearth-sandbox") }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        guard let helper else {
            throw ToolError.refused(
                tool: name, reason: "the confinement helper hearth-sandbox is not installed beside hearth; rebuild hearth ('swift build')")
        }
        let command = requiredString(arguments, "command")
        let seconds = arguments["timeout_seconds"]?.intValue ?? 60
        let output: ProgramRunner.Output
        do {
            output = try await ProgramRunner.run(
                executable: helper,
                arguments: SandboxCommand.arguments(
                    workspace: context.workspace, mounts: context.mounts, cpuSeconds: seconds, isolation: isolation.rawValue,
                    command: ["/bin/sh", "-c", command]),
                environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": context.workspace.path],
                timeout: .seconds(seconds), maxOutput: 1 << 20)
        } catch let error as ProgramError {
            throw ToolError.failed(tool: name, message: error.description)
        }
        if output.status == 125 && output.stderr.contains("hearth-sandbox: refused") {
            throw ToolError.refused(tool: name, reason: output.stderr + "; see 'hearth doctor'")
        }
        let stdout = String(decoding: output.stdout, as: UTF8.self)
        let text =
            "exit status \(output.status)\n" + clipped(stdout, 6000)
            + (output.stderr.isEmpty ? "" : "\nstderr:\n" + clipped(output.stderr, 2000))
        return ToolOutput(
            text: text, data: ["status": .number(Double(output.status)), "stdout": .string(stdout), "stderr": .string(output.stderr)],
            untrusted: true)
    }
}
