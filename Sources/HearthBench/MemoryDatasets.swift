import Foundation
import HearthCore

/// The LoCoMo benchmark file (`locomo10.json`): long conversations with evidence-labelled questions.
enum LoCoMo {
    struct Turn {
        var diaID: String
        var record: MemoryRecord
    }

    struct Question {
        var question: String
        var evidence: [String]
        var category: Int
    }

    struct Conversation {
        var id: String
        var turns: [Turn]
        var questions: [Question]
    }

    static func load(_ file: URL) throws -> [Conversation] {
        guard let samples = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [[String: Any]] else {
            throw BenchDataError.format(file: file.path, detail: "expected a JSON array of conversations")
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "h:mm a 'on' d MMMM, yyyy"
        return try samples.map { sample in
            guard let id = sample["sample_id"] as? String, let conversation = sample["conversation"] as? [String: Any] else {
                throw BenchDataError.format(file: file.path, detail: "a conversation lacks sample_id or conversation")
            }
            var turns: [Turn] = []
            var session = 1
            while let list = conversation["session_\(session)"] as? [[String: Any]] {
                let dateText = conversation["session_\(session)_date_time"] as? String ?? ""
                let date = formatter.date(from: dateText) ?? Date(timeIntervalSince1970: 0)
                for (index, turn) in list.enumerated() {
                    var text = turn["text"] as? String ?? ""
                    if let caption = turn["blip_caption"] as? String, !caption.isEmpty { text += " [photo: \(caption)]" }
                    let record = MemoryRecord(
                        kind: .turn, text: text, source: id, provenance: .trusted,
                        occurredAt: date.addingTimeInterval(Double(index)), sessionID: "D\(session)", speaker: turn["speaker"] as? String)
                    turns.append(Turn(diaID: turn["dia_id"] as? String ?? "", record: record))
                }
                session += 1
            }
            let questions = (sample["qa"] as? [[String: Any]] ?? []).compactMap { qa -> Question? in
                guard let question = qa["question"] as? String, let evidence = qa["evidence"] as? [String], !evidence.isEmpty,
                    let category = qa["category"] as? Int
                else { return nil }
                return Question(question: question, evidence: evidence, category: category)
            }
            return Conversation(id: id, turns: turns, questions: questions)
        }
    }

    /// "D3:14" → "D3".
    static func session(ofDiaID diaID: String) -> String {
        String(diaID.prefix { $0 != ":" })
    }
}

/// The LongMemEval file format: per question, a haystack of dated chat sessions.
enum LongMemEval {
    struct Question {
        var id: String
        var type: String
        var question: String
        var questionDate: Date?
        var answerSessions: [String]
        /// Positions in `records` of the turns marked `has_answer` (the evidence itself).
        var evidenceTurns: [Int] = []
        var records: [MemoryRecord]
    }

    static func load(_ file: URL) throws -> [Question] {
        guard let items = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [[String: Any]] else {
            throw BenchDataError.format(file: file.path, detail: "expected a JSON array of questions")
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy/MM/dd (EEE) HH:mm"
        return try items.map { item in
            guard let id = item["question_id"] as? String, let question = item["question"] as? String,
                let sessions = item["haystack_sessions"] as? [[[String: Any]]], let sessionIDs = item["haystack_session_ids"] as? [String]
            else { throw BenchDataError.format(file: file.path, detail: "a question lacks question_id, question or its haystack") }
            let dates = item["haystack_dates"] as? [String] ?? []
            var records: [MemoryRecord] = []
            var evidenceTurns: [Int] = []
            for (index, session) in sessions.enumerated() where index < sessionIDs.count {
                let date =
                    index < dates.count
                    ? formatter.date(from: dates[index]) ?? Date(timeIntervalSince1970: 0) : Date(timeIntervalSince1970: 0)
                for (position, turn) in session.enumerated() {
                    if turn["has_answer"] as? Bool == true { evidenceTurns.append(records.count) }
                    records.append(
                        MemoryRecord(
                            kind: .turn, text: turn["content"] as? String ?? "", source: "longmemeval", provenance: .trusted,
                            occurredAt: date.addingTimeInterval(Double(position)), sessionID: sessionIDs[index],
                            speaker: turn["role"] as? String))
                }
            }
            return Question(
                id: id, type: item["question_type"] as? String ?? "", question: question,
                questionDate: (item["question_date"] as? String).flatMap(formatter.date(from:)),
                answerSessions: item["answer_session_ids"] as? [String] ?? [], evidenceTurns: evidenceTurns, records: records)
        }
    }
}

enum BenchDataError: Error, CustomStringConvertible {
    case format(file: String, detail: String)

    var description: String {
        switch self {
        case .format(let file, let detail): "\(file): not a benchmark file in the expected format — \(detail)"
        }
    }
}
