import Foundation
import Glibc
import HearthCore
import Logging
import ServiceLifecycle

/// A CSV or JSONL file whose rows are measurements (`Budget/cloud-costs.csv`): each new row
/// becomes a `metric.row` event with its numbers; a row that does not parse becomes a
/// `metric.malformed` event and the stream goes on.
public enum MetricRows {
    public struct Row: Sendable, Hashable {
        public var number: Int
        public var values: [String: Double]
        public var labels: [String: String]
        public var date: Date?
    }

    public enum Parsed: Sendable, Hashable {
        case row(Row)
        case malformed(line: Int, reason: String)
    }

    /// The data rows of a CSV (first line: the header) or JSONL file, in order.
    public static func parse(_ text: String, jsonLines: Bool) -> [Parsed] {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        var out: [Parsed] = []
        if jsonLines {
            for (index, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                guard let object = try? JSONValue(parsing: Data(line.utf8)).objectValue else {
                    out.append(.malformed(line: index + 1, reason: "not a JSON object"))
                    continue
                }
                var row = Row(number: index + 1, values: [:], labels: [:], date: nil)
                for (key, value) in object {
                    if let number = value.doubleValue {
                        row.values[key] = number
                    } else if let text = value.stringValue {
                        row.labels[key] = text
                    }
                }
                row.date = date(in: row.labels)
                out.append(row.values.isEmpty ? .malformed(line: index + 1, reason: "no numbers in the row") : .row(row))
            }
            return out
        }
        guard let headerLine = lines.first(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else { return [] }
        let header = fields(headerLine).map { $0.trimmingCharacters(in: .whitespaces) }
        let start = lines.firstIndex(of: headerLine)! + 1
        for index in start..<lines.count where !lines[index].trimmingCharacters(in: .whitespaces).isEmpty {
            let cells = fields(lines[index])
            guard cells.count == header.count else {
                out.append(.malformed(line: index + 1, reason: "\(cells.count) fields where the header has \(header.count)"))
                continue
            }
            var row = Row(number: index + 1, values: [:], labels: [:], date: nil)
            for (name, cell) in zip(header, cells) {
                let trimmed = cell.trimmingCharacters(in: .whitespaces)
                if let number = Self.number(trimmed) { row.values[name] = number } else { row.labels[name] = trimmed }
            }
            row.date = date(in: row.labels)
            out.append(row.values.isEmpty ? .malformed(line: index + 1, reason: "no numbers in the row") : .row(row))
        }
        return out
    }

    /// "1,234.50", "$5,000", "12.5%" → numbers; dates and words are not.
    static func number(_ text: String) -> Double? {
        var cleaned = text
        for symbol in ["$", "€", "£", "%", " "] { cleaned = cleaned.replacingOccurrences(of: symbol, with: "") }
        if cleaned.contains(",") && !cleaned.contains(".") && cleaned.split(separator: ",").last?.count == 3 {
            cleaned = cleaned.replacingOccurrences(of: ",", with: "")
        } else if cleaned.contains(",") && cleaned.contains(".") {
            cleaned = cleaned.replacingOccurrences(of: ",", with: "")
        }
        guard !cleaned.isEmpty, cleaned.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" }) else { return nil }
        return Double(cleaned)
    }

    static func date(in labels: [String: String]) -> Date? {
        for key in labels.keys.sorted() where ["date", "day", "time", "timestamp", "month", "at"].contains(key.lowercased()) {
            let text = labels[key]!
            if let date = Timestamp.parse(text) { return date }
            if let date = Timestamp.parse(text + "T00:00:00Z") { return date }
            if let date = Timestamp.parse(text + "-01T00:00:00Z") { return date }
        }
        return nil
    }

    /// CSV fields with double-quoted cells.
    static func fields(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = line.makeIterator()
        while let character = iterator.next() {
            if quoted {
                if character == "\"" { quoted = false } else { current.append(character) }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}

/// Follows the declared metric files (inotify on their folders, no polling): rows past the
/// count last recorded are journaled, with the count, in one transaction.
public struct MetricStreamService: Service {
    let workspace: URL
    let streams: [String]
    let store: any SourceStateStore
    let logger: Logger
    let onJournaled: @Sendable (Int) -> Void

    public init(
        workspace: URL, streams: [String], store: any SourceStateStore, logger: Logger,
        onJournaled: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.workspace = workspace
        self.streams = streams
        self.store = store
        self.logger = logger
        self.onJournaled = onJournaled
    }

    public func run() async throws {
        let loop: InotifyLoop
        do {
            guard !streams.isEmpty else { throw WatchError(path: workspace.path, code: 0) }
            loop = try InotifyLoop()
        } catch {
            if !streams.isEmpty { logger.error("metrics: cannot watch the streams: \(error); the other sources keep running") }
            // Returning would end the daemon's service group: stay until it stops.
            try? await gracefulShutdown()
            return
        }
        var folders: [Int32: String] = [:]
        for folder in Set(streams.map { ($0 as NSString).deletingLastPathComponent }) {
            let url = folder.isEmpty ? workspace : workspace.appending(path: folder)
            try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            if let wd = try? loop.addWatch(url.path, mask: UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR)) { folders[wd] = folder }
        }
        let (signals, continuation) = AsyncStream.makeStream(of: String.self)
        let watched = folders
        let names = Set(streams)
        let thread = Thread {
            defer { continuation.finish() }
            loop.forEachBatch { events in
                for event in events {
                    guard let folder = watched[event.watch] else { continue }
                    let path = folder.isEmpty ? event.name : "\(folder)/\(event.name)"
                    if names.contains(path) { continuation.yield(path) }
                }
            }
        }
        thread.name = "hearth-metrics"
        thread.start()
        for stream in streams { await read(stream) }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await stream in signals { await read(stream) }
            } onGracefulShutdown: {
                loop.stop()
            }
        } onCancel: {
            loop.stop()
        }
    }

    /// Journals the rows of `stream` not yet seen.
    public func read(_ stream: String) async {
        let url = workspace.appending(path: stream)
        guard let data = try? Data(contentsOf: url) else { return }
        guard data.count <= 64 << 20 else {
            logger.error("metrics: \(stream) is over 64 MiB; split it")
            return
        }
        let stateName = "metric:\(stream):rows"
        do {
            let seen = Int(try await store.sourceState(stateName) ?? "0") ?? 0
            let parsed = MetricRows.parse(String(decoding: data, as: UTF8.self), jsonLines: url.pathExtension.lowercased() == "jsonl")
            guard parsed.count != seen else { return }
            // A file that shrank was rewritten from scratch: read it all again (keys keep repeats out).
            let fresh = parsed.count < seen ? parsed : Array(parsed.dropFirst(seen))
            let now = Date()
            let events = fresh.map { entry -> NewEvent in
                switch entry {
                case .row(let row):
                    var payload: [String: JSONValue] = [
                        "series": .string(stream), "row": .number(Double(row.number)),
                        "values": .object(row.values.mapValues(JSONValue.number)),
                    ]
                    if !row.labels.isEmpty { payload["labels"] = .object(row.labels.mapValues(JSONValue.string)) }
                    let identity =
                        (row.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                        + row.values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                        .joined(separator: ",")
                    return NewEvent(
                        source: "metrics", kind: "metric.row",
                        key: "metric:\(EventKeys.compact(stream)):\(row.number):\(EventKeys.compact(identity))",
                        payload: .object(payload), occurredAt: row.date ?? now, provenance: .untrusted)
                case .malformed(let line, let reason):
                    return NewEvent(
                        source: "metrics", kind: "metric.malformed",
                        key: "metric:\(EventKeys.compact(stream)):\(line):malformed:\(data.count)",
                        payload: ["series": .string(stream), "line": .number(Double(line)), "error": .string(reason)], occurredAt: now,
                        provenance: .untrusted)
                }
            }
            let outcomes = try await store.record(events, state: [stateName: String(parsed.count)])
            let added = outcomes.filter { !$0.duplicate }.count
            if added > 0 { onJournaled(added) }
        } catch {
            logger.error("metrics: \(stream): \(error)")
        }
    }
}
