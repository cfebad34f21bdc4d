import Foundation

/// What a tool can do to the world, from harmless to irreversible. The policy engine decides
/// from it (and from where the arguments came from) whether a call runs, asks or is refused.
public enum ToolRisk: String, Sendable, Hashable, Codable, CaseIterable {
    /// Reads the workspace or memory; changes nothing.
    case read
    /// Creates or changes files inside the workspace.
    case writeWorkspace
    /// Runs a program.
    case execute
    /// Talks to another machine.
    case network
    /// Sends something to a person or service outside (mail, chat, upload).
    case sendExternal
    /// Spends money.
    case spend
    /// Deletes or overwrites something that cannot be recovered.
    case destructive
}

/// A directory outside the workspace the user lets the agent see, as `@name/…` in tool paths.
/// Read-only unless the user marked it writable.
public struct WorkspaceMount: Sendable, Hashable, Codable {
    public var name: String
    public var url: URL
    public var writable: Bool

    public init(name: String, url: URL, writable: Bool) {
        self.name = name
        self.url = url
        self.writable = writable
    }

    /// Parses a config entry: `PATH` or `PATH:rw` (writable) or `PATH:ro`; the name is the last component.
    public static func parse(_ entry: String, resolve: (String) -> String) -> WorkspaceMount? {
        var path = entry
        var writable = false
        if entry.hasSuffix(":rw") || entry.hasSuffix(":ro") {
            writable = entry.hasSuffix(":rw")
            path = String(entry.dropLast(3))
        }
        let absolute = resolve(path)
        let name = (absolute as NSString).lastPathComponent
        guard !path.isEmpty, !name.isEmpty, name != "/" else { return nil }
        return WorkspaceMount(name: name, url: URL(fileURLWithPath: absolute), writable: writable)
    }
}

/// What a tool knows about the call it serves.
public struct ToolContext: Sendable {
    /// The root of the only tree the agent may touch.
    public var workspace: URL
    /// Extra directories the user declared (`@name/…`).
    public var mounts: [WorkspaceMount]
    /// Carried by the call; a tool that can detect its own earlier work (after a crash) uses it.
    public var idempotencyKey: String
    public var runID: Int64?
    public var taskID: String?

    public init(workspace: URL, idempotencyKey: String, runID: Int64? = nil, taskID: String? = nil, mounts: [WorkspaceMount] = []) {
        self.workspace = workspace
        self.idempotencyKey = idempotencyKey
        self.runID = runID
        self.taskID = taskID
        self.mounts = mounts
    }

    /// The root and the path within it: the workspace, or a declared mount for `@name/…`.
    ///
    /// - Throws: `ToolError.refused` for an unknown mount, or for writing to a read-only one.
    public func locate(_ path: String, tool: String, writing: Bool) throws(ToolError) -> (root: URL, path: String) {
        guard path.hasPrefix("@") else { return (workspace, path) }
        let parts = path.dropFirst().split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts.first.map(String.init) ?? ""
        guard let mount = mounts.first(where: { $0.name == name }) else {
            let known = mounts.map { "@\($0.name)" }.joined(separator: ", ")
            throw .refused(
                tool: tool,
                reason: "no mount named @\(name)" + (known.isEmpty ? "; none are declared ([paths] mounts)" : "; the mounts are \(known)"))
        }
        if writing && !mount.writable {
            throw .refused(
                tool: tool, reason: "@\(name) is read-only; mark it writable in [paths] mounts (\"\(mount.url.path):rw\") to allow changes")
        }
        return (mount.url, parts.count > 1 ? String(parts[1]) : "")
    }
}

/// What a tool returns: a short text for the model and structured data for the runtime.
public struct ToolOutput: Sendable, Hashable, Codable {
    /// What the model reads as the observation (kept short; the runtime truncates it anyway).
    public var text: String
    /// The machine-readable result (what reports and checks are built from).
    public var data: JSONValue
    /// Whether the content came from outside the user's own instructions (files, mail, web):
    /// such content is fenced as data in prompts and never becomes an instruction.
    public var untrusted: Bool

    public init(text: String, data: JSONValue = .null, untrusted: Bool = false) {
        self.text = text
        self.data = data
        self.untrusted = untrusted
    }
}

/// Why a tool call did not produce a result.
public enum ToolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No tool has this name.
    case unknownTool(String, known: [String])
    /// The arguments break the tool's schema or its own checks.
    case invalidArguments(tool: String, problems: [String])
    /// The call was refused (a path outside the workspace, a policy decision).
    case refused(tool: String, reason: String)
    /// The tool ran and failed (a corrupt file, a missing program).
    case failed(tool: String, message: String)

    public var description: String {
        switch self {
        case .unknownTool(let name, let known):
            "unknown tool \"\(name)\"; the tools are \(known.joined(separator: ", ")) (see 'hearth tool list')"
        case .invalidArguments(let tool, let problems):
            "invalid arguments for \(tool): \(problems.joined(separator: "; "))"
        case .refused(let tool, let reason): "\(tool) refused: \(reason)"
        case .failed(let tool, let message): "\(tool) failed: \(message)"
        }
    }
}

/// Something the agent can do: a name, a JSON schema for its arguments, a declared risk and
/// whether repeating it is harmless.
public protocol Tool: Sendable {
    var spec: ToolSpec { get }
    var risk: ToolRisk { get }
    /// Whether calling it again with the same arguments (after a crash) is safe.
    var idempotent: Bool { get }
    /// Performs the call. Arguments were validated against `spec.parameters` by the caller.
    ///
    /// - Throws: `ToolError` (other errors are reported as `.failed`).
    func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput
    /// Whether the tool's schema stays out of a prompt until `find_tools` loads it (other
    /// programs' tools: a short index first, the schema on demand).
    var deferred: Bool { get }
}

extension Tool {
    public var name: String { spec.name }
    public var deferred: Bool { false }
}

/// The tools an agent may use, by name, with their arguments checked before every call.
public struct ToolBox: Sendable {
    private let tools: [String: any Tool]
    /// Names in a stable order (the order given), so prompts stay byte-identical across calls.
    public let names: [String]

    public init(_ tools: [any Tool]) {
        var byName: [String: any Tool] = [:]
        var names: [String] = []
        for tool in tools where byName[tool.name] == nil {
            byName[tool.name] = tool
            names.append(tool.name)
        }
        self.tools = byName
        self.names = names
    }

    public subscript(name: String) -> (any Tool)? { tools[name] }

    /// Every tool, in the stable order.
    public var all: [any Tool] { names.compactMap { tools[$0] } }

    /// A subset, in the stable order; unknown names are ignored.
    public func only(_ selected: some Sequence<String>) -> ToolBox {
        let wanted = Set(selected)
        return ToolBox(all.filter { wanted.contains($0.name) })
    }

    /// Validates and runs one call.
    ///
    /// - Throws: `ToolError` only: an unknown tool, arguments that break the schema, or the
    ///   tool's own error (anything else it throws becomes `.failed`).
    public func invoke(_ name: String, arguments: JSONValue, context: ToolContext) async throws(ToolError) -> ToolOutput {
        guard let tool = tools[name] else { throw .unknownTool(name, known: names) }
        let problems = JSONSchema.validate(arguments, against: tool.spec.parameters)
        guard problems.isEmpty else { throw .invalidArguments(tool: name, problems: problems) }
        do {
            return try await tool.invoke(arguments, context: context)
        } catch let error as ToolError {
            throw error
        } catch {
            throw .failed(tool: name, message: String(describing: error))
        }
    }
}
