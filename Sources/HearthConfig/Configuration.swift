import Foundation
import HearthCore

/// Everything `config.toml` can say, with the defaults Hearth runs on when it says nothing.
public struct Configuration: Sendable, Equatable {
    public struct Paths: Sendable, Equatable {
        /// Database, logs, token, models. `nil`: the XDG default.
        public var dataDirectory: String?
        /// The only tree the agent may touch. `nil`: `~/HearthWorkspace`.
        public var workspace: String?
        /// Extra directories the agent may read (`PATH`) or also change (`PATH:rw`), as `@name/…`.
        public var mounts: [String] = []
    }

    public struct Server: Sendable, Equatable {
        /// Loopback port of the HTTP API; 0 picks a free one (written to `runtime/daemon.json`).
        public var port: Int = 7478
        /// Largest request body accepted, in bytes.
        public var maxBodyBytes: Int = 1 << 20
    }

    public struct Watcher: Sendable, Equatable {
        public var enabled = true
        /// A file is reported once it has been quiet this long, so a burst of writes is one event.
        public var settleMilliseconds = 300
        /// Names or glob patterns (`*`, `?`) of files and directories to ignore, matched per path component.
        public var ignore = [".git", ".hearth", "*.swp", "*.swx", "*~", ".#*", "*.part", "*.crdownload", "*.tmp"]
    }

    public struct Maildir: Sendable, Equatable {
        public var enabled = true
        /// The Maildir to watch (with `new/`, `cur/`, `tmp/`). `nil`: `<data dir>/mail`.
        public var path: String?
        /// Longer message bodies are cut, and the event says so.
        public var maxBodyBytes = 64 * 1024
    }

    public struct Cron: Sendable, Equatable {
        /// The time zone for schedules that do not name one. `nil`: the system's.
        public var timeZone: String?
    }

    /// What the agent may do on its own (see `PolicyEngine`).
    public struct Policy: Sendable, Equatable {
        public var autonomy: AutonomyLevel = .ask
        /// `allow|ask|deny TOOL [argument=glob …]`, first match wins (a deny always wins).
        public var rules: [PolicyRule] = []
        /// A request nobody answers within this many hours expires, which denies it.
        public var approvalHours = 24
    }

    public struct Executor: Sendable, Equatable {
        /// How many runs may perform a step at the same time.
        public var concurrency = 2
        /// On SIGTERM, how long in-flight steps get to finish before they are interrupted.
        public var shutdownGraceSeconds = 10
    }

    public struct Log: Sendable, Equatable {
        public enum Level: String, Sendable, CaseIterable {
            case trace, debug, info, notice, warning, error, critical
        }
        public var level: Level = .info
        /// The log file is rotated (one previous file kept) when it reaches this size.
        public var maxFileBytes = 10 * 1024 * 1024
    }

    public struct Inference: Sendable, Equatable {
        /// Run local models: with `llama.cpp` and no base URL, the daemon supervises llama-server.
        public var enabled = true
        public var provider: ModelEndpoint.Provider = .llamaCpp
        /// For `openai` and `ollama` (and an external llama.cpp server). `nil`: supervised llama-server.
        public var baseURL: String?
        public var chatModel = "smollm2-135m"
        public var embeddingModel = "minilm-l6"
        /// The name of an environment variable that holds an API key (hosted APIs).
        public var apiKeyEnvironment: String?
        /// `nil`: native for `openai`, constrained otherwise.
        public var toolCalls: String?
        public var requestTimeoutSeconds = 120
        /// Private data hidden from the model: `auto` (when its host is not this machine), `always` or `never`.
        public var redact = "auto"
        /// Terms hidden like names (project code names, clients).
        public var redactTerms: [String] = []
        public var contextTokens = 8192
        /// llama-server threads (`-t`). One leaves a core for everything else on small machines.
        public var threads = 1
        /// `nil`: `<data dir>/bin/llama-server`.
        public var llamaServer: String?
        /// `nil`: `<data dir>/models`.
        public var modelsDirectory: String?
    }

    public var paths = Paths()
    public var inference = Inference()
    /// Hard caps on model use; a `nil` limit is unlimited.
    public var budgets = Budgets(
        day: Budget(tokens: 2_000_000, calls: 10_000),
        run: Budget(tokens: 200_000, calls: 500, modelSeconds: 1800),
        goal: Budget(tokens: 1_000_000, calls: 2_000))
    /// US dollars per million tokens, by model name.
    public var pricing = Pricing()
    public var server = Server()
    public var watcher = Watcher()
    public var maildir = Maildir()
    public var cron = Cron()
    public var executor = Executor()
    public var policy = Policy()
    public var log = Log()
    public var vault = Vault()
    public var memory = Memory()
    public var attention = Attention()
    /// `[git] repositories`: repositories whose new commits (any branch) become events; paths
    /// relative to the workspace, or absolute (a mount).
    public var gitRepositories: [String] = []
    /// `[metrics] streams`: CSV or JSONL files in the workspace whose new rows become events.
    public var metricStreams: [String] = []
    /// `[metrics] bounds`: "SERIES = AMOUNT [a month|a week|a day|a year]" — a row (or the
    /// period's sum) over the bound interrupts. Bounds stated in memory count too.
    public var metricBounds: [String] = []
    public var notify = Notify()
    public var chat = Chat()
    public var publish = Publish()
    public var telemetry = Telemetry()
    /// `[[mcp.servers]]`: other programs' tools (MCP servers) offered to the agent.
    public var mcpServers: [MCPServer] = []

    /// One `[[mcp.servers]]` entry: an MCP server started as a program (`command`) or reached at
    /// a `url`. Its tools become Hearth tools named `mcp_<name>_<tool>`, each with the server's
    /// declared `risk` (default `network`, so the policy asks before each call); what they return
    /// is untrusted. A program runs confined like the shell (`confined = false` opts out).
    public struct MCPServer: Sendable, Equatable {
        public var name: String
        /// The program and its arguments (`["python3", "server.py"]`); empty with a `url`.
        public var command: [String] = []
        /// A streamable-HTTP endpoint ("http://127.0.0.1:8931/mcp").
        public var url: String?
        /// Headers sent with every request to `url`. A value may name vault secrets
        /// (`Authorization = "Bearer {{secret:tickets-token}}"`): the requests then go through the
        /// credential broker, which puts the secret in; Hearth itself never holds it.
        public var headers: [String: String] = [:]
        /// A tool risk name (read, writeWorkspace, execute, network, sendExternal, spend, destructive).
        public var risk = "network"
        public var confined = true
        /// Directories outside the workspace the confined program may read (its interpreter's packages).
        public var read: [String] = []
        /// Environment variables for the program, besides PATH, LANG and HOME.
        public var environment: [String: String] = [:]
        /// How long one call (or the start) may take before the server is stopped and the call fails.
        public var timeoutSeconds = 30

        public init(name: String) { self.name = name }
    }

    /// `[telemetry]`: what Hearth tells monitoring systems.
    public struct Telemetry: Sendable, Equatable {
        /// `/metrics` without the bearer token (for a Prometheus on this machine; the port is loopback only).
        public var metricsPublic = false
        /// An OTLP/HTTP collector ("http://127.0.0.1:4318"): each goal run is exported as traces. Unset: off.
        public var otlpEndpoint: String?

        public init() {}
    }

    /// `[fleet]`: this daemon's identity among others sharing a store.
    public var fleet = Fleet()
    /// `[store]`: a fleet's shared PostgreSQL (absent: SQLite in the data directory).
    public var store = Store()

    public struct Fleet: Sendable, Equatable {
        /// The name other agents address it by; nil: the host's name.
        public var name: String?
        public var role = "agent"
        /// `lease_seconds`: how long a goal run's lease on the shared store lasts unrenewed (it
        /// is renewed every third of it while the run works): a daemon paused or cut off for
        /// longer loses the run to another, which resumes it from its journal.
        public var leaseSeconds = 60
        public init() {}
    }

    /// `[store]`: where a fleet's shared records are.
    public struct Store: Sendable, Equatable {
        /// `postgresql://USER@HOST:PORT/DATABASE`, never with a password in it.
        public var url: String?
        /// A file (mode 0600) holding the PostgreSQL password, when the server asks for one.
        public var passwordFile: String?
        public init() {}
    }

    /// This agent's name in the fleet: `[fleet] name`, else the host's short name.
    public var fleetName: String {
        fleet.name ?? ProcessInfo.processInfo.hostName.lowercased().split(separator: ".").first.map(String.init) ?? "hearth"
    }

    /// Refuses to run a command on the data directory's SQLite store when `[store] url` names a
    /// PostgreSQL one: a user who set it must not have their records quietly kept elsewhere.
    public func requireLocalStore() throws(StoreNotSupported) {
        if let url = store.url { throw StoreNotSupported(url: url) }
    }

    /// `[publish]`: where an approved compliance report goes.
    public struct Publish: Sendable, Equatable {
        /// A git repository (the documentation portal): approved reports are committed there on a
        /// branch of their own, without touching its working tree.
        public var portal: String?
        /// The folder of the portal the reports go in.
        public var folder = "compliance"
        /// A remote of the portal to push the branch to; nil: the branch stays local.
        public var remote: String?
        /// The project channel: a Slack- or Mattermost-compatible incoming webhook URL whose secret
        /// part is a vault handle ("https://hooks.slack.com/services/{{secret:project-channel}}").
        public var channel: String?

        public init() {}
    }

    /// `[chat]`: what the chat model may do.
    public struct Chat: Sendable, Equatable {
        /// Whether the chat model may call read-only and memory tools and start goals; nil: on
        /// unless the chat model is the bundled 135M default (too small to choose tools, so its
        /// answers stream as plain text).
        public var tools: Bool?
        /// Whether the chat model rewrites each session's summary of its older turns (every six
        /// turns that age out of the verbatim window); nil: on unless the chat model is the bundled
        /// 135M default (its summaries are not worth the minute they take), which keeps the first
        /// lines of older turns instead.
        public var summaries: Bool?

        /// Whether tools are on for `chatModel`.
        public func toolsEnabled(chatModel: String) -> Bool { tools ?? (chatModel != Inference().chatModel) }
        /// Whether model-written summaries are on for `chatModel`.
        public func summariesEnabled(chatModel: String) -> Bool { summaries ?? (chatModel != Inference().chatModel) }
    }

    /// `[notify]`: where interruptions are delivered besides the inbox.
    public struct Notify: Sendable, Equatable {
        public enum Format: String, Sendable, Equatable, CaseIterable { case json, ntfy, slack }
        /// A webhook URL (http or https) that receives every interruption.
        public var webhook: String?
        public var format = Format.json
        /// A desktop notification through `notify-send` when a session bus exists.
        public var desktop = true
    }

    /// `[attention]`: how events are scored and routed, and when briefs are written.
    public struct Attention: Sendable, Equatable {
        /// Follow the journal: remember and score every event.
        public var enabled = true
        /// The user's own mail addresses (mail to them is direct).
        public var me: [String] = []
        /// Senders (names or addresses) who always matter.
        public var vips: [String] = []
        public var interruptAt = 0.75
        public var digestAt = 0.3
        public var maxInterruptsPerHour = 3
        /// "22:00-07:00", or empty for none.
        public var quietHours = ""
        /// Cron expressions for the morning brief and the end-of-day digest, in `[cron] timezone`.
        public var morning = "30 7 * * mon-fri"
        public var evening = "0 18 * * mon-fri"
        /// Sources remembered by name, sender and time only, and sources not remembered at all.
        public var metadataOnly: [String] = []
        public var ignore: [String] = []
        /// Text kept per event, and the largest file whose text is read.
        public var maxTextBytes = 16_384
        public var maxFileBytes = 8 << 20

        /// Minutes after midnight of a "HH:MM-HH:MM" range.
        public static func quietRange(_ text: String) -> (Int, Int)? {
            let parts = text.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { return nil }
            func minutes(_ part: String) -> Int? {
                let pieces = part.split(separator: ":")
                guard pieces.count == 2, let hour = Int(pieces[0]), let minute = Int(pieces[1]), (0..<24).contains(hour),
                    (0..<60).contains(minute)
                else { return nil }
                return hour * 60 + minute
            }
            guard let start = minutes(parts[0]), let end = minutes(parts[1]) else { return nil }
            return (start, end)
        }
    }

    /// `[memory]`: how the daemon indexes, reads and trims what it remembers.
    public struct Memory: Sendable, Equatable {
        /// Embed records with the embedding model and rank with vectors beside full text; false:
        /// full text (BM25) only, and no embedding calls.
        public var vectors = true
        /// Read facts, preferences and rules out of new records with the chat model, in the
        /// background. Off by default: the default local chat model (135M parameters) is too small
        /// to be trusted with the fact graph. Facts read from untrusted content wait for the user
        /// (`hearth memory pending`) either way.
        public var extractFacts = false
        /// Records shown to the model per extraction call.
        public var extractionBatch = 8
        /// Consolidation's hard cap on records: beyond it the oldest, least important are dropped
        /// (and listed in the report).
        public var maxRecords = 500_000
        /// Sessions idle this many days get a summary record.
        public var summariseAfterDays = 14
        /// Hours between consolidation passes in the daemon.
        public var consolidateEveryHours = 24
        /// Tokens of the profile (preferences and standing rules) a prompt carries, the entries
        /// most relevant to the task first; 0 leaves the profile out of prompts.
        public var profileTokens = 256
        /// Search results matched only by meaning need at least this cosine similarity
        /// (results that share words with the query always count); 0 shows everything.
        public var minSimilarity = 0.25
        /// Word pieces each embedded text is cut to (the record's own words; for its context
        /// vector, the record centred between its neighbours). MiniLM was trained on 128; a
        /// model with a longer window may read more, at a cost that grows with every piece.
        public var embedTokens = 128
        /// Which context vectors are blended from the text vectors of a record and its neighbours
        /// instead of embedded from their words (BENCHMARKS.md).
        public var blendContext = ContextBlending.long

        public init(
            vectors: Bool = true, extractFacts: Bool = false, extractionBatch: Int = 8, maxRecords: Int = 500_000,
            summariseAfterDays: Int = 14, consolidateEveryHours: Int = 24
        ) {
            self.vectors = vectors
            self.extractFacts = extractFacts
            self.extractionBatch = extractionBatch
            self.maxRecords = maxRecords
            self.summariseAfterDays = summariseAfterDays
            self.consolidateEveryHours = consolidateEveryHours
        }
    }

    /// `[vault]`: where the credential broker's key file lives.
    public struct Vault: Sendable, Equatable {
        /// `nil`: `$XDG_CONFIG_HOME/hearth/vault.key` — outside the data dir, so a copy of the
        /// data dir alone never opens the vault.
        public var keyFile: String?
    }

    public init() {}
}

/// Why a configuration file could not be used.
public enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// `--config` names a file that is not there.
    case missing(path: String)
    case syntax(path: String, line: Int, column: Int, message: String)
    case invalid(path: String, line: Int, key: String, message: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read config \(path): \(reason)"
        case .missing(let path):
            "config file \(path) does not exist; create it with 'hearth init --config \(path)' or drop --config"
        case .syntax(let path, let line, let column, let message):
            "\(path):\(line):\(column): \(message); fix the file or move it aside to use the defaults"
        case .invalid(let path, let line, let key, let message):
            "\(path):\(line): \(key): \(message)"
        }
    }
}

extension Configuration {
    /// Reads and validates a configuration file.
    ///
    /// - Parameter path: the file; a missing file is an error here (callers decide whether a
    ///   missing default file means "use the defaults").
    /// - Throws: `ConfigError` naming the file, line and key of the first problem.
    public static func load(path: String) throws(ConfigError) -> Configuration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: FileErrorText.describe(error))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: "it is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses configuration text; `path` is used only in error messages.
    public static func parse(_ text: String, path: String) throws(ConfigError) -> Configuration {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            throw .syntax(path: path, line: error.line, column: error.column, message: error.message)
        }
        var config = Configuration()
        let reader = SectionReader(path: path)
        try reader.checkSections(
            root,
            known: [
                "paths", "server", "watcher", "maildir", "cron", "executor", "log", "inference", "budgets", "pricing", "policy", "vault",
                "memory", "attention", "git", "metrics", "notify", "chat", "publish", "telemetry", "mcp", "fleet", "store",
            ])
        if let table = try reader.section("store", in: root) {
            try reader.checkKeys(table, section: "store", known: ["url", "password_file"])
            if let url = try reader.nonEmptyString(table, "store", "url") {
                let parts = URLComponents(string: url)
                guard let parts, ["postgresql", "postgres"].contains(parts.scheme ?? "") else {
                    throw ConfigError.invalid(
                        path: path, line: table["url"]!.line, key: "store.url",
                        message: "must be postgresql://USER@HOST:PORT/DATABASE (leave [store] out to keep SQLite in the data directory)")
                }
                guard parts.password == nil else {
                    throw ConfigError.invalid(
                        path: path, line: table["url"]!.line, key: "store.url",
                        message: "carries a password; keep it out of the config: password_file = \"…\" (a 0600 file)")
                }
                config.store.url = url
            }
            config.store.passwordFile = try reader.nonEmptyString(table, "store", "password_file")
        }
        if let table = try reader.section("fleet", in: root) {
            try reader.checkKeys(table, section: "fleet", known: ["name", "role", "lease_seconds"])
            if let name = try reader.nonEmptyString(table, "fleet", "name") {
                guard name.wholeMatch(of: /[a-z0-9][a-z0-9._-]{0,62}/) != nil else {
                    throw ConfigError.invalid(
                        path: path, line: table["name"]!.line, key: "fleet.name",
                        message: "\"\(name)\" must be lowercase letters, digits, '.', '_' or '-', e.g. \"laptop-ann\"")
                }
                config.fleet.name = name
            }
            config.fleet.role = try reader.nonEmptyString(table, "fleet", "role") ?? "agent"
            config.fleet.leaseSeconds = try reader.integer(table, "fleet", "lease_seconds", in: 2...3_600) ?? 60
        }
        config.mcpServers = try reader.mcpServers(in: root)
        if let table = try reader.section("chat", in: root) {
            try reader.checkKeys(table, section: "chat", known: ["tools", "summaries"])
            config.chat.tools = try reader.boolean(table, "chat", "tools")
            config.chat.summaries = try reader.boolean(table, "chat", "summaries")
        }
        if let table = try reader.section("telemetry", in: root) {
            try reader.checkKeys(table, section: "telemetry", known: ["metrics_public", "otlp_endpoint"])
            config.telemetry.metricsPublic = try reader.boolean(table, "telemetry", "metrics_public") ?? false
            config.telemetry.otlpEndpoint = try reader.httpURL(table, "telemetry", "otlp_endpoint", example: "http://127.0.0.1:4318")
        }
        if let table = try reader.section("publish", in: root) {
            try reader.checkKeys(table, section: "publish", known: ["portal", "folder", "remote", "channel"])
            config.publish.portal = try reader.nonEmptyString(table, "publish", "portal")
            if let folder = try reader.nonEmptyString(table, "publish", "folder") {
                guard !folder.hasPrefix("/"), !folder.split(separator: "/").contains(".."), !folder.hasPrefix(".git") else {
                    throw .invalid(
                        path: path, line: table["folder"]!.line, key: "publish.folder",
                        message: "\"\(folder)\" must be a folder inside the portal, e.g. \"compliance\"")
                }
                config.publish.folder = folder
            }
            config.publish.remote = try reader.nonEmptyString(table, "publish", "remote")
            config.publish.channel = try reader.httpURL(
                table, "publish", "channel", example: "https://hooks.slack.com/services/{{secret:project-channel}}", secrets: true)
        }
        if let table = try reader.section("notify", in: root) {
            try reader.checkKeys(table, section: "notify", known: ["webhook", "format", "desktop"])
            config.notify.webhook = try reader.httpURL(table, "notify", "webhook", example: "https://ntfy.sh/my-topic")
            if let format = try reader.nonEmptyString(table, "notify", "format") {
                guard let parsed = Notify.Format(rawValue: format) else {
                    throw .invalid(
                        path: path, line: table["format"]!.line, key: "notify.format",
                        message: "\"\(format)\" is not a format; use json, ntfy or slack")
                }
                config.notify.format = parsed
            }
            config.notify.desktop = try reader.boolean(table, "notify", "desktop") ?? config.notify.desktop
        }
        if let table = try reader.section("git", in: root) {
            try reader.checkKeys(table, section: "git", known: ["repositories"])
            config.gitRepositories = try reader.strings(table, "git", "repositories") ?? []
        }
        if let table = try reader.section("metrics", in: root) {
            try reader.checkKeys(table, section: "metrics", known: ["streams", "bounds"])
            let bounds = try reader.strings(table, "metrics", "bounds") ?? []
            for bound in bounds {
                let parts = bound.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, parts[1].contains(where: \.isNumber) else {
                    throw .invalid(
                        path: path, line: table["bounds"]!.line, key: "metrics.bounds",
                        message: "\"\(bound)\" is not SERIES = AMOUNT, e.g. \"Budget/cloud-costs.csv = 5000 a month\"")
                }
            }
            config.metricBounds = bounds
            let streams = try reader.strings(table, "metrics", "streams") ?? []
            for stream in streams {
                let lower = stream.lowercased()
                guard !stream.hasPrefix("/"), !stream.split(separator: "/").contains(".."),
                    lower.hasSuffix(".csv") || lower.hasSuffix(".jsonl")
                else {
                    throw .invalid(
                        path: path, line: table["streams"]!.line, key: "metrics.streams",
                        message: "\"\(stream)\": a stream is a .csv or .jsonl file inside the workspace, e.g. \"Budget/cloud-costs.csv\"")
                }
            }
            config.metricStreams = streams
        }
        if let table = try reader.section("attention", in: root) {
            let known = [
                "enabled", "me", "vips", "interrupt_at", "digest_at", "max_interrupts_per_hour", "quiet_hours", "morning", "evening",
                "metadata_only", "ignore", "max_text_bytes", "max_file_bytes",
            ]
            try reader.checkKeys(table, section: "attention", known: known)
            var attention = config.attention
            attention.enabled = try reader.boolean(table, "attention", "enabled") ?? attention.enabled
            attention.me = try reader.strings(table, "attention", "me") ?? attention.me
            attention.vips = try reader.strings(table, "attention", "vips") ?? attention.vips
            attention.interruptAt = try reader.number(table, "attention", "interrupt_at") ?? attention.interruptAt
            attention.digestAt = try reader.number(table, "attention", "digest_at") ?? attention.digestAt
            guard attention.digestAt < attention.interruptAt, attention.interruptAt <= 1 else {
                throw .invalid(
                    path: path, line: (table["interrupt_at"] ?? table["digest_at"])?.line ?? 0, key: "attention.interrupt_at",
                    message: "need 0 ≤ digest_at < interrupt_at ≤ 1 (now \(attention.digestAt) and \(attention.interruptAt))")
            }
            attention.maxInterruptsPerHour =
                try reader.integer(table, "attention", "max_interrupts_per_hour", in: 0...1_000) ?? attention.maxInterruptsPerHour
            if let quiet = try reader.nonEmptyString(table, "attention", "quiet_hours") {
                guard Attention.quietRange(quiet) != nil else {
                    throw .invalid(
                        path: path, line: table["quiet_hours"]!.line, key: "attention.quiet_hours",
                        message: "\"\(quiet)\" is not a range like \"22:00-07:00\"")
                }
                attention.quietHours = quiet
            }
            for key in ["morning", "evening"] {
                guard let expression = try reader.nonEmptyString(table, "attention", key) else { continue }
                do {
                    _ = try CronExpression(expression)
                } catch {
                    throw .invalid(path: path, line: table[key]!.line, key: "attention.\(key)", message: "\(error)")
                }
                if key == "morning" { attention.morning = expression } else { attention.evening = expression }
            }
            attention.metadataOnly = try reader.strings(table, "attention", "metadata_only") ?? attention.metadataOnly
            attention.ignore = try reader.strings(table, "attention", "ignore") ?? attention.ignore
            attention.maxTextBytes = try reader.integer(table, "attention", "max_text_bytes", in: 256...1_048_576) ?? attention.maxTextBytes
            attention.maxFileBytes = try reader.integer(table, "attention", "max_file_bytes", in: 1_024...1 << 30) ?? attention.maxFileBytes
            config.attention = attention
        }
        if let table = try reader.section("memory", in: root) {
            try reader.checkKeys(
                table, section: "memory",
                known: [
                    "vectors", "extract_facts", "extraction_batch", "max_records", "summarise_after_days", "consolidate_every_hours",
                    "profile_tokens", "min_similarity", "embed_tokens", "blend_context",
                ])
            config.memory.vectors = try reader.boolean(table, "memory", "vectors") ?? config.memory.vectors
            config.memory.extractFacts = try reader.boolean(table, "memory", "extract_facts") ?? config.memory.extractFacts
            config.memory.extractionBatch =
                try reader.integer(table, "memory", "extraction_batch", in: 1...64) ?? config.memory.extractionBatch
            config.memory.maxRecords =
                try reader.integer(table, "memory", "max_records", in: 1_000...100_000_000) ?? config.memory.maxRecords
            config.memory.summariseAfterDays =
                try reader.integer(table, "memory", "summarise_after_days", in: 1...3650) ?? config.memory.summariseAfterDays
            config.memory.consolidateEveryHours =
                try reader.integer(table, "memory", "consolidate_every_hours", in: 1...(24 * 365)) ?? config.memory.consolidateEveryHours
            config.memory.profileTokens = try reader.integer(table, "memory", "profile_tokens", in: 0...8192) ?? config.memory.profileTokens
            config.memory.embedTokens = try reader.integer(table, "memory", "embed_tokens", in: 16...8192) ?? config.memory.embedTokens
            config.memory.blendContext = try reader.blending(table, "memory", "blend_context") ?? config.memory.blendContext
            if let floor = try reader.number(table, "memory", "min_similarity") {
                guard floor <= 1 else {
                    throw .invalid(
                        path: reader.path, line: table["min_similarity"]?.line ?? 0, key: "memory.min_similarity",
                        message: "\(floor) is out of range; use 0 to 1")
                }
                config.memory.minSimilarity = floor
            }
        }
        if let table = try reader.section("vault", in: root) {
            try reader.checkKeys(table, section: "vault", known: ["key_file"])
            config.vault.keyFile = try reader.nonEmptyString(table, "vault", "key_file")
        }
        if let table = try reader.section("policy", in: root) {
            try reader.checkKeys(table, section: "policy", known: ["autonomy", "rules", "approval_hours"])
            if let text = try reader.nonEmptyString(table, "policy", "autonomy") {
                guard let level = AutonomyLevel(rawValue: text) else {
                    throw .invalid(
                        path: path, line: table["autonomy"]!.line, key: "policy.autonomy",
                        message: "unknown level \"\(text)\"; use one of \(AutonomyLevel.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                config.policy.autonomy = level
            }
            for rule in try reader.strings(table, "policy", "rules") ?? [] {
                do {
                    config.policy.rules.append(try PolicyRule.parse(rule))
                } catch {
                    throw .invalid(path: path, line: table["rules"]!.line, key: "policy.rules", message: error.description)
                }
            }
            config.policy.approvalHours =
                try reader.integer(table, "policy", "approval_hours", in: 1...(24 * 365)) ?? config.policy.approvalHours
        }

        if let table = try reader.section("paths", in: root) {
            try reader.checkKeys(table, section: "paths", known: ["data_dir", "workspace", "mounts"])
            config.paths.mounts = try reader.strings(table, "paths", "mounts") ?? []
            var names: Set<String> = []
            for entry in config.paths.mounts {
                guard let mount = WorkspaceMount.parse(entry, resolve: { $0 }) else {
                    throw .invalid(
                        path: path, line: table["mounts"]!.line, key: "paths.mounts",
                        message: "\"\(entry)\" is not PATH, PATH:ro or PATH:rw")
                }
                guard names.insert(mount.name).inserted else {
                    throw .invalid(
                        path: path, line: table["mounts"]!.line, key: "paths.mounts",
                        message: "two mounts are named @\(mount.name) (a mount is named after its last path component)")
                }
            }
            config.paths.dataDirectory = try reader.nonEmptyString(table, "paths", "data_dir")
            config.paths.workspace = try reader.nonEmptyString(table, "paths", "workspace")
        }
        if let table = try reader.section("server", in: root) {
            try reader.checkKeys(table, section: "server", known: ["port", "max_body_bytes"])
            config.server.port = try reader.integer(table, "server", "port", in: 0...65535) ?? config.server.port
            config.server.maxBodyBytes =
                try reader.integer(table, "server", "max_body_bytes", in: 1024...(1 << 30)) ?? config.server.maxBodyBytes
        }
        if let table = try reader.section("watcher", in: root) {
            try reader.checkKeys(table, section: "watcher", known: ["enabled", "settle_ms", "ignore"])
            config.watcher.enabled = try reader.boolean(table, "watcher", "enabled") ?? config.watcher.enabled
            config.watcher.settleMilliseconds =
                try reader.integer(table, "watcher", "settle_ms", in: 10...60_000) ?? config.watcher.settleMilliseconds
            config.watcher.ignore = try reader.strings(table, "watcher", "ignore") ?? config.watcher.ignore
        }
        if let table = try reader.section("maildir", in: root) {
            try reader.checkKeys(table, section: "maildir", known: ["enabled", "path", "max_body_bytes"])
            config.maildir.enabled = try reader.boolean(table, "maildir", "enabled") ?? config.maildir.enabled
            config.maildir.path = try reader.nonEmptyString(table, "maildir", "path")
            config.maildir.maxBodyBytes =
                try reader.integer(table, "maildir", "max_body_bytes", in: 1024...(64 << 20)) ?? config.maildir.maxBodyBytes
        }
        if let table = try reader.section("cron", in: root) {
            try reader.checkKeys(table, section: "cron", known: ["timezone"])
            if let zone = try reader.nonEmptyString(table, "cron", "timezone") {
                guard TimeZone(identifier: zone) != nil else {
                    throw .invalid(
                        path: path, line: table["timezone"]!.line, key: "cron.timezone",
                        message: "unknown time zone \"\(zone)\"; use an IANA name such as \"Europe/Paris\" or leave it empty")
                }
                config.cron.timeZone = zone
            }
        }
        if let table = try reader.section("executor", in: root) {
            try reader.checkKeys(table, section: "executor", known: ["concurrency", "shutdown_grace_seconds"])
            config.executor.concurrency =
                try reader.integer(table, "executor", "concurrency", in: 1...64) ?? config.executor.concurrency
            config.executor.shutdownGraceSeconds =
                try reader.integer(table, "executor", "shutdown_grace_seconds", in: 0...3600)
                ?? config.executor.shutdownGraceSeconds
        }
        if let table = try reader.section("log", in: root) {
            try reader.checkKeys(table, section: "log", known: ["level", "max_file_bytes"])
            if let level = try reader.nonEmptyString(table, "log", "level") {
                guard let parsed = Log.Level(rawValue: level.lowercased()) else {
                    throw .invalid(
                        path: path, line: table["level"]!.line, key: "log.level",
                        message: "unknown level \"\(level)\"; use one of \(Log.Level.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                config.log.level = parsed
            }
            config.log.maxFileBytes =
                try reader.integer(table, "log", "max_file_bytes", in: 64 * 1024...(1 << 34)) ?? config.log.maxFileBytes
        }
        if let table = try reader.section("inference", in: root) {
            try reader.checkKeys(
                table, section: "inference",
                known: [
                    "enabled", "provider", "base_url", "chat_model", "embedding_model", "api_key_env", "tool_calls",
                    "request_timeout_seconds", "context_tokens", "threads", "llama_server", "models_dir", "redact", "redact_terms",
                ])
            config.inference.enabled = try reader.boolean(table, "inference", "enabled") ?? config.inference.enabled
            if let provider = try reader.nonEmptyString(table, "inference", "provider") {
                guard let parsed = ModelEndpoint.Provider(rawValue: provider) else {
                    throw .invalid(
                        path: path, line: table["provider"]!.line, key: "inference.provider",
                        message:
                            "unknown provider \"\(provider)\"; use \(ModelEndpoint.Provider.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))"
                    )
                }
                config.inference.provider = parsed
            }
            if let url = try reader.nonEmptyString(table, "inference", "base_url") {
                guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                    throw .invalid(
                        path: path, line: table["base_url"]!.line, key: "inference.base_url",
                        message: "\"\(url)\" is not an http(s) URL like http://127.0.0.1:11434")
                }
                config.inference.baseURL = url
            }
            if config.inference.provider != .llamaCpp && config.inference.baseURL == nil {
                throw .invalid(
                    path: path, line: table["provider"]?.line ?? 1, key: "inference.base_url",
                    message: "provider \"\(config.inference.provider.rawValue)\" needs base_url (where the server listens)")
            }
            config.inference.chatModel = try reader.nonEmptyString(table, "inference", "chat_model") ?? config.inference.chatModel
            config.inference.embeddingModel =
                try reader.nonEmptyString(table, "inference", "embedding_model") ?? config.inference.embeddingModel
            config.inference.apiKeyEnvironment = try reader.nonEmptyString(table, "inference", "api_key_env")
            if let mode = try reader.nonEmptyString(table, "inference", "tool_calls"), mode != "auto" {
                guard ["native", "constrained"].contains(mode) else {
                    throw .invalid(
                        path: path, line: table["tool_calls"]!.line, key: "inference.tool_calls",
                        message: "unknown mode \"\(mode)\"; use \"auto\", \"native\" or \"constrained\"")
                }
                config.inference.toolCalls = mode
            }
            config.inference.requestTimeoutSeconds =
                try reader.integer(table, "inference", "request_timeout_seconds", in: 1...3600) ?? config.inference.requestTimeoutSeconds
            if let redact = try reader.nonEmptyString(table, "inference", "redact") {
                guard ["auto", "always", "never"].contains(redact) else {
                    throw .invalid(
                        path: path, line: table["redact"]!.line, key: "inference.redact",
                        message: "unknown mode \"\(redact)\"; use \"auto\" (when the model is on another host), \"always\" or \"never\"")
                }
                config.inference.redact = redact
            }
            config.inference.redactTerms = try reader.strings(table, "inference", "redact_terms") ?? []
            config.inference.contextTokens =
                try reader.integer(table, "inference", "context_tokens", in: 256...1_048_576) ?? config.inference.contextTokens
            config.inference.threads = try reader.integer(table, "inference", "threads", in: 1...256) ?? config.inference.threads
            config.inference.llamaServer = try reader.nonEmptyString(table, "inference", "llama_server")
            config.inference.modelsDirectory = try reader.nonEmptyString(table, "inference", "models_dir")
        }
        if let table = try reader.section("budgets", in: root) {
            var known: [String] = []
            for scope in ["day", "run", "goal"] {
                known += ["\(scope)_tokens", "\(scope)_calls", "\(scope)_model_seconds", "\(scope)_cost_usd"]
            }
            try reader.checkKeys(table, section: "budgets", known: known)
            func budget(_ scope: String, _ current: Budget) throws(ConfigError) -> Budget {
                // 0 means unlimited, so every limit can be switched off in the file.
                func limit(_ value: Int?, _ current: Int?) -> Int? { value.map { $0 == 0 ? nil : $0 } ?? current }
                func limit(_ value: Double?, _ current: Double?) -> Double? { value.map { $0 == 0 ? nil : $0 } ?? current }
                return Budget(
                    tokens: limit(try reader.integer(table, "budgets", "\(scope)_tokens", in: 0...Int(Int32.max)), current.tokens),
                    calls: limit(try reader.integer(table, "budgets", "\(scope)_calls", in: 0...Int(Int32.max)), current.calls),
                    modelSeconds: limit(try reader.number(table, "budgets", "\(scope)_model_seconds"), current.modelSeconds),
                    costDollars: limit(try reader.number(table, "budgets", "\(scope)_cost_usd"), current.costDollars))
            }
            config.budgets = Budgets(
                day: try budget("day", config.budgets.day), run: try budget("run", config.budgets.run),
                goal: try budget("goal", config.budgets.goal))
        }
        if let table = try reader.section("pricing", in: root) {
            var prices: [String: Pricing.Price] = [:]
            for model in table.keys {
                let entry = table[model]!
                guard case .table(let price) = entry.value else {
                    throw .invalid(
                        path: path, line: entry.line, key: "pricing.\(model)",
                        message: "expected { input = DOLLARS, output = DOLLARS } per million tokens, found \(entry.value.typeName)")
                }
                try reader.checkKeys(price, section: "pricing.\(model)", known: ["input", "output"])
                prices[model] = Pricing.Price(
                    input: try reader.number(price, "pricing.\(model)", "input") ?? 0,
                    output: try reader.number(price, "pricing.\(model)", "output") ?? 0)
            }
            config.pricing = Pricing(prices: prices)
        }
        return config
    }
}

/// Typed access to TOML sections that turns every mismatch into a `ConfigError` with a line.
private struct SectionReader {
    let path: String

    func checkSections(_ root: TOMLTable, known: [String]) throws(ConfigError) {
        for key in root.keys where !known.contains(key) {
            throw .invalid(
                path: path, line: root[key]!.line, key: key,
                message:
                    "unknown section or key\(Self.suggestion(for: key, among: known)); known sections: \(known.joined(separator: ", "))")
        }
    }

    func section(_ name: String, in root: TOMLTable) throws(ConfigError) -> TOMLTable? {
        guard let entry = root[name] else { return nil }
        guard case .table(let table) = entry.value else {
            throw .invalid(path: path, line: entry.line, key: name, message: "expected a [\(name)] table, found \(entry.value.typeName)")
        }
        return table
    }

    func checkKeys(_ table: TOMLTable, section: String, known: [String]) throws(ConfigError) {
        for key in table.keys where !known.contains(key) {
            throw .invalid(
                path: path, line: table[key]!.line, key: "\(section).\(key)",
                message: "unknown key\(Self.suggestion(for: key, among: known)); [\(section)] accepts \(known.joined(separator: ", "))")
        }
    }

    func nonEmptyString(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigError) -> String? {
        guard let entry = table[key] else { return nil }
        guard case .string(let value) = entry.value else {
            throw .invalid(
                path: path, line: entry.line, key: "\(section).\(key)", message: "expected a string, found \(entry.value.typeName)")
        }
        return value.isEmpty ? nil : value
    }

    static let riskNames = ["read", "writeWorkspace", "execute", "network", "sendExternal", "spend", "destructive"]

    /// `[[mcp.servers]]`: each with a unique name and either a command or a url.
    func mcpServers(in root: TOMLTable) throws(ConfigError) -> [Configuration.MCPServer] {
        guard let mcp = try section("mcp", in: root) else { return [] }
        try checkKeys(mcp, section: "mcp", known: ["servers"])
        guard let entry = mcp["servers"] else { return [] }
        guard case .array(let elements) = entry.value else {
            throw .invalid(
                path: path, line: entry.line, key: "mcp.servers", message: "expected [[mcp.servers]] tables, found \(entry.value.typeName)")
        }
        var servers: [Configuration.MCPServer] = []
        for element in elements {
            guard case .table(let table) = element else {
                throw .invalid(
                    path: path, line: entry.line, key: "mcp.servers", message: "expected [[mcp.servers]] tables, found \(element.typeName)")
            }
            let section = "mcp.servers"
            try checkKeys(
                table, section: section, known: ["name", "command", "url", "headers", "risk", "confined", "read", "env", "timeout_seconds"])
            guard let name = try nonEmptyString(table, section, "name") else {
                throw .invalid(
                    path: path, line: entry.line, key: "\(section).name", message: "every server needs a name, e.g. name = \"files\"")
            }
            let line = table["name"]!.line
            guard name.wholeMatch(of: /[a-z][a-z0-9_]{0,23}/) != nil else {
                throw .invalid(
                    path: path, line: line, key: "\(section).name",
                    message: "\"\(name)\" must be lowercase letters, digits and _ (starting with a letter, at most 24), e.g. \"files\"")
            }
            guard !servers.contains(where: { $0.name == name }) else {
                throw .invalid(path: path, line: line, key: "\(section).name", message: "two servers are named \"\(name)\"")
            }
            var server = Configuration.MCPServer(name: name)
            server.command = try strings(table, section, "command") ?? []
            server.url = try httpURL(table, section, "url", example: "http://127.0.0.1:8931/mcp")
            guard server.command.isEmpty != (server.url == nil), server.command.first?.isEmpty != true else {
                throw .invalid(
                    path: path, line: line, key: "\(section).\(name)",
                    message: "give either command = [\"program\", \"argument\", …] or url = \"http://…\", not both or neither")
            }
            if let risk = try nonEmptyString(table, section, "risk") {
                guard Self.riskNames.contains(risk) else {
                    throw .invalid(
                        path: path, line: table["risk"]!.line, key: "\(section).risk",
                        message:
                            "\"\(risk)\" is not a risk\(Self.suggestion(for: risk, among: Self.riskNames)); use one of \(Self.riskNames.joined(separator: ", "))"
                    )
                }
                server.risk = risk
            }
            server.confined = try boolean(table, section, "confined") ?? true
            server.read = try strings(table, section, "read") ?? []
            server.timeoutSeconds = try integer(table, section, "timeout_seconds", in: 1...3_600) ?? 30
            server.environment = try stringTable(table, section, "env")
            server.headers = try stringTable(table, section, "headers")
            if let entry = table["headers"] {
                guard server.url != nil else {
                    throw .invalid(
                        path: path, line: entry.line, key: "\(section).headers", message: "headers are sent to a url; this server has none")
                }
                for (name, value) in server.headers.sorted(by: { $0.key < $1.key }) {
                    let line: Int
                    if case .table(let values) = entry.value, let header = values[name] { line = header.line } else { line = entry.line }
                    guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) }), name.lowercased() != "host"
                    else {
                        throw .invalid(
                            path: path, line: line, key: "\(section).headers.\(name)",
                            message: "\"\(name)\" is not a header name Hearth sends (letters, digits, - and _; not Host)")
                    }
                    guard !value.contains("\n"), !value.contains("\r") else {
                        throw .invalid(path: path, line: line, key: "\(section).headers.\(name)", message: "a header value is one line")
                    }
                }
            }
            servers.append(server)
        }
        return servers
    }

    /// An http(s) URL with a host; `example` shows the user one that works. With `secrets`, vault
    /// handles (`{{secret:NAME}}`) may stand in the path or query (the broker fills them in).
    func httpURL(_ table: TOMLTable, _ section: String, _ key: String, example: String, secrets: Bool = false) throws(ConfigError)
        -> String?
    {
        guard let text = try nonEmptyString(table, section, key) else { return nil }
        let url = URL(string: secrets ? text.replacing(/\{\{secret:[^}]*\}\}/, with: "x") : text)
        guard let url, ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw .invalid(
                path: path, line: table[key]!.line, key: "\(section).\(key)",
                message: "\"\(text)\" is not an http(s) URL, e.g. \"\(example)\"")
        }
        return text
    }

    func integer(_ table: TOMLTable, _ section: String, _ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let entry = table[key] else { return nil }
        guard case .integer(let value) = entry.value else {
            throw .invalid(
                path: path, line: entry.line, key: "\(section).\(key)",
                message: "expected an integer from \(range.lowerBound) to \(range.upperBound), found \(entry.value.typeName)")
        }
        guard range.contains(Int(value)) else {
            throw .invalid(
                path: path, line: entry.line, key: "\(section).\(key)",
                message: "\(value) is out of range; use \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(value)
    }

    /// A non-negative number; integers are accepted where a float is expected.
    func number(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigError) -> Double? {
        guard let entry = table[key] else { return nil }
        let value: Double
        switch entry.value {
        case .integer(let integer): value = Double(integer)
        case .float(let float): value = float
        default:
            throw .invalid(
                path: path, line: entry.line, key: "\(section).\(key)", message: "expected a number, found \(entry.value.typeName)")
        }
        guard value >= 0, value.isFinite else {
            throw .invalid(path: path, line: entry.line, key: "\(section).\(key)", message: "\(value) must be a finite number of 0 or more")
        }
        return value
    }

    /// `true` (every context blended), `false` (none) or `"long"`.
    func blending(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigError) -> ContextBlending? {
        guard let entry = table[key] else { return nil }
        switch entry.value {
        case .boolean(let value): return value ? .all : ContextBlending.none
        case .string(let value):
            let named = ["true": "all", "false": "none"][value.lowercased()] ?? value.lowercased()
            if let blending = ContextBlending(rawValue: named) { return blending }
            throw .invalid(
                path: path, line: entry.line, key: "\(section).\(key)", message: "\"\(value)\" is not true, false, \"long\" or \"all\"")
        default:
            throw .invalid(
                path: path, line: entry.line, key: "\(section).\(key)",
                message: "expected true, false or \"long\", found \(entry.value.typeName)")
        }
    }

    func boolean(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigError) -> Bool? {
        guard let entry = table[key] else { return nil }
        guard case .boolean(let value) = entry.value else {
            throw .invalid(
                path: path, line: entry.line, key: "\(section).\(key)", message: "expected true or false, found \(entry.value.typeName)")
        }
        return value
    }

    /// A table of strings (`env = { NAME = "value" }`); empty when the key is absent.
    func stringTable(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigError) -> [String: String] {
        guard let entry = table[key] else { return [:] }
        guard case .table(let values) = entry.value else {
            throw .invalid(
                path: path, line: entry.line, key: "\(section).\(key)",
                message: "expected a table of strings, found \(entry.value.typeName)")
        }
        var result: [String: String] = [:]
        for name in values.keys {
            guard case .string(let value) = values[name]!.value else {
                throw .invalid(path: path, line: values[name]!.line, key: "\(section).\(key).\(name)", message: "expected a string")
            }
            result[name] = value
        }
        return result
    }

    func strings(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigError) -> [String]? {
        guard let entry = table[key] else { return nil }
        guard case .array(let elements) = entry.value else {
            throw .invalid(
                path: path, line: entry.line, key: "\(section).\(key)",
                message: "expected an array of strings, found \(entry.value.typeName)")
        }
        var result: [String] = []
        for element in elements {
            guard case .string(let value) = element else {
                throw .invalid(
                    path: path, line: entry.line, key: "\(section).\(key)",
                    message: "expected an array of strings, found \(element.typeName) in it")
            }
            result.append(value)
        }
        return result
    }

    /// ` (did you mean "port"?)` when a known name is within two edits.
    static func suggestion(for key: String, among known: [String]) -> String {
        let scored = known.map { ($0, editDistance(key.lowercased(), $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= 2 else { return "" }
        return " (did you mean \"\(best)\"?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}

/// `[store] url` names PostgreSQL, but the daemon and commands do not run on it yet.
public struct StoreNotSupported: Error, Sendable, Equatable, CustomStringConvertible {
    public var url: String

    public init(url: String) {
        self.url = url
    }

    public var description: String {
        "[store] url = \"\(url)\": this command works only on this machine's SQLite store; the daemon and the other "
            + "commands work on PostgreSQL. Remove [store] url to run it"
    }
}

/// `[memory] blend_context`: which context vectors are computed from text vectors (no model call)
/// rather than embedded from the words around their record.
public enum ContextBlending: String, Sendable, Hashable, CaseIterable {
    /// Every context vector is embedded from its words.
    case none
    /// Records whose own words fill three quarters of `embed_tokens`: their centred context is
    /// mostly themselves, so the blend loses nothing measurable, and long records are where the
    /// embedding time goes. Shorter ones (chat turns) are embedded.
    case long
    /// Every context vector is blended: half the embedding work, slightly weaker recall.
    case all

    /// The word pieces from which a record's context is blended (`Int.max`: never).
    public func blendFrom(embedTokens: Int) -> Int {
        switch self {
        case .none: .max
        case .long: embedTokens * 3 / 4
        case .all: 0
        }
    }
}
