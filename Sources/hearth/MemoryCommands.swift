import ArgumentParser
import Foundation
import HearthConfig
import HearthCore
import HearthDaemon
import HearthMemory
import HearthStore
import Logging

struct MemoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "What Hearth remembers: search, remember, forget, facts, profile, pending facts, stats.",
        subcommands: [
            MemorySearchCommand.self, MemoryRememberCommand.self, MemoryForgetCommand.self, MemoryStatsCommand.self,
            MemoryProfileCommand.self, MemoryFactsCommand.self, MemoryPendingCommand.self, MemoryConfirmCommand.self,
            MemoryRejectCommand.self, MemoryConsolidateCommand.self, MemoryIndexCommand.self,
        ])
}

/// An engine over the configured store (the data dir's SQLite or the fleet's PostgreSQL), with
/// vectors when a model server can be reached.
struct MemoryAccess {
    let engine: MemoryEngine
    let access: InferenceAccess?
    /// Why vectors are off, when they are.
    let note: String?
    let closeStores: @Sendable () -> Void

    /// - Parameter stores: the caller's open stores, so one process holds one pool.
    static func open(_ context: HearthContext, vectors: Bool, model: Bool = false, stores: SharedStores? = nil) async throws
        -> MemoryAccess
    {
        let opened: SharedStores
        // Stores this call opens are closed with it; the caller's stay the caller's.
        var close: @Sendable () -> Void = {}
        if let stores {
            opened = stores
        } else {
            guard let created = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
            opened = created
            close = created.close
        }
        let store = opened.memory
        var access: InferenceAccess?
        var note: String?
        // A caller that talks to the model (chat) opens the server even when vectors are off.
        let embeds = vectors && context.configuration.memory.vectors
        if vectors && !context.configuration.memory.vectors { note = "full text only: [memory] vectors = false in the config" }
        if (embeds || model) && context.configuration.inference.enabled {
            do {
                access = try await InferenceAccess.open(
                    paths: context.paths, configuration: context.configuration, logger: Logger(label: "hearth"))
            } catch {
                if embeds { note = "full text only: \(error)" }
            }
        } else if embeds {
            note = "full text only: inference is disabled in the config"
        }
        let embedder = embeds ? access?.client(timeoutSeconds: context.configuration.inference.requestTimeoutSeconds) : nil
        let engine = MemoryEngine(
            store: store, embedder: embedder,
            settings: RetrievalSettings(context.configuration.memory))
        try await engine.open()
        return MemoryAccess(engine: engine, access: access, note: note, closeStores: close)
    }

    func close() async {
        await access?.close()
        closeStores()
    }
}

struct MemoryFilterOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Only records of this kind (\(MemoryKind.allCases.map(\.rawValue).joined(separator: ", "))); repeatable.", valueName: "kind"))
    var kind: [String] = []

    @Option(help: ArgumentHelp("Only records from this source; repeatable.", valueName: "source"))
    var source: [String] = []

    @Option(help: ArgumentHelp("Only records that happened since (today, 7d, 24h, 2026-11-01, RFC 3339).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only records that happened before this time.", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Only trusted or only untrusted records.", valueName: "trusted|untrusted"))
    var provenance: String?

    func filter() throws -> MemoryFilter {
        let kinds = try kind.map { name -> MemoryKind in
            guard let kind = MemoryKind(rawValue: name) else {
                throw CLIError.usage(
                    "--kind: unknown kind '\(name)'; use one of \(MemoryKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        }
        var filter = MemoryFilter(kinds: Set(kinds), sources: Set(source))
        if let provenance {
            guard let value = Provenance(rawValue: provenance) else { throw CLIError.usage("--provenance takes trusted or untrusted") }
            filter.provenance = value
        }
        if let since { filter.occurredFrom = try UsageCommand.parseSince(since) }
        if let until { filter.occurredBefore = try UsageCommand.parseSince(until, option: "--until") }
        return filter
    }
}

struct MemorySearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Hybrid search (vectors + full text + sessions + facts); each hit says why it matched.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var filters: MemoryFilterOptions

    @Argument(help: "What to look for.")
    var query: String

    @Option(name: .short, help: "How many hits.")
    var k = 10

    @Flag(help: "Plain BM25 over each record's text (the benchmark baseline).")
    var bm25 = false

    @Option(
        help: ArgumentHelp(
            "Hits found only by meaning need at least this cosine similarity; 0 shows every record. Default: [memory] min_similarity.",
            valueName: "cosine"))
    var minSimilarity: Double?

    @Flag(help: "Print the hits as JSON.")
    var json = false

    func validate() throws {
        guard (1...1_000).contains(k) else { throw ValidationError("-k must be between 1 and 1000") }
        if let minSimilarity, !(0...1).contains(minSimilarity) { throw ValidationError("--min-similarity must be between 0 and 1") }
        guard !query.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("the query is empty") }
    }

    func run() async throws {
        let context = try common.load()
        let filter = try filters.filter()
        let memory = try await MemoryAccess.open(context, vectors: !bm25)
        let hits: [MemoryHit]
        let floor = minSimilarity ?? context.configuration.memory.minSimilarity
        do {
            hits = MemoryEngine.relevant(
                try await memory.engine.search(query, k: k, filter: filter, mode: bm25 ? .bm25 : .hybrid), minSimilarity: floor)
        } catch {
            await memory.close()
            throw error
        }
        let mode = bm25 ? "plain BM25" : await memory.engine.embeddingState.description
        await memory.close()
        if json {
            let items: [JSONValue] = hits.map { hit in
                [
                    "id": .number(Double(hit.record.id)), "score": .number(hit.score), "kind": .string(hit.record.kind.rawValue),
                    "text": .string(hit.record.text), "source": .string(hit.record.source),
                    "speaker": hit.record.speaker.map(JSONValue.string) ?? .null,
                    "session": hit.record.sessionID.map(JSONValue.string) ?? .null, "provenance": .string(hit.record.provenance.rawValue),
                    "occurredAt": .string(Timestamp.format(hit.record.occurredAt)),
                    "reasons": .array(hit.reasons.map { .string($0.description) }),
                ]
            }
            print(JSONValue.object(["query": .string(query), "retrieval": .string(mode), "hits": .array(items)]).jsonText)
            return
        }
        print("\(hits.count) hit\(hits.count == 1 ? "" : "s") — \(mode)\(memory.note.map { " (\($0))" } ?? "")")
        if hits.isEmpty && floor > 0 && !bm25 {
            print(
                "nothing shares words with the query or comes close in meaning (cosine ≥ \(floor)); --min-similarity 0 shows the nearest anyway"
            )
        }
        for hit in hits {
            let when = Timestamp.format(hit.record.occurredAt).prefix(16).replacingOccurrences(of: "T", with: " ")
            let origin = [hit.record.source, hit.record.sessionID].compactMap { $0 }.joined(separator: "/")
            let mark = hit.record.provenance == .untrusted ? " [untrusted]" : ""
            print("#\(hit.record.id)  \(when)  \(hit.record.kind.rawValue)  \(origin)\(mark)")
            print("    \(hit.record.spokenText.prefix(300).replacingOccurrences(of: "\n", with: " "))")
            print("    why: \(hit.reasons.map(\.description).joined(separator: "; "))")
        }
    }
}

struct MemoryRememberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remember",
        abstract: "Store a note (and any fact, preference or rule it states) as if the user said it.",
        discussion: """
            Simple statements become facts at once: "my dentist is Dr. Lee", "I prefer tea", "we use Postgres 16". \
            Only what is said as a preference ("I prefer …", "I like …") or as a standing rule ("always …", "never …", \
            "from now on …", "rule: …") enters the profile every prompt carries; other notes are remembered and \
            searchable, never turned into rules. With --untrusted facts wait in 'hearth memory pending'.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "What to remember.")
    var text: String

    @Option(help: "Where it came from.")
    var source = "cli"

    @Flag(help: "Treat it as outside content: facts it states are quarantined until confirmed.")
    var untrusted = false

    func run() async throws {
        let context = try common.load()
        let memory = try await MemoryAccess.open(context, vectors: false)
        let provenance: Provenance = untrusted ? .untrusted : .trusted
        let message = MemoryInstruction.parse(text) == nil ? "remember that \(text)" : text
        guard let outcome = try await memory.engine.handleInstruction(in: message, source: source, provenance: provenance) else {
            throw CLIError.usage("nothing to remember")
        }
        if let record = outcome.remembered { print("remembered #\(record.id)") }
        if case .forget = MemoryInstruction.parse(text) {
            print("forgot \(outcome.forgotten.records.count) records and \(outcome.factsForgotten.count) facts")
        }
        for id in outcome.learned.added { print("  fact #\(id) added") }
        for id in outcome.learned.pending { print("  fact #\(id) pending confirmation (hearth memory confirm \(id))") }
        for id in outcome.learned.invalidated { print("  fact #\(id) superseded") }
        if outcome.learned.duplicates > 0 { print("  \(outcome.learned.duplicates) already known") }
        let model = context.configuration.inference.enabled ? "vectors are computed by the daemon (or 'hearth memory index')" : ""
        if !model.isEmpty { print(model) }
    }
}

struct MemoryForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Delete records for good: the row, its vectors, its full-text rows and facts learned from it.",
        discussion: "--query deletes records containing every word of the query; it lists them first and needs --yes to delete.")

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("A record id; repeatable.", valueName: "id"))
    var id: [Int64] = []

    @Option(help: ArgumentHelp("Records containing all these words.", valueName: "words"))
    var query: String?

    @Flag(help: "Delete what --query matched (without it, only list).")
    var yes = false

    @Flag(help: "Print the removal report as JSON.")
    var json = false

    func validate() throws {
        guard !id.isEmpty || query != nil else { throw ValidationError("name records with --id ID or --query WORDS") }
    }

    func run() async throws {
        let context = try common.load()
        let memory = try await MemoryAccess.open(context, vectors: false)
        var ids = id
        if let query {
            let matches = try await memory.engine.recordsMatchingAll(query)
            if !yes {
                print("\(matches.count) record\(matches.count == 1 ? " contains" : "s contain") every word of \"\(query)\":")
                for record in matches { print("  #\(record.id)  \(record.spokenText.prefix(120))") }
                if !matches.isEmpty { print("run again with --yes to delete them") }
                return
            }
            ids += matches.map(\.id)
        }
        let existing = try await memory.engine.store.records(ids: ids).map(\.id)
        if let missing = ids.first(where: { !existing.contains($0) }), query == nil {
            throw CLIError(MemoryError.noSuchRecord(missing).description)
        }
        let removal = try await memory.engine.forget(ids: existing)
        let detail =
            "removed records \(removal.records), \(removal.vectors) vectors, facts \(removal.facts); rebuilt \(removal.contextsRebuilt) neighbours' context"
        _ = try await memory.engine.store.saveReport(kind: "forget", at: Date(), detail: detail)
        if json {
            print(try JSONValue(parsing: JSONEncoder().encode(removal)).jsonText)
        } else {
            print(
                "forgot \(removal.records.count) record\(removal.records.count == 1 ? "" : "s") (\(removal.vectors) vectors, \(removal.facts.count) facts); \(removal.contextsRebuilt) neighbours' context rebuilt without them"
            )
        }
    }
}

struct MemoryStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Counts, sizes, pending work and the last consolidation report.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print as JSON.")
    var json = false

    func run() async throws {
        let context = try common.load()
        guard let stores = try await context.openStores(creating: true) else { throw CLIError("cannot open the store") }
        defer { stores.close() }
        let store = stores.memory
        let model = context.configuration.inference.enabled ? context.configuration.inference.embeddingModel : nil
        let counts = try await store.counts(model: model)
        let last = try await store.reports(limit: 20).first { $0.kind == "consolidation" }
        if json {
            var object = (try JSONValue(parsing: JSONEncoder().encode(counts))).objectValue ?? [:]
            object["embeddingModel"] = model.map(JSONValue.string) ?? .null
            object["lastConsolidation"] = last.flatMap { try? JSONValue(parsing: $0.detail) } ?? .null
            print(JSONValue.object(object).jsonText)
            return
        }
        print(
            "records        \(counts.records)  (\(counts.byKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))"
        )
        print("sessions       \(counts.sessions)")
        print(
            "vectors        \(counts.vectors)\(model.map { " from \($0)" } ?? ""), "
                + "\(counts.pendingVectors) records without a vector (waiting to be embedded)")
        print("facts          \(counts.facts) active, \(counts.pendingFacts) pending confirmation, \(counts.invalidatedFacts) superseded")
        print("database       \(ByteCountFormatter.string(fromByteCount: counts.databaseBytes, countStyle: .file))")
        if let last {
            print("consolidation  \(Timestamp.format(last.at)): \(last.detail.prefix(300))")
        } else {
            print("consolidation  never run")
        }
    }
}

func printFacts(_ facts: [Fact], json: Bool) throws {
    if json {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        print(try JSONValue(parsing: encoder.encode(facts)).jsonText)
        return
    }
    if facts.isEmpty { print("none") }
    for fact in facts {
        var notes: [String] = [fact.kind.rawValue]
        if fact.status != .active { notes.append(fact.status.rawValue) }
        if fact.provenance == .untrusted { notes.append("from untrusted content") }
        if let from = fact.validFrom { notes.append("since \(Timestamp.format(from).prefix(10))") }
        if let invalidated = fact.invalidatedAt { notes.append("superseded \(Timestamp.format(invalidated).prefix(10))") }
        if let source = fact.sourceRecordID { notes.append("record #\(source)") }
        print("#\(fact.id)  \(fact.sentence)  (\(notes.joined(separator: ", ")))")
    }
}

struct MemoryProfileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "The user's preferences and standing rules, and how much of them a prompt carries.",
        discussion: """
            A prompt carries at most [memory] profile_tokens of the profile, the entries most relevant to the task \
            first. --for shows what a given task would get.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Show what a prompt for this task would carry.", valueName: "task"))
    var `for`: String?

    @Flag(help: "Print as JSON: {entries, tokens, budget, facts, selected?}.") var json = false

    func run() async throws {
        let context = try common.load()
        let memory = try await MemoryAccess.open(context, vectors: false)
        let facts = try await memory.engine.profile()
        let budget = context.configuration.memory.profileTokens
        let selection = ProfileSelection.select(facts, for: self.for ?? "", budget: budget)
        if json {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            var document: [String: JSONValue] = [
                "entries": .number(Double(facts.count)), "tokens": .number(Double(selection.totalTokens)),
                "budget": .number(Double(budget)), "facts": try JSONValue(parsing: encoder.encode(facts)),
            ]
            if self.for != nil { document["selected"] = .array(selection.lines.map(JSONValue.string)) }
            printJSON(.object(document))
            return
        }
        try printFacts(facts, json: false)
        let fits = selection.totalTokens <= budget
        print(
            "\(facts.count) entr\(facts.count == 1 ? "y" : "ies"), about \(selection.totalTokens) tokens; a prompt carries at most \(budget) "
                + (fits ? "(all of it fits)" : "(the entries most relevant to its task first; set [memory] profile_tokens to change)"))
        if let task = self.for {
            print(
                "for \"\(task)\": \(selection.lines.count) entr\(selection.lines.count == 1 ? "y" : "ies"), about \(selection.tokens) tokens"
            )
            for line in selection.lines { print("  \(line)") }
        }
    }
}

struct MemoryFactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facts", abstract: "Facts Hearth believes now, or believed at a past time about another time.")

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("World time the facts should hold at (default now).", valueName: "time"))
    var asOf: String?

    @Option(help: ArgumentHelp("What Hearth knew at this system time (default now).", valueName: "time"))
    var knownAt: String?

    @Flag(help: "Include superseded facts (the whole history).")
    var history = false

    @Flag(help: "Print as JSON.") var json = false

    func run() async throws {
        let memory = try await MemoryAccess.open(try common.load(), vectors: false)
        if history {
            try printFacts(try await memory.engine.store.facts(FactQuery(statuses: [.active], includeInvalidated: true)), json: json)
            return
        }
        let world = try asOf.map { try UsageCommand.parseSince($0, option: "--as-of") } ?? Date()
        let known = try knownAt.map { try UsageCommand.parseSince($0, option: "--known-at") } ?? Date()
        try printFacts(try await memory.engine.facts(at: world, asKnownAt: known), json: json)
    }
}

struct MemoryPendingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pending", abstract: "Facts and rules from untrusted content, quarantined until you confirm or reject them.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Print as JSON.") var json = false

    func run() async throws {
        let memory = try await MemoryAccess.open(try common.load(), vectors: false)
        try printFacts(try await memory.engine.store.facts(FactQuery(statuses: [.pending])), json: json)
    }
}

struct MemoryConfirmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confirm", abstract: "Accept a pending fact; it supersedes what it contradicts.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The fact id (from 'hearth memory pending').") var id: Int64

    func run() async throws {
        let memory = try await MemoryAccess.open(try common.load(), vectors: false)
        let report = try await memory.engine.confirm(factID: id)
        print(
            "fact #\(id) confirmed"
                + (report.invalidated.isEmpty ? "" : "; superseded \(report.invalidated.map { "#\($0)" }.joined(separator: ", "))"))
    }
}

struct MemoryRejectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject", abstract: "Reject a pending fact; it is kept as rejected and never used.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The fact id (from 'hearth memory pending').") var id: Int64

    func run() async throws {
        let memory = try await MemoryAccess.open(try common.load(), vectors: false)
        try await memory.engine.reject(factID: id)
        print("fact #\(id) rejected")
    }
}

struct MemoryConsolidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consolidate",
        abstract: "Summarise old sessions, merge duplicates, apply the size cap now; prints exactly what changed.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Records to keep at most. Default: [memory] max_records (500000).") var maxRecords: Int?
    @Option(help: "Summarise sessions idle for this many days. Default: [memory] summarise_after_days (14).")
    var summariseAfterDays: Double?
    @Flag(help: "Print as JSON.") var json = false

    func run() async throws {
        let context = try common.load()
        if let maxRecords, maxRecords < 1 { throw ValidationError("--max-records must be at least 1") }
        if let summariseAfterDays, !(summariseAfterDays > 0) { throw ValidationError("--summarise-after-days must be more than 0") }
        let memory = try await MemoryAccess.open(context, vectors: false)
        var policy = ConsolidationPolicy()
        policy.maxRecords = maxRecords ?? context.configuration.memory.maxRecords
        policy.summariseAfterDays = summariseAfterDays ?? Double(context.configuration.memory.summariseAfterDays)
        let report = try await memory.engine.consolidate(policy)
        if json {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            print(try JSONValue(parsing: encoder.encode(report)).jsonText)
        } else {
            print(report.text)
        }
    }
}

struct MemoryIndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Embed records that have no vector yet (the daemon does this in the background).")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let memory = try await MemoryAccess.open(try common.load(), vectors: true)
        let count = try await memory.engine.indexPending()
        let state = await memory.engine.embeddingState
        await memory.close()
        print("embedded \(count) texts — \(memory.note ?? state.description)")
    }
}
