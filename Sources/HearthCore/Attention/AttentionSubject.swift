import Foundation

/// What the scorer reads from one event: who, to whom, about what, with which headers and numbers.
///
/// Built from the journal's payloads (`from(_:content:)`), so every source the triggers know
/// reaches the scorer the same way; the text of a file is read by ingestion and handed in.
public struct AttentionSubject: Sendable, Hashable {
    public enum Category: String, Sendable, Hashable, Codable, CaseIterable {
        case mail, file, commit, metric, webhook, schedule, malformed, other
    }

    public var eventID: Int64
    public var category: Category
    public var source: String
    public var kind: String
    public var occurredAt: Date
    public var senderName: String?
    /// Lower-cased.
    public var senderAddress: String?
    /// Lower-cased addresses.
    public var to: [String] = []
    public var cc: [String] = []
    public var title: String
    public var body: String
    public var path: String?
    /// Mail headers that speak to bulk and priority, names lower-cased: `list-id`, `precedence`,
    /// `list-unsubscribe`, `auto-submitted`, `importance`, `x-priority`, `priority`.
    public var headers: [String: String] = [:]
    /// A metric row's numbers by column, and its series' name.
    public var metricSeries: String?
    public var numbers: [String: Double] = [:]
    /// The commit's size in changed lines, and how many files it touched.
    public var changedLines: Int?
    public var changedFiles: [String] = []
    public var author: String?
    public var repository: String?

    public init(eventID: Int64, category: Category, source: String, kind: String, occurredAt: Date, title: String, body: String) {
        self.eventID = eventID
        self.category = category
        self.source = source
        self.kind = kind
        self.occurredAt = occurredAt
        self.title = title
        self.body = body
    }

    /// The subject of a journaled event; `content` is a file's text when ingestion read it.
    public static func from(_ event: Event, content: String? = nil) -> AttentionSubject {
        let payload = event.payload
        func text(_ key: String) -> String? { payload[key]?.stringValue }
        let category = Self.category(of: event)
        var subject = AttentionSubject(
            eventID: event.id, category: category, source: event.source, kind: event.kind, occurredAt: event.occurredAt,
            title: "", body: "")
        switch category {
        case .mail:
            subject.senderName = text("from").map(Self.displayName)
            subject.senderAddress = (text("fromAddress") ?? text("from").flatMap(Self.address))?.lowercased()
            subject.to = Self.addresses(text("to"))
            subject.cc = Self.addresses(text("cc"))
            subject.title = text("subject") ?? "(no subject)"
            subject.body = text("body") ?? ""
            if case .object(let headers) = payload["headers"] {
                for (name, value) in headers { subject.headers[name.lowercased()] = value.stringValue ?? "" }
            }
        case .file:
            subject.path = text("path")
            subject.title = text("path") ?? event.kind
            subject.body = content ?? ""
        case .commit:
            subject.author = text("author")
            subject.senderName = text("author").map(Self.displayName)
            subject.senderAddress = text("author").flatMap(Self.address)?.lowercased()
            subject.repository = text("repository")
            subject.title = (text("message") ?? "").split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
            subject.body = text("message") ?? ""
            subject.changedFiles = payload["files"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let added = payload["insertions"]?.intValue ?? 0
            let removed = payload["deletions"]?.intValue ?? 0
            subject.changedLines = payload["insertions"] == nil && payload["deletions"] == nil ? nil : added + removed
        case .metric:
            subject.metricSeries = text("series") ?? event.kind
            if case .object(let values) = payload["values"] {
                for (name, value) in values { if let number = value.doubleValue { subject.numbers[name] = number } }
            }
            subject.title = subject.metricSeries ?? "metric"
            subject.body = subject.numbers.sorted { $0.key < $1.key }.map { "\($0.key) \(Self.number($0.value))" }.joined(separator: ", ")
        case .malformed:
            subject.title = "\(event.kind): \(text("file") ?? text("path") ?? text("series") ?? "")"
            subject.body = text("error") ?? ""
        case .webhook, .schedule, .other:
            subject.title = text("subject") ?? text("title") ?? text("summary") ?? text("text") ?? event.kind
            subject.body = PayloadText.flatten(payload)
            if let from = text("from") ?? text("sender") {
                subject.senderName = Self.displayName(from)
                subject.senderAddress = Self.address(from)?.lowercased()
            }
        }
        return subject
    }

    public static func category(of event: Event) -> Category {
        let kind = event.kind
        if kind.hasSuffix(".malformed") { return .malformed }
        if kind.hasPrefix("mail.") || event.source == "maildir" { return .mail }
        if kind.hasPrefix("file.") || event.source == "watcher" { return .file }
        if kind.hasPrefix("commit") || kind.hasPrefix("git.") { return .commit }
        if kind.hasPrefix("metric.") { return .metric }
        if event.source == "cron" { return .schedule }
        if event.source == "http" || event.source == "webhook" || kind.hasPrefix("webhook.") { return .webhook }
        return .other
    }

    /// A mail subject without its "Re:", "Fwd:", "Fw:", "AW:" leads (otherwise as written): a
    /// thread's replies share one title.
    public static func threadTitle(_ title: String) -> String {
        var title = title
        for prefix in ["re:", "fwd:", "fw:", "aw:"] {
            while title.lowercased().hasPrefix(prefix) {
                title = String(title.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
            }
        }
        return title
    }

    /// "Ann Lee <ann@example.com>" → "Ann Lee"; a bare address stays as it is.
    public static func displayName(_ from: String) -> String {
        guard let open = from.firstIndex(of: "<") else { return from.trimmingCharacters(in: .whitespaces) }
        let name = from[..<open].trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
        return name.isEmpty ? (address(from) ?? from) : name
    }

    /// The address in "Name <address>" or a bare "address".
    public static func address(_ from: String) -> String? {
        if let open = from.firstIndex(of: "<"), let close = from[open...].firstIndex(of: ">") {
            let inside = from[from.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
            return inside.contains("@") ? inside : nil
        }
        let bare = from.trimmingCharacters(in: .whitespaces)
        return bare.contains("@") && !bare.contains(" ") ? bare : nil
    }

    static func addresses(_ list: String?) -> [String] {
        guard let list else { return [] }
        return list.split(separator: ",").compactMap { address(String($0))?.lowercased() }
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.2f", value)
    }
}

/// A JSON payload as "key: value" lines, nested keys dotted: how a webhook's payload is read.
public enum PayloadText {
    public static func flatten(_ value: JSONValue, limit: Int = 4_000) -> String {
        var lines: [String] = []
        var size = 0
        func walk(_ value: JSONValue, _ prefix: String) {
            guard size < limit else { return }
            switch value {
            case .object(let members):
                for (key, member) in members.sorted(by: { $0.key < $1.key }) { walk(member, prefix.isEmpty ? key : "\(prefix).\(key)") }
            case .array(let items):
                for (index, item) in items.enumerated() { walk(item, "\(prefix)[\(index)]") }
            case .null:
                return
            default:
                let text = value.stringValue ?? value.doubleValue.map(AttentionSubject.number) ?? value.boolValue.map(String.init) ?? ""
                let line = prefix.isEmpty ? text : "\(prefix): \(text)"
                lines.append(line)
                size += line.utf8.count + 1
            }
        }
        walk(value, "")
        return lines.joined(separator: "\n")
    }
}
