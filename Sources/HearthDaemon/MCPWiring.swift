import Foundation
import HearthConfig
import HearthCore
import HearthMCP
import HearthMemory
import HearthSandbox
import HearthStore
import Logging

/// The MCP server's hooks over the stores: the daemon's `/mcp` and `hearth mcp serve` (stdio)
/// answer from the same code.
public enum MCPWiring {
    /// - Parameters:
    ///   - goalsChanged: tells whoever runs goals that one was added (the daemon's worker, or a
    ///     nudge to a running daemon); returns whether someone was told.
    public static func hooks(
        stores: DaemonStores, memory: MemoryEngine, workspace: URL, goalsChanged: @escaping @Sendable () async -> Bool
    ) -> HearthMCPHooks {
        let goals = stores.goals
        return HearthMCPHooks(
            search: { query, k in
                let hits = MemoryEngine.relevant(try await memory.search(query, k: k), minSimilarity: MemoryEngine.defaultMinSimilarity)
                return .array(
                    hits.map { hit in
                        [
                            "id": .number(Double(hit.record.id)), "text": .string(hit.record.spokenText),
                            "kind": .string(hit.record.kind.rawValue),
                            "source": .string(hit.record.source), "when": .string(Timestamp.format(hit.record.occurredAt)),
                            "provenance": .string(hit.record.provenance.rawValue),
                            "why": .array(hit.reasons.map { .string($0.description) }),
                        ]
                    })
            },
            remember: { text in
                // Another program's words: kept, searchable, but never a profile fact on their own.
                let record = MemoryRecord(kind: .note, text: text, source: "mcp", provenance: .untrusted, occurredAt: Date())
                let stored = try await memory.remember([record])
                _ = try? await memory.indexPending()
                return ["id": .number(Double(stored.first?.id ?? 0)), "provenance": "untrusted"]
            },
            profile: { try await memory.profile().map(\.sentence) },
            startGoal: { goal in
                let run = try await goals.createGoal(goal, budget: GoalBudget(), workspace: workspace.path)
                let told = await goalsChanged()
                return [
                    "id": .number(Double(run.id)), "state": .string(run.state.rawValue), "daemon": .bool(told),
                    "note": .string(
                        told ? "the daemon runs it; goal_status follows it" : "no daemon is running: it starts when 'hearth daemon' runs"),
                ]
            },
            goalStatus: { id in
                guard let detail = try? await goals.goal(id) else { return nil }
                return [
                    "id": .number(Double(id)), "goal": .string(detail.goal), "state": .string(detail.run.state.rawValue),
                    "summary": detail.summary.map(JSONValue.string) ?? .null, "report": detail.report.map(JSONValue.string) ?? .null,
                    "pauseReason": detail.pauseReason.map(JSONValue.string) ?? .null,
                    "tasks": .array(
                        detail.tasks.map { record in
                            [
                                "id": .string(record.task.id), "title": .string(record.task.title), "state": .string(record.state.rawValue),
                                "error": record.error.map(JSONValue.string) ?? .null,
                            ]
                        }),
                ]
            },
            approvals: {
                let waiting = try await stores.approvals.waiting(now: Date(), limit: 100, offset: 0)
                return [
                    "total": .number(Double(waiting.total)),
                    "approvals": .array(
                        waiting.approvals.map { approval in
                            [
                                "id": .number(Double(approval.id)), "run": .number(Double(approval.runID)), "tool": .string(approval.tool),
                                "risk": .string(approval.risk.rawValue), "reason": .string(approval.reason),
                                "expiresAt": .string(Timestamp.format(approval.expiresAt)),
                            ]
                        }),
                    "answer": "approvals are answered by the user: 'hearth approve ID' or the dashboard",
                ]
            },
            latestBrief: { try await InboxView.latestBrief(stores: stores) },
            reports: { try await goals.reports(limit: 50).map { (run: $0.run, title: $0.goal, path: $0.path) } },
            readFile: { path in
                guard let data = try? WorkspaceFiles.read(path, in: workspace, limit: 4 << 20) else { return nil }
                return String(data: data, encoding: .utf8)
            })
    }
}

extension HearthPaths {
    /// The `[[mcp.servers]]` of the config as launches: `read` paths and a program named with a
    /// path made absolute (against the config file's directory; a bare program name is looked up
    /// in /usr/local/bin, /usr/bin, /bin), each program run in the workspace with the declared mounts.
    public func mcpLaunches(_ configuration: Configuration) -> [MCPServerLaunch] {
        let base = configFile.deletingLastPathComponent().path
        let environment = Environment.process
        func absolutePath(_ path: String, relativeTo base: String) -> String { environment.absolutePath(path, relativeTo: base) }
        func absoluteProgram(_ program: String, base: String) -> String {
            program.contains("/") ? absolutePath(program, relativeTo: base) : program
        }
        return configuration.mcpServers.map { server in
            MCPServerLaunch(
                name: server.name,
                command: server.command.enumerated().map { $0.offset == 0 ? absoluteProgram($0.element, base: base) : $0.element },
                url: server.url.flatMap(URL.init(string:)), headers: server.headers, broker: vaultClient,
                risk: ToolRisk(rawValue: server.risk) ?? .network, confined: server.confined,
                read: server.read.map { URL(fileURLWithPath: absolutePath($0, relativeTo: base)) }, environment: server.environment,
                timeout: .seconds(server.timeoutSeconds), workspace: workspace, mounts: mounts)
        }
    }

    /// The external MCP servers' tools, or nil when the config names none.
    public func mcpToolSource(_ configuration: Configuration, logger: Logger = Logger(label: "hearth.mcp")) -> MCPToolSource? {
        configuration.mcpServers.isEmpty ? nil : MCPToolSource(mcpLaunches(configuration), logger: logger)
    }
}
