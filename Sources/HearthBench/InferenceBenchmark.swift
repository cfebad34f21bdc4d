import AsyncHTTPClient
import Foundation
import HearthCore
import HearthModels
import HearthStore
import Logging
import NIOCore
import NIOHTTP1

/// `hearth bench inference`: Hearth's inference path against the same llama-server called
/// directly, in the same run.
///
/// - decode: end-to-end generated tokens per second through `AccountedModel` +
///   `OpenAICompatibleClient` (usage recorded in SQLite) versus a bare HTTP POST of the same
///   body; calls alternate so drift hits both equally; overhead = 1 − hearth/direct.
/// - cache: a scripted 10-step agent conversation whose stable parts come first, versus the
///   same conversation with a changing first line; the share of prompt tokens served from the
///   server's cache.
/// - embeddings: sentences per second through Hearth's batched embedder versus direct POSTs of
///   the same batches.
public struct InferenceBenchmark: Sendable {
    public struct Options: Sendable {
        public var installation: ModelInstallation
        public var directory: URL
        public var decodePairs = 8
        public var decodeTokens = 128
        public var embedSentences = 512
        public var threads = 1

        public init(installation: ModelInstallation, directory: URL) {
            self.installation = installation
            self.directory = directory
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> JSONValue {
        let server = try await BenchModelServer.start(
            installation: options.installation, directory: options.directory, threads: options.threads, progress: progress)
        defer { server.cancel() }
        let client = server.client
        let connection = server.connection
        let database = try HearthDatabase.open(at: options.directory.appending(path: "usage.sqlite"))
        let hearth = AccountedModel(
            client, embedder: client, ledger: UsageStore(database: database), budgets: Budgets(), pricing: Pricing(),
            context: UsageContext(purpose: "bench"))
        let direct = DirectCall(baseURL: connection.baseURL, apiKey: connection.apiKey)

        progress("decode: \(options.decodePairs) pairs of \(options.decodeTokens)-token generations")
        let decode = try await decodeFigures(hearth: hearth, direct: direct)
        progress("prompt cache: a 10-step agent conversation, stable prefix and changing prefix")
        let cache = try await cacheFigures(hearth: hearth)
        progress("embeddings: \(options.embedSentences) sentences")
        let embeddings = try await embeddingFigures(hearth: hearth, direct: direct)
        await server.stop()
        return [
            "benchmark": "inference", "build": .string(SpineBenchmark.buildKind), "threads": .number(Double(options.threads)),
            "model": "smollm2-135m (Q4_1)", "embeddingModel": "minilm-l6 (Q8_0)",
            "decode": decode, "promptCache": cache, "embeddings": embeddings,
        ]
    }

    // MARK: Decode

    private func decodeFigures(hearth: AccountedModel, direct: DirectCall) async throws -> JSONValue {
        let prompt = "Write a short paragraph about keeping expense receipts organised."
        let request = ChatRequest(messages: [.user(prompt)], temperature: 0, maxTokens: options.decodeTokens)
        let body: JSONValue = [
            "model": "smollm2-135m", "messages": [["role": "user", "content": .string(prompt)]], "temperature": 0,
            "max_tokens": .number(Double(options.decodeTokens)), "stream": false, "cache_prompt": true,
        ]
        // Warm up both paths (model pages, the HTTP connection pools).
        _ = try await hearth.complete(request)
        _ = try await direct.chat(body)
        var hearthRates: [Double] = []
        var directRates: [Double] = []
        var serverRates: [Double] = []
        for pair in 0..<options.decodePairs {
            // Alternate which goes first so slow drift (thermal, other load) hits both sides.
            for hearthFirst in [pair % 2 == 0, pair % 2 != 0] {
                if hearthFirst {
                    let start = ContinuousClock.now
                    let response = try await hearth.complete(request)
                    hearthRates.append(Double(response.usage.completionTokens) / (ContinuousClock.now - start).inSeconds)
                    if let rate = response.usage.decodeTokensPerSecond { serverRates.append(rate) }
                } else {
                    let start = ContinuousClock.now
                    let answer = try await direct.chat(body)
                    let tokens = answer["usage"]?["completion_tokens"]?.doubleValue ?? 0
                    directRates.append(tokens / (ContinuousClock.now - start).inSeconds)
                }
            }
        }
        let hearthMedian = SpineBenchmark.percentile(hearthRates, 0.5)
        let directMedian = SpineBenchmark.percentile(directRates, 0.5)
        return [
            "pairs": .number(Double(options.decodePairs)), "maxTokens": .number(Double(options.decodeTokens)),
            "hearthTokensPerSecond": SpineBenchmark.round(hearthMedian), "directTokensPerSecond": SpineBenchmark.round(directMedian),
            "serverDecodeTokensPerSecond": SpineBenchmark.round(SpineBenchmark.percentile(serverRates, 0.5)),
            "overheadPercent": SpineBenchmark.round((1 - hearthMedian / directMedian) * 100, places: 2),
        ]
    }

    // MARK: Prompt cache

    /// Ten steps of an agent working through receipts: the system prompt (role, policy, tools)
    /// stays first and unchanged, each step appends the model's action and the tool's result.
    private func cacheFigures(hearth: AccountedModel) async throws -> JSONValue {
        let stable = try await conversation(hearth: hearth, changingFirstLine: false)
        let changing = try await conversation(hearth: hearth, changingFirstLine: true)
        return [
            "steps": 10,
            "stablePrefix": stable, "changingPrefix": changing,
        ]
    }

    private func conversation(hearth: AccountedModel, changingFirstLine: Bool) async throws -> JSONValue {
        let policy = """
            You are Hearth, auditing Q2 expense receipts against the policy. Policy: meals up to 50, travel up to 300, \
            any single item over 100 needs a manager note, receipts must show a date and a vendor. Tools: list_files(directory), \
            read_file(path), flag_receipt(file, amount, reason), final_answer(text). Answer with one JSON action per step.
            """
        var messages: [ChatMessage] = [.system(policy)]
        var prompt = 0
        var cached = 0
        for step in 0..<10 {
            if changingFirstLine {
                // What a careless prompt builder does: a fresh timestamp before everything else.
                messages[0] = .system("Current time: step \(step), \(Date().timeIntervalSince1970)\n" + policy)
            }
            messages.append(
                .user(
                    step == 0
                        ? "Start the audit of Receipts/."
                        : "Result of the last action: receipt \(step).txt, vendor SHOP \(step), total \(step * 17).00, dated 2025-0\(step % 6 + 4)-1\(step)."
                ))
            let response = try await hearth.complete(ChatRequest(messages: messages, temperature: 0, maxTokens: 24))
            messages.append(.assistant(response.content))
            if step > 0 {
                prompt += response.usage.promptTokens
                cached += response.usage.cachedPromptTokens
            }
        }
        return [
            "promptTokens": .number(Double(prompt)), "cachedPromptTokens": .number(Double(cached)),
            "cachedPercent": SpineBenchmark.round(Double(cached) / Double(max(prompt, 1)) * 100),
        ]
    }

    // MARK: Embeddings

    private func embeddingFigures(hearth: AccountedModel, direct: DirectCall) async throws -> JSONValue {
        let subjects = ["The receipt", "An invoice", "The hotel bill", "A taxi fare", "The team lunch", "A conference ticket"]
        let details = [
            "was paid in cash", "shows a total of 42.10", "has no date", "exceeds the meal limit", "was filed twice",
            "needs a manager note",
        ]
        let sentences = (0..<options.embedSentences).map { "\(subjects[$0 % 6]) \(details[($0 / 6) % 6]) (item \($0))." }
        _ = try await hearth.embed(Array(sentences.prefix(8)))  // warm-up
        let hearthStart = ContinuousClock.now
        let result = try await hearth.embed(sentences)
        let hearthSeconds = (ContinuousClock.now - hearthStart).inSeconds
        let directStart = ContinuousClock.now
        for start in stride(from: 0, to: sentences.count, by: 64) {
            let batch = sentences[start..<min(start + 64, sentences.count)]
            _ = try await direct.embed(["model": "minilm-l6", "input": .array(batch.map(JSONValue.string))])
        }
        let directSeconds = (ContinuousClock.now - directStart).inSeconds
        return [
            "sentences": .number(Double(sentences.count)), "dimensions": .number(Double(result.vectors.first?.count ?? 0)),
            "hearthPerSecond": SpineBenchmark.round(Double(sentences.count) / hearthSeconds),
            "directPerSecond": SpineBenchmark.round(Double(sentences.count) / directSeconds),
        ]
    }
}

/// The baseline: a bare POST through AsyncHTTPClient, no Hearth types in between.
struct DirectCall: Sendable {
    let baseURL: String
    let apiKey: String

    func chat(_ body: JSONValue) async throws -> JSONValue { try await post("/v1/chat/completions", body) }
    func embed(_ body: JSONValue) async throws -> JSONValue { try await post("/v1/embeddings", body) }

    private func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(300))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return try JSONValue(parsing: Data(bytes.readableBytesView))
    }
}
