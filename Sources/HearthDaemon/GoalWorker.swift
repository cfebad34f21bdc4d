import Foundation
import HearthAgent
import HearthConfig
import HearthCore

/// What every process that works on a goal does first — the daemon's goal service and a
/// foreground `hearth goal`/`resume` alike: hold the run's lock, recover an interrupted run, and
/// assemble the runner's options from the configuration and memory.
public enum GoalWorker {

    /// Takes `runtime/goal-N.lock`. The kernel drops it when its holder dies, so a killed
    /// worker's run can be taken over.
    ///
    /// - Throws: `DaemonLockError.held` naming the process that works on the run.
    public static func lock(_ runID: Int64, paths: HearthPaths) throws(DaemonLockError) -> DaemonLock {
        try? FileManager.default.createDirectory(at: paths.runtimeDirectory, withIntermediateDirectories: true)
        return try DaemonLock.acquire(
            at: paths.runtimeDirectory.appending(path: "goal-\(runID).lock"), dataDirectory: paths.dataDirectory.path)
    }

    /// Puts tasks a previous worker left running back to pending (their journaled calls replay).
    ///
    /// - Returns: the goal, and whether it had been interrupted.
    public static func recover(_ runID: Int64, store: any GoalStore) async throws -> (goal: GoalDetail, interrupted: Bool) {
        let goal = try await store.goal(runID)
        let recovered = try await store.recoverGoals(only: runID)
        return (goal, goal.run.state == .running || !recovered.isEmpty)
    }

    /// The runner's options: the policy and mounts from the configuration, the memory profile and
    /// the memories relevant to this goal.
    public static func options(
        configuration: Configuration, paths: HearthPaths, memory: any AgentMemory, goal: String, concurrency: Int = 2
    ) async -> GoalRunner.Options {
        GoalRunner.Options(
            concurrency: concurrency,
            profile: (try? await memory.profileLines(for: goal, budget: configuration.memory.profileTokens)) ?? [],
            memories: (try? await memory.recall(goal, limit: 3)) ?? [],
            policy: PolicyEngine(autonomy: configuration.policy.autonomy, rules: configuration.policy.rules),
            approvalLifetime: TimeInterval(configuration.policy.approvalHours * 3600)
        ).with(mounts: paths.mounts)
    }
}
