import Foundation
import HearthConfig
import HearthCore
import HearthStore

/// What a running daemon publishes in `runtime/daemon.json` once it is ready.
public struct DaemonState: Sendable, Codable, Equatable {
    public var pid: Int32
    public var port: Int
    public var startedAt: Date
    public var version: String

    public init(pid: Int32, port: Int, startedAt: Date, version: String) {
        self.pid = pid
        self.port = port
        self.startedAt = startedAt
        self.version = version
    }

    func write(to url: URL) throws(SetupError) {
        let document: JSONValue = [
            "pid": .number(Double(pid)), "port": .number(Double(port)), "startedAt": .string(Timestamp.format(startedAt)),
            "version": .string(version),
        ]
        try DataDirectory.writeAtomically(Data((document.jsonText + "\n").utf8), to: url, mode: 0o600)
    }

    static func read(from url: URL) -> DaemonState? {
        guard let data = try? Data(contentsOf: url), let document = try? JSONValue(parsing: data),
            let pid = document["pid"]?.intValue, let port = document["port"]?.intValue,
            let started = document["startedAt"]?.stringValue.flatMap(Timestamp.parse)
        else { return nil }
        return DaemonState(pid: Int32(pid), port: port, startedAt: started, version: document["version"]?.stringValue ?? "?")
    }

    /// The running daemon for these paths, if any: the lock must be held (a leftover
    /// `daemon.json` from a crash is ignored), and the state file written (it is, once ready).
    public static func running(_ paths: HearthPaths) -> (pid: Int32, state: DaemonState?)? {
        guard let pid = DaemonLock.holder(of: paths.lockFile) else { return nil }
        let state = read(from: paths.daemonStateFile).flatMap { $0.pid == pid || pid == 0 ? $0 : nil }
        return (pid, state)
    }
}

/// The document behind `hearth status --json` and `GET /v1/status`.
public enum StatusReport {
    /// - Parameter live: what only the daemon knows (uptime, trigger reports), when asked in-process.
    /// - Parameter records: this machine's daemon start records (nil when no daemon ever ran here).
    public static func build(paths: HearthPaths, records: DaemonRecordStore?, counts: StoreCounts, live: JSONValue? = nil) throws
        -> JSONValue
    {
        let starts = try records?.recentStarts(limit: 2) ?? []
        var daemon: [String: JSONValue] = ["running": false]
        if let running = DaemonState.running(paths) {
            daemon["running"] = true
            daemon["pid"] = .number(Double(running.pid))
            if let state = running.state {
                daemon["port"] = .number(Double(state.port))
                daemon["startedAt"] = .string(Timestamp.format(state.startedAt))
                daemon["uptimeSeconds"] = .number((Date().timeIntervalSince(state.startedAt) * 10).rounded() / 10)
                daemon["version"] = .string(state.version)
            } else {
                daemon["starting"] = true
            }
        }
        var document: [String: JSONValue] = [
            "version": .string(HearthVersion.current),
            "daemon": .object(daemon),
            "paths": [
                "config": .string(paths.configFile.path), "dataDir": .string(paths.dataDirectory.path),
                "workspace": .string(paths.workspace.path), "maildir": .string(paths.maildir.path),
                "database": .string(paths.database.path), "log": .string(paths.logFile.path),
            ],
            "counts": [
                "events": .number(Double(counts.events)),
                "lastEventId": .number(Double(counts.lastEventID)),
                "runs": .object(counts.runs.mapValues { .number(Double($0)) }),
                "stepsNeedingReview": .number(Double(counts.stepsNeedingReview)),
                "runsNeedingReview": .number(Double(counts.runsNeedingReview)),
                "approvalsWaiting": .number(Double(counts.approvalsWaiting)),
                "inboxWaiting": .number(Double(counts.inboxWaiting)),
                "schedules": .number(Double(counts.schedules)),
                "indexedFiles": .number(Double(counts.indexedFiles)),
            ],
        ]
        if let last = starts.first {
            var start: [String: JSONValue] = [
                "pid": .number(Double(last.pid)),
                "version": .string(last.version),
                "startedAt": .string(Timestamp.format(last.startedAt)),
                "recovery": last.recovery,
            ]
            if let ready = last.readyAt {
                start["readyAt"] = .string(Timestamp.format(ready))
                start["readyMilliseconds"] = .number((ready.timeIntervalSince(last.startedAt) * 1000).rounded())
            }
            if let stopped = last.stoppedAt { start["stoppedAt"] = .string(Timestamp.format(stopped)) }
            // The start before it either recorded a clean stop or was cut short (crash, SIGKILL).
            if starts.count > 1 { start["previousStopWasClean"] = .bool(starts[1].stoppedAt != nil) }
            document["lastStart"] = .object(start)
        }
        if let live { document["live"] = live }
        return .object(document)
    }
}
