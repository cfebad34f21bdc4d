import Foundation
import HearthConfig
import HearthCore
import HearthDashboard
import HearthStore

/// What the dashboard's Health page shows, from the daemon's status document, its configured
/// triggers and the stored schedules and routines (the sandbox checks the page adds itself).
public enum HealthView {
    /// Why the model cannot answer now, from the status document (its `live` part); nil when it can.
    public static func modelProblem(status: JSONValue) -> String? {
        let inference = status["live"]?["inference"] ?? [:]
        switch inference["phase"]?.stringValue ?? "unknown" {
        case "ready", "external": return nil
        case "disabled": return "Inference is off ([inference] enabled = false): answers come from memory only."
        case let phase:
            let why = inference["lastError"]?.stringValue ?? inference["reason"]?.stringValue
            return
                "The model server is \(phase)\(why.map { " (\($0))" } ?? ""): answers come from memory until it is ready; 'hearth doctor' says why."
        }
    }

    public static func sections(status: JSONValue, configuration: Configuration, stores: DaemonStores) async -> [HealthSection] {
        var sections: [HealthSection] = []

        let daemon = status["daemon"] ?? [:]
        let counts = status["counts"] ?? [:]
        sections.append(
            HealthSection(
                "Daemon",
                [
                    .init(
                        "daemon", .ok,
                        "pid \(daemon["pid"]?.intValue ?? 0), version \(status["version"]?.stringValue ?? "?"), up since \(daemon["startedAt"]?.stringValue ?? "?")"
                    ),
                    .init(
                        "work", (counts["runsNeedingReview"]?.intValue ?? 0) > 0 ? .warning : .ok,
                        "\(counts["approvalsWaiting"]?.intValue ?? 0) approvals waiting, \(counts["runsNeedingReview"]?.intValue ?? 0) runs need review, \(counts["inboxWaiting"]?.intValue ?? 0) inbox items, \(counts["events"]?.intValue ?? 0) events journaled"
                    ),
                ]))

        let inference = status["live"]?["inference"] ?? [:]
        let phase = inference["phase"]?.stringValue ?? "unknown"
        let state: HealthSection.State =
            switch phase {
            case "ready", "external": .ok
            case "disabled": .off
            default: .warning
            }
        var detail = [phase]
        if let url = inference["baseURL"]?.stringValue { detail.append(url) }
        if let restarts = inference["restarts"]?.intValue, restarts > 0 { detail.append("\(restarts) restarts") }
        if let error = inference["lastError"]?.stringValue ?? inference["reason"]?.stringValue { detail.append(error) }
        if state == .warning { detail.append("pages that need the model (Chat answers, new goals) wait for it; 'hearth doctor' says why") }
        let memory = status["live"]?["memory"] ?? [:]
        sections.append(
            HealthSection(
                "Model server",
                [
                    .init(configuration.inference.chatModel, state, detail.joined(separator: " — ")),
                    .init("retrieval", .ok, memory["retrieval"]?.stringValue ?? "unknown"),
                ]))

        var triggers: [HealthSection.Line] = [
            .init(
                "workspace watcher", configuration.watcher.enabled ? .ok : .off,
                configuration.watcher.enabled ? "watching the workspace" : "[watcher] enabled = false"),
            .init(
                "maildir", configuration.maildir.enabled ? .ok : .off,
                configuration.maildir.enabled ? "watching the maildir" : "[maildir] enabled = false"),
            .init(
                "git", configuration.gitRepositories.isEmpty ? .off : .ok,
                configuration.gitRepositories.isEmpty ? "no [git] repositories" : configuration.gitRepositories.joined(separator: ", ")),
            .init(
                "metrics", configuration.metricStreams.isEmpty ? .off : .ok,
                configuration.metricStreams.isEmpty ? "no [metrics] streams" : configuration.metricStreams.joined(separator: ", ")),
        ]
        do {
            for schedule in try await stores.schedules.schedules() {
                triggers.append(
                    .init(
                        "schedule \(schedule.name)", .ok,
                        "\(schedule.expression.source), next \(schedule.nextFireAt.map(Timestamp.format) ?? "never")"))
            }
            for routine in try await stores.routines.routines() {
                triggers.append(
                    .init(
                        "routine \(routine.name)", routine.paused ? .warning : .ok,
                        (routine.paused ? "paused: \(routine.pausedReason ?? "by you") — " : "")
                            + "on \(routine.on ?? routine.cron ?? "?"): \(routine.goal)"))
            }
        } catch {
            triggers.append(.init("schedules and routines", .warning, "cannot be read: \(error)"))
        }
        sections.append(HealthSection("Triggers and routines", triggers))
        return sections
    }
}
