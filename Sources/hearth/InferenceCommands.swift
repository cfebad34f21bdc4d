import ArgumentParser
import Crypto
import Foundation
import HearthConfig
import HearthCore
import HearthDaemon
import HearthModels
import HearthServer
import HearthStore
import Logging

struct AskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Ask the configured model one question.",
        discussion: """
            Uses the daemon's llama-server when the daemon runs, else starts one for this question (a few seconds), \
            or the server named by [inference] base_url. The call is accounted like any other: budgets apply and \
            'hearth usage' shows it. The question is never cut: if it does not fit the context window, the command \
            says so.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "The question (or @file, or - for stdin).")
    var question: String

    @Option(help: "A system prompt.")
    var system: String?

    @Option(help: "The most tokens to generate.")
    var maxTokens = 512

    @Option(help: "Sampling temperature (0 is deterministic).")
    var temperature = 0.2

    @Flag(help: "Print {answer, model, finishReason, usage, endpoint} as JSON instead of streaming text.")
    var json = false

    func validate() throws {
        guard (1...32_768).contains(maxTokens) else { throw ValidationError("--max-tokens must be between 1 and 32768") }
        guard (0...2).contains(temperature) else { throw ValidationError("--temperature must be between 0 and 2") }
    }

    func run() async throws {
        let context = try common.load()
        let text = try Self.readQuestion(question)
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw CLIError.usage("the question is empty") }
        var messages: [ChatMessage] = []
        if let system { messages.append(.system(system)) }
        messages.append(.user(text))
        let fit = try ContextFitter.fit(messages, contextTokens: context.configuration.inference.contextTokens, reserveForAnswer: maxTokens)

        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        let access = try await InferenceAccess.open(
            paths: context.paths, configuration: context.configuration, logger: Logger(label: "hearth"))
        let client = access.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds)
        let model = AccountedModel(
            client, embedder: client, ledger: stores.usage, budgets: context.configuration.budgets,
            pricing: context.configuration.pricing, context: UsageContext(purpose: "ask"))
        let request = ChatRequest(messages: fit.messages, temperature: temperature, maxTokens: maxTokens)
        do {
            // Streamed in both modes, so an answer that falls into a loop is stopped there (and
            // costs no more tokens) instead of running to --max-tokens.
            var final: ChatResponse?
            for try await chunk in model.stream(request) {
                switch chunk {
                case .text(let piece): if !json { FileHandle.standardOutput.write(Data(piece.utf8)) }
                case .done(let done): final = done
                }
            }
            guard let response = final else { throw ModelError.truncatedStream(url: access.endpoint.baseURL, receivedCharacters: 0) }
            await access.close()
            let looped = response.finishReason == AccountedModel.repetitionStop || Repetition.isDegenerate(response.content)
            let advice = looped ? Self.loopAdvice(model: response.model.isEmpty ? access.endpoint.chatModel : response.model) : nil
            if json {
                let kept = looped ? Repetition.trimmed(response.content).text : response.content
                printJSON([
                    "answer": .string(kept), "model": .string(response.model),
                    "finishReason": response.finishReason.map(JSONValue.string) ?? .null,
                    "repetitive": .bool(looped), "note": advice.map(JSONValue.string) ?? .null,
                    "usage": try Self.encode(response.usage),
                    "redacted": .object(response.redactions.mapValues { .number(Double($0)) }),
                    "endpoint": [
                        "provider": .string(access.endpoint.provider.rawValue), "baseURL": .string(access.endpoint.baseURL),
                        "origin": .string(access.origin),
                    ],
                ])
            } else {
                if looped { print("\n[stopped: the answer kept repeating itself]") } else { print("") }
                FileHandle.standardError.write(Data((Self.describe(response) + "\n").utf8))
                if let advice { FileHandle.standardError.write(Data((advice + "\n").utf8)) }
            }
        } catch {
            await access.close()
            throw error
        }
    }

    /// What to tell a user whose answer looped: plainly, with the fix.
    static func loopAdvice(model: String) -> String {
        let size = ModelScale(name: model).map { " (\($0))" } ?? ""
        return
            "\(model)\(size) got stuck repeating itself. Small local models handle short, simple prompts; for real answers point [inference] at a bigger model ('hearth doctor' lists model servers running on this machine)."
    }

    static func readQuestion(_ argument: String) throws -> String {
        if argument == "-" { return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
        if argument.hasPrefix("@") {
            guard let data = FileManager.default.contents(atPath: String(argument.dropFirst())) else {
                throw CLIError.usage("cannot read \(argument.dropFirst()); check the path")
            }
            return String(decoding: data, as: UTF8.self)
        }
        return argument
    }

    static func describe(_ response: ChatResponse) -> String {
        let usage = response.usage
        var parts = ["\(usage.promptTokens) prompt tokens (\(usage.cachedPromptTokens) cached)", "\(usage.completionTokens) generated"]
        if let decode = usage.decodeTokensPerSecond { parts.append(String(format: "%.0f tok/s", decode)) }
        parts.append(String(format: "%.2f s", usage.latencySeconds))
        if response.finishReason == "length" { parts.append("stopped at --max-tokens") }
        if response.finishReason == AccountedModel.repetitionStop { parts.append("stopped early: repeating itself; tokens estimated") }
        return "(\(response.model): \(parts.joined(separator: ", ")))"
    }

    static func encode(_ usage: ModelUsage) throws -> JSONValue {
        try JSONValue(parsing: JSONEncoder().encode(usage))
    }
}

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the installed models, their sizes, and the model server's status.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Also check each model file against its pinned sha256.")
    var verify = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        let inference = context.configuration.inference
        var document: [String: JSONValue] = [
            "provider": .string(inference.provider.rawValue), "chatModel": .string(inference.chatModel),
            "embeddingModel": .string(inference.embeddingModel), "enabled": .bool(inference.enabled),
        ]
        if let url = inference.baseURL { document["baseURL"] = .string(url) }
        var problems: [String] = []
        do {
            let installation = try ModelInstallation.load(binary: context.paths.llamaServer, modelsDirectory: context.paths.modelsDirectory)
            document["llamaServer"] = .string(installation.binary.path)
            document["models"] = .array(
                try installation.models.map { model in
                    var entry: [String: JSONValue] = [
                        "name": .string(model.name), "kind": .string(model.kind.rawValue),
                        "file": .string(installation.path(of: model).path),
                        "bytes": .number(Double(installation.size(of: model))), "source": .string(model.source),
                    ]
                    if verify {
                        let matches = try Self.sha256(of: installation.path(of: model)) == model.sha256
                        entry["sha256Verified"] = .bool(matches)
                        if !matches { problems.append("\(model.name) does not match its sha256; run scripts/setup to reinstall it") }
                    }
                    return .object(entry)
                })
        } catch {
            document["installed"] = false
            document["problem"] = .string(String(describing: error))
        }
        document["server"] = await Self.serverStatus(context)
        if json {
            printJSON(.object(document))
        } else {
            print(Self.render(.object(document)))
        }
        if !problems.isEmpty { throw CLIError(problems.joined(separator: "; ")) }
    }

    /// What the daemon says about its model server, if a daemon runs.
    static func serverStatus(_ context: HearthContext) async -> JSONValue {
        guard let running = DaemonState.running(context.paths), let state = running.state,
            let token = try? DataDirectory.readToken(context.paths),
            let reply = try? await DaemonClient(port: state.port, token: token, timeout: .seconds(3)).get("/v1/status")
        else { return ["phase": "no daemon running"] }
        return reply.body["live"]?["inference"] ?? ["phase": "unknown"]
    }

    /// The file's SHA-256, read in 1 MiB pieces (model files are hundreds of megabytes).
    static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = Crypto.SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func render(_ document: JSONValue) -> String {
        var lines = [
            "provider   \(document["provider"]?.stringValue ?? "?")\(document["baseURL"].map { " at \($0.stringValue ?? "")" } ?? "")"
        ]
        lines.append(
            "chat       \(document["chatModel"]?.stringValue ?? "?"), embeddings \(document["embeddingModel"]?.stringValue ?? "?")")
        if let problem = document["problem"]?.stringValue { lines.append("installed  no: \(problem)") }
        if let binary = document["llamaServer"]?.stringValue { lines.append("server     \(binary)") }
        for model in document["models"]?.arrayValue ?? [] {
            let megabytes = String(format: "%.1f MB", (model["bytes"]?.doubleValue ?? 0) / 1e6)
            var line =
                "  \(model["name"]?.stringValue ?? "?")  \(model["kind"]?.stringValue ?? "?")  \(megabytes)  \(model["file"]?.stringValue ?? "")"
            if let verified = model["sha256Verified"]?.boolValue { line += verified ? "  sha256 ok" : "  sha256 MISMATCH" }
            lines.append(line)
        }
        let server = document["server"] ?? [:]
        var status = "status     \(server["phase"]?.stringValue ?? "?")"
        if let url = server["baseURL"]?.stringValue { status += " at \(url)" }
        if let pid = server["pid"]?.intValue { status += " (pid \(pid))" }
        if let restarts = server["restarts"]?.intValue, restarts > 0 { status += ", \(restarts) restart(s)" }
        if let error = server["lastError"]?.stringValue { status += "; last error: \(error)" }
        lines.append(status)
        return lines.joined(separator: "\n")
    }
}

struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage", abstract: "Model usage: tokens, calls, time and cost, by day, model and purpose.")

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Only calls since: today, 7d, 24h, 2026-11-01 or an RFC 3339 time.", valueName: "when"))
    var since: String?

    @Option(help: "Also list the last N calls.")
    var recent = 0

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        let filter = UsageFilter(since: try since.map { try Self.parseSince($0) })
        guard let stores = try await context.openStores(creating: false) else {
            print(json ? #"{"rows":[],"totals":{}}"# : "no usage recorded (Hearth is not set up here; run 'hearth init')")
            return
        }
        defer { stores.close() }
        let store = stores.usage
        let rows = try await store.breakdown(filter)
        let totals = try await store.totals(filter)
        let recentCalls = recent > 0 ? try await store.recent(limit: recent) : []
        let budgets = context.configuration.budgets
        let today = try await store.totals(UsageFilter(since: Calendar.current.startOfDay(for: Date())))
        if json {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .custom { date, encoder in
                var container = encoder.singleValueContainer()
                try container.encode(Timestamp.format(date))
            }
            printJSON([
                "rows": .array(
                    try rows.map { row in
                        var object = try JSONValue(parsing: encoder.encode(row.totals)).objectValue ?? [:]
                        object["day"] = .string(row.day)
                        object["model"] = .string(row.model)
                        object["purpose"] = .string(row.purpose)
                        return .object(object)
                    }),
                "totals": try JSONValue(parsing: encoder.encode(totals)),
                "today": try JSONValue(parsing: encoder.encode(today)),
                "budgets": try JSONValue(parsing: encoder.encode(budgets)),
                "recent": try JSONValue(parsing: encoder.encode(recentCalls)),
            ])
            return
        }
        if rows.isEmpty { print("no model calls recorded\(since.map { " since \($0)" } ?? "")") }
        for row in rows {
            let t = row.totals
            print(
                "\(row.day)  \(row.model)  \(row.purpose)  \(t.calls) calls  \(t.promptTokens) prompt (\(t.cachedPromptTokens) cached) + \(t.completionTokens) generated tokens  \(String(format: "%.1f", t.modelSeconds)) s\(t.costMicrodollars > 0 ? String(format: "  $%.4f", Double(t.costMicrodollars) / 1e6) : "")"
            )
        }
        if let tokens = budgets.day.tokens {
            print(
                "today: \(today.tokens) of \(tokens) tokens, \(today.calls) of \(budgets.day.calls.map(String.init) ?? "unlimited") calls")
        }
        for call in recentCalls {
            print(
                "  \(Timestamp.format(call.at))  \(call.model)  \(call.context.purpose)  \(call.usage.promptTokens)+\(call.usage.completionTokens) tokens  \(String(format: "%.2f s", call.usage.latencySeconds))\(call.succeeded ? "" : "  failed: \(call.error ?? "")")"
            )
        }
    }

    static func parseSince(_ text: String, option: String = "--since") throws -> Date {
        let now = Date()
        if text == "today" { return Calendar.current.startOfDay(for: now) }
        if let unit = text.last, let amount = Double(text.dropLast()), amount >= 0 {
            switch unit {
            case "d": return now.addingTimeInterval(-amount * 86_400)
            case "h": return now.addingTimeInterval(-amount * 3600)
            default: break
            }
        }
        if let date = Timestamp.parse(text) { return date }
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.dateFormat = "yyyy-MM-dd"
        if let date = day.date(from: text) { return date }
        throw CLIError.usage("\(option): \"\(text)\" is not today, 7d, 24h, a date like 2026-11-01 or an RFC 3339 time")
    }
}
