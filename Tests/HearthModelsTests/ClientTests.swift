import Foundation
import HearthCore
import HearthTesting
import Testing

@testable import HearthModels

let testHints = ModelHints(startServer: "start the test server", installModel: "install it in the test")

/// A client for the scripted server. The default deadline is generous: only the timeout test
/// relies on one, and a starved test process can take many seconds to answer its own loopback server.
func openAIClient(_ url: String, provider: ModelEndpoint.Provider = .llamaCpp, timeout: Duration = .seconds(45), attempts: Int = 3)
    -> OpenAICompatibleClient
{
    OpenAICompatibleClient(
        endpoint: ModelEndpoint(provider: provider, baseURL: url, chatModel: "chat-model", embeddingModel: "embed-model"),
        timeouts: ModelTimeouts(request: timeout, attempts: attempts, backoff: .milliseconds(20)), hints: testHints, embeddingBatchSize: 64)
}

func ollamaClient(_ url: String) -> OllamaClient {
    OllamaClient(
        endpoint: ModelEndpoint(provider: .ollama, baseURL: url, chatModel: "llama3", embeddingModel: "nomic"),
        timeouts: ModelTimeouts(request: .seconds(45), attempts: 3, backoff: .milliseconds(20)), hints: testHints)
}

@Suite("Model clients against a real loopback server", .timeLimit(.minutes(2)))
struct ClientTests {
    @Test("OpenAI-compatible completion: text, usage and llama.cpp timings; the request carries what it should")
    func completion() async throws {
        let server = ScriptedModelServer([.chat("Paris.", promptTokens: 40, completionTokens: 3, cachedTokens: 30)])
        let client = openAIClient(try await server.start())
        let response = try await client.complete(
            ChatRequest(
                messages: [.system("Be brief."), .user("Capital of France?")], temperature: 0, maxTokens: 20,
                responseFormat: .jsonSchema(name: "answer", schema: ["type": "string"])))
        #expect(response.content == "Paris.")
        #expect(response.finishReason == "stop")
        #expect(response.usage.promptTokens == 40)
        #expect(response.usage.completionTokens == 3)
        #expect(response.usage.cachedPromptTokens == 30)
        #expect(response.usage.decodeTokensPerSecond == 100)
        #expect(response.usage.prefillTokensPerSecond == 250)
        let body = try #require(server.requests.first?.body)
        #expect(body["model"] == "chat-model")
        #expect(body["messages"]?.arrayValue?.map { $0["role"] } == ["system", "user"])
        #expect(body["max_tokens"] == 20)
        #expect(body["response_format"]?["json_schema"]?["schema"] == ["type": "string"])
        #expect(body["cache_prompt"] == true)
    }

    @Test("a GBNF grammar goes to llama.cpp in `grammar`")
    func grammar() async throws {
        let server = ScriptedModelServer([.chat("yes")])
        _ = try await openAIClient(try await server.start()).complete(
            ChatRequest(messages: [.user("ok?")], responseFormat: .grammar(#"root ::= "yes" | "no""#)))
        #expect(server.requests[0].body["grammar"] == #"root ::= "yes" | "no""#)
        #expect(server.requests[0].body["response_format"] == nil)
    }

    @Test("a hosted OpenAI endpoint gets no llama.cpp extras, and the API key as a bearer token")
    func hostedShape() async throws {
        let server = ScriptedModelServer([.chat("ok")])
        let url = try await server.start()
        let client = OpenAICompatibleClient(
            endpoint: ModelEndpoint(provider: .openAI, baseURL: url, chatModel: "gpt", embeddingModel: "e"), apiKey: "sk-test",
            hints: testHints)
        _ = try await client.complete(ChatRequest(messages: [.user("hi")]))
        #expect(server.requests[0].body["cache_prompt"] == nil)
        #expect(server.requests[0].body["dry_multiplier"] == nil && server.requests[0].body["repeat_penalty"] == nil)
        #expect(server.requests[0].authorization == "Bearer sk-test")
    }

    @Test("llama.cpp gets DRY and repeat penalties: full for text, DRY only under a schema; Ollama its repeat penalty")
    func repetitionControls() async throws {
        let server = ScriptedModelServer([.chat("ok")])
        let url = try await server.start()
        let client = openAIClient(url)
        _ = try await client.complete(ChatRequest(messages: [.user("hi")]))
        _ = try await client.complete(
            ChatRequest(messages: [.user("hi")], responseFormat: .jsonSchema(name: "x", schema: ["type": "object"])))
        _ = try await client.complete(ChatRequest(messages: [.user("hi")], repetition: .off))
        let text = server.requests[0].body
        #expect(text["dry_multiplier"]?.doubleValue == RepetitionControl.text.dryMultiplier)
        #expect(text["repeat_penalty"]?.doubleValue == RepetitionControl.text.repeatPenalty)
        #expect((text["dry_penalty_last_n"]?.intValue ?? -1) >= 0, "llama-server refuses a negative window")
        let structured = server.requests[1].body
        #expect(
            structured["repeat_penalty"] == 1 && structured["dry_multiplier"]?.doubleValue == RepetitionControl.structured.dryMultiplier)
        let off = server.requests[2].body
        #expect(off["repeat_penalty"] == 1 && off["dry_multiplier"] == 0)
        let ollama = ScriptedModelServer([.chat("ok")])
        _ = try await ollamaClient(try await ollama.start()).complete(ChatRequest(messages: [.user("hi")]))
        #expect(ollama.requests[0].body["options"]?["repeat_penalty"]?.doubleValue == RepetitionControl.text.repeatPenalty)
        server.stop()
        ollama.stop()
    }

    @Test("streaming yields the text piece by piece and ends with the whole response, tool calls reassembled")
    func streaming() async throws {
        let call = ToolCall(id: "call_1", name: "read_file", arguments: ["path": "notes/todo.txt"])
        let server = ScriptedModelServer([.chat("Reading the file now.", toolCalls: [call], finishReason: "tool_calls")])
        let client = openAIClient(try await server.start())
        var pieces: [String] = []
        var final: ChatResponse?
        for try await chunk in client.stream(ChatRequest(messages: [.user("read it")])) {
            switch chunk {
            case .text(let piece): pieces.append(piece)
            case .done(let response): final = response
            }
        }
        #expect(pieces == ["Reading ", "the ", "file ", "now."])
        let response = try #require(final)
        #expect(response.content == "Reading the file now.")
        #expect(response.toolCalls == [call])
        #expect(response.finishReason == "tool_calls")
        #expect(response.usage.completionTokens == 7)
        #expect(server.requests[0].body["stream"] == true)
    }

    @Test("Ollama: /api/chat with format, NDJSON streaming, durations turned into speeds; /api/embed")
    func ollama() async throws {
        let server = ScriptedModelServer([.chat("Hello there"), .chat("Hello there"), .embeddings(dimensions: 8)])
        let client = ollamaClient(try await server.start())
        let response = try await client.complete(
            ChatRequest(messages: [.user("hi")], maxTokens: 9, responseFormat: .jsonSchema(name: "x", schema: ["type": "object"])))
        #expect(response.content == "Hello there")
        #expect(response.usage.promptTokens == 12)
        #expect(response.usage.decodeTokensPerSecond == 35)  // 7 tokens in 0.2 s
        #expect(server.requests[0].body["format"] == ["type": "object"])
        #expect(server.requests[0].body["options"]?["num_predict"] == 9)
        var streamed = ""
        for try await chunk in client.stream(ChatRequest(messages: [.user("hi")])) {
            if case .text(let piece) = chunk { streamed += piece }
        }
        #expect(streamed == "Hello there")
        let embeddings = try await client.embed(["a", "b"])
        #expect(embeddings.vectors.count == 2)
        #expect(embeddings.vectors[0].count == 8)
    }

    @Test("embeddings are batched and returned in input order whatever order the server uses")
    func embeddingBatches() async throws {
        let server = ScriptedModelServer([.embeddings(dimensions: 4)])
        let client = openAIClient(try await server.start())
        let texts = (0..<150).map { "sentence \($0)" }
        let result = try await client.embed(texts)
        #expect(result.vectors.count == 150)
        #expect(server.requests.count == 3)  // 64 + 64 + 22
        let single = try await client.embed(["sentence 149"])
        #expect(single.vectors[0] == result.vectors[149])
        #expect(result.usage.promptTokens == 600)
    }

    @Test("transient failures (503, 429) are retried with backoff; a 400 is not")
    func retries() async throws {
        let server = ScriptedModelServer([.status(503, message: "loading model"), .status(429, message: "slow down"), .chat("finally")])
        let client = openAIClient(try await server.start())
        #expect(try await client.complete(ChatRequest(messages: [.user("hi")])).content == "finally")
        #expect(server.requests.count == 3)

        let bad = ScriptedModelServer([.status(400, message: "temperature must be ≤ 2"), .chat("never")])
        let badClient = openAIClient(try await bad.start())
        await #expect {
            try await badClient.complete(ChatRequest(messages: [.user("hi")]))
        } throws: { error in
            guard case ModelError.httpStatus(400, _, let message) = error else { return false }
            return message == "temperature must be ≤ 2"
        }
        #expect(bad.requests.count == 1)
    }

    @Test("a server that keeps failing gives up after the attempts with the last status")
    func givesUp() async throws {
        let server = ScriptedModelServer([.status(500, message: "out of memory")])
        let client = openAIClient(try await server.start(), attempts: 2)
        await #expect {
            try await client.complete(ChatRequest(messages: [.user("hi")]))
        } throws: { error in
            String(describing: error).contains("answered 500: out of memory")
        }
        #expect(server.requests.count == 2)
    }

    @Test("a missing model names the model and how to install it")
    func modelNotFound() async throws {
        let server = ScriptedModelServer([.status(404, message: "model 'chat-model' not found")])
        let client = openAIClient(try await server.start())
        await #expect {
            try await client.complete(ChatRequest(messages: [.user("hi")]))
        } throws: { error in
            error as? ModelError == .modelNotFound(model: "chat-model", url: client.endpoint.baseURL, hint: "install it in the test")
        }
    }

    @Test("an unreachable server names the URL and how to start it")
    func unreachable() async throws {
        let client = openAIClient("http://127.0.0.1:9", attempts: 2)
        await #expect {
            try await client.complete(ChatRequest(messages: [.user("hi")]))
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix("no model server answers at http://127.0.0.1:9") && text.hasSuffix("start the test server")
        }
    }

    @Test("a slow server hits the deadline: a timeout error, not a hang")
    func timeout() async throws {
        let server = ScriptedModelServer([.delayed(seconds: 5, then: .init("late"))])
        let client = openAIClient(try await server.start(), timeout: .milliseconds(300))
        await #expect {
            try await client.complete(ChatRequest(messages: [.user("hi")]))
        } throws: { error in
            if case ModelError.timedOut = error { return true }
            return false
        }
    }

    @Test("malformed JSON from the server is a typed error quoting what came")
    func malformed() async throws {
        let server = ScriptedModelServer([.malformed("{\"choices\": [")])
        let client = openAIClient(try await server.start())
        await #expect {
            try await client.complete(ChatRequest(messages: [.user("hi")]))
        } throws: { error in
            guard case ModelError.malformedResponse(_, let detail) = error else { return false }
            return detail.contains("{\"choices\": [")
        }
    }

    @Test("a stream dropped mid-body or ended without [DONE] is a truncatedStream with what arrived; never retried")
    func brokenStreams() async throws {
        for reply in [ScriptedModelServer.Reply.dropStream(after: 3), .truncateStream(after: 2)] {
            let server = ScriptedModelServer([reply, .chat("a retry must not happen")])
            let client = openAIClient(try await server.start())
            var received = ""
            await #expect {
                for try await chunk in client.stream(ChatRequest(messages: [.user("hi")])) {
                    if case .text(let piece) = chunk { received += piece }
                }
            } throws: { error in
                guard case ModelError.truncatedStream(_, let count) = error else { return false }
                return count == received.count && count > 0
            }
            #expect(server.requests.count == 1)
        }
    }

    @Test("cancelling a stream ends it promptly, without a final response")
    func cancellation() async throws {
        let server = ScriptedModelServer([.delayed(seconds: 30, then: .init("never"))])
        let client = openAIClient(try await server.start(), timeout: .seconds(60))
        let task = Task { () -> Bool in
            var sawDone = false
            for try await chunk in client.stream(ChatRequest(messages: [.user("hi")])) {
                if case .done = chunk { sawDone = true }
            }
            // The stream must end because of the cancellation (not an error of its own, not a reply).
            try Task.checkCancellation()
            return sawDone
        }
        // Cancel only once the request is at the server, mid-stream.
        try await waitUntil("the request to reach the server") { server.requests.count == 1 }
        task.cancel()
        let result = try await withTimeout(15, "the cancelled stream to end") { await task.result }
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(server.requests.count == 1, "not retried after the cancellation")
    }
}
