import Foundation
import HearthConfig
import HearthCore
import HearthTesting
import Testing

@Suite("Configuration", .timeLimit(.minutes(10)))
struct ConfigurationTests {
    @Test("the template init writes parses back to the defaults")
    func templateRoundTrip() throws {
        let text = ConfigurationTemplate.render(dataDirectory: "/data/hearth", workspace: "/home/u/HearthWorkspace")
        var parsed = try Configuration.parse(text, path: "config.toml")
        #expect(parsed.paths.dataDirectory == "/data/hearth")
        #expect(parsed.paths.workspace == "/home/u/HearthWorkspace")
        parsed.paths = Configuration().paths
        #expect(parsed == Configuration())
    }

    @Test("values override defaults")
    func overrides() throws {
        let config = try Configuration.parse(
            """
            [server]
            port = 0
            [watcher]
            settle_ms = 50
            ignore = ["node_modules"]
            [cron]
            timezone = "Europe/Paris"
            [log]
            level = "DEBUG"
            [memory]
            vectors = false
            extract_facts = true
            extraction_batch = 4
            max_records = 20000
            summarise_after_days = 3
            consolidate_every_hours = 6
            """, path: "c.toml")
        #expect(
            config.memory
                == Configuration.Memory(
                    vectors: false, extractFacts: true, extractionBatch: 4, maxRecords: 20_000, summariseAfterDays: 3,
                    consolidateEveryHours: 6))
        #expect(config.server.port == 0)
        #expect(config.watcher.settleMilliseconds == 50)
        #expect(config.watcher.ignore == ["node_modules"])
        #expect(config.cron.timeZone == "Europe/Paris")
        #expect(config.log.level == .debug)
    }

    @Test(
        "bad values name the file, line and key",
        arguments: [
            ("[server]\nprot = 1", "c.toml:2: server.prot: unknown key (did you mean \"port\"?)"),
            ("[server]\nport = \"80\"", "c.toml:2: server.port: expected an integer from 0 to 65535, found a string"),
            ("[server]\nport = 70000", "c.toml:2: server.port: 70000 is out of range; use 0 to 65535"),
            ("[sever]\nport = 1", "c.toml:1: sever: unknown section or key (did you mean \"server\"?)"),
            ("\n\n[cron]\ntimezone = \"Mars/Olympus\"", "c.toml:4: cron.timezone: unknown time zone \"Mars/Olympus\""),
            ("[watcher]\nignore = [1]", "c.toml:2: watcher.ignore: expected an array of strings, found an integer in it"),
            ("[log]\nlevel = \"loud\"", "c.toml:2: log.level: unknown level \"loud\""),
            ("server = 1", "c.toml:1: server: expected a [server] table, found an integer"),
            ("[watcher]\nenabled = \"yes\"", "c.toml:2: watcher.enabled: expected true or false, found a string"),
            ("[server\nport = 1", "c.toml:1:8: expected ']' to close the table header"),
            ("[memory]\nextract_fact = true", "c.toml:2: memory.extract_fact: unknown key (did you mean \"extract_facts\"?)"),
            ("[memory]\nvectors = 1", "c.toml:2: memory.vectors: expected true or false, found an integer"),
            ("[memory]\nmax_records = 10", "c.toml:2: memory.max_records: 10 is out of range; use 1000 to 100000000"),
            ("[memory]\nextraction_batch = 0", "c.toml:2: memory.extraction_batch: 0 is out of range; use 1 to 64"),
            ("[store]\nurl = \"mysql://a@b/c\"", "c.toml:2: store.url: must be postgresql://USER@HOST:PORT/DATABASE"),
            ("[store]\n\nurl = \"postgresql://a:hunter2@b/c\"", "c.toml:3: store.url: carries a password; keep it out of the config"),
            ("[store]\npassword = \"x\"", "c.toml:2: store.password: unknown key"),
        ])
    func invalid(text: String, expected: String) {
        #expect {
            try Configuration.parse(text, path: "c.toml")
        } throws: { error in
            String(describing: error).hasPrefix(expected)
        }
    }

    @Test("[store] names a fleet's PostgreSQL and a password file; without it the store stays SQLite")
    func store() throws {
        #expect(try Configuration.parse("", path: "c.toml").store == Configuration.Store())
        let config = try Configuration.parse(
            "[store]\nurl = \"postgresql://hearth@db.lan:5433/fleet\"\npassword_file = \"/etc/hearth/pg\"", path: "c.toml")
        #expect(config.store.url == "postgresql://hearth@db.lan:5433/fleet" && config.store.passwordFile == "/etc/hearth/pg")
        // The daemon and commands do not run on PostgreSQL yet: they say so rather than keep records elsewhere.
        #expect(throws: StoreNotSupported(url: "postgresql://hearth@db.lan:5433/fleet")) { try config.requireLocalStore() }
        #expect("\(StoreNotSupported(url: "u"))".contains("Remove [store] url"))
    }

    @Test("[fleet] lease_seconds sets a goal run's lease (60 by default); out of range is refused with its line")
    func fleetLease() throws {
        #expect(try Configuration.parse("", path: "c.toml").fleet.leaseSeconds == 60)
        #expect(try Configuration.parse("[fleet]\nlease_seconds = 15", path: "c.toml").fleet.leaseSeconds == 15)
        for bad in ["1", "3601", "\"60\""] {
            #expect {
                try Configuration.parse("[fleet]\nname = \"a\"\nlease_seconds = \(bad)", path: "c.toml")
            } throws: { error in
                String(describing: error).hasPrefix("c.toml:3: fleet.lease_seconds")
            }
        }
    }

    @Test("an unreadable or non-UTF-8 file is a clear error")
    func unreadable() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.url.appending(path: "nope.toml").path
        #expect {
            try Configuration.load(path: missing)
        } throws: { error in
            String(describing: error) == "cannot read config \(missing): no such file"
        }
        let binary = directory.url.appending(path: "binary.toml")
        try Data([0xFF, 0xFE, 0x00, 0x01]).write(to: binary)
        #expect {
            try Configuration.load(path: binary.path)
        } throws: { error in
            String(describing: error).contains("it is not UTF-8 text")
        }
    }

    @Test("paths: flags beat the config, which beats XDG; --data-dir alone moves the config too")
    func pathPrecedence() {
        let environment = Environment(
            variables: ["HOME": "/home/u", "XDG_DATA_HOME": "/xdg/data", "XDG_CONFIG_HOME": "relative/ignored"],
            currentDirectory: "/cwd")
        let defaultConfig = HearthPaths.configFile(overrides: PathOverrides(), environment: environment)
        #expect(defaultConfig.url.path == "/home/u/.config/hearth/config.toml")
        #expect(!defaultConfig.explicit)

        let isolated = PathOverrides(dataDirectory: "agent1")
        #expect(HearthPaths.configFile(overrides: isolated, environment: environment).url.path == "/cwd/agent1/config.toml")

        var config = Configuration()
        let defaults = HearthPaths.resolve(
            overrides: PathOverrides(), configFile: defaultConfig.url, configuration: config, environment: environment)
        #expect(defaults.dataDirectory.path == "/xdg/data/hearth")
        #expect(defaults.workspace.path == "/home/u/HearthWorkspace")
        #expect(defaults.maildir.path == "/xdg/data/hearth/mail")
        #expect(defaults.database.path == "/xdg/data/hearth/hearth.sqlite")

        config.paths.dataDirectory = "~/hd"
        config.paths.workspace = "ws"
        let configured = HearthPaths.resolve(
            overrides: PathOverrides(), configFile: URL(fileURLWithPath: "/etc/h/config.toml"), configuration: config,
            environment: environment)
        #expect(configured.dataDirectory.path == "/home/u/hd")
        #expect(configured.workspace.path == "/etc/h/ws")

        let flagged = HearthPaths.resolve(
            overrides: PathOverrides(dataDirectory: "/d", workspace: "../w"), configFile: defaultConfig.url,
            configuration: config, environment: environment)
        #expect(flagged.dataDirectory.path == "/d")
        #expect(flagged.workspace.path == "/w")
    }

    @Test("llama-server and the models are installed once and shared: a new data dir without its own uses the default one's")
    func sharedInstallation() {
        let environment = Environment(variables: ["HOME": "/home/u", "XDG_DATA_HOME": "/xdg/data"], currentDirectory: "/cwd")
        let config = URL(fileURLWithPath: "/cwd/agent2/config.toml")
        let installed: Set<String> = ["/xdg/data/hearth/bin/llama-server", "/xdg/data/hearth/models/catalog.json"]
        let shared = HearthPaths.resolve(
            overrides: PathOverrides(dataDirectory: "agent2"), configFile: config, configuration: Configuration(), environment: environment,
            fileExists: { installed.contains($0) })
        #expect(shared.llamaServer.path == "/xdg/data/hearth/bin/llama-server")
        #expect(shared.modelsDirectory.path == "/xdg/data/hearth/models")
        // Its own installation wins; so does the config.
        let own = installed.union(["/cwd/agent2/bin/llama-server", "/cwd/agent2/models/catalog.json"])
        let separate = HearthPaths.resolve(
            overrides: PathOverrides(dataDirectory: "agent2"), configFile: config, configuration: Configuration(), environment: environment,
            fileExists: { own.contains($0) })
        #expect(separate.llamaServer.path == "/cwd/agent2/bin/llama-server")
        #expect(separate.modelsDirectory.path == "/cwd/agent2/models")
        var configured = Configuration()
        configured.inference.modelsDirectory = "/opt/models"
        let explicit = HearthPaths.resolve(
            overrides: PathOverrides(dataDirectory: "agent2"), configFile: config, configuration: configured, environment: environment,
            fileExists: { installed.contains($0) })
        #expect(explicit.modelsDirectory.path == "/opt/models")
        // Nothing installed anywhere: the data dir's own place, where scripts/setup --data-dir would put it.
        let none = HearthPaths.resolve(
            overrides: PathOverrides(dataDirectory: "agent2"), configFile: config, configuration: Configuration(), environment: environment,
            fileExists: { _ in false })
        #expect(none.llamaServer.path == "/cwd/agent2/bin/llama-server")
    }

    @Test("[memory] profile_tokens, min_similarity, embed_tokens and blend_context are read and checked")
    func memoryKeys() throws {
        let directory = try TemporaryDirectory()
        let file = directory.appending("config.toml")
        #expect(Configuration().memory.embedTokens == 128 && Configuration().memory.blendContext == .long)
        #expect(ContextBlending.long.blendFrom(embedTokens: 128) == 96 && ContextBlending.none.blendFrom(embedTokens: 128) == .max)
        try Data("[memory]\nprofile_tokens = 64\nmin_similarity = 0.4\nembed_tokens = 256\nblend_context = true\n".utf8).write(to: file)
        let config = try Configuration.load(path: file.path)
        #expect(config.memory.profileTokens == 64 && config.memory.minSimilarity == 0.4 && config.memory.embedTokens == 256)
        #expect(config.memory.blendContext == .all)
        for (value, expected) in [("false", ContextBlending.none), ("\"long\"", .long), ("\"all\"", .all), ("\"False\"", .none)] {
            try Data("[memory]\nblend_context = \(value)\n".utf8).write(to: file)
            #expect(try Configuration.load(path: file.path).memory.blendContext == expected)
        }
        for (value, message) in [("\"some\"", "\"some\" is not true, false, \"long\""), ("3", "expected true, false or \"long\"")] {
            try Data("[memory]\nblend_context = \(value)\n".utf8).write(to: file)
            #expect {
                try Configuration.load(path: file.path)
            } throws: { error in
                String(describing: error).contains("memory.blend_context") && String(describing: error).contains(message)
            }
        }
        try Data("[memory]\nembed_tokens = 4\n".utf8).write(to: file)
        #expect {
            try Configuration.load(path: file.path)
        } throws: { error in
            String(describing: error).contains("embed_tokens")
        }
        try Data("[memory]\nmin_similarity = 2\n".utf8).write(to: file)
        #expect(throws: ConfigError.self) { try Configuration.load(path: file.path) }
        do {
            _ = try Configuration.load(path: file.path)
        } catch {
            #expect(error.description.contains("memory.min_similarity") && error.description.contains("use 0 to 1"))
        }
    }

    @Test(
        "[chat] tools and summaries: unset follows the chat model (off for the bundled 135M default), set wins, a non-boolean is refused with its line"
    )
    func chatTools() throws {
        #expect(Configuration().chat.toolsEnabled(chatModel: Configuration().inference.chatModel) == false)
        let larger = try Configuration.parse("[inference]\nchat_model = \"qwen2.5-7b-instruct\"\n", path: "c.toml")
        #expect(larger.chat.toolsEnabled(chatModel: larger.inference.chatModel))
        let off = try Configuration.parse("[inference]\nchat_model = \"qwen2.5-7b-instruct\"\n[chat]\ntools = false\n", path: "c.toml")
        #expect(!off.chat.toolsEnabled(chatModel: off.inference.chatModel))
        let on = try Configuration.parse("[chat]\ntools = true\n", path: "c.toml")
        #expect(on.chat.toolsEnabled(chatModel: on.inference.chatModel))
        do {
            _ = try Configuration.parse("[chat]\n\ntools = \"yes\"\n", path: "c.toml")
            Issue.record("a string for tools was accepted")
        } catch {
            #expect(error.description.contains("c.toml:3") && error.description.contains("chat.tools"), "\(error)")
        }
        #expect(throws: ConfigError.self) { try Configuration.parse("[chat]\ntool = true\n", path: "c.toml") }
        // Summaries follow the chat model the same way.
        #expect(!Configuration().chat.summariesEnabled(chatModel: Configuration().inference.chatModel))
        #expect(larger.chat.summariesEnabled(chatModel: larger.inference.chatModel))
        let summaries = try Configuration.parse("[chat]\nsummaries = true\n", path: "c.toml")
        #expect(summaries.chat.summariesEnabled(chatModel: summaries.inference.chatModel))
        #expect(throws: ConfigError.self) { try Configuration.parse("[chat]\nsummaries = 6\n", path: "c.toml") }
    }

    @Test("[[mcp.servers]]: a command or a url, a risk, confinement; bad entries are refused with their line")
    func mcpServers() throws {
        let config = try Configuration.parse(
            """
            [[mcp.servers]]
            name = "notes"
            command = ["python3", "server.py"]
            read = ["~/notes-mcp"]
            risk = "read"
            env = { NOTES = "~/Notes" }
            [[mcp.servers]]
            name = "tickets"
            url = "http://127.0.0.1:8931/mcp"
            headers = { Authorization = "Bearer {{secret:tickets-token}}", X-Team = "ops" }
            timeout_seconds = 5
            """, path: "c.toml")
        #expect(config.mcpServers.map(\.name) == ["notes", "tickets"])
        #expect(config.mcpServers[0].command == ["python3", "server.py"] && config.mcpServers[0].risk == "read")
        #expect(config.mcpServers[0].confined && config.mcpServers[0].environment == ["NOTES": "~/Notes"])
        #expect(config.mcpServers[1].url == "http://127.0.0.1:8931/mcp" && config.mcpServers[1].risk == "network")
        #expect(config.mcpServers[1].timeoutSeconds == 5)
        #expect(config.mcpServers[1].headers == ["Authorization": "Bearer {{secret:tickets-token}}", "X-Team": "ops"])
        let bad: [(String, String)] = [
            (
                "[[mcp.servers]]\nname = \"a\"\ncommand = [\"x\"]\nheaders = { A = \"b\" }",
                "c.toml:4: mcp.servers.headers: headers are sent to a url; this server has none"
            ),
            (
                "[[mcp.servers]]\nname = \"a\"\nurl = \"http://h/mcp\"\nheaders = { Host = \"b\" }",
                "c.toml:4: mcp.servers.headers.Host: \"Host\" is not a header name Hearth sends"
            ),
            (
                "[[mcp.servers]]\nname = \"a\"\nurl = \"http://h/mcp\"\nheaders = { A = 3 }",
                "c.toml:4: mcp.servers.headers.A: expected a string"
            ),
            (
                "[[mcp.servers]]\nname = \"a\"\nurl = \"http://h/mcp\"\nheaders = \"Bearer x\"",
                "c.toml:4: mcp.servers.headers: expected a table of strings, found a string"
            ),
            (
                "[[mcp.servers]]\nname = \"a\"\nrisk = \"reed\"\ncommand = [\"x\"]",
                "c.toml:3: mcp.servers.risk: \"reed\" is not a risk (did you mean \"read\"?)"
            ),
            ("[[mcp.servers]]\nname = \"a\"", "c.toml:2: mcp.servers.a: give either command"),
            ("[[mcp.servers]]\nname = \"a\"\ncommand = [\"x\"]\nurl = \"http://h/mcp\"", "c.toml:2: mcp.servers.a: give either command"),
            ("[[mcp.servers]]\nname = \"a\"\nurl = \"ftp://h\"", "c.toml:3: mcp.servers.url: \"ftp://h\" is not an http(s) URL"),
            ("[[mcp.servers]]\nname = \"Files!\"\ncommand = [\"x\"]", "c.toml:2: mcp.servers.name: \"Files!\" must be lowercase"),
            ("[[mcp.servers]]\ncommand = [\"x\"]", "c.toml:1: mcp.servers.name: every server needs a name"),
            (
                "[[mcp.servers]]\nname = \"a\"\ncommand = [\"x\"]\n[[mcp.servers]]\nname = \"a\"\ncommand = [\"y\"]",
                "c.toml:5: mcp.servers.name: two servers are named \"a\""
            ),
            ("[[mcp.servers]]\nname = \"a\"\ncommand = [\"x\"]\ntimeout = 3", "c.toml:4: mcp.servers.timeout: unknown key"),
            ("[mcp]\nservers = 3", "c.toml:2: mcp.servers: expected [[mcp.servers]] tables, found an integer"),
        ]
        for (text, expected) in bad {
            #expect(throws: ConfigError.self, "\(text)") { try Configuration.parse(text, path: "c.toml") }
            do {
                _ = try Configuration.parse(text, path: "c.toml")
            } catch {
                #expect(String(describing: error).hasPrefix(expected), "\(error)")
            }
        }
    }

    @Test("mounts parse with their access, and two mounts with one name are refused")
    func mounts() throws {
        let config = try Configuration.parse("[paths]\nmounts = [\"/srv/docs\", \"/srv/shared:rw\"]\n", path: "c.toml")
        #expect(config.paths.mounts == ["/srv/docs", "/srv/shared:rw"])
        let parsed = config.paths.mounts.compactMap { WorkspaceMount.parse($0) { $0 } }
        #expect(parsed.map(\.name) == ["docs", "shared"] && parsed.map(\.writable) == [false, true])
        #expect(throws: ConfigError.self) { try Configuration.parse("[paths]\nmounts = [\"/a/docs\", \"/b/docs\"]\n", path: "c.toml") }
    }
}
