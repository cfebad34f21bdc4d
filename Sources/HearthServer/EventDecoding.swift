import Foundation
import HearthCore

/// The JSON form of events on the wire, in both directions.
///
/// In: `{"source", "kind", "key"?, "payload"?, "occurredAt"?, "provenance"?}`; unknown fields are
/// refused so a typo (`"paylod"`) is not silently dropped. Events arriving over HTTP are
/// `untrusted` unless the client says otherwise.
public enum EventDecoding {
    static let fields: Set<String> = ["source", "kind", "key", "payload", "occurredAt", "provenance"]

    static func decode(_ value: JSONValue, receivedAt: Date, defaultSource: String) throws -> NewEvent {
        guard case .object(let members) = value else { throw APIError.badRequest("an event must be a JSON object") }
        for key in members.keys.sorted() where !fields.contains(key) {
            throw APIError.badRequest("unknown field \"\(key)\"; an event has \(fields.sorted().joined(separator: ", "))")
        }
        func string(_ name: String) throws -> String? {
            guard let field = members[name], field != .null else { return nil }
            guard let text = field.stringValue else { throw APIError.badRequest("\"\(name)\" must be a string") }
            return text
        }
        guard let kind = try string("kind") else { throw APIError.badRequest("\"kind\" is required") }
        var occurredAt = receivedAt
        if let text = try string("occurredAt") {
            guard let date = Timestamp.parse(text) else {
                throw APIError.badRequest("\"occurredAt\" must be an RFC 3339 date-time like 2026-11-21T08:30:00Z")
            }
            occurredAt = date
        }
        var provenance = Provenance.untrusted
        if let text = try string("provenance") {
            guard let parsed = Provenance(rawValue: text) else {
                throw APIError.badRequest("\"provenance\" must be \"trusted\" or \"untrusted\"")
            }
            provenance = parsed
        }
        let event = NewEvent(
            source: try string("source") ?? defaultSource, kind: kind, key: try string("key"),
            payload: members["payload"] ?? .object([:]), occurredAt: occurredAt, provenance: provenance)
        do {
            try event.validate()
        } catch {
            throw APIError.badRequest(error.description)
        }
        return event
    }

    /// The wire form of a stored event (also what `hearth events --json` prints).
    public static func json(_ event: Event) -> JSONValue {
        [
            "id": .number(Double(event.id)),
            "source": .string(event.source),
            "kind": .string(event.kind),
            "key": event.key.map(JSONValue.string) ?? .null,
            "payload": event.payload,
            "occurredAt": .string(Timestamp.format(event.occurredAt)),
            "receivedAt": .string(Timestamp.format(event.receivedAt)),
            "provenance": .string(event.provenance.rawValue),
        ]
    }
}
