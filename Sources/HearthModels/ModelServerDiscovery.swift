import AsyncHTTPClient
import Foundation
import HearthCore
import NIOCore
import NIOHTTP1

/// A model server found running on this machine.
public struct DiscoveredServer: Sendable, Hashable {
    public struct Model: Sendable, Hashable {
        public var name: String
        public var scale: ModelScale?
        /// Embedding-only models are not offered for chat.
        public var embedding: Bool
    }

    public var provider: ModelEndpoint.Provider
    public var baseURL: String
    public var models: [Model]

    /// The chat model to offer: the largest whose size is known, else the first chat model listed.
    public var bestChatModel: Model? {
        let chat = models.filter { !$0.embedding }
        return chat.filter { $0.scale != nil }.max { $0.scale! < $1.scale! } ?? chat.first
    }

    /// An embedding model the server also offers, if any.
    public var embeddingModel: Model? { models.first { $0.embedding } }

    /// What `[inference]` would say to use this server with `bestChatModel`.
    public func configurationLines() -> [String] {
        var lines = ["[inference]", "provider = \"\(provider.rawValue)\"", "base_url = \"\(baseURL)\""]
        if let chat = bestChatModel { lines.append("chat_model = \"\(chat.name)\"") }
        if let embedding = embeddingModel { lines.append("embedding_model = \"\(embedding.name)\"") }
        return lines
    }

    /// "Ollama at http://127.0.0.1:11434: llama3.1:8b (8B parameters), best of 3 chat models".
    public var summary: String {
        let kind = provider == .ollama ? "Ollama" : "an OpenAI-compatible server"
        let chatCount = models.filter { !$0.embedding }.count
        guard let best = bestChatModel else { return "\(kind) at \(baseURL) with no chat model" }
        let size = best.scale.map { " (\($0))" } ?? ""
        return "\(kind) at \(baseURL): \(best.name)\(size)" + (chatCount > 1 ? ", the largest of \(chatCount) chat models" : "")
    }
}

/// Finds model servers people commonly run on their own machine — Ollama on its default port,
/// llama.cpp, LM Studio, vLLM and others speaking the OpenAI API — so Hearth can offer a
/// better model than its tiny default. Loopback only, short timeouts, never an error.
public enum ModelServerDiscovery {
    /// Ollama's default port first, then llama.cpp's, LM Studio's, vLLM's and KoboldCpp's.
    public static let defaultCandidates = [
        "http://127.0.0.1:11434", "http://127.0.0.1:8080", "http://127.0.0.1:1234", "http://127.0.0.1:8000", "http://127.0.0.1:5001",
    ]

    /// The candidates to probe: `HEARTH_DISCOVER_URLS` (comma-separated, for tests and unusual
    /// ports) when set, else the defaults. Only loopback addresses are ever probed.
    public static func candidates(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        guard let listed = environment["HEARTH_DISCOVER_URLS"] else { return defaultCandidates }
        return listed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter(isLoopback)
    }

    static func isLoopback(_ url: String) -> Bool {
        ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].contains { url.hasPrefix($0) }
    }

    /// Probes every candidate at once; servers that answer with a model list, in candidate order.
    /// A port nothing listens on is refused at once, so the deadline only bounds a server that
    /// accepts and then stalls; it is generous because a busy machine can take seconds to answer
    /// (an Ollama that answered `/api/tags` late was once taken for a plain OpenAI server).
    public static func discover(candidates: [String] = candidates(), timeout: Duration = .seconds(5)) async -> [DiscoveredServer] {
        await withTaskGroup(of: (Int, DiscoveredServer?).self) { group in
            for (index, url) in candidates.enumerated() where isLoopback(url) {
                group.addTask { (index, await probe(url, timeout: timeout)) }
            }
            var found: [(Int, DiscoveredServer)] = []
            for await (index, server) in group {
                if let server { found.append((index, server)) }
            }
            return found.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// What one URL serves: Ollama's `/api/tags`, else the OpenAI `/v1/models` list; nil when neither answers.
    public static func probe(_ baseURL: String, timeout: Duration = .seconds(5)) async -> DiscoveredServer? {
        let baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        var tags = await get(baseURL + "/api/tags", timeout: timeout)
        var list: JSONValue?
        if tags == nil {
            list = await get(baseURL + "/v1/models", timeout: timeout)
            // The server is up: an `/api/tags` that was only late (a busy machine) gets one more
            // chance before the server is taken for a plain OpenAI-compatible one.
            if list != nil { tags = await get(baseURL + "/api/tags", timeout: timeout) }
        }
        if let tags, let entries = tags["models"]?.arrayValue {
            let models = entries.compactMap { entry -> DiscoveredServer.Model? in
                guard let name = entry["name"]?.stringValue ?? entry["model"]?.stringValue else { return nil }
                let details = entry["details"] ?? [:]
                let families = (details["families"]?.arrayValue ?? []).compactMap(\.stringValue) + [details["family"]?.stringValue ?? ""]
                let scale = details["parameter_size"]?.stringValue.flatMap(ModelScale.init(name:)) ?? ModelScale(name: name)
                return .init(name: name, scale: scale, embedding: isEmbedding(name: name, families: families))
            }
            return DiscoveredServer(provider: .ollama, baseURL: baseURL, models: models)
        }
        if let list, let entries = list["data"]?.arrayValue {
            let models = entries.compactMap { entry -> DiscoveredServer.Model? in
                guard let name = entry["id"]?.stringValue else { return nil }
                return .init(name: name, scale: ModelScale(name: name), embedding: isEmbedding(name: name, families: []))
            }
            return DiscoveredServer(provider: .openAI, baseURL: baseURL, models: models)
        }
        return nil
    }

    static func isEmbedding(name: String, families: [String]) -> Bool {
        let lower = name.lowercased()
        return ["embed", "bge-", "bge:", "minilm", "e5-", "gte-", "rerank"].contains { lower.contains($0) }
            || families.contains { ["bert", "nomic-bert", "xlm-roberta"].contains($0.lowercased()) }
    }

    /// GET with a short deadline; nil on any failure (nothing listening, an error status, not JSON).
    static func get(_ url: String, timeout: Duration) async -> JSONValue? {
        do {
            let request = HTTPClientRequest(url: url)
            let response = try await ModelTransport.client.execute(request, timeout: .milliseconds(Int64(timeout.inSeconds * 1000)))
            guard response.status == .ok else { return nil }
            let body = try await response.body.collect(upTo: 4 << 20)
            return try JSONValue(parsing: Data(body.readableBytesView))
        } catch {
            return nil
        }
    }
}
