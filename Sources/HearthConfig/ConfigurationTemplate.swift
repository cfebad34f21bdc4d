import Foundation
import HearthCore

/// The commented `config.toml` that `hearth init` writes.
///
/// Every value in it is the built-in default, so the file documents the defaults and a user edits
/// in place. A test checks that it parses back to exactly `Configuration()` plus the paths.
public enum ConfigurationTemplate {
    /// A model server to write into `[inference]` instead of the supervised llama-server.
    public struct Server: Sendable, Hashable {
        public var provider: ModelEndpoint.Provider
        public var baseURL: String
        public var chatModel: String
        public var embeddingModel: String?

        public init(provider: ModelEndpoint.Provider, baseURL: String, chatModel: String, embeddingModel: String? = nil) {
            self.provider = provider
            self.baseURL = baseURL
            self.chatModel = chatModel
            self.embeddingModel = embeddingModel
        }
    }

    /// - Parameter server: a server found on this machine that the user chose; nil keeps the defaults.
    public static func render(dataDirectory: String, workspace: String, server: Server? = nil) -> String {
        let defaults = Configuration()
        let provider = server?.provider.rawValue ?? defaults.inference.provider.rawValue
        let baseURL = server.map { "base_url = \(quoted($0.baseURL))" } ?? "# base_url = \"http://127.0.0.1:11434\""
        let chatModel = server?.chatModel ?? defaults.inference.chatModel
        // The server's own embedding model when it has one; else embeddings stay local.
        let embeddingModel = server.map { $0.embeddingModel ?? defaults.inference.embeddingModel } ?? defaults.inference.embeddingModel
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
            # Extra directories the agent may read, as @name/... in tool paths (name: the last
            # component); "PATH:rw" also lets it change them. Shell commands see them read-only
            # (or read-write) at their real paths. Example: mounts = ["~/Documents", "~/Shared:rw"]
            mounts = []

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

            [policy]
            # What the agent may do on its own: observe (read only), suggest (every effect asks),
            # ask (workspace changes run, anything beyond asks), actWithinSandbox (programs run
            # too, confined). Sending, spending, deleting and the network always ask.
            autonomy = "\(defaults.policy.autonomy.rawValue)"
            # "allow|ask|deny TOOL [argument=glob ...]"; a deny always wins, e.g.
            # rules = ["deny send_email to=*@competitor.com", "allow write_file path=Reports/*"]
            rules = []
            # An approval nobody answers within this many hours expires, which denies it.
            approval_hours = \(defaults.policy.approvalHours)

            [vault]
            # The credential broker's key file (mode 0600). Default: $XDG_CONFIG_HOME/hearth/vault.key,
            # outside the data dir. A vault created with --passphrase needs no key file.
            # key_file = "~/.config/hearth/vault.key"

            [executor]
            # How many runs may perform a step at the same time.
            concurrency = \(defaults.executor.concurrency)
            # On shutdown, seconds in-flight steps get to finish before they are interrupted.
            shutdown_grace_seconds = \(defaults.executor.shutdownGraceSeconds)

            [inference]
            # Local models: with provider "llama.cpp" and no base_url, the daemon runs llama-server
            # itself (built and installed by scripts/setup under the data dir).
            enabled = true
            # "llama.cpp", "openai" (any OpenAI-compatible server: vLLM, LM Studio, hosted APIs)
            # or "ollama". The last two need base_url.
            provider = "\(provider)"
            \(baseURL)
            chat_model = \(quoted(chatModel))
            embedding_model = \(quoted(embeddingModel))
            # Name of an environment variable holding an API key (for hosted APIs).
            # api_key_env = "OPENAI_API_KEY"
            # "auto" (native for openai, constrained otherwise), "native" or "constrained".
            tool_calls = "auto"
            request_timeout_seconds = \(defaults.inference.requestTimeoutSeconds)
            # Hide private data from a model on another host (names the profile knows, e-mail
            # addresses, phone numbers, IBANs, card numbers, workspace paths, these terms):
            # auto (when base_url is not this machine), always or never.
            redact = "auto"
            redact_terms = []
            # Context window of the chat model; longer conversations lose their oldest turns (reported).
            context_tokens = \(defaults.inference.contextTokens)
            # llama-server threads.
            threads = \(defaults.inference.threads)

            [chat]
            # Let the chat model read workspace files, search memory and hand work to a goal
            # (start_goal) during a conversation. Unset: on unless chat_model is the bundled 135M
            # default, which is too small to choose tools (its answers stream as plain text).
            # tools = true
            # Have the chat model rewrite a session's summary of its older turns as they age out
            # of the six carried verbatim. Unset: on unless chat_model is the bundled 135M default
            # (which keeps the first lines of older turns instead).
            # summaries = true

            [memory]
            # Rank memory with vectors from embedding_model beside full text. false: full text
            # (BM25) only, and no embedding calls; `hearth status` says which is in use.
            vectors = \(defaults.memory.vectors)
            # Read facts, preferences and standing rules out of new conversations, events and run
            # summaries with chat_model, in the background (calls count against [budgets]), and a chat
            # message the patterns learn nothing from during its turn. Off by
            # default: a 135M-parameter local model is too small to trust with your profile; turn
            # it on with a capable model. Facts read from untrusted content (mail, web pages, tool
            # output) always wait for you: `hearth memory pending`, then confirm or reject.
            extract_facts = \(defaults.memory.extractFacts)
            # Records shown to the model per extraction call.
            extraction_batch = \(defaults.memory.extractionBatch)
            # Consolidation (merges near-duplicates, summarises idle sessions, applies the cap; every
            # change is reported in the log and `hearth memory stats`): at most this many records,
            # beyond which the oldest, least important are dropped — notes and summaries never.
            max_records = \(defaults.memory.maxRecords)
            # Sessions idle this many days get a summary record.
            summarise_after_days = \(defaults.memory.summariseAfterDays)
            # Hours between consolidation passes.
            consolidate_every_hours = \(defaults.memory.consolidateEveryHours)
            # Tokens of your profile (preferences and standing rules) each prompt carries, the
            # entries most relevant to the task first; 0 leaves it out. `hearth memory profile`
            # shows the whole profile and its size.
            profile_tokens = \(defaults.memory.profileTokens)
            # Search results matched only by meaning need at least this cosine similarity (results
            # sharing words with the query always count); 0 shows every record, however unrelated.
            min_similarity = \(defaults.memory.minSimilarity)
            # Word pieces each text is cut to before embedding (its context vector reads it centred
            # between the turns around it). 128 suits minilm-l6; a model with a longer window may
            # read more, each piece costing embedding time.
            embed_tokens = \(defaults.memory.embedTokens)
            # Context vectors blended from the vectors of each record and its neighbours instead of
            # embedded from their words: "long" (records filling 3/4 of embed_tokens, whose context
            # is mostly themselves: no measurable loss, less embedding time), true (all: half the
            # embedding time, slightly weaker recall) or false (none).
            blend_context = \(defaults.memory.blendContext == .long ? "\"long\"" : defaults.memory.blendContext == .all ? "true" : "false")

            [budgets]
            # Hard caps on model use. A call that would exceed one fails with "budget exhausted".
            # 0 means unlimited. Costs use [pricing]; local models are free but their tokens count.
            day_tokens = \(defaults.budgets.day.tokens ?? 0)
            day_calls = \(defaults.budgets.day.calls ?? 0)
            day_model_seconds = \(Int(defaults.budgets.day.modelSeconds ?? 0))
            day_cost_usd = \(defaults.budgets.day.costDollars ?? 0)
            run_tokens = \(defaults.budgets.run.tokens ?? 0)
            run_calls = \(defaults.budgets.run.calls ?? 0)
            run_model_seconds = \(Int(defaults.budgets.run.modelSeconds ?? 0))
            run_cost_usd = \(defaults.budgets.run.costDollars ?? 0)
            goal_tokens = \(defaults.budgets.goal.tokens ?? 0)
            goal_calls = \(defaults.budgets.goal.calls ?? 0)
            goal_model_seconds = \(Int(defaults.budgets.goal.modelSeconds ?? 0))
            goal_cost_usd = \(defaults.budgets.goal.costDollars ?? 0)

            [telemetry]
            # GET /metrics (Prometheus text format) needs the API token as a bearer token; true lets a
            # Prometheus on this machine scrape it without one (the port listens on 127.0.0.1 only).
            metrics_public = false
            # Export each goal run as OpenTelemetry traces (OTLP/HTTP, JSON) to a collector:
            # otlp_endpoint = "http://127.0.0.1:4318"

            [publish]
            # Where an approved compliance report goes ('hearth publish RUN', gated by approvals).
            # A git repository (the documentation portal), committed to on a branch of its own:
            # portal = "~/docs-portal"
            folder = "compliance"
            # Push the branch to this remote of the portal (unset: the branch stays local).
            # remote = "origin"
            # A Slack- or Mattermost-compatible incoming webhook; its secret part is a vault handle
            # ('hearth vault set project-channel'), so the agent never sees it:
            # channel = "https://hooks.slack.com/services/{{secret:project-channel}}"

            # Other programs' tools through MCP: each server's tools become Hearth tools named
            # mcp_<name>_<tool>, asked about before each call unless risk says otherwise, their
            # output treated as untrusted. A command runs confined like the shell (no network,
            # the workspace and the 'read' directories only); 'hearth mcp tools' lists them.
            # [[mcp.servers]]
            # name = "notes"
            # command = ["/usr/bin/python3", "/opt/notes-mcp/server.py"]
            # read = ["/opt/notes-mcp"]
            # risk = "read"
            # timeout_seconds = 30
            # [[mcp.servers]]
            # name = "tickets"
            # url = "https://tickets.example.com/mcp"
            # A token kept in the vault ('hearth vault add tickets-token --host tickets.example.com
            # --method POST --method DELETE'): requests then go through the credential broker,
            # which puts it in, so Hearth never holds it.
            # headers = { Authorization = "Bearer {{secret:tickets-token}}" }

            [pricing]
            # US dollars per million tokens, by model name, for hosted models:
            # "gpt-4o-mini" = { input = 0.15, output = 0.60 }

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
