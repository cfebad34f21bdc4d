import AsyncHTTPClient
import Foundation
import Glibc
import HearthCore
import HearthMemory
import HearthStore
import HearthTesting
import Logging
import NIOCore
import NIOHTTP1
import Testing

@testable import HearthModels

/// The installation `scripts/setup` made: `$HEARTH_DATA_DIR`, else the XDG data dir.
enum LocalInstallation {
    static var dataDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["HEARTH_DATA_DIR"], !directory.isEmpty { return URL(fileURLWithPath: directory) }
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? (NSHomeDirectory() + "/.local/share")
        return URL(fileURLWithPath: dataHome).appending(path: "hearth")
    }

    static var installation: ModelInstallation? {
        try? ModelInstallation.load(
            binary: dataDirectory.appending(path: "bin/llama-server"), modelsDirectory: dataDirectory.appending(path: "models"))
    }

    /// Present, or required (CI sets HEARTH_REQUIRE_MODELS=1 so a missing install fails rather than skips).
    static var shouldRun: Bool {
        installation != nil || ProcessInfo.processInfo.environment["HEARTH_REQUIRE_MODELS"] == "1"
    }

    /// The repository's sibling `shared/` directory (benchmark data and fixtures).
    static var shared: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "shared")
    }
}

/// Runs `body` against a real llama-server started by the real supervisor, then stops it.
@discardableResult
func withLocalServer<T: Sendable>(
    contextTokens: Int = 4096, _ body: @Sendable (OpenAICompatibleClient, InferenceStatus, TemporaryDirectory) async throws -> T
) async throws -> T {
    let installation = try #require(LocalInstallation.installation, "run scripts/setup to install llama-server and the models")
    let runtime = try TemporaryDirectory(prefix: "llama-runtime")
    let status = InferenceStatus()
    let supervisor = LlamaServerSupervisor(
        options: .init(
            installation: installation, chatModel: "smollm2-135m", embeddingModel: "minilm-l6", runtimeDirectory: runtime.url,
            logFile: runtime.appending("llama-server.log"), threads: 1, contextTokens: contextTokens),
        status: status, logger: Logger(label: "test"))
    let task = Task { try await supervisor.run() }
    defer { task.cancel() }
    try await withTimeout(120, "llama-server to be ready") { await status.waitUntilReady() }
    let connection = try #require(status.connection)
    let client = OpenAICompatibleClient(
        endpoint: ModelEndpoint(provider: .llamaCpp, baseURL: connection.baseURL, chatModel: "smollm2-135m", embeddingModel: "minilm-l6"),
        apiKey: connection.apiKey,
        hints: InferenceClients.hints(for: .init(provider: .llamaCpp, baseURL: connection.baseURL, chatModel: "", embeddingModel: "")))
    let result = try await body(client, status, runtime)
    task.cancel()
    _ = await task.result
    return result
}

@Suite(
    "Local models: real llama-server, SmolLM2 and MiniLM", .enabled(if: LocalInstallation.shouldRun), .timeLimit(.minutes(5)), .serialized)
struct LocalModelIntegrationTests {
    @Test("chat, streamed and not, with token counts and llama.cpp timings")
    func chat() async throws {
        try await withLocalServer { client, _, _ in
            let request = ChatRequest(
                messages: [.user("What is the capital of France? Answer in one word.")], temperature: 0, maxTokens: 16)
            let response = try await client.complete(request)
            #expect(!response.content.isEmpty)
            #expect(response.usage.promptTokens > 5)
            #expect(response.usage.completionTokens > 0)
            #expect((response.usage.decodeTokensPerSecond ?? 0) > 1)
            #expect((response.usage.prefillTokensPerSecond ?? 0) > 1)
            var streamed = ""
            var final: ChatResponse?
            for try await chunk in client.stream(request) {
                switch chunk {
                case .text(let piece): streamed += piece
                case .done(let done): final = done
                }
            }
            #expect(streamed == response.content)  // temperature 0: the same answer
            #expect(final?.usage.completionTokens == response.usage.completionTokens)
        }
    }

    @Test("MiniLM embeddings reproduce the reference PyTorch vectors (cosine ≥ 0.995 for Q8_0)")
    func embeddings() async throws {
        let fixture = try JSONValue(
            parsing: try Data(contentsOf: LocalInstallation.shared.appending(path: "bench/fixtures/minilm_reference_embeddings.json")))
        let texts = (fixture["texts"]?.arrayValue ?? []).compactMap { $0.stringValue }
        let reference = (fixture["embs"]?.arrayValue ?? []).map { row in (row.arrayValue ?? []).compactMap { $0.doubleValue } }
        #expect(texts.count == 6 && reference.count == 6)
        try await withLocalServer { client, _, _ in
            let result = try await client.embed(texts)
            #expect(result.vectors.count == texts.count)
            for (vector, expected) in zip(result.vectors, reference) {
                #expect(vector.count == 384)
                let dot = zip(vector, expected).reduce(0.0) { $0 + Double($1.0) * $1.1 }
                let norms =
                    (vector.reduce(0.0) { $0 + Double($1 * $1) }).squareRoot() * (expected.reduce(0.0) { $0 + $1 * $1 }).squareRoot()
                #expect(dot / norms >= 0.995)
            }
        }
    }

    @Test("a text over MiniLM's token window does not cost its batch: it is embedded shortened, the others whole")
    func embeddingBatchSurvivesALongText() async throws {
        try await withLocalServer { client, _, runtime in
            let database = try HearthDatabase.open(at: runtime.appending("memory.sqlite"))
            // The word-piece cut keeps texts far inside the window; with a budget past it (as a
            // misjudged estimate would be), the model's refusal must still not cost the batch.
            var settings = RetrievalSettings()
            settings.embedding = EmbeddingText(tokens: 4_000)
            let engine = MemoryEngine(store: MemorySQLStore(database: database), embedder: client, settings: settings)
            try await engine.open()
            // HTML packs far more tokens into its characters than prose: 1,500 characters, well over 512 tokens.
            let html = String(repeating: "<td class=\"x-9\">&nbsp;42</td>", count: 60)
            await #expect(throws: (any Error).self) { _ = try await client.embed([String(html.prefix(1_500))]) }
            var records = (0..<9).map {
                MemoryRecord(
                    kind: .note, text: "note \($0): the tomatoes need water on Tuesday", source: "test", provenance: .trusted,
                    occurredAt: Date())
            }
            records.insert(MemoryRecord(kind: .note, text: html, source: "test", provenance: .trusted, occurredAt: Date()), at: 4)
            _ = try await engine.remember(records)
            let embedded = try await engine.indexPending()
            #expect(embedded == 10)
            #expect(try await MemorySQLStore(database: database).counts(model: "minilm-l6").pendingVectors == 0)
            #expect(await engine.shortenedForEmbedding == 1)
            #expect(await engine.embeddingState.usesVectors)
        }
    }

    @Test("texts cut by the word-piece estimate stay within twice the budget by MiniLM's own tokenizer, and are not cut far short")
    func wordPieceCut() async throws {
        let prose = try String(contentsOf: LocalInstallation.shared.appending(path: "bench/README.md"), encoding: .utf8)
        let samples = [
            "English prose with markdown": prose,
            "Dutch": String(
                repeating: "De gemeenteraad heeft gisteravond besloten dat de nieuwe fietsenstalling bij het station "
                    + "pas in het voorjaar van volgend jaar wordt geopend, tot ongenoegen van veel forenzen. ", count: 8),
            "HTML": String(repeating: "<td class=\"x-9\">&nbsp;42</td><td>Total: €1.234,56</td>", count: 40),
            "a markdown table": String(repeating: "| 2026-03-14 | invoice #88213 | 1,250.00 EUR | paid |\n", count: 30),
            "code": String(
                repeating: "func retry(_ attempts: Int) async throws -> [String: Any] { try await client.fetch(id) }\n", count: 12),
            "mixed scripts": String(repeating: "東京で会議 🚀 meeting in Tokyo, naïve café résumé ", count: 20),
        ]
        try await withLocalServer { _, status, _ in
            let connection = try #require(status.connection)
            let policy = EmbeddingText(tokens: 128)
            for (name, text) in samples.sorted(by: { $0.key < $1.key }) {
                var request = HTTPClientRequest(url: connection.baseURL + "/tokenize")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(connection.apiKey)")
                request.body = .bytes(
                    ByteBuffer(
                        string: (["model": "minilm-l6", "content": .string(policy.text(text)), "add_special": true] as JSONValue).jsonText))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                let body = try JSONValue(parsing: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
                let count = try #require(body["tokens"]?.arrayValue?.count, "\(name): \(body)")
                #expect(count <= 256, "\(name): \(count) word pieces")
                #expect(count >= 64, "\(name): \(count) word pieces")
            }
        }
    }

    @Test("constrained tool calls from SmolLM2 are valid every time")
    func constrainedToolCalls() async throws {
        let tools = [
            ToolSpec(
                name: "read_file", description: "Read a text file in the workspace.",
                parameters: [
                    "type": "object", "properties": ["path": ["type": "string"]], "required": ["path"], "additionalProperties": false,
                ]),
            ToolSpec(
                name: "list_files", description: "List the files in a workspace directory.",
                parameters: [
                    "type": "object", "properties": ["directory": ["type": "string"]], "required": ["directory"],
                    "additionalProperties": false,
                ]),
            ToolSpec(
                name: "flag_receipt", description: "Flag a receipt that breaks the expense policy.",
                parameters: [
                    "type": "object",
                    "properties": [
                        "file": ["type": "string"], "amount": ["type": "number", "minimum": 0],
                        "reason": ["enum": ["over_limit", "missing_date", "duplicate"]],
                    ],
                    "required": ["file", "amount", "reason"], "additionalProperties": false,
                ]),
        ]
        let prompts = [
            "List the receipts in the Receipts folder.", "Read Policy.md.",
            "Receipt 042.txt is for 180 dollars, over the 100 limit. Flag it.",
            "What files are in Archive/2025?", "Open notes/todo.txt and tell me what it says.", "Flag 007.txt: it has no date, amount 35.",
            "Show me the workspace root.", "Read Receipts/001.txt",
            "The receipt 113.txt appears twice. Flag it as a duplicate of 112, amount 12.40.",
            "Are we done? Summarise: all receipts checked.", "Look inside the Invoices directory.",
            "Read the file called README.md please.",
            "Flag receipt 250.txt for 1,200.00 over limit.", "List files.", "What does Policy.md say about meals?",
            "Check the receipt 999.txt (amount 45).", "Everything is fine, give the final answer.", "Read 'Receipts/014.txt'.",
            "List the contents of Receipts/Q2", "Flag 333.txt over_limit 450",
        ]
        try await withLocalServer { client, _, _ in
            let caller = ToolCaller(model: client, mode: .constrained)
            var repairs = 0
            for prompt in prompts {
                let choice = try await caller.choose(
                    messages: [.system("You are Hearth, auditing expense receipts."), .user(prompt)], tools: tools, maxTokens: 256)
                repairs += choice.responses.count - 1
                switch choice.action {
                case .call(let call):
                    #expect(ToolCaller.problems(with: call, tools: tools).isEmpty, "\(prompt) → \(call)")
                case .answer(let text):
                    #expect(text.count <= SchemaBounds.defaultStringLength)
                }
            }
            // The constraint should make repairs unnecessary; record how many there were.
            #expect(repairs == 0, "repair rounds: \(repairs)")
        }
    }

    @Test("a GBNF grammar constrains SmolLM2's answer")
    func grammar() async throws {
        try await withLocalServer { client, _, _ in
            for question in ["Is the sky green?", "Is 2 bigger than 1?", "Should receipts have dates?"] {
                let response = try await client.complete(
                    ChatRequest(
                        messages: [.user(question)], temperature: 0.8, maxTokens: 4, responseFormat: .grammar(#"root ::= "yes" | "no""#)))
                #expect(["yes", "no"].contains(response.content), "\(question) → \(response.content)")
            }
        }
    }

    @Test("structured output decodes into a Swift type")
    func structured() async throws {
        struct Extracted: Decodable, Sendable {
            var vendor: String
            var total: Double
        }
        let schema: JSONValue = [
            "type": "object", "properties": ["vendor": ["type": "string"], "total": ["type": "number"]], "required": ["vendor", "total"],
            "additionalProperties": false,
        ]
        try await withLocalServer { client, _, _ in
            let result = try await StructuredOutput(model: client).generate(
                Extracted.self, messages: [.user("Receipt: BOOK TA .K (TAMAN DAYA) SDN BHD, total 9.00. Extract vendor and total.")],
                schema: schema)
            // The values the receipt holds, not merely well-typed ones: the 135M model gives part of
            // the vendor's name (deterministically "TAMAN DAYA"), never text the receipt lacks.
            let vendor = result.value.vendor.trimmingCharacters(in: .whitespaces).uppercased()
            #expect(vendor.count >= 4 && "BOOK TA .K (TAMAN DAYA) SDN BHD".contains(vendor), "vendor: \(result.value.vendor)")
            #expect(result.value.total == 9.0, "total: \(result.value.total)")
        }
    }

    @Test("a stable prompt prefix is served from the prompt cache on the next call")
    func promptCache() async throws {
        try await withLocalServer { client, _, _ in
            let system = ChatMessage.system(
                String(repeating: "You are Hearth, a careful local agent. Follow the workspace policy. ", count: 8))
            _ = try await client.complete(ChatRequest(messages: [system, .user("First question?")], temperature: 0, maxTokens: 8))
            let second = try await client.complete(
                ChatRequest(messages: [system, .user("Second question?")], temperature: 0, maxTokens: 8))
            #expect(second.usage.cachedPromptTokens > second.usage.promptTokens / 2, "\(second.usage)")
        }
    }

    @Test("the supervisor restarts a llama-server killed with SIGKILL, and serves again")
    func restart() async throws {
        try await withLocalServer { _, status, _ in
            let pid = try #require(status.snapshot["pid"]?.intValue)
            kill(Int32(pid), SIGKILL)
            try await withTimeout(60, "the restart") {
                while status.snapshot["restarts"] != 1 || status.phase != .ready {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let connection = try #require(status.connection)
            let client = OpenAICompatibleClient(
                endpoint: ModelEndpoint(
                    provider: .llamaCpp, baseURL: connection.baseURL, chatModel: "smollm2-135m", embeddingModel: "minilm-l6"),
                apiKey: connection.apiKey, hints: testHints)
            let response = try await client.complete(ChatRequest(messages: [.user("Say hi.")], maxTokens: 4))
            #expect(response.usage.completionTokens > 0)
            #expect(status.snapshot["lastError"]?.stringValue?.contains("exited with status 137") == true)
        }
    }

    @Test("a prompt beyond the context window is a contextOverflow error")
    func contextOverflow() async throws {
        try await withLocalServer(contextTokens: 512) { client, _, _ in
            await #expect {
                try await client.complete(ChatRequest(messages: [.user(String(repeating: "receipt total ", count: 600))], maxTokens: 8))
            } throws: { error in
                if case ModelError.contextOverflow = error { return true }
                return false
            }
        }
    }

    @Test("the server is stopped when its supervisor stops; without the key it refuses requests")
    func stopAndKey() async throws {
        let (url, pid): (String, Int) = try await withLocalServer { client, status, _ in
            let unauthorized = OpenAICompatibleClient(endpoint: client.endpoint, apiKey: "wrong", hints: testHints)
            await #expect(throws: ModelError.self) { try await unauthorized.complete(ChatRequest(messages: [.user("hi")], maxTokens: 2)) }
            return (client.endpoint.baseURL, status.snapshot["pid"]?.intValue ?? 0)
        }
        #expect(pid > 0)
        #expect(kill(Int32(pid), 0) != 0)  // gone
        let after = OpenAICompatibleClient(
            endpoint: ModelEndpoint(provider: .llamaCpp, baseURL: url, chatModel: "smollm2-135m", embeddingModel: "minilm-l6"),
            timeouts: ModelTimeouts(attempts: 1), hints: testHints)
        await #expect(throws: ModelError.self) { try await after.complete(ChatRequest(messages: [.user("hi")])) }
    }
}
