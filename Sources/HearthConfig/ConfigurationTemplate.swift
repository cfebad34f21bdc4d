import Foundation
import HearthCore

/// The commented `config.toml` that `hearth init` writes.
///
/// Every value in it is the built-in default, so the file documents the defaults and a user edits
/// in place. A test checks that it parses back to exactly `Configuration()` plus the paths.
public enum ConfigurationTemplate {
    public static func render(dataDirectory: String, workspace: String) -> String {
        let defaults = Configuration()
        let ignore = defaults.watcher.ignore.map { "\"\($0)\"" }.joined(separator: ", ")
        return """
            # Hearth configuration, written by `hearth init`.
            #
            # Every value below is the built-in default. Edit what you need; delete a line to go
            # back to its default. `hearth init` never overwrites this file once it exists.
            # Flags beat this file: --data-dir, --workspace and --config work on every command.
            # Restart the daemon after editing (`systemctl --user restart hearth` if you use the unit).

            [paths]
            # Database (hearth.sqlite), logs/, runtime/, the API token and models.
            data_dir = \(quoted(dataDirectory))
            # The only directory tree the agent may read and write. Watched for changes.
            workspace = \(quoted(workspace))

            [server]
            # Loopback HTTP API (POST /v1/events and friends), bearer token in <data_dir>/api-token.
            # 0 picks a free port; the port in use is written to <data_dir>/runtime/daemon.json.
            port = \(defaults.server.port)
            # Requests with a larger body are refused with 413.
            max_body_bytes = \(defaults.server.maxBodyBytes)

            [watcher]
            # Turn workspace file changes into events (inotify, recursive, no polling).
            enabled = \(defaults.watcher.enabled)
            # A file is reported once it has been quiet this long: a burst of writes is one event.
            settle_ms = \(defaults.watcher.settleMilliseconds)
            # Names or globs (* and ?) matched against each path component.
            ignore = [\(ignore)]

            [maildir]
            # Turn new messages in a Maildir (new/ and cur/) into events. Hearth never moves,
            # edits or deletes mail files.
            enabled = \(defaults.maildir.enabled)
            # Defaults to <data_dir>/mail; point it at an existing Maildir (e.g. "~/Maildir/INBOX").
            # path = "~/Maildir"
            # Longer bodies are cut (the event says so).
            max_body_bytes = \(defaults.maildir.maxBodyBytes)

            [cron]
            # Time zone for schedules that do not name one, e.g. "Europe/Paris".
            # Empty: the system time zone.
            timezone = ""

            [executor]
            # How many runs may perform a step at the same time.
            concurrency = \(defaults.executor.concurrency)
            # On shutdown, seconds in-flight steps get to finish before they are interrupted.
            shutdown_grace_seconds = \(defaults.executor.shutdownGraceSeconds)

            [log]
            # trace, debug, info, notice, warning, error or critical.
            level = "\(defaults.log.level.rawValue)"
            # <data_dir>/logs/hearth.log is rotated to hearth.log.1 at this size.
            max_file_bytes = \(defaults.log.maxFileBytes)

            """
    }

    /// A TOML basic string: JSON's string escapes (\", \\, \n, \uXXXX) are valid TOML too.
    private static func quoted(_ text: String) -> String {
        JSONValue.string(text).jsonText
    }
}
