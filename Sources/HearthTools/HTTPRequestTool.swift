import Foundation
import HearthCore
import HearthVault

/// Makes an HTTP request through the credential broker (`hearth-vault`).
///
/// Credentials appear only as `{{secret:NAME}}` handles; the broker inserts the values, checks
/// each secret's hosts and methods, and scrubs the values from the response before it comes back.
/// This process — and so the model, the traces and memory — never holds a value.
public struct HTTPRequestTool: Tool {
    public let spec = ToolSpec(
        name: "http_request",
        description:
            "Make an HTTP request. Write credentials as {{secret:NAME}} (never a value); the broker inserts them. Returns the status and body.",
        parameters: objectSchema(
            [
                ("method", ["type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]]),
                ("url", stringProperty("an absolute http(s) URL; secrets may appear in its path or query, never in its host")),
                (
                    "headers",
                    [
                        "type": "object", "description": "header name → value, e.g. {\"Authorization\": \"Bearer {{secret:github}}\"}",
                        "additionalProperties": ["type": "string"],
                    ]
                ),
                ("body", stringProperty("the request body (text)")),
                ("timeout_seconds", ["type": "integer", "minimum": 1, "maximum": 300]),
            ], required: ["method", "url"]))
    public let risk = ToolRisk.network
    public let idempotent = false
    let broker: VaultClient

    public init(broker: VaultClient) { self.broker = broker }

    public func invoke(_ arguments: JSONValue, context: ToolContext) async throws -> ToolOutput {
        let headers = (arguments["headers"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map {
            RequestTemplate.Header(name: $0.key, value: $0.value.stringValue ?? "")
        }
        let template = RequestTemplate(
            method: requiredString(arguments, "method"), url: requiredString(arguments, "url"), headers: headers,
            body: arguments["body"]?.stringValue, timeoutSeconds: arguments["timeout_seconds"]?.intValue)
        let caller = context.runID.map { "run:\($0)/\(context.taskID ?? "-")" } ?? "hearth"
        let response: BrokeredResponse
        do {
            response = try await broker.request(template, caller: caller)
        } catch .brokerRefused(let code, let message) where code != "transport" {
            throw ToolError.refused(tool: name, reason: message)
        } catch {
            throw ToolError.failed(tool: name, message: error.description)
        }
        let contentType = response.headers.first { $0.name.lowercased() == "content-type" }?.value
        var text = "HTTP \(response.status)" + (contentType.map { " (\($0))" } ?? "")
        for note in response.notes { text += "\nnote: \(note)" }
        text += "\n" + (response.bodyIsBase64 ? "[\(response.body.count) characters of binary body, base64]" : clipped(response.body, 6000))
        if response.truncated { text += "\n[the body was cut at the broker's size limit]" }
        return ToolOutput(
            text: text,
            data: [
                "status": .number(Double(response.status)), "body": .string(response.body),
                "secrets_used": .array(response.secretsUsed.map(JSONValue.string)),
                "redirects": .array(response.redirects.map(JSONValue.string)),
            ],
            untrusted: true)
    }
}
